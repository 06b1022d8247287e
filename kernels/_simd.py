"""Explicit SIMD for the Numba ESN steps: two inner loops emitted as LLVM IR.

Numba has no vector types, and LLVM vectorises the scalar forms of these two loops
badly (each function's docstring says how, with the measured cost). Here they are
written as Numba intrinsics whose IR holds the sums in vector registers:

* ``sell_slice_sums``: the 8 row sums of a SELL-8 slice (one sequence);
* ``accumulate_row_lanes_x4`` / ``_x1``: a sparse row times a block of batch lanes
  (B sequences);

and one bit-level helper the float64 tanh needs: ``power_of_two`` (2^k from the
exponent bits, where ``math.ldexp`` would be a call that keeps loops scalar).

Bounds are not checked: the callers in ``cpu/esn.py`` build the shapes each docstring
asks for (``cpu.esn_run`` pads the batch to whole vectors). Measured: see the asv
benchmarks (asv_bench/benchmarks/esn.py).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

VECTOR_BYTES = 32  # AVX2; every x86-64 CPU Numba targets here has it or splits it in two


def vector_lanes(array):
    """Lanes of `array`'s dtype in one vector register (8 for float32, 4 for float64)."""
    return VECTOR_BYTES // array.dtype.itemsize


@overload(vector_lanes, inline="always")
def _vector_lanes_typed(array):
    lanes = VECTOR_BYTES // (array.dtype.bitwidth // 8)
    return lambda array: lanes


def _fma(builder, vector: ir.VectorType, float_type):
    """LLVM's fused multiply-add on `vector` (lanes of `float_type`)."""
    return cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector, [vector] * 3), f"llvm.fma.v{vector.count}f{float_type.bitwidth}"
    )


def _load_index(context, builder, array, index_type, k):
    """array[k], an integer of `index_type`, as an int64 (for addressing)."""
    return context.cast(builder, builder.load(builder.gep(array.data, [k])), index_type, types.int64)


