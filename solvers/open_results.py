"""Result objects of the open-system solvers: arrays in memory and a readable summary."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from solvers.result import _fmt


@dataclasses.dataclass(frozen=True, repr=False)
class OpenEvolutionResult:
    r"""Outcome of :func:`solvers.evolve_open`.

    Attributes:
        times: the save times, shape ``(T,)`` (physical time; trapezoid steps are
            :math:`\Delta t = 2\tau`).
        observables: ``{name: (mean, error)}``, arrays of shape ``(T,)`` (error 0 with
            ``n_samples="exact"``).
        exact: ``{name: values}`` of shape ``(T,)`` from :math:`e^{\mathcal Lt}P_0`, where
            computed (:math:`N\le6`), else ``None``.
        diagnostics: per-step arrays: ``time`` (end of the step) and the method's diagnostics
            (trapezoid: ``residual``, ``residual_error``, ``residual_initial``, ``iterations``;
            TDVP: ``dt``, ``tdvp_error``, ``solve_residual``, ``integration_error``,
            ``rejected``).
        variables: the model's variables at the last time reached.
        method, status, n_steps, wall_time, path: what ran, how it ended, accepted steps, seconds,
            the HDF5 file.
    """

    times: np.ndarray
    observables: dict[str, tuple[np.ndarray, np.ndarray]]
    exact: dict[str, np.ndarray] | None
    diagnostics: dict[str, np.ndarray]
    variables: Any
    method: str
    status: str
    n_steps: int
    wall_time: float
    path: str | None = None
    system_name: str = ""

    def deviation(self, name: str) -> np.ndarray:
        """``mean - exact`` of one observable at every save time (needs the exact reference)."""
        if self.exact is None or name not in self.exact:
            raise KeyError(f"no exact reference for {name!r}")
        return self.observables[name][0] - self.exact[name]

    def max_deviation(self) -> dict[str, float]:
        """Largest :math:`|\\text{mean} - \\text{exact}|` over time of every observable."""
        if self.exact is None:
            return {}
        return {k: float(np.max(np.abs(self.deviation(k)))) for k in self.exact}

    def __repr__(self) -> str:
        t_end = self.times[-1] if len(self.times) else float("nan")
        lines = [
            f"OpenEvolutionResult({self.system_name}, method={self.method}, "
            f"t = 0 .. {t_end:g} ({len(self.times)} saves), steps={self.n_steps}, {self.status})",
            f"  {'observable':<14}{'value at t_end':>24}{'exact':>14}{'max |dev|':>12}",
        ]
        for name, (mean, err) in self.observables.items():
            if not len(mean):
                continue
            exact = "" if self.exact is None else f"{self.exact[name][-1]:14.6f}"
            dev = "" if self.exact is None else f"{np.max(np.abs(mean - self.exact[name])):12.2e}"
            lines.append(f"  {name:<14}{_fmt(float(mean[-1]), float(err[-1])):>24}{exact}{dev}")
        for key in ("residual", "tdvp_error"):
            if key in self.diagnostics and len(self.diagnostics[key]):
                values = self.diagnostics[key]
                lines.append(f"  {key:<14}median {np.median(values):.2e}, max {values.max():.2e}")
        lines.append(f"  wall time     {self.wall_time:.1f} s")
        if self.path:
            lines.append(f"  output        {self.path}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True, repr=False)
class SteadyStateResult:
    r"""Outcome of :func:`solvers.steady_state`.

    Attributes:
        loss, loss_error: :math:`\lVert\mathcal LP\rVert_1` of the kept (best) state, estimated
            on ``n_samples_final`` fresh samples. Not an accuracy certificate (``povm.md`` §7).
        observables: ``{name: (mean, error)}`` of the kept state (``n_samples_final`` samples).
        exact: exact steady-state values where computed (:math:`N\le6`), else ``None``.
        best_step: the step whose parameters were kept (lowest large-sample loss estimate).
        history: ``step``, ``loss``, ``loss_error`` per step; ``eval_step``, ``eval_loss``,
            ``eval_loss_error`` and ``{observable: (steps, values)}`` at the evaluations.
        variables: the kept variables.
    """

    loss: float
    loss_error: float
    observables: dict[str, tuple[float, float]]
    exact: dict[str, float] | None
    best_step: int
    history: dict[str, Any]
    variables: Any
    n_steps: int
    status: str
    wall_time: float
    path: str | None = None
    system_name: str = ""

    def deviation(self) -> dict[str, float]:
        """``mean - exact`` of every observable with an exact reference."""
        if self.exact is None:
            return {}
        return {k: self.observables[k][0] - v for k, v in self.exact.items()}

    def __repr__(self) -> str:
        lines = [
            f"SteadyStateResult({self.system_name}, steps={self.n_steps}, {self.status})",
            f"  |L P|_1       {_fmt(self.loss, self.loss_error)}  (kept step {self.best_step})",
        ]
        for name, (mean, err) in self.observables.items():
            line = f"  {name:<14}{_fmt(mean, err)}"
            if self.exact is not None and name in self.exact:
                exact = self.exact[name]
                line += f"   exact {exact:.6f}   dev {mean - exact:+.2e}"
            lines.append(line)
        lines.append(f"  wall time     {self.wall_time:.1f} s")
        if self.path:
            lines.append(f"  output        {self.path}")
        return "\n".join(lines)
