"""The spectral radius of a reservoir matrix, and rescaling to one."""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _validation as check
from ..config import settings

__all__ = ["spectral_radius", "rescale_to_spectral_radius"]

log = logging.getLogger(__name__)

#: spectral_radius(method="auto") uses LAPACK up to this size, ARPACK (or the power method) above.
DENSE_MAX_UNITS = 64
#: Connections per unit on average that the default density keeps (named in the advice below).
MIN_MEAN_FAN_IN = 10


def spectral_radius(W, *, method: str = "auto", tol: float = 1e-4) -> float:
    """Largest eigenvalue modulus of a square matrix (sparse or dense).

    Methods (``"auto"`` picks by size):

    * ``"dense"`` (n <= ``DENSE_MAX_UNITS``): LAPACK ``eigvals``, exact. Its O(n³) cost
      passes ARPACK's early: at n = 100 (the default 10 connections per unit) ARPACK
      took 5 ms and LAPACK 13 ms with one BLAS thread, 22 ms against 545 ms with the
      default threads on two busy cores, and an estimator check fits hundreds of them.
    * ``"arpack"`` (up to ``settings.arpack_max_nnz`` nonzeros): implicitly restarted
      Arnoldi for the six eigenvalues of largest modulus. A random matrix's spectrum
      fills a disk, so the top eigenvalues crowd at its edge; asking ARPACK for one
      lets it settle on the wrong member of the crowd (seen: 1.2 % low at n = 1000),
      six converge together to the edge.
    * ``"power"`` (larger): the growth rate of ``‖Wᵏx‖`` (Gelfand's formula), averaged
      over the second half of the iterations so that a complex dominant pair, whose
      growth oscillates, still converges. Each iteration is one parallel matvec; ARPACK
      needs hundreds of them on a crowded disk (10 s at n = 20,000 and 1 %, ReservoirPy's
      bottleneck). For a random matrix the growth rate is the circular-law radius, below
      the largest eigenvalue by a finite-size term that falls with n (about 0.5 % at
      n = 20,000); a matrix with a strongly non-normal transient can fool it.
    """
    W = check.square_matrix(W, "W")
    n = W.shape[0]
    if not np.any(W.data if sp.issparse(W) else W):
        return 0.0  # the zero matrix; ARPACK would fail on it ("starting vector is zero")
    if method == "auto":
        nnz = W.nnz if sp.issparse(W) else np.count_nonzero(W)
        method = "dense" if n <= DENSE_MAX_UNITS else "arpack" if nnz <= settings.arpack_max_nnz else "power"
    if method != "dense" and _acyclic(W):
        return 0.0  # no directed cycle: nilpotent, exactly; iterative estimates would only see noise
    if method == "dense":
        dense = W.toarray() if sp.issparse(W) else np.asarray(W)
        return float(np.abs(np.linalg.eigvals(dense.astype(np.float64))).max())
    W = sp.csr_array(W)
    if W.dtype not in check.FLOAT_DTYPES:
        W = W.astype(np.float64)
    if method == "arpack":
        return _arpack_radius(W, tol)
    if method == "power":
        return _power_radius(W, tol)
    raise ValueError(f"unknown method {method!r}; choose 'auto', 'dense', 'arpack' or 'power'")


def _acyclic(W) -> bool:
    """True when the connection graph has no directed cycle (then every eigenvalue is 0)."""
    from scipy.sparse.csgraph import connected_components

    W = sp.csr_array(W)
    if np.any(W.diagonal()):
        return False
    n_components, _ = connected_components(W, directed=True, connection="strong")
    return n_components == W.shape[0]


def _arpack_radius(W: sp.csr_array, tol: float) -> float:
    n = W.shape[0]

    def matvec(v):  # products in the matrix's own precision: no float64 copy of a float32 matrix
        return W @ np.asarray(v, dtype=W.dtype).ravel()

    operator = spla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(n)
    k = 6
    try:
        values = spla.eigs(
            operator,
            k=k,
            which="LM",
            tol=tol,
            v0=v0,
            ncv=min(n - 1, 4 * k),
            maxiter=max(1000, n),
            return_eigenvectors=False,
        )
    except spla.ArpackNoConvergence as error:
        values = error.eigenvalues
        if len(values) == 0:  # e.g. a ring: every eigenvalue on the unit circle, none dominates
            log.info("spectral radius: ARPACK did not converge; using the power method")
            return _power_radius(W, tol)
        log.warning("spectral radius: ARPACK converged for %d of %d eigenvalues", len(values), k)
    except spla.ArpackError as error:  # e.g. a nilpotent matrix maps the Krylov space to zero
        log.warning("spectral radius: ARPACK failed (%s); using the power method", error)
        return _power_radius(W, tol)
    return float(np.abs(values).max())


def _power_radius(W: sp.csr_array, tol: float, min_iterations: int = 40, max_iterations: int = 400) -> float:
    from ..kernels.cpu import spmv

    x = np.random.default_rng(0).standard_normal(W.shape[0]).astype(W.dtype)
    x /= np.linalg.norm(x)
    log_growth = []
    estimate = previous = np.inf
    for iteration in range(1, max_iterations + 1):
        y = spmv(W, x)
        norm = float(np.linalg.norm(y.astype(np.float64)))
        if norm == 0.0:
            return 0.0
        log_growth.append(np.log(norm))
        x = (y / norm).astype(W.dtype)
        if iteration >= min_iterations and iteration % 10 == 0:
            estimate = float(np.exp(np.mean(log_growth[iteration // 2 :])))
            if abs(estimate - previous) <= tol * 10 * estimate:
                break
            previous = estimate
    return estimate


def _nonzero_radius(W) -> float:
    # What to do about it: a small reservoir at an explicit 1 % density draws about
    # units * units / 100 connections, e.g. one for ESN(10), and they seldom close a cycle.
    hint = (
        f"{W.shape[0]} units, {int(np.count_nonzero(W.data))} nonzero connection(s); a random reservoir "
        "this sparse needs a higher density (or fan_in) or more units; leave density unset for the default "
        f"of at least {MIN_MEAN_FAN_IN} connections per unit"
    )
    if W.nnz == 0 or not np.any(W.data):
        raise ValueError(f"cannot rescale to a spectral radius: the matrix is all zeros ({hint})")
    rho = spectral_radius(W)
    if rho == 0.0:
        raise ValueError(
            f"cannot rescale to a spectral radius: the matrix is nilpotent (spectral radius 0: its "
            f"connections form no cycle; {hint})"
        )
    return rho


def rescale_to_spectral_radius(W, target: float):
    """Return W scaled in place to spectral radius ``target`` (a positive float)."""
    target = check.positive_float(target, "spectral_radius")
    W.data *= W.dtype.type(target / _nonzero_radius(W))
    return W
