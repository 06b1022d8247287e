// Echo-state network kernels for the "cupy" backend (loaded by kernels/cupy_raw.py
// with cupy.RawModule; float and double instantiations by name_expressions).
//
//     x[t] = (1 - a) * x[t-1] + a * f(W @ x[t-1] + W_in @ u[t] + b)
//
// Every kernel is persistent: one launch runs all time steps. Blocks own a fixed
// range of rows (slices) for the whole launch, steps are separated by a grid-wide
// barrier (cooperative groups' grid sync; the module is loaded with cooperative
// launch, so every block is resident at once or the launch is refused), and when a
// block's part of the matrix fits in shared memory it is staged there once and read
// from on chip at every step. With a single block the state lives in shared memory
// too and the barrier is __syncthreads.
//
// Layouts (built by kernels/_gpu_layout.py):
// * one sequence: SELL-32-sigma. Rows sorted by length (longest first), cut into
//   slices of 32; entry j of the slice's lane r is at slice_ptr[s] + 32 * j + r, so a
//   warp reads a slice with 128-byte coalesced loads and every lane owns one row (no
//   reductions across lanes). Padding entries have weight 0 and column 0. A few warps
//   may share a slice (sell.cuh), when a block has fewer slices than warps.
//   Mid-size reservoirs on sm_90 run in a thread-block cluster instead (esn_cluster.cu).
// * B sequences: CSR rows over a state stored (n, B), batch innermost: G lanes
//   (G = min(32, next power of two >= B)) share a row and read B contiguous values
//   per nonzero, so the matrix is read once per step for all sequences.
//
#include "activation.cuh"

#include "sell.cuh"
#include "grid_barrier.cuh"

// Dynamic shared memory after the staged part (and the on-chip state): the scratch in
// which the warps sharing a slice add up their pieces (blockDim.x values).
template <typename T>
__device__ __forceinline__ T* slice_scratch(unsigned char* smem, index_t used, int n, bool state_on_chip) {
    return reinterpret_cast<T*>(smem + used + (state_on_chip ? align16(index_t(2) * n * sizeof(T)) : 0));
}

// One step into dst (and dst_copy, the caller's output row, when not null); the matrix
// streamed from device memory (stage 0) or read from the block's shared memory.
template <typename T>
__device__ __forceinline__ void sell_step_into(const Part<T>& part, int stage, const int* row_of, int n,
                                               const T* w_in, const T* bias, const T* u, int n_in, const T* src,
                                               T* dst, T* dst_copy, T keep, T leak, int activation,
                                               int warps_per_slice, T* scratch) {
    auto store = [=](int row, T x) {
        dst[row] = x;
        if (dst_copy) dst_copy[row] = x;
    };
    if (stage) {
        sell_step<false>(part, row_of, n, w_in, bias, u, n_in, src, keep, leak, activation, warps_per_slice,
                         scratch, store);
    } else {
        sell_step<true>(part, row_of, n, w_in, bias, u, n_in, src, keep, leak, activation, warps_per_slice,
                        scratch, store);
    }
}

// One sequence, `steps` steps: states (steps, n) receives every state; step t reads
// step t-1's row of it (or `start` at t = 0).
template <typename T>
__global__ void esn_run_sell(const int* __restrict__ slice_ptr, const int* __restrict__ columns,
                             const T* __restrict__ values, const int* __restrict__ row_of,
                             const T* __restrict__ w_in, const T* __restrict__ bias,
                             const T* __restrict__ inputs, const T* start, T* states, int n, int n_in,
                             int n_slices, int steps, T keep, T leak, int activation, int warps_per_slice,
                             int stage, int capacity) {
    extern __shared__ __align__(16) unsigned char smem[];
    index_t used;
    const Part<T> part = block_part(slice_ptr, columns, values, n_slices, stage, capacity, smem, &used);
    // stage 2 (one block, planned with room for it): the state stays on chip too.
    const bool state_on_chip = stage == 2;
    T* x_chip = reinterpret_cast<T*>(smem + used);  // (2, n) when state_on_chip
    T* scratch = slice_scratch<T>(smem, used, n, state_on_chip);
    if (state_on_chip) {
        for (int i = threadIdx.x; i < n; i += blockDim.x) x_chip[i] = start[i];
        __syncthreads();
    }
    for (int t = 0; t < steps; ++t) {
        T* out = states + index_t(t) * n;
        const T* u = inputs + index_t(t) * n_in;
        if (state_on_chip) {
            sell_step_into(part, stage, row_of, n, w_in, bias, u, n_in, x_chip + (t & 1) * n,
                           x_chip + ((t + 1) & 1) * n, out, keep, leak, activation, warps_per_slice, scratch);
        } else {
            const T* src = t == 0 ? start : states + index_t(t - 1) * n;
            sell_step_into(part, stage, row_of, n, w_in, bias, u, n_in, src, out, (T*)nullptr, keep, leak,
                           activation, warps_per_slice, scratch);
        }
        grid_barrier();
    }
}

// Sum of `value` over the block; every thread gets it. `scratch` holds 32 values.
template <typename T>
__device__ T block_sum(T value, T* scratch) {
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    const int warps = blockDim.x >> 5;
    __syncthreads();  // scratch may still be read from the previous call
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = value;
    __syncthreads();
    T total = T(0);
    for (int w = 0; w < warps; ++w) total += scratch[w];
    return total;
}

