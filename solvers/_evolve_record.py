"""Bookkeeping of an evolution: in-memory series, HDF5 rows, progress bar (used by evolve)."""

from __future__ import annotations

import time

import numpy as np

from nqs.io import read_series
from solvers._recorder import progress_enabled

SAVE_KEYS = ("step", "time", "energy", "energy_error")


def scalar(x):
    x = complex(np.asarray(x))
    return x.real if x.imag == 0 else x


class EvolutionRecorder:
    """Collects the rows of one evolution and forwards them to a :class:`nqs.io.RunFile`.

    Rows of the save grid carry ``step`` = number of time steps done; per-step diagnostics carry
    ``step`` = index of the step (0-based) and ``time`` = the time at its end. Both are dropped
    by ``RunFile.truncate(k)`` exactly when a resume from the checkpoint after ``k`` steps
    recomputes them.
    """

    def __init__(self, *, run_file, observables, t_final: float, t_start: float, progress):
        self.run_file = run_file
        self.names = list(observables)
        self.saves = {k: [] for k in SAVE_KEYS}
        self.saves.update({n: [] for n in self.names})
        self.saves.update({f"{n}_error": [] for n in self.names})
        self.diagnostics: dict[str, list] = {}
        self._t0 = time.perf_counter()
        self._bar = None
        if progress_enabled(progress):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=t_final, initial=t_start, unit="t", dynamic_ncols=True)

    @property
    def energy0(self) -> float | None:
        return self.saves["energy"][0] if self.saves["energy"] else None

    def load(self, path) -> None:
        """Rows already in the file (after truncation), when resuming."""
        series = read_series(path)
        if "energy" in series:
            e = series["energy"]
            self.saves["step"] = e["step"].tolist()
            self.saves["time"] = e["time"].tolist()
            self.saves["energy"] = np.real(e["mean"]).tolist()
            self.saves["energy_error"] = e["error"].tolist()
        for name in self.names:
            if name in series:
                self.saves[name] = [scalar(v) for v in series[name]["mean"]]
                self.saves[f"{name}_error"] = series[name]["error"].tolist()
        diag = {k: v for k, v in series.items() if k in _DIAGNOSTIC_NAMES}
        if diag:
            first = next(iter(diag.values()))
            self.diagnostics["time"] = first["time"].tolist()
            for name, g in diag.items():
                self.diagnostics[name] = g["value"].tolist()

    def save(self, step: int, t: float, stats: dict) -> dict:
        """Record the estimates ``{name: Stats}`` (including ``"energy"``) at save time ``t``."""
        e = stats["energy"]
        energy, error = float(np.real(e.mean)), float(e.error_of_mean)
        self.saves["step"].append(step)
        self.saves["time"].append(t)
        self.saves["energy"].append(energy)
        self.saves["energy_error"].append(error)
        for name in self.names:
            self.saves[name].append(scalar(stats[name].mean))
            self.saves[f"{name}_error"].append(float(stats[name].error_of_mean))
        if self.run_file is not None:
            row = dict(stats)
            row["energy_drift"] = energy - self.energy0
            row["wall_time"] = time.perf_counter() - self._t0
            self.run_file.append(step, row, time=t)
        return stats

    def steps(self, first_step: int, rows: list[dict]) -> None:
        """Per-step diagnostics ``[{"time": ..., name: value}, ...]`` of consecutive steps."""
        for i, row in enumerate(rows):
            for key, value in row.items():
                self.diagnostics.setdefault(key, []).append(value)
            if self.run_file is not None:
                values = {k: v for k, v in row.items() if k != "time"}
                self.run_file.append(first_step + i, values, time=row["time"])

    def advance_bar(self, dt: float, text: str = "") -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.update(dt)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def arrays(self):
        """``(times, energies, energy_errors, {name: (mean, error)}, diagnostics)``."""
        observables = {
            n: (_array(self.saves[n]), np.asarray(self.saves[f"{n}_error"], dtype=float))
            for n in self.names
        }
        diagnostics = {k: np.asarray(v) for k, v in self.diagnostics.items()}
        return (
            np.asarray(self.saves["time"], dtype=float),
            np.asarray(self.saves["energy"], dtype=float),
            np.asarray(self.saves["energy_error"], dtype=float),
            observables,
            diagnostics,
        )


_DIAGNOSTIC_NAMES = ("loss", "n_iterations", "residual", "dt", "rejected")


def _array(values) -> np.ndarray:
    arr = np.asarray(values)
    return arr.real if np.iscomplexobj(arr) and not np.any(arr.imag) else arr
