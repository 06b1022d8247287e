// A block's part of a matrix and one ESN step over SELL-32 slices (included by esn.cu and
// esn_cluster.cu, after activation.cuh).
#ifndef RESERVOIR_SELL_CUH
#define RESERVOIR_SELL_CUH

__device__ __forceinline__ index_t align16(index_t bytes) { return (bytes + 15) & ~index_t(15); }

// A block's part of the matrix: `units` are slices (SELL) or rows (CSR), `ptr` the
// per-unit offsets into `columns`/`values`, local to the block when staged.
template <typename T>
struct Part {
    const int* ptr;
    const int* columns;
    const T* values;
    int unit_begin;  // first unit of the block
    int unit_end;
};

// Copy the block's units [unit_begin, unit_end) into shared memory if `stage` (1 or 2),
// else point into global memory. Shared layout: values | columns | ptr (16-byte aligned);
// returns the first free byte after it.
template <typename T>
__device__ Part<T> block_part(const int* ptr, const int* columns, const T* values, int units, int stage,
                              int capacity, unsigned char* smem, index_t* used) {
    const int per_block = (units + gridDim.x - 1) / gridDim.x;
    Part<T> part;
    part.unit_begin = min(units, blockIdx.x * per_block);
    part.unit_end = min(units, part.unit_begin + per_block);
    if (!stage) {
        part.ptr = ptr + part.unit_begin;
        part.columns = columns;
        part.values = values;
        *used = 0;
        return part;
    }
    T* s_values = reinterpret_cast<T*>(smem);
    index_t offset = align16(index_t(capacity) * sizeof(T));
    int* s_columns = reinterpret_cast<int*>(smem + offset);
    offset += align16(index_t(capacity) * sizeof(int));
    int* s_ptr = reinterpret_cast<int*>(smem + offset);
    offset += align16(index_t(per_block + 1) * sizeof(int));
    const int first = ptr[part.unit_begin];
    const int count = ptr[part.unit_end] - first;
    for (int k = threadIdx.x; k < count; k += blockDim.x) {
        s_values[k] = values[first + k];
        s_columns[k] = columns[first + k];
    }
    for (int u = threadIdx.x; u <= part.unit_end - part.unit_begin; u += blockDim.x) {
        s_ptr[u] = ptr[part.unit_begin + u] - first;
    }
    __syncthreads();
    part.ptr = s_ptr;
    part.columns = s_columns;
    part.values = s_values;
    *used = offset;
    return part;
}

// A matrix entry read once per step and never again before the next step: streamed from
// device memory with ld.global.cs (evict first), so it does not push the state, which is
// gathered at every entry, out of L1 and L2. Plain loads for a part staged in shared memory.
template <bool Stream, typename V>
__device__ __forceinline__ V entry(const V* at) {
    if constexpr (Stream) {
        return __ldcs(at);
    } else {
        return *at;
    }
}

// One step of one sequence over the block's SELL slices; every thread of the block calls it.
//
// `warps_per_slice` (a power of two dividing the block's warps, planned by
// _gpu_layout.sell_warps_per_slice) warps share a slice, so that a block with fewer
// slices than warps keeps every warp busy: piece p of a slice reads its entries
// j = p, p + warps_per_slice, ... (entry j of lane r at ptr + 32 j + r, 128-byte
// coalesced), four of them per pass into four accumulators, so four independent load
// chains are in flight per lane. The pieces' sums meet in `scratch` (blockDim.x values)
// and piece 0 finishes the row: store(row, x) receives every new state value.
template <bool Stream, typename T, typename Store>
__device__ __forceinline__ void sell_step(const Part<T>& part, const int* row_of, int n, const T* w_in,
                                          const T* bias, const T* u, int n_in, const T* src, T keep, T leak,
                                          int activation, int warps_per_slice, T* scratch, Store store) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int groups = (blockDim.x >> 5) / warps_per_slice;  // slices in work at once
    const int group = warp / warps_per_slice;
    const int piece = warp - group * warps_per_slice;
    const int stride = 32 * warps_per_slice;
    // The bound is the same for the whole block: every thread meets every __syncthreads.
    for (int first = part.unit_begin; first < part.unit_end; first += groups) {
        const int s = first + group;
        T sum = T(0);
        if (s < part.unit_end) {
            const int local = s - part.unit_begin;
            const int end = part.ptr[local + 1];
            int k = part.ptr[local] + 32 * piece + lane;
            T acc0 = T(0), acc1 = T(0), acc2 = T(0), acc3 = T(0);
            for (; k + 3 * stride < end; k += 4 * stride) {
                const int c0 = entry<Stream>(part.columns + k);
                const int c1 = entry<Stream>(part.columns + k + stride);
                const int c2 = entry<Stream>(part.columns + k + 2 * stride);
                const int c3 = entry<Stream>(part.columns + k + 3 * stride);
                acc0 += entry<Stream>(part.values + k) * src[c0];
                acc1 += entry<Stream>(part.values + k + stride) * src[c1];
                acc2 += entry<Stream>(part.values + k + 2 * stride) * src[c2];
                acc3 += entry<Stream>(part.values + k + 3 * stride) * src[c3];
            }
            for (; k < end; k += stride) acc0 += entry<Stream>(part.values + k) * src[entry<Stream>(part.columns + k)];
            sum = (acc0 + acc1) + (acc2 + acc3);
        }
        if (warps_per_slice > 1) {
            scratch[threadIdx.x] = sum;
            __syncthreads();
            if (piece == 0) {
                for (int p = 1; p < warps_per_slice; ++p) sum += scratch[threadIdx.x + 32 * p];
            }
        }
        const int position = s * 32 + lane;
        if (piece == 0 && s < part.unit_end && position < n) {
            const int row = row_of[position];
            T pre = sum + bias[row];
            for (int m = 0; m < n_in; ++m) pre += w_in[index_t(row) * n_in + m] * u[m];
            store(row, keep * src[row] + leak * activate(pre, activation));
        }
        if (warps_per_slice > 1) __syncthreads();  // scratch is written again by the next pass
    }
}

#endif  // RESERVOIR_SELL_CUH
