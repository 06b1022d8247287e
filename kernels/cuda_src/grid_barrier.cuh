// Grid-wide barrier of the persistent kernels (included by esn.cu and lif.cu).
#ifndef RESERVOIR_GRID_BARRIER_CUH
#define RESERVOIR_GRID_BARRIER_CUH

#include <cooperative_groups.h>

// Every thread of the grid reaches this point and sees the writes made before it.
// The blocks along x share one piece of work (the LIF kernel's y dimension holds
// independent trials): with one block along x, __syncthreads is the whole barrier
// and the launch may be an ordinary one. Otherwise the kernel is launched
// cooperatively (cupy.RawModule(enable_cooperative_groups=True), that is
// cuLaunchCooperativeKernel), which either makes every block of the grid resident at
// once or refuses the launch: a block can never wait here for a block that has not
// started, whatever else runs on the GPU.
__device__ __forceinline__ void grid_barrier() {
    if (gridDim.x == 1) {
        __syncthreads();
    } else {
        cooperative_groups::this_grid().sync();
    }
}

#endif  // RESERVOIR_GRID_BARRIER_CUH
