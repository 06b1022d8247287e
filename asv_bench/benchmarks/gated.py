"""Gated recurrent readouts (GRU, LSTM): one training step, one epoch, NARMA-10 accuracy.

A training step is one minibatch of ``BATCH`` windows of ``WINDOW`` steps: forward
through time, backward through time, gradient clipping and an Adam update, on float32
states of a reservoir of ``units`` units. Windows per second = BATCH / reported time.
Sizes come from the profile (``RESERVOIR_BENCH_PROFILE``, ``common.py``): quick 200
and 2,000 units, full up to 10,000.
"""

import numpy as np

import reservoir as rs
from reservoir.readouts import gated_network, optimizers, threads
from reservoir.readouts.gated_cells import CELLS as GATED_CELLS

from .common import PROFILE, SEED, narma_split

CELLS = ["gru", "lstm"]
UNITS = list(PROFILE.gated_units)
HIDDEN = 32
WINDOW = 64
BATCH = 32
EPOCH_STEPS = PROFILE.gated_epoch_steps  # time steps of the series one timed epoch trains on
READOUTS = {"gru": rs.readouts.GRUReadout, "lstm": rs.readouts.LSTMReadout}


def _states(units: int, steps: int, batch: int | None = None):
    """Stand-in reservoir states: the step cost does not depend on their values."""
    rng = np.random.default_rng(SEED)
    shape = (steps, units) if batch is None else (batch, steps, units)
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32), rng.standard_normal(shape[:-1] + (1,)).astype(np.float32)


class TrainStep:
    """One minibatch: BPTT over BATCH x WINDOW steps and an Adam update."""

    params = (CELLS, UNITS)
    param_names = ("cell", "units")
    timeout = PROFILE.timeout

    def setup(self, cell, units):
        self.cell = GATED_CELLS[cell]
        rng = np.random.default_rng(SEED)
        self.params = [
            p.astype(np.float32) for p in gated_network.initial_parameters(self.cell, units, HIDDEN, 1, 1, rng)
        ]
        self.X, self.Y = _states(units, WINDOW, BATCH)
        self.lengths = np.full(BATCH, WINDOW)
        self.state = gated_network.zero_state(self.cell, np, 1, BATCH, HIDDEN, np.float32)
        self.optimizer = optimizers.Adam(np, self.params, 1e-3)
        work = BATCH * WINDOW * (units + HIDDEN) * self.cell.n_gates * HIDDEN
        self.blas = threads.blas_threads(np, work)  # the thread setting fit() would use
        self.blas.__enter__()
        self.time_train_step(cell, units)  # compile the step loops outside the timing

    def teardown(self, cell, units):
        self.blas.__exit__(None, None, None)

    def time_train_step(self, cell, units):
        _, grads, _ = gated_network.loss_and_gradients(
            self.cell, np, self.params, self.X, self.lengths, self.state, self.Y, gated_network.MANY_TO_MANY
        )
        optimizers.clip_by_global_norm(np, grads, 1.0)
        self.optimizer.step(self.params, grads)


TrainStep.time_train_step.pretty_name = f"gated.TrainStep.time_train_step ({BATCH} windows x {WINDOW} steps)"


class FitEpoch:
    """fit() for one epoch on a series of EPOCH_STEPS steps (window sampling, carried states,
    burn-ins and the validation pass included)."""

    params = (CELLS, UNITS)
    param_names = ("cell", "units")
    timeout = PROFILE.timeout

    def setup(self, cell, units):
        self.X, self.y = _states(units, EPOCH_STEPS)
        self.readout = READOUTS[cell](HIDDEN, epochs=1, window=WINDOW, batch_size=BATCH, seed=SEED)
        self.readout.fit(self.X[:256], self.y[:256])

    def time_fit_epoch(self, cell, units):
        self.readout.fit(self.X, self.y)


class Narma10:
    """Test NRMSE of NARMA-10 with a gated readout on a fixed ESN (same data, seed and settings
    on every commit): an accuracy regression of the training shows here."""

    params = (CELLS,)
    param_names = ("cell",)
    timeout = PROFILE.timeout
    unit = "NRMSE"

    def track_narma10_nrmse(self, cell):
        u, y, start, split = narma_split()
        u32 = u.astype(np.float32)
        esn = rs.ESN(
            PROFILE.narma_units, density=0.01, spectral_radius=0.95, input_scaling=0.2, seed=SEED, dtype="float32"
        )
        states = esn.run(u32)
        readout = READOUTS[cell](
            HIDDEN,
            epochs=PROFILE.gated_narma_epochs,
            learning_rate=1e-3,
            window=32,
            batch_size=8,
            patience=10,
            input_to_readout=True,
            seed=SEED,
        )
        readout.fit(states[start:split], y[start:split], inputs=u32[start:split])
        # run through the training span so that the readout's state at the test start is warmed up
        prediction = readout.predict(states[start:], inputs=u32[start:])[split - start :]
        return rs.metrics.nrmse(y[split:], prediction)
