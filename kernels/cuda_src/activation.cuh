// Shared device helpers of the CUDA C kernels (included by esn.cu and elm.cu): the
// index type and the activations, one definition for both.
#ifndef RESERVOIR_ACTIVATION_CUH
#define RESERVOIR_ACTIVATION_CUH

// NVRTC compiles the sources without the C++ standard headers: no size_t, and the float/double math
// functions picked by overloads written out here.
typedef unsigned long long index_t;
__device__ __forceinline__ float tanh_of(float z) { return tanhf(z); }
__device__ __forceinline__ double tanh_of(double z) { return tanh(z); }

// Activation codes match kernels/activations.py: 0 tanh, 1 identity, 2 sigmoid, 3 relu.
#define ACTIVATION_TANH 0
#define ACTIVATION_SIGMOID 2
#define ACTIVATION_RELU 3

template <typename T>
__device__ __forceinline__ T activate(T z, int activation) {
    if (activation == ACTIVATION_TANH) return tanh_of(z);
    if (activation == ACTIVATION_SIGMOID) return T(0.5) * (T(1) + tanh_of(T(0.5) * z));
    if (activation == ACTIVATION_RELU) return z > T(0) ? z : z - z;  // z - z keeps NaN a NaN
    return z;
}

#endif  // RESERVOIR_ACTIVATION_CUH
