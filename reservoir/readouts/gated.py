"""Gated recurrent readouts: GRU and LSTM layers trained by truncated BPTT on reservoir states.

A linear readout maps the present state to the output. A gated readout runs a small
recurrent network over the states, so it can hold what the reservoir's fading memory
has lost, and can pool a whole sequence into one label. The cells are described in
``gated_cells``, the network and its losses in ``gated_network``; this module is the
estimator: what is trained on, in which order, and when training stops.

Training (the choices)
----------------------
* Windows. An epoch cuts every training sequence into consecutive windows of
  ``window`` steps, starting at a random offset (boundaries move between epochs;
  every step is trained on once per epoch). A long series is split into about
  ``batch_size`` chains of consecutive windows, one per lane of the minibatch: a lane
  carries its state from one window to the next (the gradient stops at the window
  boundary: truncated BPTT), and a chain that starts mid-series first runs forward
  over the ``window`` steps before it (no gradient) to warm its state up. Many short
  sequences make many short chains. Windows are padded to the longest in the batch;
  padded steps are masked out of the loss and never feed a carried state
  (``windows``).
* Sequence classification takes the output at each sequence's last step. The
  gradient flows through its last ``window`` steps; the steps before them only warm
  the state up (``window=None``: full BPTT).
* Loss: mean squared error over valid steps and outputs (``torch.nn.MSELoss``); mean
  softmax cross-entropy per sequence. Adam as ``torch.optim.Adam`` (L2 ``weight_decay``
  on the weight matrices only), clipping of the global gradient norm
  (``clip_grad_norm_``). Initialisation as Keras: Glorot-uniform input weights,
  orthogonal recurrent weights, zero biases but the LSTM's forget bias and the GRU's
  update bias, 1 (both cells start by carrying their state: ``gated_cells``); the
  output bias starts at the mean of the training targets.
* Small data. An epoch makes at least ``MIN_MINIBATCHES_PER_EPOCH`` updates (when
  there are that many windows): a series of a few thousand steps holds fewer windows
  than one minibatch of ``batch_size``, and at one update per epoch 50 epochs would be
  50 updates and the patience would count single updates. The minibatch is smaller
  then (``batch_size_``). The default step size, 3e-3, is three times Keras': these
  networks are small (one layer of 32 units) and their gradients clipped.
* Early stopping on a validation split (the last ``validation_fraction`` of every
  sequence's steps, or of each class's sequences), keeping the best epoch's
  parameters (Keras' ``restore_best_weights=True``, scikit-learn's MLP).
* ``predict`` runs every sequence from a zero state (stateless, like ``Ridge``).

Computation
-----------
The math is written once against an array module ``xp``: NumPy on the CPU, CuPy when
the data are CuPy arrays (cupy is never imported unless the caller already has);
the parameters live on the device of the training data. States read from storage
(StateStore runs, h5py datasets) are read one minibatch of windows at a time, as
contiguous time slices in file order, and trained on with NumPy (``sequences``).
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError  # reservoir.NotFittedError: the same class

from .. import _validation as check
from .._arrays import namespace
from ..connectivity import _seed_sequence
from .gated_cells import CELLS
from .gated_network import (
    MANY_TO_MANY,
    MANY_TO_ONE,
    initial_parameters,
    log_softmax,
    loss_and_gradients,
    network_forward,
    regression_loss,
    zero_state,  # noqa: F401  (importable from here as before)
)
from .lanes import run_lanes
from .optimizers import Adam, clip_by_global_norm
from .sequences import aligned_parts, build_data, host, is_resident, one_value_per_entry, sequence_parts
from .threads import SINGLE_THREAD_BELOW, blas_threads  # noqa: F401  (importable from here as before)
from .windows import Chain, consecutive_chains, training_chains, training_lanes, windows_per_epoch

__all__ = ["GRUReadout", "LSTMReadout"]

#: Fewest minibatches per epoch: a data set smaller than this many minibatches of `batch_size`
#: windows is trained on in smaller minibatches, so that `epochs` and `patience` mean
#: enough updates on a short series too (see ``windows.training_lanes``).
MIN_MINIBATCHES_PER_EPOCH = 8

_blas_threads = blas_threads  # importable from here as before the thread policy had a module of its own


class _GatedReadout(BaseEstimator):
    """Shared implementation of GRUReadout and LSTMReadout (see their docstrings)."""

    _cell_name = None

    def __init__(
        self,
        hidden=32,
        *,
        n_layers=1,
        epochs=50,
        learning_rate=3e-3,
        window=64,
        batch_size=32,
        weight_decay=0.0,
        clip=1.0,
        validation_fraction=0.1,
        patience=10,
        input_to_readout=False,
        seed=None,
        dtype="float32",
    ):
        self.hidden = hidden
        self.n_layers = n_layers
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.window = window
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.clip = clip
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.input_to_readout = input_to_readout
        self.seed = seed
        self.dtype = dtype

    # ------------------------------------------------------------------ parameters
    @property
    def _cell(self):
        return CELLS[self._cell_name]

    @property
    def _inference_chunk(self) -> int:
        """Steps per window when running without gradients: the result does not depend on it
        (the state is carried), only the memory does."""
        return self._window or 1024

    def _checked_parameters(self) -> dict:
        fraction = check.real(self.validation_fraction, "validation_fraction")
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {fraction}")
        if not isinstance(self.input_to_readout, (bool, np.bool_)):
            raise TypeError(f"input_to_readout must be True or False, got {self.input_to_readout!r}")
        seed = self.seed
        if seed is not None and not isinstance(seed, np.random.SeedSequence):
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
                raise TypeError(f"seed must be None or a non-negative integer, got {seed!r}")
            if seed < 0:
                raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
        return {
            "hidden": check.positive_int(self.hidden, "hidden"),
            "n_layers": check.positive_int(self.n_layers, "n_layers"),
            "epochs": check.positive_int(self.epochs, "epochs"),
            "learning_rate": check.positive_float(self.learning_rate, "learning_rate"),
            "window": None if self.window is None else check.positive_int(self.window, "window"),
            "batch_size": check.positive_int(self.batch_size, "batch_size"),
            "weight_decay": check.non_negative_float(self.weight_decay, "weight_decay"),
            "clip": None if self.clip is None else check.positive_float(self.clip, "clip"),
            "validation_fraction": fraction,
            "patience": check.positive_int(self.patience, "patience"),
            "dtype": check.float_dtype(self.dtype),
        }

    # ------------------------------------------------------------------ data
    def _data(self, X, y, inputs, dtype, input_to_readout: bool, *, fitting: bool):
        """(data, items, structure, mode, labels, per_step_scalars) from what fit/predict were given."""
        items, structure = sequence_parts(X, "X", dtype)
        if inputs is not None and not input_to_readout:
            raise ValueError("inputs= is only used with input_to_readout=True")
        input_parts = None
        if input_to_readout:
            input_parts, _ = aligned_parts(inputs, items, structure, "inputs", "inputs", dtype)
        if not fitting:
            return build_data(items, input_parts, None, dtype), items, structure
        if structure != "single" and one_value_per_entry(y):
            if len(y) != len(items):
                raise ValueError(
                    f"y has {len(y)} labels but X has {len(items)} sequences: give one label per "
                    "sequence (classification), or per-step targets (B, T[, k]) or a list of them"
                )
            return build_data(items, input_parts, None, dtype), items, structure, MANY_TO_ONE, y, False
        target_parts, scalars = aligned_parts(y, items, structure, "targets", "y", dtype)
        return build_data(items, input_parts, target_parts, dtype), items, structure, MANY_TO_MANY, None, scalars

    # ------------------------------------------------------------------ lanes
    def _run_lanes(self, data, chains, n_lanes: int, visit) -> None:
        """``lanes.run_lanes`` with this readout's parameters (see there)."""
        run_lanes(self._cell, self.parameters_, data, chains, n_lanes, visit, self._inference_chunk)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, inputs=None):
        """Train the readout on reservoir states.

        Parameters
        ----------
        X : states
            One sequence (T, N); a batch (B, T, N); a list of (T_i, N) sequences; a
            ``StateStore`` run (``reservoir.storage.Run``, its committed steps), a run's
            ``time_range()``, an h5py dataset; or a list of those. NumPy or CuPy arrays
            are held in memory (on their device); everything else is read window by window.
        y : targets
            Many-to-many (forecasting): per-step targets shaped like X, (T,) or (T, k) per
            sequence, (B, T[, k]) for a batch, a list for a list; None takes them from the
            runs' ``targets``. Many-to-one (classification): one label per sequence.
        inputs : optional
            With ``input_to_readout=True``: the raw inputs, shaped like X (None takes the
            runs' ``inputs``); they are appended to the states at every step.
        """
        config = self._checked_parameters()
        dtype = config["dtype"]
        data, items, structure, mode, labels, scalars = self._data(
            X, y, inputs, dtype, bool(self.input_to_readout), fitting=True
        )
        # what predict() uses, fixed at fit (set_params after fit changes nothing until the next fit)
        self._dtype, self._hidden, self._n_layers = dtype, config["hidden"], config["n_layers"]
        self._window, self._lanes = config["window"], config["batch_size"]
        self._input_to_readout = bool(self.input_to_readout)
        xp = data.xp
        init_seed, order_seed = _seed_sequence(self.seed).spawn(2)
        order_rng = np.random.default_rng(order_seed)
        for stale in ("parameters_", "classes_"):  # a failed fit leaves the readout unfitted
            self.__dict__.pop(stale, None)
        codes = train_lengths = None
        if mode == MANY_TO_ONE:
            codes = self._encode_labels(labels)
            n_outputs = len(self.classes_)
            train, validation = self._split_sequences(codes, config["validation_fraction"], order_rng)
        else:
            n_outputs = data.n_targets
            train_lengths = self._training_lengths(data.lengths, config["validation_fraction"])
        self.mode_ = mode
        self.n_features_in_ = int(items[0][0].shape[1]) if len(items[0][0].shape) > 1 else 1
        self.n_outputs_ = n_outputs
        self._per_step_scalars = scalars
        params = initial_parameters(
            self._cell,
            data.n_features,
            config["hidden"],
            config["n_layers"],
            n_outputs,
            np.random.default_rng(init_seed),
        )
        params = [xp.asarray(p, dtype=dtype) for p in params]
        if mode == MANY_TO_MANY:  # start the output at the targets' mean: no epochs spent learning the offset
            total = sum(data.target_sum(s, 0, int(length)) for s, length in enumerate(train_lengths))
            params[-1][...] = xp.asarray(total / train_lengths.sum(), dtype=dtype)
        n_windows = windows_per_epoch(train_lengths, config["window"]) if mode == MANY_TO_MANY else len(train)
        config["lanes"] = self.batch_size_ = training_lanes(n_windows, config["batch_size"], MIN_MINIBATCHES_PER_EPOCH)
        started = time.perf_counter()
        if mode == MANY_TO_MANY:

            def epoch_chains():
                return training_chains(train_lengths, config["window"], config["lanes"], order_rng)

            spans = [(s, int(train_lengths[s]), int(length)) for s, length in enumerate(data.lengths)]

            def validation_loss():
                return self._regression_loss(data, spans)
        else:

            def epoch_chains():
                return [self._classification_chain(int(s), int(data.lengths[s])) for s in order_rng.permutation(train)]

            def validation_loss():
                return self._classification_loss(data, validation, codes)

        self._train(data, params, codes, config, epoch_chains, validation_loss)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _train(self, data, params, codes, config, epoch_chains, validation_loss) -> None:
        """The epochs: train on every window once, then early stopping on the validation loss."""
        self.parameters_ = params
        optimizer = Adam(data.xp, params, config["learning_rate"], config["weight_decay"])
        self.loss_curve_, self.validation_loss_curve_ = [], []
        best, best_params, waited = math.inf, None, 0
        self.best_epoch_ = None
        for epoch in range(config["epochs"]):
            loss = self._train_epoch(data, epoch_chains(), codes, optimizer, config)
            self.loss_curve_.append(loss)
            if not math.isfinite(loss):
                if best_params is None:
                    del self.parameters_
                    raise ValueError(
                        f"training diverged (loss {loss}) in epoch {epoch + 1}: lower learning_rate or clip"
                    )
                break
            if config["validation_fraction"] == 0:
                continue
            self.validation_loss_curve_.append(validation_loss())
            if self.validation_loss_curve_[-1] < best:
                best, waited, self.best_epoch_ = self.validation_loss_curve_[-1], 0, epoch
                best_params = [p.copy() for p in self.parameters_]
            else:
                waited += 1
                if waited >= config["patience"]:
                    break
        if best_params is not None:  # the best epoch's parameters are kept (Keras' restore_best_weights)
            self.parameters_ = best_params
        self.best_validation_loss_ = best if best_params is not None else None
        self.n_iter_ = len(self.loss_curve_)

    @staticmethod
    def _training_lengths(lengths, fraction: float) -> np.ndarray:
        """Steps of each sequence trained on; the last `fraction` of each is held out for validation."""
        held_out = np.rint(lengths * fraction).astype(np.int64)
        if fraction > 0 and held_out.sum() == 0:
            raise ValueError(
                f"validation_fraction={fraction} leaves no validation steps in sequences of "
                f"{lengths.max()} steps; use 0 to train without validation"
            )
        if np.any(held_out >= lengths):
            raise ValueError(f"validation_fraction={fraction} leaves no training steps")
        return lengths - held_out

    def _encode_labels(self, labels) -> np.ndarray:
        from sklearn.utils.multiclass import check_classification_targets

        labels = host(labels) if is_resident(labels) else np.asarray(labels)
        check_classification_targets(labels)
        self.classes_, codes = np.unique(labels, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"classification needs sequences of at least 2 classes; y has one: {self.classes_.tolist()}"
            )
        return codes.astype(np.int64)

    @staticmethod
    def _split_sequences(codes, fraction: float, rng):
        """(training, validation) sequence indices: `fraction` of each class held out at random."""
        if fraction == 0:
            return np.arange(len(codes)), np.array([], dtype=np.int64)
        held_out = []
        for label in np.unique(codes):
            members = np.flatnonzero(codes == label)
            count = min(int(round(fraction * len(members))), len(members) - 1)
            held_out.extend(rng.permutation(members)[:count].tolist())
        if not held_out:
            raise ValueError(
                f"validation_fraction={fraction} holds out no sequence of {len(codes)}; "
                "use 0 to train without validation"
            )
        held_out = np.sort(np.array(held_out, dtype=np.int64))
        return np.setdiff1d(np.arange(len(codes)), held_out), held_out

    def _classification_chain(self, sequence: int, length: int) -> Chain:
        """The gradient flows through the last `window` steps; the steps before them only warm the state up."""
        if self._window is None or length <= self._window:
            return Chain(sequence, [(0, length)])
        return Chain(sequence, [(length - self._window, length)], (0, length - self._window))

    def _train_epoch(self, data, chains, codes, optimizer, config) -> float:
        xp, cell, params = data.xp, self._cell, self.parameters_
        total, weight = xp.zeros((), dtype=np.float64), 0

        def visit(requests, items, state):
            nonlocal total, weight
            X, Y = data.read(requests, targets=codes is None)
            lengths = np.array([stop - start for _, start, stop in requests])
            target = Y if codes is None else codes[[sequence for sequence, _, _ in requests]]
            loss, grads, final = loss_and_gradients(cell, xp, params, X, lengths, state, target, self.mode_)
            clip_by_global_norm(xp, grads, config["clip"])
            optimizer.step(params, grads)
            samples = int(lengths.sum()) * Y.shape[2] if codes is None else len(requests)
            total = total + loss * samples
            weight += samples
            return final

        self._run_lanes(data, chains, config["lanes"], visit)
        return float(total) / weight

    def _regression_loss(self, data, spans) -> float:
        """Mean squared error over the (sequence, start, stop) spans, each warmed up over the window before it."""
        xp, cell, params = data.xp, self._cell, self.parameters_
        total, count = 0.0, 0

        def visit(requests, items, state):
            nonlocal total, count
            X, Y = data.read(requests, targets=True)
            lengths = np.array([stop - start for _, start, stop in requests])
            H, final, _ = network_forward(cell, xp, params, X, state, lengths, keep=False)
            loss, _, _, _ = regression_loss(xp, H, params[-2], params[-1], Y, lengths)
            samples = int(lengths.sum()) * Y.shape[2]
            total += float(loss) * samples
            count += samples
            return final

        self._run_lanes(data, consecutive_chains(spans, self._window, self._inference_chunk), self._lanes, visit)
        return total / count

    def _sequence_outputs(self, data, sequences):
        """Last-step outputs (n, n_outputs) of whole sequences run from a zero state."""
        xp, cell, params = data.xp, self._cell, self.parameters_
        chains = consecutive_chains(
            [(int(s), 0, int(data.lengths[s])) for s in sequences], self._window, self._inference_chunk
        )
        outputs = xp.empty((len(data.lengths), params[-1].shape[0]), dtype=self._dtype)

        def visit(requests, items, state):
            X, _ = data.read(requests, targets=False)
            lengths = np.array([stop - start for _, start, stop in requests])
            _, final, _ = network_forward(cell, xp, params, X, state, lengths, keep=False)
            ending = [i for i, (chain, k) in enumerate(items) if k == len(chain.windows) - 1]
            if ending:
                rows = xp.asarray(np.array(ending))
                h_last = final[-1][0][rows]
                sequences_ending = xp.asarray(np.array([items[i][0].sequence for i in ending]))
                outputs[sequences_ending] = h_last @ params[-2].T + params[-1]
            return final

        self._run_lanes(data, chains, self._lanes, visit)
        return outputs[xp.asarray(np.asarray(sequences, dtype=np.int64))]

    def _classification_loss(self, data, sequences, codes) -> float:
        xp = data.xp
        log_probability = log_softmax(xp, self._sequence_outputs(data, sequences))
        labels = xp.asarray(codes[np.asarray(sequences)])
        return float(-log_probability[xp.arange(len(sequences)), labels].mean())

    # ------------------------------------------------------------------ predict
    def _check_fitted(self):
        if not hasattr(self, "parameters_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def _predict_data(self, X, inputs):
        self._check_fitted()
        data, items, structure = self._data(X, None, inputs, self._dtype, self._input_to_readout, fitting=False)
        width = int(items[0][0].shape[1]) if len(items[0][0].shape) > 1 else 1
        if width != self.n_features_in_:
            raise ValueError(f"X has {width} features per step, but this readout was fitted on {self.n_features_in_}")
        if data.n_features != self.parameters_[0].shape[1] - self._hidden:
            raise ValueError(
                f"inputs have {data.n_features - width} features per step, the readout was fitted on "
                f"{self.parameters_[0].shape[1] - self._hidden - width}"
            )
        xp = namespace(self.parameters_[0])
        if xp is not data.xp:  # a model fitted on CuPy arrays predicting NumPy ones, or a store
            data = data.on(xp)
        return data, structure

    def predict(self, X, *, inputs=None):
        """Outputs for states X (the forms ``fit`` takes), each sequence run from a zero state.

        Many-to-many: per-step outputs shaped like the training targets ((T,) or (T, k) per
        sequence; a batch stacked, a list as a list), on the device of X. Many-to-one: the
        predicted label of every sequence.
        """
        data, structure = self._predict_data(X, inputs)
        if self.mode_ == MANY_TO_ONE:
            probabilities = self._probabilities(data)
            return self.classes_[np.argmax(host(probabilities), axis=1)]
        xp, cell, params = data.xp, self._cell, self.parameters_
        outputs = [xp.empty((int(length), params[-1].shape[0]), dtype=self._dtype) for length in data.lengths]

        def visit(requests, items, state):
            X_window, _ = data.read(requests, targets=False)
            lengths = np.array([stop - start for _, start, stop in requests])
            H, final, _ = network_forward(cell, xp, params, X_window, state, lengths, keep=False)
            B, T, m = H.shape
            P = (H.reshape(B * T, m) @ params[-2].T + params[-1]).reshape(B, T, -1)
            for i, (sequence, start, stop) in enumerate(requests):
                outputs[sequence][start:stop] = P[i, : stop - start]
            return final

        chains = consecutive_chains(
            [(s, 0, int(length)) for s, length in enumerate(data.lengths)], self._window, self._inference_chunk
        )
        self._run_lanes(data, chains, self._lanes, visit)
        if self._per_step_scalars:
            outputs = [o[:, 0] for o in outputs]
        if structure == "single":
            return outputs[0]
        if structure == "batch":
            return xp.stack(outputs)
        return outputs

    def _probabilities(self, data):
        xp = data.xp
        return xp.exp(log_softmax(xp, self._sequence_outputs(data, np.arange(len(data.lengths)))))

    def predict_proba(self, X, *, inputs=None):
        """Class probabilities (n_sequences, n_classes), columns in the order of ``classes_`` (many-to-one)."""
        data, _ = self._predict_data(X, inputs)
        if self.mode_ != MANY_TO_ONE:
            raise AttributeError(
                "predict_proba is for sequence classification (many-to-one): this readout was fitted "
                "many-to-many (per-step targets)"
            )
        return self._probabilities(data)

    def score(self, X, y, *, inputs=None) -> float:
        """Many-to-many: coefficient of determination R² over every step (outputs averaged, as
        scikit-learn's regressors). Many-to-one: accuracy."""
        from sklearn.metrics import accuracy_score, r2_score

        prediction = self.predict(X, inputs=inputs)
        if self.mode_ == MANY_TO_ONE:
            return float(accuracy_score(host(y) if is_resident(y) else np.asarray(y), prediction))
        if isinstance(prediction, list):
            truth = np.concatenate([host(v) if is_resident(v) else np.asarray(v) for v in y])
            prediction = np.concatenate([host(p) for p in prediction])
        else:
            truth, prediction = (host(y) if is_resident(y) else np.asarray(y)), host(prediction)
        k = self.n_outputs_
        return float(r2_score(truth.reshape(-1, k), prediction.reshape(-1, k)))

    # ------------------------------------------------------------------ inspection
    def gate_weights(self) -> list:
        """Per layer, a dict gate name -> (W (m, n + m), b (m,)) as NumPy arrays, plus "output"
        -> (W_out (n_outputs, m), b_out) in the last entry's place of the list."""
        self._check_fitted()
        m, cell = self._hidden, self._cell
        layers = []
        for layer in range(self._n_layers):
            W, b = (host(p) for p in self.parameters_[2 * layer : 2 * layer + 2])
            layers.append(
                {name: (W[k * m : (k + 1) * m], b[k * m : (k + 1) * m]) for k, name in enumerate(cell.gate_names)}
            )
        layers.append({"output": (host(self.parameters_[-2]), host(self.parameters_[-1]))})
        return layers


_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden : int, default 32
        Units per recurrent layer (``m``).
    n_layers : int, default 1
        Stacked recurrent layers; the output layer reads the last one.
    epochs : int, default 50
        Passes over the training data (each training step is in exactly one window per epoch).
    learning_rate : float, default 3e-3
        Adam's step size.
    window : int or None, default 64
        Truncated BPTT length: gradients flow through at most this many steps. Long
        series are cut into windows whose state is carried from one to the next; a
        sequence to classify is run forward to its last `window` steps, through which
        the gradient flows. None: whole sequences (full BPTT).
    batch_size : int, default 32
        Windows per minibatch (parallel lanes); fewer when the training data hold fewer
        than ``MIN_MINIBATCHES_PER_EPOCH`` (8) minibatches (``batch_size_``).
    weight_decay : float, default 0
        L2 penalty on the weight matrices (not the biases), added to the gradient as in
        ``torch.optim.Adam``.
    clip : float or None, default 1.0
        Largest global L2 norm of the gradient (``clip_grad_norm_``); None: no clipping.
    validation_fraction : float in [0, 1), default 0.1
        Held out for early stopping: the last fraction of every sequence's steps
        (many-to-many, each validation span warmed up over the `window` steps before
        it), or that fraction of the sequences of each class (many-to-one). 0: no
        validation, all epochs run.
    patience : int, default 10
        Epochs without a lower validation loss before training stops; the parameters of
        the best epoch are kept.
    input_to_readout : bool, default False
        Append the raw input to the states at every step (``inputs=`` in fit/predict, or
        the runs' stored inputs), as ReservoirPy's ESN feeds its readout.
    seed : int or None
        Seeds the initial weights and the window order: the same seed gives the same
        parameters.
    dtype : {"float32", "float64"}
        Parameters and arithmetic.

    Modes
    -----
    Many-to-many (forecasting): ``fit(states, y)`` with per-step targets; mean squared
    error over every step; ``predict`` gives per-step outputs, ``score`` R².
    Many-to-one (sequence classification): ``fit(sequences, labels)`` with one label per
    sequence (a list, a batch, runs); softmax cross-entropy on the output at each
    sequence's last step; ``predict``, ``predict_proba``, ``score`` (accuracy).

    Attributes
    ----------
    parameters_ : list of arrays
        ``[W_1, b_1, ..., W_L, b_L, W_out, b_out]`` on the device the data were on; see
        ``gate_weights()`` for them gate by gate.
    mode_ : "many-to-many" or "many-to-one"
    classes_ : labels, in the order of ``predict_proba``'s columns (many-to-one)
    loss_curve_, validation_loss_curve_ : losses per epoch
    best_epoch_, best_validation_loss_ : the epoch whose parameters were kept
    n_iter_ : epochs run
    batch_size_ : windows per training minibatch (``batch_size``, or fewer on small data)
    fit_seconds_ : training time of the last fit
"""


class GRUReadout(_GatedReadout):
    __doc__ = (
        """GRU readout on reservoir states, trained by truncated BPTT with Adam.

    Update and reset gates; the candidate reads ``[x_t, r ⊙ h_{t-1}]``;
    ``h_t = z ⊙ h_{t-1} + (1 - z) ⊙ ĥ_t`` (module docstring).
    """
        + _PARAMETERS_DOC
    )
    _cell_name = "gru"


class LSTMReadout(_GatedReadout):
    __doc__ = (
        """LSTM readout on reservoir states, trained by truncated BPTT with Adam.

    Forget (bias initialised to 1), input, candidate and output gates and a cell state
    (module docstring).
    """
        + _PARAMETERS_DOC
    )
    _cell_name = "lstm"
