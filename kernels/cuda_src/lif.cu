// Leaky integrate-and-fire (LSM) kernel for the "cupy" backend (loaded by
// kernels/cupy_raw.py with cupy.RawModule; float and double instantiations). The
// step is written out in kernels/lif.py; kernels/reference.py is the oracle and
// kernels/cuda/lif.py holds the same kernel for Numba-CUDA.
//
// One launch runs every step of every trial: grid (blocks per trial, trials). A trial's
// neurons are cut into `partitions` ranges of `part_size` (a multiple of 32, planned by
// _gpu_layout.plan_lif_blocks); block x works on partitions x, x + gridDim.x, ... (one
// each as launched) for the whole launch. A step:
//   A) update (exact integration, refractory hold), decays, threshold; the partition's
//      spikes are written in ascending order from its first position on in the step's
//      list (a block prefix sum per tile of blockDim.x neurons: a ballot per warp, the
//      warps' counts in shared memory), and their number beside it;
//   -- barrier (one block per trial: __syncthreads; else cooperative groups' grid
//      sync over the whole grid, launched cooperatively) --
//   B) propagation into the ring buffers (slot (step + delay) % slots), or, without
//      delays or input spikes, straight into the currents as the reference does:
//      push (default): a warp per spike scatters its row with atomicAdd (about `degree`
//            operations per spike; the order in which one step's arrivals at a synapse
//            add up varies); then a second barrier;
//      pull: each target binary-searches itself in the rows of the step's spikes, read
//            partition after partition, which is ascending order: the reference's, so no
//            sort and no atomics. Reproducible, and with the explicitly rounded arithmetic
//            below, bit-identical to the reference;
//   C) input spikes, delivery of the step's slot, reset, traces, states.
// The lists alternate between two buffers: step t + 2 writes step t's buffer only after
// the barrier of step t + 1, which every block reaches after its reads of step t, so one
// barrier per step separates a step's readers from the next step's writers (pull).
//
// Spike records: each block writes (step, neuron) of its partitions' spikes, after the
// spikes of the partitions before (in ascending order). Before a step that could overflow
// them the trial stops and reports where (positions, counts); the host grows the
// records and launches again from there. A stopped trial's blocks go on through the
// steps without working, since a grid barrier needs every block of the grid: all
// blocks run the same steps, from the earliest trial's position, and a trial works
// from its own position until it stops.

typedef unsigned long long index_t;

// Explicitly rounded operations: a compiler may otherwise contract a * b + c into one
// fused multiply-add (nvcc and NVRTC do by default), which rounds differently from
// the reference. Overloads, since NVRTC compiles without headers.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

#include "grid_barrier.cuh"

// W_in row i (pull layout) times this step's inputs, channels in ascending order.
template <typename T>
__device__ __forceinline__ T input_drive(const int* in_indptr, const int* in_indices, const T* in_data,
                                         const T* u, int i) {
    T drive = T(0);
    for (int k = in_indptr[i]; k < in_indptr[i + 1]; ++k) drive = add_rn(drive, mul_rn(in_data[k], u[in_indices[k]]));
    return drive;
}

// (spikes before this thread's, spikes of the block) for one flag per thread: a ballot per
// warp, then the warps' counts. Every thread of the block calls it (whole warps: the block
// is a multiple of 32 threads).
__device__ __forceinline__ int block_exclusive_scan(bool flag, int* warp_counts, int& total) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const unsigned ballot = __ballot_sync(0xffffffffu, flag);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    int before = __popc(ballot & ((1u << lane) - 1u));
    int sum = 0;
    for (int w = 0; w < int(blockDim.x >> 5); ++w) {
        const int c = warp_counts[w];
        if (w < warp) before += c;
        sum += c;
    }
    __syncthreads();  // warp_counts is reused by the next tile
    total = sum;
    return before;
}

// Spikes of the step in the partitions before `partition` of a trial.
__device__ __forceinline__ int spikes_before(const int* step_counts, int partition) {
    int before = 0;
    for (int q = 0; q < partition; ++q) before += step_counts[q];
    return before;
}