// Closed loop for one sequence: the readout y = coef @ [x, u] + intercept (coef @ x +
// intercept without the input) becomes the next input. x_buffers (2, n): row 0 holds
// the start state, the last state ends in row steps % 2. Each block writes the partial
// readout of its rows to partial (2, n_out, gridDim.x) and, after the barrier, every
// block sums the partials in the same order, so all blocks agree on the next input
// without a second barrier. u_buffers (gridDim.x, 2, n_in): each block's own copy of
// the input, row 0 holding the first input.
template <typename T>
__global__ void esn_generate_sell(const int* __restrict__ slice_ptr, const int* __restrict__ columns,
                                  const T* __restrict__ values, const int* __restrict__ row_of,
                                  const T* __restrict__ w_in, const T* __restrict__ bias,
                                  const T* __restrict__ coef, const T* __restrict__ intercept, int n_out,
                                  int include_input, T* x_buffers, T* u_buffers, T* partial, T* outputs, int n,
                                  int n_in, int n_slices, int steps, T keep, T leak, int activation,
                                  int warps_per_slice, int stage, int capacity) {
    extern __shared__ __align__(16) unsigned char smem[];
    __shared__ T scratch[32];
    index_t used;
    const Part<T> part = block_part(slice_ptr, columns, values, n_slices, stage, capacity, smem, &used);
    T* slice_sums = slice_scratch<T>(smem, used, n, false);
    const int width = n + (include_input ? n_in : 0);
    T* u_own = u_buffers + index_t(blockIdx.x) * 2 * n_in;
    for (int t = 0; t < steps; ++t) {
        const T* src = x_buffers + index_t(t & 1) * n;
        T* dst = x_buffers + index_t((t + 1) & 1) * n;
        const T* u = u_own + (t & 1) * n_in;
        T* u_next = u_own + ((t + 1) & 1) * n_in;
        sell_step_into(part, stage, row_of, n, w_in, bias, u, n_in, src, dst, (T*)nullptr, keep, leak, activation,
                       warps_per_slice, slice_sums);
        __syncthreads();  // this block's new rows are visible to all its threads
        const int first = min(n, part.unit_begin * 32), last = min(n, part.unit_end * 32);
        for (int o = 0; o < n_out; ++o) {
            T sum = T(0);
            for (int position = first + threadIdx.x; position < last; position += blockDim.x) {
                const int row = row_of[position];
                sum += coef[index_t(o) * width + row] * dst[row];
            }
            sum = block_sum(sum, scratch);
            if (threadIdx.x == 0) partial[(index_t(t & 1) * n_out + o) * gridDim.x + blockIdx.x] = sum;
        }
        grid_barrier();
        for (int o = threadIdx.x; o < n_out; o += blockDim.x) {
            T y = intercept[o];
            const T* parts = partial + (index_t(t & 1) * n_out + o) * gridDim.x;
            for (int b = 0; b < gridDim.x; ++b) y += parts[b];
            if (include_input) {
                for (int m = 0; m < n_in; ++m) y += coef[index_t(o) * width + n + m] * u[m];
            }
            u_next[o] = y;
            if (blockIdx.x == 0) outputs[index_t(t) * n_out + o] = y;
        }
        __syncthreads();
    }
}

// B sequences, `steps` steps. inputs (steps, n_in, B); x_buffers (2, n, B) with the
// start state in row 0 and the last one in row steps % 2; states[b * batch_stride +
// t * n + row] receives every state (the caller's (B, T, n) array, possibly a view).
template <typename T>
__global__ void esn_run_csr_batch(const int* __restrict__ indptr, const int* __restrict__ indices,
                                  const T* __restrict__ values, const T* __restrict__ w_in,
                                  const T* __restrict__ bias, const T* __restrict__ inputs, T* x_buffers,
                                  T* states, long long batch_stride, int n, int n_in, int batch, int steps,
                                  T keep, T leak, int activation, int group_log2, int stage, int capacity) {
    extern __shared__ __align__(16) unsigned char smem[];
    index_t used;
    const Part<T> part = block_part(indptr, indices, values, n, stage, capacity, smem, &used);
    const int group = 1 << group_log2;
    const int sub = threadIdx.x & (group - 1);
    const int groups = blockDim.x >> group_log2;
    const index_t plane = index_t(n) * batch;
    for (int t = 0; t < steps; ++t) {
        const T* src = x_buffers + (t & 1) * plane;
        T* dst = x_buffers + ((t + 1) & 1) * plane;
        const T* u = inputs + index_t(t) * n_in * batch;
        for (int row = part.unit_begin + (threadIdx.x >> group_log2); row < part.unit_end; row += groups) {
            const int local = row - part.unit_begin;
            const int begin = part.ptr[local], end = part.ptr[local + 1];
            // Two sequences per lane and pass: every nonzero read serves both.
            for (int b = sub; b < batch; b += 2 * group) {
                const int b2 = b + group;
                const bool second = b2 < batch;
                T acc0 = T(0), acc1 = T(0);
                for (int k = begin; k < end; ++k) {
                    const T weight = part.values[k];
                    const T* column = src + index_t(part.columns[k]) * batch;
                    acc0 += weight * column[b];
                    if (second) acc1 += weight * column[b2];
                }
                for (int lane_b = 0; lane_b < 2; ++lane_b) {
                    if (lane_b == 1 && !second) break;
                    const int bb = lane_b ? b2 : b;
                    T pre = (lane_b ? acc1 : acc0) + bias[row];
                    for (int m = 0; m < n_in; ++m) {
                        pre += w_in[index_t(row) * n_in + m] * u[index_t(m) * batch + bb];
                    }
                    const index_t at = index_t(row) * batch + bb;
                    const T x = keep * src[at] + leak * activate(pre, activation);
                    dst[at] = x;
                    states[bb * batch_stride + index_t(t) * n + row] = x;
                }
            }
        }
        grid_barrier();
    }
}
