"""Input checks of :func:`solvers.evolve`: time grid, initial state, observables, resume."""

from __future__ import annotations

import json
import math

import netket as nk

from nqs.constraints import check_model_matches_hilbert
from nqs.errors import CheckpointError, ConstraintMismatchError, NQSError
from solvers.initial_state import check_initial_state

_GRID_RTOL = 1e-9
#: Configuration keys that may change when a run is resumed.
RESUMABLE_KEYS = {"t_final", "progress", "out", "checkpoint_every"}


def grid_time(k: int, interval: float) -> float:
    r""":math:`k\,\Delta`, rounded to 12 significant digits so that e.g. ``3 * 0.1`` is 0.3
    (the grid is defined up to a relative 1e-9 anyway)."""
    return float(f"{k * interval:.12g}")


def time_grid(t_final, dt, save_every, adaptive) -> tuple[int, int]:
    """``(steps per save, number of saves)``; refuses grids that do not fit."""
    n_intervals = t_final / save_every
    if abs(n_intervals - round(n_intervals)) > _GRID_RTOL * max(n_intervals, 1) or round(
        n_intervals
    ) < 1:
        k = max(math.floor(n_intervals), 1)
        raise NQSError(
            f"t_final={t_final} is not a multiple of save_every={save_every}; use "
            f"t_final={k * save_every:.10g} or {(k + 1) * save_every:.10g}, or a save_every "
            "that divides t_final."
        )
    ratio = save_every / dt
    if adaptive:
        if dt > save_every * (1 + _GRID_RTOL):
            raise NQSError(
                f"the initial step dt={dt} exceeds save_every={save_every}; use dt <= save_every."
            )
        return 1, round(n_intervals) + 1
    if abs(ratio - round(ratio)) > _GRID_RTOL * ratio or round(ratio) < 1:
        raise NQSError(
            f"dt={dt} does not divide save_every={save_every} (ratio {ratio:.6g}); choose "
            f"dt = save_every / n, e.g. dt={save_every / max(math.ceil(ratio), 1):.6g}."
        )
    return round(ratio), round(n_intervals) + 1


def unpack_state(system, state, initial_state):
    """``(model, variables or None, n_samples or None)`` after checking the Hilbert space."""
    if isinstance(state, nk.vqs.MCState | nk.vqs.FullSumState):
        model, variables = state.model, state.variables
        n_samples = getattr(state, "n_samples", None)
        hilbert = state.hilbert
    elif isinstance(state, tuple) and len(state) == 2:
        (model, variables), n_samples = state, None
        hilbert = getattr(model, "hilbert", None)
    else:
        model, variables, n_samples = state, None, None
        hilbert = getattr(model, "hilbert", None)
    if variables is not None and initial_state is not None:
        raise NQSError(
            "initial_state applies to a bare model; this state already has parameters. Pass the "
            "model alone with initial_state=..., or drop initial_state."
        )
    if hilbert is not None and hilbert != system.hilbert:
        raise ConstraintMismatchError(
            f"The state lives on {hilbert} but the system on {system.hilbert}; build the model "
            "with hilbert=system.hilbert."
        )
    check_model_matches_hilbert(model, system.hilbert)
    if getattr(model, "phase", True) is False:
        raise NQSError(
            "Real-time evolution needs complex amplitudes, but the model has phase=False; build "
            "it with phase=True."
        )
    if initial_state is not None:
        check_initial_state(system, initial_state)
    return model, variables, n_samples


def resolve_observables(system, observables) -> dict:
    if observables is True:
        observables = dict(system.observables)
    elif observables is False or observables is None:
        observables = {}
    observables = dict(observables)
    if "energy" in observables:
        raise NQSError("'energy' is always measured; rename that observable.")
    return observables


def check_same_config(stored: dict, config: dict) -> None:
    diffs = []
    for section, values in config.items():
        old = stored.get(section, {})
        for key in sorted(set(values) | set(old)):
            if key in RESUMABLE_KEYS:
                continue
            if _plain(values.get(key)) != _plain(old.get(key)):
                diffs.append(f"{section}.{key}: {old.get(key)!r} -> {values.get(key)!r}")
    if diffs:
        raise CheckpointError(
            "Cannot resume: the configuration differs from the checkpointed run ("
            + "; ".join(diffs)
            + "). Resume with the original configuration (t_final may grow), or start a new run "
            "with overwrite=True."
        )


def _plain(value):
    return json.loads(json.dumps(value, default=str))


