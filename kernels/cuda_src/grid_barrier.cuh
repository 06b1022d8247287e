// Shared device helpers of the CUDA C kernels (included by esn.cu and lif.cu).
#ifndef RESERVOIR_GRID_BARRIER_CUH
#define RESERVOIR_GRID_BARRIER_CUH

// Grid-wide barrier for co-resident blocks: the arrival counter only grows (zeroed by
// the host before the launch), so barrier k waits for k * gridDim.x arrivals and
// needs no reset. The fences publish this block's writes before arriving and order
// the reads after leaving (the pattern of cooperative_groups' grid sync).
__device__ __forceinline__ void grid_barrier(unsigned int* arrived, unsigned int generation) {
    __syncthreads();
    if (gridDim.x > 1) {
        if (threadIdx.x == 0) {
            const unsigned int target = generation * gridDim.x;
            __threadfence();
            atomicAdd(arrived, 1u);
            while (*((volatile unsigned int*)arrived) < target) {
            }
            __threadfence();
        }
        __syncthreads();
    }
}

#endif  // RESERVOIR_GRID_BARRIER_CUH
