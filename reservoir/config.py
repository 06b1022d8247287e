"""Tunables of the compiled kernels, in one place so tests and benchmarks can patch them."""

from dataclasses import dataclass


@dataclass
class Settings:
    #: Time steps per kernel call in ESN.run: bounds the memory of intermediate
    #: buffers and sets how often the progress bar moves.
    time_chunk: int = 2048
    #: Below this many multiply-adds per step (nnz * batch) the serial kernel runs:
    #: starting a parallel region costs microseconds, more than a small step. Measured
    #: on 2 cores (one sequence, idle machine): two threads lose at 25,000 (0.73-0.76x),
    #: break even at 49,000-50,000 and win from 100,000 (1.07-1.32x over three runs).
    parallel_min_work: int = 75_000
    #: The same for float64 steps (the crossover measured at the same size).
    parallel_min_work_float64: int = 75_000
    #: Kernels with a parallel region per step run serially while an empty parallel
    #: region takes longer than this (the other cores are busy with other processes;
    #: see kernels/cpu/threads.py), re-checked at most every ``parallel_probe_every`` s.
    parallel_probe_seconds: float = 200e-6
    parallel_probe_every: float = 1.0
    #: Up to this many multiply-adds per step (nnz * batch) the ESN runs a plain CSR
    #: kernel, one sequence after another: it compiles in a few seconds where the
    #: SELL and SIMD batched kernels take ten or more on a first call (see
    #: kernels/cpu/esn.py).
    small_max_work: int = 20_000
    #: Random sparse matrices with fewer nonzeros are filled by the generator's code run
    #: as Python (milliseconds) instead of compiling it (seconds on a first call); the
    #: matrix is the same bit for bit (see kernels/random_csr.py).
    random_fill_compile_min_nnz: int = 4096
    #: Print a one-line note on stderr before a kernel compilation that takes long
    #: (the note is logged at INFO on the "reservoir" logger either way).
    compile_notes: bool = True
    #: Rows per slice of the SELL-C-sigma layout used for one sequence; 8 float32
    #: lanes fill an AVX2 register.
    sell_slice_rows: int = 8
    #: The one-sequence step sweeps the matrix one column block at a time; a block's
    #: part of the state takes at most this many bytes (20 KiB of a 32 KiB L1 here),
    #: so the random reads of x stay in L1.
    sell_block_bytes: int = 20 * 1024
    #: Batched ESN steps sweep the recurrent matrix one column block at a time; a
    #: block's slice of the (n, B) state takes at most this many bytes (half of a
    #: 512 KiB L2 here), so the state rows it reads stay in L2.
    batch_state_block_bytes: int = 256 * 1024
    #: ESN recurrent matrices of at least this density run the dense kernels
    #: (kernels/cpu/dense.py: a BLAS gemv / gemm per step inside the compiled loop)
    #: instead of the sparse ones; ``ESN(recurrent_kernel="sparse" | "dense")`` forces
    #: either; matrices of at most ``small_max_work`` nonzeros keep the small kernel.
    #: 0.25 is the median (0.26) of the crossovers measured on this 2-core machine
    #: (float32/float64, B = 1 and 16, n = 500/1000/2000; they spread from 0.02 to 0.77
    #: under load), 2026-12-04, ``python asv_bench/dense_crossover.py --repeats 5``:
    #: asv_bench/dense_crossover.md. Above 1: never automatically.
    dense_min_density: float = 0.25
    #: ELM hidden layer on a dense X: a BLAS product with the densified weights instead of
    #: the sparse push when the layer has at least this density and at most this many
    #: weights (see kernels/cpu/elm.py CpuElmWeights.dense_transposed).
    elm_blas_min_density: float = 0.05
    elm_blas_max_entries: int = 16_000_000
    #: Rows of states converted to float64 at a time when accumulating Gram matrices.
    gram_chunk_rows: int = 4096
    #: Above this many nonzeros, spectral_radius() uses the power method rather than ARPACK.
    arpack_max_nnz: int = 2_000_000
    # GPU backends ("numba-cuda", "cupy"): persistent kernels, see kernels/_gpu_layout.py.
    #: Threads per block (a power of two, at least 32: a warp per SELL slice).
    gpu_threads_per_block: int = 256
    #: Matrices of at most this many entries (SELL padding included) whose entries and
    #: state fit in shared memory run in one block, steps separated by __syncthreads.
    gpu_single_block_max_entries: int = 32_768
    #: Otherwise about this many entries per block, up to the co-resident limit: fewer
    #: blocks make the per-step grid barrier cheaper for small reservoirs.
    gpu_min_entries_per_block: int = 4096
    #: Cap on dynamic shared memory per block in bytes (None: the device's limit; the
    #: Numba-CUDA path stays within 40 KiB). 0 disables staging the matrix on chip.
    gpu_shared_bytes: int | None = None
    #: Warps sharing a SELL slice (one sequence); None: planned so that every warp of a
    #: block has work (kernels/_gpu_layout.py sell_warps_per_slice).
    gpu_sell_warps_per_slice: int | None = None
    #: Most blocks of the thread-block cluster that runs one mid-size sequence on sm_90
    #: (CuPy path; 16 or 8, 0: no cluster, the grid-barrier kernel).
    gpu_cluster_blocks: int = 16
    # GPU LIF kernels (LSM): one persistent launch per call, see kernels/cuda_src/lif.cu.
    #: How a step's spikes reach their targets' ring buffers. "push" (default): a warp per
    #: spike scatters its row with atomicAdd, about `degree` operations per spike (the
    #: order of one step's additions at a synapse varies: equal to the reference up to
    #: rounding). "pull": each target looks itself up in the rows of the step's spikes,
    #: which the update phase lists in ascending order, and adds in the reference's order
    #: (reproducible; float64 spike for spike with the reference), at about one binary
    #: search per target per spike.
    gpu_lif_propagation: str = "push"
    #: Threads per block of the LIF kernels (a multiple of 32; capped by what the compiled
    #: kernel allows).
    gpu_lif_threads_per_block: int = 512
    #: Networks of at most this many neurons run one block per trial (steps separated by
    #: __syncthreads); larger ones split each trial over blocks that meet at the grid
    #: barrier (0: always split).
    gpu_lif_single_block_max_neurons: int = 1024
    #: Neurons per block when a trial is split over blocks (a multiple of 32); CUBA's
    #: 4,000 neurons take 8 blocks, 8 multiprocessors rather than one.
    gpu_lif_neurons_per_block: int = 512


settings = Settings()
