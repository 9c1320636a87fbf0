r"""Immutable, validated options of the two time-evolution methods of :func:`solvers.evolve`.

Options a method (or an inner solver) would ignore are refused, so a typo or a misplaced option
never passes silently. Every numeric option enters the compiled step as a traced value: changing
it does not recompile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from nqs.errors import (
    NQSError,
    check_choice,
    did_you_mean,
    non_negative_float,
    positive_float,
    positive_int,
)

OPTIMIZERS = ("natural_gradient", "gauss_newton", "adam")
PROPOSALS = ("connected", "state")
INTEGRATORS = ("rk4", "rk23", "rk45")


@dataclasses.dataclass(frozen=True)
class TrapezoidOptions:
    r"""Inner solver of the implicit trapezoid (Crank–Nicolson) step (:mod:`solvers.trapezoid`).

    Args:
        optimizer: ``"natural_gradient"`` (default: Picard iteration with log-space natural
            gradient fits, MinSR-like solve in sample space; leaves basis states),
            ``"gauss_newton"`` (Levenberg–Marquardt on the L2 residuals; quadratic convergence
            when no amplitude is tiny) or ``"adam"`` (Adam with a learning rate decaying inside
            each step; optimiser state re-created every step). See :mod:`solvers.trapezoid`.
        max_iterations: at most this many inner iterations per time step (default 10 for the
            natural gradient and Gauss–Newton, 200 for Adam).
        tol: stop the inner loop once the loss estimate
            :math:`\hat C = \sum_i |r(x_i)|^2/(N_s q(x_i))` is below ``tol`` (dimensionless: a
            squared norm; the unmoved state has :math:`C \approx \tau^2\,\mathrm{Var}\,H`).
            Default ``1e-9``.
        learning_rate: Adam only: ``(start, end)`` of the geometric decay over
            ``max_iterations`` iterations, or one number for a constant rate (default
            ``(1e-2, 1e-4)``).
        adam_eps: Adam only: the :math:`\epsilon` of Adam's denominator (default ``1e-8``).
        step_size: natural gradient / Gauss–Newton only: the step :math:`\eta` along the
            solved direction (default 1, the full step).
        diag_shift: natural gradient / Gauss–Newton only: the smallest damping :math:`\lambda`,
            relative to the mean diagonal of :math:`JJ^T` (default ``1e-4``).
        proposal: ``"connected"`` (default: :math:`|\psi_t|^2` samples, half of them moved along
            a connection of :math:`H`; covers the support of the new state even from a basis
            state) or ``"state"`` (:math:`|\psi_{\bar\theta}|^2`); see :mod:`solvers.trapezoid`.

    Example:
        >>> TrapezoidOptions(optimizer="adam", learning_rate=(3e-2, 1e-4)).max_iterations
        200
    """

    optimizer: str = "natural_gradient"
    max_iterations: int | None = None
    tol: float = 1e-9
    learning_rate: tuple[float, float] | float | None = None
    adam_eps: float | None = None
    step_size: float | None = None
    diag_shift: float | None = None
    proposal: str = "connected"

    def __post_init__(self):
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("proposal", self.proposal, PROPOSALS)
        positive_float("tol", self.tol)
        adam = self.optimizer == "adam"
        ignored = ("step_size", "diag_shift") if adam else ("learning_rate", "adam_eps")
        for name in ignored:
            if getattr(self, name) is not None:
                other = "natural_gradient" if adam else "adam"
                raise NQSError(
                    f"{name} applies to the optimizer={other!r} inner solver, not "
                    f"{self.optimizer!r}; drop it or set optimizer={other!r}."
                )
        default_iterations = 200 if adam else 10
        iterations = self.max_iterations or default_iterations
        self._set("max_iterations", positive_int("max_iterations", iterations))
        if adam:
            lr = (1e-2, 1e-4) if self.learning_rate is None else self.learning_rate
            if isinstance(lr, int | float):
                lr = (lr, lr)
            if not isinstance(lr, tuple | list) or len(lr) != 2:
                raise NQSError(
                    f"learning_rate must be a number or a (start, end) pair, got {lr!r}."
                )
            self._set("learning_rate", tuple(positive_float("learning_rate", v) for v in lr))
            eps = 1e-8 if self.adam_eps is None else self.adam_eps
            self._set("adam_eps", positive_float("adam_eps", eps))
        else:
            self._set("step_size", positive_float("step_size", self.step_size or 1.0))
            shift = 1e-4 if self.diag_shift is None else self.diag_shift
            self._set("diag_shift", positive_float("diag_shift", shift))

    def _set(self, name, value):
        object.__setattr__(self, name, value)


@dataclasses.dataclass(frozen=True)
class TDVPOptions:
    r"""Options of :func:`solvers.evolve` with ``method="tdvp"``: NetKet's ``TDVPSchmitt``.

    SNR-regularised TDVP (Schmitt & Heyl, PRL 125, 100503 (2020)) with the real-parameter
    geometry (``holomorphic=False``; complex autoregressive networks are not holomorphic,
    dynamics.md §2).

    Args:
        integrator: ``"rk4"`` (fixed step ``dt``, default), or the adaptive ``"rk23"`` /
            ``"rk45"`` (initial step ``dt``, steps clipped so that every save time is hit
            exactly).
        diag_shift: diagonal shift of the quantum geometric tensor (default ``1e-4``,
            dynamics.md §2.4; 0 leaves the regularisation to the two cut-offs below).
        snr_atol: signal-to-noise cut-off :math:`\epsilon_\mathrm{SNR}` (default 1).
        rcond_smooth: smooth spectral cut-off :math:`\epsilon_\mathrm{SVD}` (default ``1e-8``).
        mixing: :math:`\epsilon \in [0, 1]`; above 0, every stage samples from the
            conditionals mixed with the uniform distribution,
            :math:`(1-\epsilon)|\psi_i|^2 + \epsilon/d`, and reweights
            (:mod:`solvers.tdvp_mixture`): the samples then visit configurations whose
            amplitude passes through zero, which samples from :math:`|\psi|^2` never do
            (default 0: NetKet's ``TDVPSchmitt`` as is). Real parameters only; the adaptive
            integrators then measure their error in the Euclidean norm.
        rtol, atol: adaptive integrators only: error tolerances (defaults ``1e-3`` and 0).

    Example:
        >>> TDVPOptions(integrator="rk23", rtol=1e-4).atol
        0.0
    """

    integrator: str = "rk4"
    diag_shift: float = 1e-4
    snr_atol: float = 1.0
    rcond_smooth: float = 1e-8
    mixing: float = 0.0
    rtol: float | None = None
    atol: float | None = None

    def __post_init__(self):
        check_choice("integrator", self.integrator, INTEGRATORS)
        object.__setattr__(self, "diag_shift", non_negative_float("diag_shift", self.diag_shift))
        positive_float("snr_atol", self.snr_atol)
        positive_float("rcond_smooth", self.rcond_smooth)
        if not non_negative_float("mixing", self.mixing) <= 1:
            raise NQSError(f"mixing must lie in [0, 1], got {self.mixing!r}.")
        if not self.adaptive:
            for name in ("rtol", "atol"):
                if getattr(self, name) is not None:
                    raise NQSError(
                        f"{name} applies to the adaptive integrators 'rk23' and 'rk45', not "
                        f"{self.integrator!r}; drop it or choose an adaptive integrator."
                    )
            return
        object.__setattr__(self, "rtol", positive_float("rtol", self.rtol or 1e-3))
        atol = 0.0 if self.atol is None else self.atol
        object.__setattr__(self, "atol", non_negative_float("atol", atol))

    @property
    def adaptive(self) -> bool:
        return self.integrator != "rk4"


_CLASSES = {"trapezoid": TrapezoidOptions, "tdvp": TDVPOptions}


def resolve_options(method: str, options):
    """The options object of ``method`` from ``None``, a dict or an options object."""
    cls = _CLASSES[method]
    if options is None:
        return cls()
    if isinstance(options, cls):
        return options
    if isinstance(options, Mapping):
        names = [f.name for f in dataclasses.fields(cls)]
        for key in options:
            if key not in names:
                raise NQSError(
                    f"unknown option {key!r} for method={method!r}{did_you_mean(key, names)}; "
                    f"valid options: {', '.join(names)}."
                )
        return cls(**options)
    other = [m for m, c in _CLASSES.items() if isinstance(options, c)]
    hint = f" ({type(options).__name__} belongs to method={other[0]!r})" if other else ""
    raise NQSError(
        f"options for method={method!r} must be a {cls.__name__} or a dict{hint}, got "
        f"{type(options).__name__}."
    )
