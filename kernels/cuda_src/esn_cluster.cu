// One ESN sequence in one thread-block cluster (sm_90 and newer), for mid-size reservoirs
// whose matrix fits the cluster's shared memory but not one block's (n of a few thousand
// at 1 %). Loaded by kernels/cupy_raw.py only on such a GPU, in a module of its own.
//
//     x[t] = (1 - a) * x[t-1] + a * f(W @ x[t-1] + W_in @ u[t] + b)
//
// The grid is one cluster of CLUSTER blocks (compiled in with __cluster_dims__: CuPy's
// launch has no cluster argument, and a kernel with compile-time cluster dimensions is
// launched as a cluster by an ordinary launch). Block r stages its range of the SELL
// slices in its shared memory once, as the multi-block kernels of esn.cu do (the host
// orders the slices so that every range holds about the same entries:
// _gpu_layout.balanced_slice_order), and keeps a whole copy of the state there,
// double-buffered. A step reads the local copy
// of x[t-1] (every gather on chip), and each new value x[t][row] is stored into buffer
// (t + 1) % 2 of every block of the cluster through distributed shared memory
// (cluster.map_shared_rank) and into states[t]. cluster.sync(), the hardware cluster
// barrier (barrier.cluster.arrive.release / wait.acquire), then makes those stores
// visible: one barrier per step and no round trip through L2, where the grid barrier of
// esn.cu takes two. Two buffers make one barrier enough: the stores of step t go to the
// buffer nobody reads in step t, and the buffer read in step t is written again only
// after every block has passed the barrier at the end of step t.
#include "activation.cuh"

#include "sell.cuh"

#include <cooperative_groups.h>

template <typename T, int CLUSTER>
__device__ __forceinline__ void run_sell_cluster(const int* slice_ptr, const int* columns, const T* values,
                                                 const int* row_of, const T* w_in, const T* bias, const T* inputs,
                                                 const T* start, T* states, int n, int n_in, int n_slices,
                                                 int steps, T keep, T leak, int activation, int warps_per_slice,
                                                 int capacity) {
    namespace cg = cooperative_groups;
    cg::cluster_group cluster = cg::this_cluster();
    extern __shared__ __align__(16) unsigned char smem[];
    index_t used;
    // gridDim.x == CLUSTER: blockIdx.x is the block's rank in the cluster.
    const Part<T> part = block_part(slice_ptr, columns, values, n_slices, 1, capacity, smem, &used);
    T* x = reinterpret_cast<T*>(smem + used);  // (2, n): this block's copy of the state
    T* scratch = reinterpret_cast<T*>(smem + used + align16(index_t(2) * n * sizeof(T)));
    for (int i = threadIdx.x; i < n; i += blockDim.x) x[i] = start[i];
    // Every block of the cluster has started (its shared memory exists) before any stores into it.
    cluster.sync();
    for (int t = 0; t < steps; ++t) {
        const T* src = x + (t & 1) * n;
        T* next = x + ((t + 1) & 1) * n;
        T* out = states + index_t(t) * n;
        auto store = [&](int row, T value) {
            out[row] = value;
#pragma unroll
            for (int rank = 0; rank < CLUSTER; ++rank) cluster.map_shared_rank(next, rank)[row] = value;
        };
        sell_step<false>(part, row_of, n, w_in, bias, inputs + index_t(t) * n_in, n_in, src, keep, leak,
                         activation, warps_per_slice, scratch, store);
        cluster.sync();
    }
}

// The kernels take the parameters of esn_run_sell (esn.cu) less `stage` (always staged).
// 8 blocks: the portable cluster size of sm_90.
template <typename T>
__global__ void __cluster_dims__(8, 1, 1)
    esn_run_sell_cluster8(const int* __restrict__ slice_ptr, const int* __restrict__ columns,
                          const T* __restrict__ values, const int* __restrict__ row_of, const T* __restrict__ w_in,
                          const T* __restrict__ bias, const T* __restrict__ inputs, const T* start, T* states,
                          int n, int n_in, int n_slices, int steps, T keep, T leak, int activation,
                          int warps_per_slice, int capacity) {
    run_sell_cluster<T, 8>(slice_ptr, columns, values, row_of, w_in, bias, inputs, start, states, n, n_in,
                            n_slices, steps, keep, leak, activation, warps_per_slice, capacity);
}

// 16 blocks: H100 allows it once the kernel opts in to a non-portable cluster size (cupy_raw
// sets CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED before the launch).
template <typename T>
__global__ void __cluster_dims__(16, 1, 1)
    esn_run_sell_cluster16(const int* __restrict__ slice_ptr, const int* __restrict__ columns,
                          const T* __restrict__ values, const int* __restrict__ row_of, const T* __restrict__ w_in,
                          const T* __restrict__ bias, const T* __restrict__ inputs, const T* start, T* states,
                          int n, int n_in, int n_slices, int steps, T keep, T leak, int activation,
                          int warps_per_slice, int capacity) {
    run_sell_cluster<T, 16>(slice_ptr, columns, values, row_of, w_in, bias, inputs, start, states, n, n_in,
                            n_slices, steps, keep, leak, activation, warps_per_slice, capacity);
}
