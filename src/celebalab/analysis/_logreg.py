"""All leave-one-out logistic regressions of a binary matrix, fitted together by Newton's method.

Target ``j`` is predicted from every other column with an intercept. Writing the design of target
``j`` as ``X`` with column ``j`` replaced by ones puts the intercept in slot ``j``, so the 40 models
share one ``m × m`` coefficient matrix, one matrix product gives all linear predictors, and the
Hessians of all targets come from one product of the Newton weights with the pairwise column
products. Repeated rows are fitted once with their count as weight (exact), and rows are processed
in small chunks so no ``n × m`` temporary is ever allocated.

The objective is scikit-learn's ``LogisticRegression`` default (L2, ``C``, intercept not
penalised): ``sum(log-loss) + ||w||² / (2C)``. Newton reaches its optimum to ~1e-10, tighter than
lbfgs' default ``tol=1e-4``, so both agree up to lbfgs' own tolerance (see the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_CHUNK = 2048


@dataclass(frozen=True)
class LeaveOneOutFit:
    """``coef[j, a]`` is the weight of column ``a`` for target ``j``; ``coef[j, j]`` its intercept.

    Rows of targets with a single class in the training data cannot be fitted (scikit-learn
    refuses them too); they are NaN and ``fitted[j]`` is False.
    """

    coef: np.ndarray
    fitted: np.ndarray
    iterations: int
    max_gradient: float

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Linear predictors ``(n, m)``: column ``j`` scores target ``j`` from the other columns."""
        Xf = X.astype(np.float64)
        return Xf @ self.coef.T + (1.0 - Xf) * np.diag(self.coef)[None, :]

    def sklearn_coef(self, j: int) -> tuple[np.ndarray, float]:
        """Target ``j``'s weights in scikit-learn's layout (other columns in order), intercept."""
        return np.delete(self.coef[j], j), float(self.coef[j, j])


@dataclass(frozen=True)
class _Evaluation:
    """Objective, gradient and Hessian of the targets ``cols`` at one coefficient matrix."""

    value: np.ndarray
    grad: np.ndarray
    hessian: np.ndarray


def _evaluate(
    X: np.ndarray, counts: np.ndarray, coef: np.ndarray, cols: np.ndarray, penalty: np.ndarray
) -> _Evaluation:
    """One pass over the distinct rows ``X`` (each seen ``counts`` times) for the targets ``cols``.

    ``coef`` holds the coefficient rows of those targets.
    """
    from scipy.special import expit

    n, m = X.shape
    k = cols.size
    rows = np.arange(k)
    intercept = coef[rows, cols]
    value, intercept_grad, weight_sum = np.zeros(k), np.zeros(k), np.zeros(k)
    grad, hessian = np.zeros((k, m)), np.zeros((k, m, m))
    for start in range(0, n, _CHUNK):
        block = X[start : start + _CHUNK]
        count = counts[start : start + _CHUNK, None]
        xf = block.astype(np.float64)
        y = xf[:, cols]
        eta = xf @ coef.T + (1.0 - y) * intercept
        value += count[:, 0] @ (np.logaddexp(0.0, eta) - y * eta)
        prob = expit(eta)
        resid = (prob - y) * count
        grad += resid.T @ xf
        intercept_grad += resid.sum(axis=0)
        # Newton weights in float32: the Hessian only steers the step, the gradient stays exact.
        weight = (prob * (1.0 - prob) * count).astype(np.float32)
        x32 = block.astype(np.float32)
        scaled = (x32[:, :, None] * weight[:, None, :]).reshape(len(block), m * k)
        hessian += (scaled.T @ x32).reshape(m, k, m).transpose(1, 0, 2)
        weight_sum += weight.sum(axis=0)
    grad[rows, cols] = intercept_grad
    grad += penalty[cols] * coef
    value += 0.5 * (penalty[cols] * coef**2).sum(axis=1)
    # Slot j of target j is the intercept column (all ones), not column j of X; since X is 0/1,
    # sum(w x_a) = sum(w x_a x_a) is the Hessian's own diagonal.
    cross = hessian[:, np.arange(m), np.arange(m)].copy()
    hessian[rows, cols, :] = cross
    hessian[rows, :, cols] = cross
    hessian[rows, cols, cols] = weight_sum
    hessian += penalty[cols][:, :, None] * np.eye(m)[None, :, :]
    return _Evaluation(value, grad, hessian)


def distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the 0/1 matrix ``X`` and how often each occurs.

    Attribute vectors repeat a lot (CelebA-like tables shrink by ~40 %), and a logistic loss over
    repeated rows is the count-weighted loss over distinct ones, so this is exact.
    """
    packed = np.ascontiguousarray(np.packbits(X.astype(bool), axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    return X[first], counts.astype(np.float64)


def fit_leave_one_out(
    X: np.ndarray, C: float = 1.0, tol: float = 1e-10, max_iter: int = 50
) -> LeaveOneOutFit:
    """Fit every column of the 0/1 matrix ``X`` on all the others (L2-penalised, intercept).

    Damped Newton from the intercept-only model; ``tol`` bounds the largest gradient entry of
    the mean objective at convergence. BLAS runs single-threaded here: the per-chunk products
    are too small to share, and a busy second thread makes each of them 50x slower.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(X, C, tol, max_iter)


def _fit(X: np.ndarray, C: float, tol: float, max_iter: int) -> LeaveOneOutFit:
    from scipy.special import logit

    n, m = X.shape
    X, counts = distinct_rows(X)
    positives = counts @ X
    fitted = (positives > 0) & (positives < n)
    active = np.flatnonzero(fitted)
    penalty = (1.0 - np.eye(m)) / C
    coef = np.full((m, m), np.nan)
    coef[active] = 0.0
    coef[active, active] = logit(positives[active] / n)
    value, grad, hessian = np.full(m, np.nan), np.zeros((m, m)), np.zeros((m, m, m))
    if active.size:
        _store(_evaluate(X, counts, coef[active], active, penalty), active, value, grad, hessian)
    iterations, max_gradient = 0, 0.0
    while active.size:
        target_gradient = np.abs(grad).max(axis=1) / n
        max_gradient = float(target_gradient[active].max())
        todo = active[target_gradient[active] >= tol]  # converged targets stop costing
        if todo.size == 0 or iterations == max_iter:
            break
        iterations += 1
        step = np.zeros((m, m))
        step[todo] = np.linalg.solve(hessian[todo], grad[todo][:, :, None])[:, :, 0]
        if not _line_search(X, counts, coef, step, penalty, todo, value, grad, hessian):
            break
    return LeaveOneOutFit(coef, fitted, iterations, max_gradient)


def _store(
    ev: _Evaluation,
    cols: np.ndarray,
    value: np.ndarray,
    grad: np.ndarray,
    hessian: np.ndarray,
) -> None:
    value[cols], grad[cols], hessian[cols] = ev.value, ev.grad, ev.hessian


def _line_search(
    X: np.ndarray,
    counts: np.ndarray,
    coef: np.ndarray,
    step: np.ndarray,
    penalty: np.ndarray,
    active: np.ndarray,
    value: np.ndarray,
    grad: np.ndarray,
    hessian: np.ndarray,
) -> bool:
    """Backtrack each target's Newton step until its objective decreases enough (Armijo).

    Updates ``coef`` and the stored objective, gradient and Hessian in place; returns whether
    any target moved.
    """
    m = coef.shape[0]
    scale = np.ones(m)
    decrease = (grad * step).sum(axis=1)
    pending = active[decrease[active] > 0]
    moved = False
    for _ in range(40):
        if pending.size == 0:
            break
        trial = coef[pending] - scale[pending, None] * step[pending]
        ev = _evaluate(X, counts, trial, pending, penalty)
        slack = 1e-12 * np.abs(value[pending])  # rounding of the objective itself
        ok = ev.value <= value[pending] - 1e-4 * scale[pending] * decrease[pending] + slack
        done = pending[ok]
        moved = moved or bool((ev.value[ok] < value[done]).any())
        coef[done] = trial[ok]
        _store(_Evaluation(ev.value[ok], ev.grad[ok], ev.hessian[ok]), done, value, grad, hessian)
        pending = pending[~ok]
        scale[pending] /= 2
    return moved