def _accumulate_row_lanes(registers: int):
    """The batched row sum for `registers` vector registers of lanes.

    ``f(data, indices, start, stop, x, lane, acc)`` adds
    ``sum_k data[k] * x[indices[k], lane : lane + L]`` over k in [start, stop) to
    ``acc[lane : lane + L]``, L = registers * vector length (8 float32 or 4 float64
    lanes per AVX2 register). ``x`` is a C-contiguous (n, width) array whose width is
    a multiple of the vector length, ``lane`` a multiple of it, ``lane + L <= width``;
    ``acc`` is a row of ``width`` values of the same dtype.

    Written as scalar loops, the sum compiled to one FMA chain running through
    memory (every product waiting 4 cycles for the previous one) with ~70 scalar
    instructions of alias checks between groups of four nonzeros. Here the lanes stay
    in registers, in two independent chains (even and odd nonzeros), so loads and
    FMAs overlap: about twice as fast.
    """

    @intrinsic
    def accumulate(typingctx, data, indices, start, stop, x, lane, acc):
        float_type = data.dtype
        if not (
            isinstance(float_type, types.Float)
            and isinstance(indices.dtype, types.Integer)
            and x.ndim == 2
            and x.layout == "C"
            and x.dtype == float_type
            and acc.dtype == float_type
        ):
            return None
        signature = types.void(data, indices, start, stop, x, lane, acc)

        def codegen(context, builder, sig, args):
            data_v, indices_v, start_v, stop_v, x_v, lane_v, acc_v = args
            data_a = context.make_array(sig.args[0])(context, builder, data_v)
            indices_a = context.make_array(sig.args[1])(context, builder, indices_v)
            x_a = context.make_array(sig.args[4])(context, builder, x_v)
            acc_a = context.make_array(sig.args[6])(context, builder, acc_v)
            i64 = ir.IntType(64)
            scalar = context.get_value_type(float_type)
            width = VECTOR_BYTES // (float_type.bitwidth // 8)
            vector = ir.VectorType(scalar, width)
            fma = _fma(builder, vector, float_type)
            zero = ir.Constant(vector, [0.0] * width)
            row_length = builder.extract_value(x_a.shape, 1)
            start_v = context.cast(builder, start_v, sig.args[2], types.int64)
            stop_v = context.cast(builder, stop_v, sig.args[3], types.int64)
            lane_v = context.cast(builder, lane_v, sig.args[5], types.int64)
            align = float_type.bitwidth // 8

            def vector_at(base, offset):
                return builder.bitcast(builder.gep(base, [offset]), vector.as_pointer())

            def nonzero(k):
                """(splatted weight, the `registers` vectors of x's row) of entry k."""
                column = _load_index(context, builder, indices_a, indices.dtype, k)
                row = builder.gep(x_a.data, [builder.add(builder.mul(column, row_length), lane_v)])
                weight = builder.load(builder.gep(data_a.data, [k]))
                splat = builder.insert_element(
                    ir.Constant(vector, ir.Undefined), weight, ir.Constant(ir.IntType(32), 0)
                )
                splat = builder.shuffle_vector(
                    splat,
                    ir.Constant(vector, ir.Undefined),
                    ir.Constant(ir.VectorType(ir.IntType(32), width), [0] * width),
                )
                rows = [
                    builder.load(vector_at(row, ir.Constant(i64, r * width)), align=align) for r in range(registers)
                ]
                return splat, rows

            entry = builder.block
            head = builder.append_basic_block("lanes.head")
            pair = builder.append_basic_block("lanes.pair")
            check_odd = builder.append_basic_block("lanes.check_odd")
            odd = builder.append_basic_block("lanes.odd")
            done = builder.append_basic_block("lanes.done")
            builder.branch(head)

            # head: k and two chains of `registers` vectors; loop while two entries remain
            builder.position_at_end(head)
            k = builder.phi(i64)
            chains = [[builder.phi(vector) for _ in range(registers)] for _ in range(2)]
            k.add_incoming(start_v, entry)
            for phi in chains[0] + chains[1]:
                phi.add_incoming(zero, entry)
            builder.cbranch(builder.icmp_signed("<", builder.add(k, ir.Constant(i64, 1)), stop_v), pair, check_odd)

            builder.position_at_end(pair)
            updated = []
            for c in range(2):
                weight, rows = nonzero(builder.add(k, ir.Constant(i64, c)))
                updated.append([builder.call(fma, [weight, row, total]) for row, total in zip(rows, chains[c])])
            k.add_incoming(builder.add(k, ir.Constant(i64, 2)), pair)
            for c in range(2):
                for phi, value in zip(chains[c], updated[c]):
                    phi.add_incoming(value, pair)
            builder.branch(head)

            builder.position_at_end(check_odd)
            builder.cbranch(builder.icmp_signed("<", k, stop_v), odd, done)
            builder.position_at_end(odd)
            weight, rows = nonzero(k)
            last = [builder.call(fma, [weight, row, total]) for row, total in zip(rows, chains[0])]
            builder.branch(done)

            builder.position_at_end(done)
            even = []
            for r in range(registers):
                phi = builder.phi(vector)
                phi.add_incoming(chains[0][r], check_odd)
                phi.add_incoming(last[r], odd)
                even.append(phi)
            for r in range(registers):
                target = vector_at(acc_a.data, builder.add(lane_v, ir.Constant(i64, r * width)))
                total = builder.fadd(even[r], chains[1][r])
                builder.store(builder.fadd(builder.load(target, align=align), total), target, align=align)
            return context.get_dummy_value()

        return signature, codegen

    return accumulate


#: acc[lane : lane + 4 vectors] += sum_k data[k] * x[indices[k], same lanes], for k in [start, stop)
accumulate_row_lanes_x4 = _accumulate_row_lanes(4)
#: The same for one vector of lanes (the batch's remainder).
accumulate_row_lanes_x1 = _accumulate_row_lanes(1)


