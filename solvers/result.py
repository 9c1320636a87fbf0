"""Result objects returned by the solvers: arrays in memory and a readable summary."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


def _fmt(mean: float, error: float | None = None) -> str:
    if error is None or not np.isfinite(error) or error == 0:
        return f"{mean:.10g}"
    digits = max(0, -int(np.floor(np.log10(error))) + 1)
    return f"{mean:.{digits}f} ± {error:.2g}"


@dataclasses.dataclass(frozen=True, repr=False)
class GroundStateResult:
    r"""Outcome of :func:`solvers.ground_state`.

    Attributes:
        energy, energy_error, variance: final estimate of :math:`\langle H\rangle`, its error of
            the mean and :math:`\mathrm{Var}(E_\mathrm{loc})`, from fresh samples after the
            last step.
        v_score: :math:`N\,\mathrm{Var}(E)/(E - E_\infty)^2` (Wu et al., Science 386, 296
            (2024)), with :math:`E_\infty` the infinite-temperature energy.
        exact_energy: exact ground-state energy of the sector, where computed.
        relative_error: :math:`|E - E_0|/|E_0|`, where the exact energy is known.
        observables: final ``{name: (mean, error)}``.
        history: per-step arrays: ``step``, ``energy``, ``energy_error``, ``energy_variance`` and
            ``{observable: (steps, values)}``.
        state: the final NetKet variational state.
        status: ``"completed"`` or why the run stopped early.
        wall_time: seconds spent in the optimisation loop.
        path: the HDF5 file, if any.
    """

    energy: float
    energy_error: float
    variance: float
    v_score: float
    exact_energy: float | None
    observables: dict[str, tuple[Any, float]]
    history: dict[str, Any]
    state: Any
    n_steps: int
    method: str
    status: str
    wall_time: float
    path: str | None
    system_name: str = ""

    @property
    def relative_error(self) -> float | None:
        if self.exact_energy is None:
            return None
        return abs(self.energy - self.exact_energy) / abs(self.exact_energy)

    @property
    def energies(self) -> np.ndarray:
        """Per-step energy estimates."""
        return np.asarray(self.history["energy"])

    def __repr__(self) -> str:
        lines = [
            f"GroundStateResult({self.system_name}, method={self.method}, "
            f"steps={self.n_steps}, {self.status})",
            f"  energy          {_fmt(self.energy, self.energy_error)}",
        ]
        if self.exact_energy is not None:
            lines.append(f"  exact energy    {self.exact_energy:.10g}")
            lines.append(f"  relative error  {self.relative_error:.3e}")
        lines.append(f"  variance        {self.variance:.4g}")
        lines.append(f"  V-score         {self.v_score:.4g}")
        for name, (mean, err) in self.observables.items():
            lines.append(f"  {name:<15} {_fmt(np.real(mean), err)}")
        lines.append(f"  wall time       {self.wall_time:.1f} s")
        if self.path:
            lines.append(f"  output          {self.path}")
        return "\n".join(lines)
