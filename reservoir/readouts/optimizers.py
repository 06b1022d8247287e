"""First-order optimisation of a flat list of parameter arrays (NumPy or CuPy, in place)."""

from __future__ import annotations

import math

__all__ = ["Adam", "clip_by_global_norm"]


class Adam:
    """Adam (Kingma & Ba 2015) as in ``torch.optim.Adam``: bias-corrected moments, L2
    ``weight_decay`` added to the gradient (here of the weight matrices only, not the biases).

    Parameters
    ----------
    xp : module
        The array module of the parameters (numpy or cupy).
    params : list of arrays
        Updated in place by ``step``.
    learning_rate : float
    weight_decay : float
        Coefficient of the L2 term added to the gradient of every 2-D parameter.
    betas, eps : as ``torch.optim.Adam``.
    """

    def __init__(
        self, xp, params, learning_rate: float, weight_decay: float = 0.0, betas=(0.9, 0.999), eps: float = 1e-8
    ):
        self.learning_rate, self.weight_decay, self.betas, self.eps = learning_rate, weight_decay, betas, eps
        self.first = [xp.zeros_like(p) for p in params]
        self.second = [xp.zeros_like(p) for p in params]
        self.steps = 0
        self.xp = xp

    def step(self, params, grads) -> None:
        """One update of every parameter from its gradient (same order as at construction)."""
        self.steps += 1
        beta1, beta2 = self.betas
        step_size = self.learning_rate / (1.0 - beta1**self.steps)
        second_correction = math.sqrt(1.0 - beta2**self.steps)
        for p, g, first, second in zip(params, grads, self.first, self.second, strict=True):
            if self.weight_decay and p.ndim == 2:
                g = g + self.weight_decay * p
            first *= beta1
            first += (1.0 - beta1) * g
            second *= beta2
            second += (1.0 - beta2) * (g * g)
            p -= step_size * first / (self.xp.sqrt(second) / second_correction + self.eps)


def clip_by_global_norm(xp, grads, max_norm: float | None) -> None:
    """Scale all gradients in place so that their joint L2 norm is at most `max_norm`
    (``torch.nn.utils.clip_grad_norm_``); computed on the device, without a host sync.
    ``max_norm`` None leaves them unchanged."""
    if max_norm is None:
        return
    norm = xp.sqrt(sum((g * g).sum() for g in grads))
    scale = xp.minimum(1.0, max_norm / (norm + 1e-6)).astype(grads[0].dtype)
    for g in grads:
        g *= scale