@intrinsic
def sell_slice_sums(typingctx, values, columns, start, stop, x):
    """The 8 row sums of one SELL-8 slice: sum over the slice's entries k in [start, stop)
    (8 rows interleaved, so entry k belongs to row k % 8) of values[k] * x[columns[k]].

    Per 8 entries: one vector load of the weights, eight scalar loads of x inserted
    into a vector, one vector FMA. Written as scalar code, LLVM's loop vectoriser
    instead vectorised across chunks of the slice and spent a shuffle network per
    chunk transposing the weights back (a quarter slower than this). A hardware
    gather (vgatherdps) measured slower still.
    ``stop - start`` must be a multiple of 8 and x contiguous.
    """
    float_type = values.dtype
    if not (
        isinstance(float_type, types.Float)
        and isinstance(columns.dtype, types.Integer)
        and x.ndim == 1
        and x.layout == "C"
        and x.dtype == float_type
    ):
        return None
    signature = types.UniTuple(float_type, 8)(values, columns, start, stop, x)

    def codegen(context, builder, sig, args):
        values_v, columns_v, start_v, stop_v, x_v = args
        values_a = context.make_array(sig.args[0])(context, builder, values_v)
        columns_a = context.make_array(sig.args[1])(context, builder, columns_v)
        x_a = context.make_array(sig.args[4])(context, builder, x_v)
        i32, i64 = ir.IntType(32), ir.IntType(64)
        vector = ir.VectorType(context.get_value_type(float_type), 8)
        fma = _fma(builder, vector, float_type)
        start_v = context.cast(builder, start_v, sig.args[2], types.int64)
        stop_v = context.cast(builder, stop_v, sig.args[3], types.int64)
        entry = builder.block
        head = builder.append_basic_block("sell.head")
        body = builder.append_basic_block("sell.body")
        done = builder.append_basic_block("sell.done")
        builder.branch(head)

        builder.position_at_end(head)
        k = builder.phi(i64)
        total = builder.phi(vector)
        k.add_incoming(start_v, entry)
        total.add_incoming(ir.Constant(vector, [0.0] * 8), entry)
        builder.cbranch(builder.icmp_signed("<", k, stop_v), body, done)

        builder.position_at_end(body)
        weights = builder.load(
            builder.bitcast(builder.gep(values_a.data, [k]), vector.as_pointer()), align=float_type.bitwidth // 8
        )
        sources = ir.Constant(vector, ir.Undefined)
        for r in range(8):
            column = _load_index(context, builder, columns_a, columns.dtype, builder.add(k, ir.Constant(i64, r)))
            value = builder.load(builder.gep(x_a.data, [column]))
            sources = builder.insert_element(sources, value, ir.Constant(i32, r))
        k.add_incoming(builder.add(k, ir.Constant(i64, 8)), body)
        total.add_incoming(builder.call(fma, [weights, sources, total]), body)
        builder.branch(head)

        builder.position_at_end(done)
        sums = [builder.extract_element(total, ir.Constant(i32, r)) for r in range(8)]
        return context.make_tuple(builder, sig.return_type, sums)

    return signature, codegen


@intrinsic
def power_of_two(typingctx, k):
    """2.0 ** k for an integer k in [-1022, 1023], from the exponent bits (no libm call, so the
    loops around it vectorise: the float64 tanh in ``cpu/activation.py`` scales exp's reduced argument by it)."""
    if not isinstance(k, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        k64 = context.cast(builder, args[0], signature.args[0], types.int64)
        biased = builder.add(k64, ir.Constant(ir.IntType(64), 1023))
        return builder.bitcast(builder.shl(biased, ir.Constant(ir.IntType(64), 52)), ir.DoubleType())

    return types.float64(k), codegen
