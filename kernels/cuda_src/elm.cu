// Extreme learning machine hidden layer for the "cupy" backend:
//     H = f(X @ W_hiddenᵀ + b),  W_hidden sparse (n_hidden, n_features).
// Loaded by kernels/cupy_raw.py (float and double instantiations).
//
// * dense X (samples, features): a thread per (hidden unit, sample); threadIdx.x runs
//   over hidden units so the writes to H[sample, unit] are coalesced, every thread of
//   a warp gathers from the same row of X (one sample, cached), and a unit's CSR row
//   is read by all the sample blocks from cache.
// * CSR X: the same layout; a unit's entries look their features up in the sample's
//   sorted stored features (binary search), so X is never densified.

#include "activation.cuh"

template <typename T>
__global__ void elm_dense(const int* __restrict__ indptr, const int* __restrict__ indices,
                          const T* __restrict__ values, const T* __restrict__ bias, const T* __restrict__ X,
                          T* __restrict__ H, int n_samples, int n_features, int n_hidden, int activation) {
    const int unit = blockIdx.x * blockDim.x + threadIdx.x;
    if (unit >= n_hidden) return;
    const int begin = indptr[unit], end = indptr[unit + 1];
    for (int sample = blockIdx.y; sample < n_samples; sample += gridDim.y) {
        const T* x = X + index_t(sample) * n_features;
        T acc = bias[unit];
        for (int k = begin; k < end; ++k) acc += values[k] * x[indices[k]];
        H[index_t(sample) * n_hidden + unit] = activate(acc, activation);
    }
}

// CSR X, read as stored (never densified): the same thread layout as elm_dense; each
// entry of the unit's row looks its feature up in the sample's sorted features (binary
// search). A fixed order of additions, so results are reproducible (unlike a push with
// atomics), and it needs no CSC copy of W.
template <typename T>
__global__ void elm_sparse(const int* __restrict__ indptr, const int* __restrict__ indices,
                           const T* __restrict__ values, const T* __restrict__ bias, const int* __restrict__ x_ptr,
                           const int* __restrict__ x_features, const T* __restrict__ x_values, T* __restrict__ H,
                           int n_samples, int n_hidden, int activation) {
    const int unit = blockIdx.x * blockDim.x + threadIdx.x;
    if (unit >= n_hidden) return;
    const int begin = indptr[unit], end = indptr[unit + 1];
    for (int sample = blockIdx.y; sample < n_samples; sample += gridDim.y) {
        const int first = x_ptr[sample], last = x_ptr[sample + 1];
        T acc = bias[unit];
        for (int k = begin; k < end; ++k) {
            const int feature = indices[k];
            int low = first, high = last;
            while (low < high) {
                const int middle = (low + high) >> 1;
                if (x_features[middle] < feature) low = middle + 1; else high = middle;
            }
            if (low < last && x_features[low] == feature) acc += values[k] * x_values[low];
        }
        H[index_t(sample) * n_hidden + unit] = activate(acc, activation);
    }
}
