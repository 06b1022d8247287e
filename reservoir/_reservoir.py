"""Model plumbing the ESN, the LSM and the ELM hidden layer share.

Each model keeps its parameters, weights and state; the arithmetic is its backend's.
What is the same for all of them lives here: the backend's name, the layout the
backend prepares from the weights (built once, dropped when a weight changes or the
model is pickled), input weights drawn on the first run (when the input width is
known), and the checks of a run's batch, checkpoint interval and stored-run name.
"""

from __future__ import annotations

from . import _validation as check
from .config import settings

__all__ = ["BackendModel", "InputDrivenModel"]


class BackendModel:
    """A model whose arithmetic runs on ``self._backend``, from a layout prepared once.

    Subclasses set ``_backend`` and ``_prepared = None`` and define ``_prepare(kernels)``.
    """

    _prepared = None

    @property
    def backend_name(self) -> str:
        """The backend that runs this model (``"auto"`` resolved)."""
        return self._backend.name

    def _prepare(self, kernels):  # pragma: no cover - every model defines it
        raise NotImplementedError

    def _kernels(self):
        """(the backend's kernel module, the prepared weights), preparing them on first use."""
        kernels = self._backend.kernels()
        if self._prepared is None:
            self._prepared = self._prepare(kernels)
        return kernels, self._prepared

    def __getstate__(self):  # prepared layouts (GPU arrays on a GPU backend) are rebuilt after unpickling
        state = self.__dict__.copy()
        state["_prepared"] = None
        return state


class InputDrivenModel(BackendModel):
    """A recurrent model driven through ``W_in`` (units, n_in), drawn on the first run.

    Subclasses define ``_draw_input_weights(n_in)`` and name themselves in messages
    with ``_noun`` ("reservoir", "network").
    """

    W_in = None
    _noun = "model"

    @property
    def n_inputs(self) -> int | None:
        return None if self.W_in is None else self.W_in.shape[1]

    def _draw_input_weights(self, n_in: int) -> None:  # pragma: no cover - every model defines it
        raise NotImplementedError

    def _ensure_input_weights(self, n_in: int) -> None:
        if self.W_in is not None:
            if n_in != self.W_in.shape[1]:
                raise ValueError(
                    f"u has {n_in} features per step, but this {self._noun}'s W_in expects {self.W_in.shape[1]}"
                )
            return
        self._draw_input_weights(n_in)
        self._prepared = None

    def _check_batch(self, held: int, batch: int, sequences: str = "sequence(s)") -> None:
        """The state held is of `held` sequences; a run continuing it must have as many."""
        if held != batch:
            raise ValueError(
                f"the {self._noun} holds the state of {held} {sequences} but u has {batch}; "
                f"call reset() to start new {sequences.replace('(s)', 's')}"
            )

    @staticmethod
    def _chunk_steps(checkpoint_every) -> int:
        """Steps per kernel call (and per checkpoint of a stored run)."""
        return max(
            1,
            settings.time_chunk
            if checkpoint_every is None
            else check.positive_int(checkpoint_every, "checkpoint_every"),
        )

    @staticmethod
    def _check_run_name(name) -> str:
        if not isinstance(name, str) or not name:
            raise ValueError("storing a run needs name= (the run's group in the store)")
        return name
