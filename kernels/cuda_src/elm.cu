// Extreme learning machine hidden layer for the "cupy" backend:
//     H = f(X @ W_hiddenᵀ + b),  W_hidden sparse (n_hidden, n_features).
// Loaded by kernels/cupy_raw.py (float and double instantiations).
//
// * dense X (samples, features): a thread per (hidden unit, sample); threadIdx.x runs
//   over hidden units so the writes to H[sample, unit] are coalesced, every thread of
//   a warp gathers from the same row of X (one sample, cached), and a unit's CSR row
//   is read by all the sample blocks from cache.
// * CSR X: push. A warp per sample walks the sample's stored features; for each one
//   the lanes add value * W[:, feature] (W in CSC) into H[sample] with atomics (the
//   rows of one column are distinct, so one instruction never collides with itself).
//   H starts at the bias and the activation runs in a last pass.

#define ELM_TANH 0
#define ELM_SIGMOID 2
#define ELM_RELU 3

template <typename T>
__device__ __forceinline__ T elm_activate(T z, int activation) {
    if (activation == ELM_TANH) return tanh(z);
    if (activation == ELM_SIGMOID) return T(0.5) * (T(1) + tanh(T(0.5) * z));
    if (activation == ELM_RELU) return z > T(0) ? z : z - z;
    return z;
}

template <typename T>
__global__ void elm_dense(const int* __restrict__ indptr, const int* __restrict__ indices,
                          const T* __restrict__ values, const T* __restrict__ bias, const T* __restrict__ X,
                          T* __restrict__ H, int n_samples, int n_features, int n_hidden, int activation) {
    const int unit = blockIdx.x * blockDim.x + threadIdx.x;
    if (unit >= n_hidden) return;
    const int begin = indptr[unit], end = indptr[unit + 1];
    for (int sample = blockIdx.y; sample < n_samples; sample += gridDim.y) {
        const T* x = X + size_t(sample) * n_features;
        T acc = bias[unit];
        for (int k = begin; k < end; ++k) acc += values[k] * x[indices[k]];
        H[size_t(sample) * n_hidden + unit] = elm_activate(acc, activation);
    }
}

template <typename T>
__global__ void elm_fill_bias(const T* __restrict__ bias, T* __restrict__ H, long long total, int n_hidden) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        H[i] = bias[i % n_hidden];
    }
}

template <typename T>
__global__ void elm_sparse_push(const int* __restrict__ column_ptr, const int* __restrict__ rows,
                                const T* __restrict__ values, const int* __restrict__ x_ptr,
                                const int* __restrict__ x_features, const T* __restrict__ x_values, T* H,
                                int n_samples, int n_hidden) {
    const int lane = threadIdx.x & 31;
    const int warps = (gridDim.x * blockDim.x) >> 5;
    for (int sample = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; sample < n_samples; sample += warps) {
        T* h = H + size_t(sample) * n_hidden;
        for (int e = x_ptr[sample]; e < x_ptr[sample + 1]; ++e) {
            const int feature = x_features[e];
            const T value = x_values[e];
            for (int k = column_ptr[feature] + lane; k < column_ptr[feature + 1]; k += 32) {
                atomicAdd(h + rows[k], value * values[k]);
            }
        }
    }
}

template <typename T>
__global__ void elm_activate_inplace(T* __restrict__ H, long long total, int activation) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        H[i] = elm_activate(H[i], activation);
    }
}
