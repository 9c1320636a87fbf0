r"""Open-system dynamics :math:`\partial_tP = \mathcal LP` of a POVM probability model.

One entry point, two methods (``physics/povm.md`` §5–§6):

* ``"trapezoid"``: forward–backward trapezoid (Crank–Nicolson) steps solved by minimising the L1
  residual with Adam on fresh exact samples (Luo, Chen, Carrasquilla & Clark, PRL 128, 090501
  (2022)); :mod:`solvers.povm_trapezoid`. **Physical step** :math:`\Delta t = 2\tau` = ``dt``.
* ``"tdvp"``: :math:`S\dot\theta = F` with the classical Fisher matrix, an SNR-filtered
  regularised solve and adaptive Heun steps (Reh, Schmitt & Gärttner, PRL 127, 230501 (2021);
  Schmitt & Heyl, PRL 125, 100503 (2020)); :mod:`solvers.povm_tdvp`.

Observables are measured at the save times :math:`0, \Delta t_\mathrm{save}, 2\Delta
t_\mathrm{save}, \dots, t_\mathrm{final}` with error bars from the per-sample POVM estimators;
exact references :math:`e^{\mathcal Lt}P_0` are added for :math:`N \le 6`. With ``out=`` the run
is written to HDF5 (``kind="evolve_open"``, ``docs/open_systems.md``) with checkpoints at save
times from which ``resume=True`` continues *exactly* (bit-identical trajectory).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from nqs.errors import (
    CheckpointError,
    NonFiniteError,
    NQSError,
    check_choice,
    did_you_mean,
    positive_float,
    positive_int,
)
from nqs.io import RunFile, flat_to_state, read_series, state_to_flat
from solvers._checks import check_output_flags
from solvers._recorder import progress_enabled
from solvers.open_results import OpenEvolutionResult
from solvers.povm_ensemble import EXACT, Ensemble, check_sample_count
from solvers.povm_setup import (
    Stats,
    check_probability_model,
    check_same_config,
    check_system,
    describe_initial,
    estimate_observables,
    initial_variables,
    open_system_config,
    probability_model_config,
    resolve_observables,
    want_exact,
)
from solvers.povm_tdvp import OpenTDVPOptions, TDVPStepper
from solvers.povm_trapezoid import OpenTrapezoidOptions, TrapezoidStepper

METHODS = {"trapezoid": OpenTrapezoidOptions, "tdvp": OpenTDVPOptions}
# Configuration keys that may change when a run is resumed.
_RESUMABLE_KEYS = {"t_final", "progress", "out"}


def evolve_open(
    system,
    model,
    *,
    t_final: float,
    dt: float,
    method: str = "trapezoid",
    n_samples: int | str = 1000,
    options=None,
    observables: bool | dict = True,
    save_every: float | None = None,
    n_samples_obs: int | str | None = None,
    exact: bool | str = "auto",
    initial_state=None,
    seed: int = 0,
    chunk_size: int | None = None,
    lookup: bool | str = "auto",
    out=None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 10,
    progress: bool | None = None,
    callback=None,
) -> OpenEvolutionResult:
    r"""Evolve a POVM probability model under the system's Lindblad generator.

    Args:
        system: a :class:`hamiltonians.open_systems.OpenSystem`.
        model: a probability model on ``Fock(3, N)`` (``nqs.povm_model.probability_transformer``,
            a ``StringMixture`` of one, or ``nqs.tabular_ar.TabularAR`` for tiny systems).
        t_final: final physical time (> 0, a multiple of ``save_every``).
        dt: physical time step :math:`\Delta t` (trapezoid: :math:`\Delta t = 2\tau`; TDVP: the
            fixed step, or the first step of the adaptive integrator). Fixed steps must divide
            ``save_every``.
        method: ``"trapezoid"`` or ``"tdvp"``.
        n_samples: exact samples per loss/gradient (trapezoid) or right-hand side (TDVP),
            divisible by the device count; ``"exact"`` sums over all :math:`4^N` strings
            (:math:`N\le6`; tests and calibration).
        options: :class:`~solvers.povm_trapezoid.OpenTrapezoidOptions` or
            :class:`~solvers.povm_tdvp.OpenTDVPOptions` (or a dict of their fields) matching
            ``method``.
        observables: ``True`` (the system's), ``False`` or ``{name: diagonal POVM operator}``.
        save_every: physical time between saved observables and checkpoints (default ``dt``).
        n_samples_obs: samples of each observable estimate (default ``n_samples``).
        exact: add exact references (``"auto"``: when :math:`N\le6`).
        initial_state: ``None`` (the system's product state, exact parameters), a 2×2 density
            matrix (its product state), or model variables.
        seed: seeds the network initialisation (``seed``) and the samples (``seed + 1``).
        chunk_size: samples drawn at once per device (memory bound of the sampler).
        lookup: evaluate the network once on all :math:`4^N` strings and gather, instead of on
            every sample's connected strings (same numbers, cheaper for tiny systems;
            ``"auto"``: when it saves a factor of 4; :mod:`solvers.povm_ensemble`).
        out: HDF5 file (``kind="evolve_open"``).
        resume: continue the run checkpointed in ``out`` (``t_final`` may grow).
        overwrite: replace an existing ``out``.
        checkpoint_every: save times between checkpoints (and at the end).
        progress: progress bar (``None``: only on a terminal).
        callback: ``f(step, row) -> bool`` after every accepted step, ``row`` the step's
            diagnostics (with ``time``); returning ``True`` stops the run.

    Returns:
        An :class:`~solvers.open_results.OpenEvolutionResult`.

    Example:
        >>> import hamiltonians.open_systems as hos, nqs.povm_model as pm, solvers
        >>> system = hos.dissipative_ising_chain(3, g=1.0)
        >>> model = pm.probability_transformer(3, n_layers=1, d_model=8, n_heads=2)
        >>> options = dict(learning_rates=(1e-2,), iterations=(20,))
        >>> result = solvers.evolve_open(system, model, t_final=0.04, dt=0.02, n_samples=256,
        ...                              options=options, progress=False)
        >>> result.times.tolist()
        [0.0, 0.02, 0.04]
    """
    # -- validation: everything that can be wrong fails here, before any work ---------------
    system = check_system(system)
    check_choice("method", method, tuple(METHODS))
    t_final = positive_float("t_final", t_final)
    dt = positive_float("dt", dt)
    save_every = dt if save_every is None else positive_float("save_every", save_every)
    options = _resolve_options(method, options)
    fixed_step = method == "trapezoid" or not options.adaptive
    if fixed_step:
        _check_divides("dt", dt, "save_every", save_every)
    _check_divides("save_every", save_every, "t_final", t_final)
    n_samples = check_sample_count("n_samples", n_samples)
    n_samples_obs = check_sample_count(
        "n_samples_obs", n_samples if n_samples_obs is None else n_samples_obs
    )
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    check_output_flags(out, resume, overwrite)
    check_probability_model(model, system)
    observables = resolve_observables(system, observables)
    with_exact = want_exact(exact, system)
    variables = initial_variables(model, system, initial_state, seed)

    config = {
        "system": open_system_config(system),
        "model": probability_model_config(model),
        "sampler": {"chunk_size": chunk_size, "lookup": lookup},
        "solver": {
            "kind": "evolve_open",
            "method": method,
            "t_final": t_final,
            "dt": dt,
            "dt_convention": "physical step; trapezoid tau = dt / 2",
            "save_every": save_every,
            "n_samples": n_samples,
            "n_samples_obs": n_samples_obs,
            "options": dataclasses.asdict(options),
            "seed": seed,
            "observables": sorted(observables),
            "initial_state": describe_initial(initial_state),
            "checkpoint_every": checkpoint_every,
        },
    }
    run_file = None
    if out is not None:
        mode = "resume" if resume else ("overwrite" if overwrite else "create")
        run_file = RunFile(out, kind="evolve_open", mode=mode)

    # -- build the estimators and the stepper ---------------------------------------------------
    ensemble = Ensemble.build(
        model,
        system.hilbert,
        n_samples,
        chunk_size=chunk_size,
        lookup=lookup,
        n_connections=system.generator.max_conn_size,
    )
    obs_ensemble = Ensemble.build(
        model, system.hilbert, n_samples_obs, chunk_size=chunk_size, lookup=False
    )
    estimate = partial(estimate_observables, obs_ensemble, observables=observables)
    if method == "trapezoid":
        stepper = TrapezoidStepper(ensemble, dt, options)
    else:
        stepper = TDVPStepper(ensemble, dt, options, max_dt=save_every)
    n_saves = round(t_final / save_every)
    save_times = save_every * np.arange(n_saves + 1)
    save_times[-1] = t_final

    state = {
        "params": variables["params"],
        "key": jax.random.PRNGKey(seed + 1),
        "save_index": 0,
        "n_steps": 0,
        "stepper": stepper.state(),
    }
    if run_file is not None and resume:
        check_same_config(run_file.read_config(), config, _RESUMABLE_KEYS)
        _, flat, _ = run_file.load_checkpoint()
        state = flat_to_state(state, flat)
        if state["save_index"] > n_saves:
            raise CheckpointError(
                f"Cannot resume: the checkpoint is at t = {save_every * state['save_index']:g}, "
                f"beyond t_final = {t_final:g}; resume with a larger t_final."
            )
        stepper.restore(state["stepper"])
        run_file.truncate(state["n_steps"])
    elif run_file is not None:
        run_file.write_metadata(config=config, system=open_system_config(system), seed=seed)
    reference = _exact_reference(system, observables, save_times) if with_exact else None
    if run_file is not None and reference is not None:
        run_file.write_exact({"time": save_times, **reference})

    # -- run -------------------------------------------------------------------------------------
    memory = {"obs": {k: [] for k in observables}, "diag": {}, "times": []}
    bar = _progress_bar(progress, t_final, save_times[state["save_index"]])
    status, t0, start_index = "completed", time.perf_counter(), state["save_index"]
    params, key, j, k = state["params"], state["key"], state["save_index"], state["n_steps"]
    try:
        while True:
            t = float(save_times[j])
            # Also at the start, so that every file holds a valid checkpoint.
            due = j % checkpoint_every == 0 or j == n_saves
            if run_file is not None and due and not (resume and j == start_index):
                flat = {"params": params, "key": key, "save_index": j, "n_steps": k}
                run_file.save_checkpoint(k, state_to_flat({**flat, "stepper": stepper.state()}))
            key, sub = jax.random.split(key)
            values = jax.device_get(estimate(params, sub))
            rows = {name: Stats(*v) for name, v in values.items()}
            if run_file is not None:
                run_file.append(k, rows, time=t)
            memory["times"].append(t)
            for name, v in values.items():
                memory["obs"][name].append(v[:2])
            if j == n_saves:
                break
            while t < save_times[j + 1]:
                key, sub = jax.random.split(key)
                t_stop = float(save_times[j + 1])
                new, t_new, diag = stepper.advance(system.generator, params, sub, t, t_stop)
                if not (_finite(new) and all(np.isfinite(v) for v in diag.values())):
                    raise NonFiniteError(f"non-finite parameters or diagnostics at t = {t:.6g}")
                diag["wall_time"] = time.perf_counter() - t0
                if run_file is not None:
                    run_file.append(k, diag, time=t_new)
                memory["diag"].setdefault("time", []).append(t_new)
                for name, v in diag.items():
                    memory["diag"].setdefault(name, []).append(v)
                if bar is not None:
                    bar.update(t_new - t)
                params, t, k = new, float(t_new), k + 1
                if callback is not None and callback(k - 1, {**diag, "time": t}):
                    raise _Stop(f"stopped by the callback after step {k - 1}")
            j += 1
    except _Stop as err:
        status = str(err)
    except NonFiniteError as err:
        status = (
            f"stopped: {err}; the parameters are those of the last good step (t = {t:.6g}). "
            "Lower dt, or raise n_samples"
        )
        print(f"evolve_open {status}")
    finally:
        if bar is not None:
            bar.close()
    wall_time = time.perf_counter() - t0
    if run_file is not None:
        run_file.close(status=status)

    times = save_times[: j + 1]
    obs, diagnostics = _history(run_file, memory, observables)
    return OpenEvolutionResult(
        times=times,
        observables=obs,
        exact=None if reference is None else {n: v[: len(times)] for n, v in reference.items()},
        diagnostics=diagnostics,
        variables={"params": params},
        method=method,
        status=status,
        n_steps=k,
        wall_time=wall_time,
        path=None if out is None else str(out),
        system_name=system.name,
    )


class _Stop(Exception):
    """A callback asked to stop."""


def _resolve_options(method: str, options):
    cls = METHODS[method]
    if options is None:
        return cls()
    if isinstance(options, Mapping):
        names = [f.name for f in dataclasses.fields(cls)]
        for key in options:
            if key not in names:
                raise NQSError(
                    f"Unknown {method} option {key!r}{did_you_mean(key, names)}; "
                    f"{cls.__name__} has: {', '.join(names)}."
                )
        return cls(**options)
    if not isinstance(options, cls):
        raise NQSError(
            f"method={method!r} takes {cls.__name__} options, got {type(options).__name__}; "
            "pass the options of the method you chose."
        )
    return options


def _check_divides(small_name, small, big_name, big) -> None:
    ratio = big / small
    if round(ratio) < 1 or abs(ratio - round(ratio)) > 1e-9 * max(ratio, 1.0):
        raise NQSError(
            f"{small_name}={small:g} does not divide {big_name}={big:g} (ratio {ratio:.6g}); "
            f"choose {small_name} = {big_name} / n for an integer n, e.g. "
            f"{big / max(round(ratio), 1):g}."
        )


def _exact_reference(system, observables, times) -> dict:
    p = system.exact_evolution(times)
    values = system.exact_observables(p) if observables else {}
    return {name: np.asarray(values[name]) for name in observables if name in values}


def _finite(tree) -> bool:
    return bool(all(jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)))


def _progress_bar(progress, t_final, t_start):
    if not progress_enabled(progress):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=t_final, initial=t_start, unit="t", dynamic_ncols=True)


def _history(run_file, memory, observables):
    """Observables and diagnostics: from the file (complete after a resume) or from memory."""
    if run_file is None:
        obs = {
            name: tuple(np.asarray(rows, dtype=float).reshape(-1, 2).T)
            for name, rows in memory["obs"].items()
        }
        diag = {name: np.asarray(v) for name, v in memory["diag"].items()}
        return obs, diag
    series = read_series(run_file.path)
    obs = {name: (series[name]["mean"], series[name]["error"]) for name in observables}
    diag = {}
    for name, columns in series.items():
        if name not in observables:
            diag[name] = columns["value"]
            diag.setdefault("time", columns["time"])
    return obs, diag


__all__ = ["EXACT", "evolve_open"]