template <typename T>
__global__ void lif_run(const int* __restrict__ push_indptr, const int* __restrict__ push_indices,
                        const T* __restrict__ push_data, const int* __restrict__ delays, int n_exc,
                        const int* __restrict__ in_indptr, const int* __restrict__ in_indices,
                        const T* __restrict__ in_data, const T* __restrict__ inputs, int n_in, int steps,
                        int has_input, int input_spikes, T* v_all, T* i_exc_all, T* i_inh_all, int* hold_all,
                        T* ring_exc_all, T* ring_inh_all, T* trace_all, int n, int slots, long long step0,
                        T* out, int out_rows, int record_states, int window, int record_spikes, int* records,
                        long long capacity, long long* counts, long long* positions, int* spike_lists,
                        int* spike_counts, int partitions, int part_size, T v_rest, T v_reset, T v_thresh,
                        T decay_m, T gain_exc, T gain_inh, T gain_ext, T decay_exc, T decay_inh, T decay_trace,
                        int hold_after_spike, int push_variant) {
    __shared__ int warp_counts[32];  // the block prefix sum's per-warp spike counts
    const int b = blockIdx.y;
    const bool lead = blockIdx.x == 0 && threadIdx.x == 0;
    // This trial's rows.
    T* v = v_all + index_t(b) * n;
    T* i_exc = i_exc_all + index_t(b) * n;
    T* i_inh = i_inh_all + index_t(b) * n;
    int* hold = hold_all + index_t(b) * n;
    T* trace = trace_all + index_t(b) * n;
    T* ring_exc = ring_exc_all + index_t(b) * slots * n;
    T* ring_inh = ring_inh_all + index_t(b) * slots * n;
    T* trial_out = out + index_t(b) * out_rows * n;
    int* trial_records = records + index_t(b) * capacity * 2;
    int* lists = spike_lists + index_t(b) * 2 * n;
    int* trial_counts = spike_counts + index_t(b) * 2 * partitions;
    const bool current_input = has_input && !input_spikes;
    // The reference's rule: without delays or input spikes, spikes add straight into the
    // currents (the one ring slot stays empty; adding it afterwards changes nothing).
    const bool direct = slots == 1 && !input_spikes;
    const long long own_first = positions[b];
    long long first_step = own_first;
    for (int c = 0; c < int(gridDim.y); ++c) first_step = positions[c] < first_step ? positions[c] : first_step;
    int stop = steps;  // where this trial stops: the end, or a step that could overflow its records
    long long count = counts[b];
    for (int t = int(first_step); t < steps; ++t) {
        bool working = t >= own_first && t < stop;  // the same for every block of the trial
        if (working && record_spikes && capacity - count < n) {
            stop = t;
            working = false;
        }
        const int slot = int((step0 + t) % slots);
        int* list = lists + (t & 1) * n;
        int* step_counts = trial_counts + (t & 1) * partitions;
        const T* u = inputs + (index_t(b) * steps + t) * n_in;
        // A) update, decays, threshold; the partition's spikes in ascending order
        for (int p = blockIdx.x; working && p < partitions; p += gridDim.x) {
            const int begin = min(n, p * part_size);
            const int end = min(n, begin + part_size);
            int found = 0;
            for (int tile = begin; tile < end; tile += blockDim.x) {  // the same tiles in every thread
                const int i = tile + threadIdx.x;
                bool fired = false;
                if (i < end) {
                    const T i_ext = current_input ? input_drive(in_indptr, in_indices, in_data, u, i) : T(0);
                    const T integrated = add_rn(add_rn(add_rn(add_rn(v_rest, mul_rn(v[i] - v_rest, decay_m)),
                                                              mul_rn(i_exc[i], gain_exc)),
                                                       mul_rn(i_inh[i], gain_inh)),
                                                mul_rn(i_ext, gain_ext));
                    if (hold[i] == 0) {
                        v[i] = integrated;
                    } else {
                        hold[i] -= 1;
                    }
                    i_exc[i] = mul_rn(i_exc[i], decay_exc);
                    i_inh[i] = mul_rn(i_inh[i], decay_inh);
                    trace[i] = mul_rn(trace[i], decay_trace);
                    fired = v[i] > v_thresh;
                }
                int total;
                const int before = block_exclusive_scan(fired, warp_counts, total);
                if (fired) list[begin + found + before] = i;
                found += total;
            }
            if (threadIdx.x == 0) step_counts[p] = found;
        }
        grid_barrier();
        const int spiked = working ? spikes_before(step_counts, partitions) : 0;
        if (working && record_spikes) {  // each block its own partitions' spikes, after the earlier ones
            for (int p = blockIdx.x; p < partitions; p += gridDim.x) {
                const long long first = count + spikes_before(step_counts, p);
                for (int s = threadIdx.x; s < step_counts[p]; s += blockDim.x) {
                    trial_records[(first + s) * 2] = t;
                    trial_records[(first + s) * 2 + 1] = list[p * part_size + s];
                }
            }
        }
        // B) propagation
        if (push_variant) {
            const int lane = threadIdx.x & 31;
            const int warp = int(blockIdx.x * blockDim.x + threadIdx.x) >> 5;
            const int warps = int(gridDim.x * blockDim.x) >> 5;
            int offset = 0;  // spikes of the partitions before q: the trial's warps take them round robin
            for (int q = 0; working && q < partitions; ++q) {
                const int in_partition = step_counts[q];
                const int* partition_list = list + q * part_size;
                for (int s = ((warp - offset) % warps + warps) % warps; s < in_partition; s += warps) {
                    const int j = partition_list[s];
                    T* ring = direct ? (j < n_exc ? i_exc : i_inh) : (j < n_exc ? ring_exc : ring_inh);
                    for (int k = push_indptr[j] + lane; k < push_indptr[j + 1]; k += 32) {
                        int arrival = slot + delays[k];  // delays < slots: a subtraction, not a modulo
                        if (arrival >= slots) arrival -= slots;  // 0 when direct (one slot)
                        atomicAdd(ring + index_t(arrival) * n + push_indices[k], push_data[k]);
                    }
                }
                offset += in_partition;
            }
            grid_barrier();
        }
        // B, pull) then C) input spikes, delivery of this step's slot, reset, traces, states
        T* slot_exc = ring_exc + index_t(slot) * n;
        T* slot_inh = ring_inh + index_t(slot) * n;
        for (int p = blockIdx.x; working && p < partitions; p += gridDim.x) {
            const int begin = min(n, p * part_size);
            const int end = min(n, begin + part_size);
            for (int i = begin + threadIdx.x; !push_variant && i < end; i += blockDim.x) {
                for (int q = 0; q < partitions; ++q) {
                    const int* partition_list = list + q * part_size;
                    for (int s = 0; s < step_counts[q]; ++s) {
                        const int j = partition_list[s];
                        int low = push_indptr[j], high = push_indptr[j + 1];
                        const int row_end = high;
                        while (low < high) {
                            const int middle = (low + high) >> 1;
                            if (push_indices[middle] < i) low = middle + 1; else high = middle;
                        }
                        T* ring = direct ? (j < n_exc ? i_exc : i_inh) : (j < n_exc ? ring_exc : ring_inh);
                        for (; low < row_end && push_indices[low] == i; ++low) {
                            int arrival = slot + delays[low];
                            if (arrival >= slots) arrival -= slots;
                            T* cell = ring + index_t(arrival) * n + i;
                            *cell = add_rn(*cell, push_data[low]);
                        }
                    }
                }
            }
            for (int i = begin + threadIdx.x; i < end; i += blockDim.x) {
                if (has_input && input_spikes) {
                    slot_exc[i] = add_rn(slot_exc[i], input_drive(in_indptr, in_indices, in_data, u, i));
                }
                i_exc[i] = add_rn(i_exc[i], slot_exc[i]);
                i_inh[i] = add_rn(i_inh[i], slot_inh[i]);
                slot_exc[i] = T(0);
                slot_inh[i] = T(0);
                if (v[i] > v_thresh) {
                    v[i] = v_reset;
                    hold[i] = hold_after_spike;
                    trace[i] = add_rn(trace[i], T(1));
                    if (record_states && window > 0) trial_out[index_t(t / window) * n + i] += T(1);
                }
                if (record_states && window == 0) trial_out[index_t(t) * n + i] = trace[i];
            }
        }
        if (record_spikes) count += spiked;
    }
    if (lead) {
        positions[b] = stop;
        counts[b] = count;
    }
}
