"""Result of :func:`solvers.evolve`: arrays over the save times, diagnostics, a readable summary."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

#: Energy drifts beyond this many standard errors are flagged (dynamics.md §6).
DRIFT_SIGMAS = 3.0


@dataclasses.dataclass(frozen=True, repr=False)
class EvolutionResult:
    r"""Outcome of :func:`solvers.evolve`.

    Attributes:
        times: save times :math:`t_k = k\,\Delta t_\mathrm{save}`, shape ``(n_saves,)``.
        observables: ``{name: (mean, error)}``, each an array over ``times`` (complex where the
            operator is not Hermitian).
        energy, energy_errors: :math:`\langle H\rangle(t_k)` and its standard error, fresh samples
            at every save (exact for full sums).
        diagnostics: per time step: ``time`` (end of the step) and, for ``"trapezoid"``,
            ``loss`` and ``n_iterations``; for ``"tdvp"``, ``residual`` (relative residual of
            the regularised TDVP solve), ``dt`` and ``rejected`` (adaptive steps retried).
        exact: exact references on ``times`` (``{"energy": ..., name: ...}``) where computed.
        state: the final variational state (``nk.vqs.MCState`` or ``FullSumState``).
        method, status, wall_time: what ran, how it ended, seconds in the time loop (this call).
        path: the HDF5 file, if any.
    """

    times: np.ndarray
    observables: dict[str, tuple[np.ndarray, np.ndarray]]
    energies: np.ndarray
    energy_errors: np.ndarray
    diagnostics: dict[str, np.ndarray]
    exact: dict[str, np.ndarray] | None
    state: Any
    method: str
    status: str
    wall_time: float
    simulated_time: float
    path: str | None
    system_name: str = ""
    details: str = ""

    # -- scalars also used by the `nqs run` summary line ---------------------------------------
    @property
    def energy(self) -> float:
        """Energy at the last save time."""
        return float(self.energies[-1])

    @property
    def energy_error(self) -> float:
        return float(self.energy_errors[-1])

    @property
    def exact_energy(self) -> float | None:
        """The exactly conserved :math:`\\langle\\psi_0|H|\\psi_0\\rangle`, where computed."""
        if not self.exact or "energy" not in self.exact:
            return None
        return float(np.real(self.exact["energy"][0]))

    @property
    def relative_error(self) -> float:
        """:math:`|E(t_\\mathrm{last}) - E_0|/|E_0|` (NaN if unknown or :math:`E_0 = 0`)."""
        e0 = self.exact_energy
        if e0 is None or abs(e0) < 1e-10:
            return float("nan")
        return abs(self.energy - e0) / abs(e0)

    @property
    def energy_drift(self) -> np.ndarray:
        """:math:`E(t_k) - E(0)`."""
        return self.energies - self.energies[0]

    @property
    def energy_drift_sigmas(self) -> np.ndarray:
        """Drift in units of its standard error :math:`\\sqrt{\\sigma_k^2 + \\sigma_0^2}` (at
        least :math:`10^{-10}\\max(1, |E_0|)`, for exact sums)."""
        sigma = np.sqrt(self.energy_errors**2 + self.energy_errors[0] ** 2)
        # Exact sums have no error bar: a rounding-level floor instead of dividing by zero.
        floor = 1e-10 * max(1.0, abs(float(self.energies[0])))
        sigma = np.maximum(np.nan_to_num(sigma, nan=0.0), floor)
        return np.abs(self.energy_drift) / sigma

    @property
    def wall_time_per_unit_time(self) -> float:
        """Seconds of wall time per unit of physical time (this call)."""
        return self.wall_time / self.simulated_time if self.simulated_time > 0 else float("nan")

    def max_deviation(self, name: str) -> float | None:
        """:math:`\\max_k |O(t_k) - O_\\mathrm{exact}(t_k)|` where the exact curve is known."""
        if not self.exact or name not in self.exact:
            return None
        values = self.energies if name == "energy" else self.observables[name][0]
        return float(np.max(np.abs(np.real(values) - np.real(self.exact[name]))))

    def __repr__(self) -> str:
        t = self.times
        lines = [
            f"EvolutionResult({self.system_name}, method={self.method}{self.details}, "
            f"{self.status})",
            f"  saves           {len(t)} at t = {t[0]:.4g} … {t[-1]:.4g}"
            + (f" (every {t[1] - t[0]:.4g})" if len(t) > 1 else ""),
        ]
        flagged = int(np.sum(self.energy_drift_sigmas > DRIFT_SIGMAS))
        lines.append(
            f"  energy          {self.energies[0]:.8g} ± {self.energy_errors[0]:.2g} -> "
            f"{self.energy:.8g} ± {self.energy_error:.2g}"
        )
        lines.append(
            f"  energy drift    max |E(t)-E(0)| = {np.max(np.abs(self.energy_drift)):.3g}; "
            f"{flagged} of {len(t)} saves beyond {DRIFT_SIGMAS:g} sigma"
        )
        width = max([15, *map(len, self.observables)])
        for name, (mean, err) in self.observables.items():
            text = (
                f"  {name:<{width}} {np.real(mean[0]):+.5f} -> {np.real(mean[-1]):+.5f} "
                f"± {err[-1]:.2g}"
            )
            dev = self.max_deviation(name)
            if dev is not None:
                text += f"   max |dev. from exact| {dev:.2e}"
            lines.append(text)
        lines.extend(self._diagnostic_lines())
        lines.append(
            f"  wall time       {self.wall_time:.1f} s  ({self.wall_time_per_unit_time:.3g} s per "
            "unit of physical time)"
        )
        if self.path:
            lines.append(f"  output          {self.path}")
        return "\n".join(lines)

    def _diagnostic_lines(self) -> list[str]:
        d = self.diagnostics
        if not len(d.get("time", ())):
            return []
        if "loss" in d:
            return [
                f"  steps           {len(d['time'])}: final loss median {np.median(d['loss']):.2e}"
                f" (max {np.max(d['loss']):.2e}), inner iterations median "
                f"{np.median(d['n_iterations']):.0f} (max {np.max(d['n_iterations'])})"
            ]
        return [
            f"  steps           {len(d['time'])}: TDVP residual median "
            f"{np.median(d['residual']):.2e} (max {np.max(d['residual']):.2e}), "
            f"dt {np.min(d['dt']):.3g} … {np.max(d['dt']):.3g}, "
            f"rejected {int(np.sum(d['rejected']))}"
        ]

    # -- arrays ------------------------------------------------------------------------------
    def observable(self, name: str) -> np.ndarray:
        """Mean of an observable over ``times``."""
        return self.observables[name][0]
