// L2 read bandwidth for asv_bench/gpu_bench.py: every thread reads its share of a buffer
// that fits in L2 (16 MiB against H100's 50 MB), `passes` times, with ld.global.cg
// (__ldcg: cached in L2, not in L1), so every byte comes from L2. 16-byte loads.
extern "C" __global__ void l2_read(const float4* __restrict__ buffer, long long count, int passes,
                                   float* __restrict__ sink) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    float acc = 0.f;
    for (int pass = 0; pass < passes; ++pass) {
        for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
            const float4 v = __ldcg(buffer + i);
            acc += v.x + v.y + v.z + v.w;
        }
    }
    if (acc == -1.2345f) sink[0] = acc;  // a use of every load the compiler cannot rule out
}
