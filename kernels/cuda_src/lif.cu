// Leaky integrate-and-fire (LSM) kernel for the "cupy" backend (loaded by
// kernels/cupy_raw.py with cupy.RawModule; float and double instantiations). The
// step is written out in kernels/lif.py; kernels/reference.py is the oracle and
// kernels/cuda/lif.py holds the same kernel for Numba-CUDA.
//
// One launch runs every step of every trial: grid (blocks per trial, trials). Each
// block owns a fixed range of neurons of its trial for the whole launch. A step:
//   A) update (exact integration, refractory hold), decays, threshold; a spike is
//      appended to the step's list with an atomic counter;
//   -- barrier (one block per trial: __syncthreads; else cooperative groups' grid
//      sync over the whole grid, launched cooperatively) --
//   B) propagation into the ring buffers (slot (step + delay) % slots), or, without
//      delays or input spikes, straight into the currents as the reference does:
//      pull: every block rank-sorts the step's list into shared memory and each target
//            binary-searches itself in the spikes' rows (sorted by target), adding in
//            the reference's order: spike by spike, ascending, no atomics. Reproducible,
//            and with the explicitly rounded arithmetic below, bit-identical to the
//            reference;
//      push: a warp per spike scatters its row with atomicAdd (cheaper per spike, but
//            the order in which one step's arrivals at a synapse add up varies);
//            then a second barrier;
//   C) input spikes, delivery of the step's slot, reset, traces, states.
// Lists and counters rotate over three buffers: the counter of step t + 2 is cleared
// in step t, after the barrier that ends every read of it in step t - 1, so one
// barrier per step separates a step's readers from the next step's writers (pull).
//
// Spike records: block 0 of a trial writes (step, neuron) of each step's spikes (in
// list order; the host sorts each step by neuron). Before a step that could overflow
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

template <typename T>
__global__ void lif_run(const int* __restrict__ push_indptr, const int* __restrict__ push_indices,
                        const T* __restrict__ push_data, const int* __restrict__ delays, int n_exc,
                        const int* __restrict__ in_indptr, const int* __restrict__ in_indices,
                        const T* __restrict__ in_data, const T* __restrict__ inputs, int n_in, int steps,
                        int has_input, int input_spikes, T* v_all, T* i_exc_all, T* i_inh_all, int* hold_all,
                        T* ring_exc_all, T* ring_inh_all, T* trace_all, int n, int slots, long long step0,
                        T* out, int out_rows, int record_states, int window, int record_spikes, int* records,
                        long long capacity, long long* counts, long long* positions, int* spike_lists,
                        int* spike_counters, T v_rest, T v_reset, T v_thresh, T decay_m,
                        T gain_exc, T gain_inh, T gain_ext, T decay_exc, T decay_inh, T decay_trace,
                        int hold_after_spike, int push_variant, int chunk) {
    extern __shared__ int sorted_spikes[];  // `chunk` neurons of the step's sorted spike list (pull)
    const int b = blockIdx.y;
    const int per_block = (n + gridDim.x - 1) / gridDim.x;
    const int begin = min(n, int(blockIdx.x) * per_block);
    const int end = min(n, begin + per_block);
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
    int* lists = spike_lists + index_t(b) * 3 * n;
    int* counters = spike_counters + b * 3;
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
        const int which = t % 3;
        int* list = lists + which * n;
        const T* u = inputs + (index_t(b) * steps + t) * n_in;
        // A) update, decays, threshold
        for (int i = begin + threadIdx.x; working && i < end; i += blockDim.x) {
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
            if (v[i] > v_thresh) list[atomicAdd(counters + which, 1)] = i;
        }
        grid_barrier();
        const int spiked = working ? *((volatile int*)(counters + which)) : 0;
        if (working && lead) counters[(t + 2) % 3] = 0;  // step t + 2's buffer, last read in step t - 1
        if (record_spikes && blockIdx.x == 0) {
            for (int s = threadIdx.x; s < spiked; s += blockDim.x) {
                trial_records[(count + s) * 2] = t;
                trial_records[(count + s) * 2 + 1] = list[s];
            }
        }
        // B) propagation
        if (push_variant) {
            const int lane = threadIdx.x & 31;
            const int warps = int(gridDim.x * blockDim.x) >> 5;
            for (int s = int(blockIdx.x * blockDim.x + threadIdx.x) >> 5; s < spiked; s += warps) {
                const int j = list[s];
                T* ring = direct ? (j < n_exc ? i_exc : i_inh) : (j < n_exc ? ring_exc : ring_inh);
                for (int k = push_indptr[j] + lane; k < push_indptr[j + 1]; k += 32) {
                    int arrival = slot + delays[k];  // delays < slots: a subtraction, not a modulo
                    if (arrival >= slots) arrival -= slots;  // 0 when direct (one slot)
                    atomicAdd(ring + index_t(arrival) * n + push_indices[k], push_data[k]);
                }
            }
            grid_barrier();
        } else {
            for (int first = 0; first < spiked; first += chunk) {
                // Rank sort (a neuron spikes at most once per step): sorted positions [first, first + chunk).
                for (int s = threadIdx.x; s < spiked; s += blockDim.x) {
                    const int j = list[s];
                    int rank = 0;
                    for (int m = 0; m < spiked; ++m) rank += list[m] < j;
                    if (rank >= first && rank < first + chunk) sorted_spikes[rank - first] = j;
                }
                __syncthreads();
                const int last = min(chunk, spiked - first);
                for (int i = begin + threadIdx.x; i < end; i += blockDim.x) {
                    for (int r = 0; r < last; ++r) {
                        const int j = sorted_spikes[r];
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
                __syncthreads();
            }
        }
        // C) input spikes, delivery of this step's slot, reset, traces, states
        T* slot_exc = ring_exc + index_t(slot) * n;
        T* slot_inh = ring_inh + index_t(slot) * n;
        for (int i = begin + threadIdx.x; working && i < end; i += blockDim.x) {
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
        if (record_spikes) count += spiked;
    }
    if (lead) {
        positions[b] = stop;
        counts[b] = count;
    }
}
