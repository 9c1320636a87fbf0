r"""Helpers shared by the physics-study benchmarks (gauge theories, anyonic chains, QLM).

* :func:`positive_model`: every study Hamiltonian is *stoquastic* in its constrained basis
  (all off-diagonal elements :math:`\le 0`: :math:`-B_p`, :math:`-w\,PXP`, :math:`-P^{(0)}`
  with positive Temperley–Lieb elements), so by Perron–Frobenius the ground state can be taken
  positive and a transformer without phase head (``phase=False``) is exact in sign. This halves
  the work of the optimiser and removes the sign noise of the MinSR updates.
* :class:`Milestones`: a ``ground_state`` callback recording when the per-step estimate first
  came within given relative errors of the exact energy, with an optional wall-clock budget.
* :func:`variational_run`: one ground-state optimisation (MinSR, cosine-decayed step size) and
  a final estimate with fresh samples; returns the result, the milestones and the wall time
  including compilation.
* :func:`quadratic_peak`: the maximum of sampled data refined by a parabola through the three
  points around the largest value.

The scripts default to ``OPENBLAS_NUM_THREADS=1`` (as ``tests/_openblas_threads.py`` explains):
with two OpenBLAS threads competing with other jobs, a 256×256 ``eigh`` took 0.5 s instead of
0.02 s (load 8, 2 cores), which made the exact references (never part of the timings) slow.
"""

from __future__ import annotations

import os
import time

import numpy as np
import optax

import nqs
import solvers


def load_average() -> str:
    """The 1/5/15-minute load averages (the machine is shared: figures scale with the load)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def positive_model(system, *, d_model: int = 16, n_layers: int = 1, n_heads: int = 4):
    """A transformer with positive amplitudes on ``system``'s sector (see the module docstring)."""
    return nqs.ARTransformer(
        hilbert=system.hilbert, n_layers=n_layers, d_model=d_model, n_heads=n_heads, phase=False
    )


class Milestones:
    """``ground_state`` callback: first step and time at which :math:`|E_k - E_0|/|E_0|`
    fell below each level (the per-step estimate is noisy: it can dip below by chance), and a
    stop when ``budget`` seconds have passed."""

    def __init__(self, exact_energy: float, levels=(1e-2, 1e-3, 1e-4), budget: float | None = None):
        self.exact_energy, self.levels, self.budget = exact_energy, levels, budget
        self.reached: dict[float, tuple[int, float]] = {}
        self.start = time.perf_counter()

    def __call__(self, step, row, driver) -> bool:
        elapsed = time.perf_counter() - self.start
        energy = float(np.real(row["energy"].mean))
        err = abs((energy - self.exact_energy) / self.exact_energy)
        for level in self.levels:
            if err <= level and level not in self.reached:
                self.reached[level] = (step, elapsed)
        return self.budget is not None and elapsed > self.budget

    def summary(self) -> str:
        return ", ".join(
            f"{level:.0e} at step {step} ({t:.0f} s)"
            for level, (step, t) in sorted(self.reached.items(), reverse=True)
        )


def variational_run(
    system,
    model,
    *,
    n_samples: int = 512,
    n_steps: int = 300,
    learning_rate: float = 0.02,
    diag_shift: float = 1e-4,
    n_samples_final: int = 16384,
    budget: float | None = None,
    seed: int = 0,
    out: str | None = None,
    observe_every: int = 50,
):
    r"""MinSR ground state with the step size decayed from ``learning_rate`` to a tenth of it
    (cosine), so that the last steps average out the Monte Carlo noise of the updates.

    ``model`` may be an ``nk.vqs.MCState`` (warm start, e.g. along a parameter sweep). The
    exact sector energy is computed first (cached on ``system``, so not part of the timing) and
    stored with the run.

    Returns:
        ``(result, milestones, wall)``: the :class:`~solvers.result.GroundStateResult`, the
        :class:`Milestones` and the wall time in seconds including compilation and the final
        estimate.
    """
    exact_energy = system.exact_energy()  # cached on the system: ground_state reuses it
    schedule = optax.cosine_decay_schedule(learning_rate, n_steps, alpha=0.1)
    milestones = Milestones(exact_energy, budget=budget)
    result = solvers.ground_state(
        system,
        model,
        n_samples=n_samples,
        n_steps=n_steps,
        method="minsr",
        learning_rate=schedule,
        diag_shift=diag_shift,
        chunk_size=64,
        n_samples_final=n_samples_final,
        observe_every=observe_every,
        seed=seed,
        callback=milestones,
        out=out,
        overwrite=out is not None,
        progress=False,
    )
    return result, milestones, time.perf_counter() - milestones.start


def relative_error(result) -> tuple[float, float]:
    """:math:`|E - E_0|/|E_0|` and its one-sigma Monte Carlo error."""
    return result.relative_error, result.energy_error / abs(result.exact_energy)


def quadratic_peak(x, y) -> float:
    """Location of the maximum of ``y(x)``: the vertex of the parabola through the largest
    sample and its two neighbours (the grid point itself at an end of the range)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    k = int(np.argmax(y))
    if k == 0 or k == len(x) - 1:
        return float(x[k])
    a, b, _ = np.polyfit(x[k - 1 : k + 2], y[k - 1 : k + 2], 2)
    return float(-b / (2 * a))
