r"""Variational ground states, :math:`\min_\theta \langle\psi_\theta|H|\psi_\theta\rangle`,
with exact autoregressive samples.

Updates (``method``):

* ``"minsr"``: minimum-step stochastic reconfiguration (Chen & Heyl, Nat. Phys. 20, 1476 (2024)),
  :math:`\delta\theta = -\eta\, O^\dagger (O O^\dagger + \lambda)^{-1} \bar E_\mathrm{loc}`, solved
  in sample space; NetKet's ``VMC_SR(use_ntk=True)``. Best when parameters outnumber samples.
* ``"sr"``: stochastic reconfiguration (Sorella 1998),
  :math:`\delta\theta = -\eta\,(S + \lambda)^{-1} F`; ``VMC_SR(use_ntk=False)``.
* ``"adam"``: plain energy gradient with Adam (Kingma & Ba 2015); ``VMC`` + ``optax.adam``.
"""

from __future__ import annotations

import dataclasses
import time

import netket as nk
import numpy as np
import optax

import samplers
from hamiltonians import System
from nqs.constraints import check_model_matches_hilbert
from nqs.errors import (
    CheckpointError,
    check_choice,
    positive_float,
    positive_int,
)
from nqs.io import RunFile, flat_to_state
from solvers._checks import check_output_flags, sample_count
from solvers._recorder import RunRecorder
from solvers.result import GroundStateResult

METHODS = ("minsr", "sr", "adam")
_DEFAULT_LR = {"minsr": 0.02, "sr": 0.02, "adam": 1e-3}
#: Sectors up to this size get an exact reference automatically (``exact="auto"``).
AUTO_EXACT_MAX_STATES = 250_000
# Keys of the configuration that may change when a run is resumed.
_RESUMABLE_KEYS = {"n_steps", "progress", "out"}


def model_config(model) -> dict:
    """The hyper-parameters of a flax model, as plain values (for metadata)."""
    fields = {
        f.name: getattr(model, f.name)
        for f in dataclasses.fields(model)
        if f.name not in ("parent", "name", "hilbert")
    }
    out = {"type": type(model).__name__}
    for key, value in fields.items():
        if hasattr(value, "dtype") or isinstance(value, type):
            value = np.dtype(value).name
        out[key] = value if isinstance(value, bool | int | float | str | None) else repr(value)
    return out


def system_config(system: System) -> dict:
    return {"name": system.name, **dict(system.parameters)}


def ground_state(
    system: System,
    model,
    *,
    n_samples: int = 1024,
    n_steps: int = 300,
    method: str = "minsr",
    learning_rate: float | optax.Schedule | None = None,
    diag_shift: float = 1e-4,
    seed: int = 0,
    chunk_size: int | None = None,
    observables: bool | dict = True,
    observe_every: int = 10,
    n_samples_final: int | None = None,
    exact: bool | str = "auto",
    out: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 50,
    progress: bool | None = None,
    callback=None,
) -> GroundStateResult:
    r"""Optimise ``model`` towards the ground state of ``system``.

    Args:
        system: a :class:`hamiltonians.System`.
        model: an autoregressive flax model on ``system.hilbert`` (e.g. :class:`nqs.ARTransformer`),
            or an existing ``nk.vqs.MCState`` to continue from.
        n_samples: exact samples per step (divisible by the number of devices).
        n_steps: total number of optimisation steps (a resumed run continues up to it).
        method: ``"minsr"``, ``"sr"`` or ``"adam"`` (module docstring).
        learning_rate: step size :math:`\eta` or an optax schedule (default 0.02 for SR/MinSR,
            1e-3 for Adam).
        diag_shift: :math:`\lambda`, the regularisation of SR/MinSR.
        seed: seeds parameters (``seed``) and samples (``seed + 1``).
        chunk_size: samples per device evaluated (and sampled) at once, to bound memory.
        observables: ``True`` for the system's named observables, ``False`` for none, or a
            ``{name: operator}`` dict.
        observe_every: steps between observable estimates (also at the last step).
        n_samples_final: samples of the final estimate (default ``4 * n_samples``).
        exact: compute the exact sector energy (``"auto"``: when the sector has at most
            250,000 states).
        out: HDF5 file to write (schema ``docs/hdf5.md``).
        resume: continue the run checkpointed in ``out``.
        overwrite: replace an existing ``out``.
        checkpoint_every: steps between checkpoints in ``out``.
        progress: progress bar (``None``: only on a terminal).
        callback: ``f(step, row, driver) -> bool`` called after every step; ``True`` stops.

    Returns:
        A :class:`~solvers.result.GroundStateResult`.

    Example:
        >>> import hamiltonians, nqs, solvers
        >>> system = hamiltonians.heisenberg_chain(6)
        >>> model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
        >>> result = solvers.ground_state(system, model, n_samples=64, n_steps=5)
        >>> result.energy < 0
        True
    """
    # -- validation: everything that can be wrong fails here, before any work ---------------
    check_choice("method", method, METHODS)
    n_samples = positive_int("n_samples", n_samples)
    n_steps = positive_int("n_steps", n_steps)
    observe_every = positive_int("observe_every", observe_every)
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    n_samples_final = positive_int("n_samples_final", n_samples_final or 4 * n_samples)
    diag_shift = positive_float("diag_shift", diag_shift)
    if learning_rate is None:
        learning_rate = _DEFAULT_LR[method]
    elif not callable(learning_rate):
        learning_rate = positive_float("learning_rate", learning_rate)
    sample_count("n_samples", n_samples)
    sample_count("n_samples_final", n_samples_final)
    check_output_flags(out, resume, overwrite)
    if isinstance(model, nk.vqs.MCState):
        variables, model = model.variables, model.model
    else:
        variables = None
    check_model_matches_hilbert(model, system.hilbert)
    if observables is True:
        observables = dict(system.observables)
    elif observables is False or observables is None:
        observables = {}

    config = {
        "system": system_config(system),
        "model": model_config(model),
        "sampler": {"type": "ARDirectSampler", "chunk_size": chunk_size},
        "solver": {
            "kind": "ground_state",
            "method": method,
            "n_samples": n_samples,
            "n_steps": n_steps,
            "learning_rate": learning_rate if not callable(learning_rate) else repr(learning_rate),
            "diag_shift": diag_shift,
            "seed": seed,
            "observe_every": observe_every,
            "n_samples_final": n_samples_final,
            "checkpoint_every": checkpoint_every,
            "observables": sorted(observables),
        },
    }
    run_file = None
    if out is not None:
        mode = "resume" if resume else ("overwrite" if overwrite else "create")
        run_file = RunFile(out, kind="ground_state", mode=mode)

    # -- build the variational state and the driver ------------------------------------------
    sampler = samplers.ARDirectSampler(system.hilbert, chunk_size=chunk_size)
    vstate = nk.vqs.MCState(
        sampler,
        model,
        n_samples=n_samples,
        seed=seed,
        sampler_seed=seed + 1,
        chunk_size=chunk_size,
        variables=variables,
    )
    driver = _make_driver(system.hamiltonian, vstate, method, learning_rate, diag_shift)

    start = 0
    if run_file is not None and resume:
        _check_same_config(run_file.read_config(), config)
        start, flat, _ = run_file.load_checkpoint()
        driver = flat_to_state(driver, flat)
        vstate = driver.state  # restoring builds a new variational state
        run_file.truncate(start)
    elif run_file is not None:
        run_file.write_metadata(config=config, system=system_config(system), seed=seed)

    exact_energy = _exact_energy(system, exact)
    if run_file is not None and exact_energy is not None:
        run_file.write_exact({"energy": exact_energy})

    recorder = RunRecorder(
        loss_name="energy",
        observables=observables,
        observe_every=observe_every,
        run_file=run_file,
        checkpoint_every=checkpoint_every,
        n_steps=n_steps,
        reference=exact_energy,
        progress=progress,
        user_callback=callback,
    )

    # -- run ---------------------------------------------------------------------------------
    t0 = time.perf_counter()
    if start < n_steps:
        driver.run(n_steps - start, out=None, show_progress=False, callback=recorder)
    wall_time = time.perf_counter() - t0
    status = "completed" if recorder.stop_reason is None else f"stopped: {recorder.stop_reason}"
    if recorder.stop_reason is not None:
        print(f"ground_state {status}")

    # -- final estimate with fresh samples ---------------------------------------------------
    vstate.n_samples = n_samples_final
    final = {"energy": _expect(vstate, system.hamiltonian, hermitian=True)}
    final.update({k: _expect(vstate, op) for k, op in observables.items()})
    vstate.n_samples = n_samples
    e = final["energy"]
    energy, variance = float(np.real(e.mean)), float(np.real(e.variance))
    e_inf = system.infinite_temperature_energy
    v_score = system.n_sites * variance / (energy - e_inf) ** 2 if energy != e_inf else np.inf
    if run_file is not None:
        run_file.write_final(final)
        run_file.write_exact({"energy": exact_energy} if exact_energy is not None else {})
        run_file.close(status=status)

    history = {k: np.asarray(v) for k, v in recorder.history.items() if k in _SCALAR_KEYS}
    for name in observables:
        pairs = recorder.history.get(name, [])
        history[name] = (np.array([s for s, _ in pairs]), np.array([v for _, v in pairs]))
    return GroundStateResult(
        energy=energy,
        energy_error=float(e.error_of_mean),
        variance=variance,
        v_score=float(v_score),
        exact_energy=exact_energy,
        observables={
            k: (_real_if_close(final[k].mean), float(final[k].error_of_mean)) for k in observables
        },
        history=history,
        state=vstate,
        n_steps=driver.step_count,
        method=method,
        status=status,
        wall_time=wall_time,
        path=None if out is None else str(out),
        system_name=system.name,
    )


_SCALAR_KEYS = ("step", "energy", "energy_error", "energy_variance")


def _expect(vstate, operator, hermitian: bool | None = None):
    """``vstate.expect``, keeping only the real part for Hermitian operators (the imaginary part
    of their estimate is pure Monte Carlo noise)."""
    stats = vstate.expect(operator)
    if hermitian or (hermitian is None and getattr(operator, "is_hermitian", False)):
        stats = stats.replace(mean=stats.mean.real)
    return stats


def _real_if_close(x):
    x = complex(np.asarray(x))
    return x.real if abs(x.imag) < 1e-12 else x


def _make_driver(hamiltonian, vstate, method, learning_rate, diag_shift):
    if method == "adam":
        return nk.driver.VMC(hamiltonian, optax.adam(learning_rate), variational_state=vstate)
    return nk.driver.VMC_SR(
        hamiltonian,
        optax.sgd(learning_rate),
        diag_shift=diag_shift,
        variational_state=vstate,
        use_ntk=method == "minsr",
        on_the_fly=method == "minsr",  # lazy NTK: memory O(samples^2), not O(samples * params)
    )


def _exact_energy(system: System, exact) -> float | None:
    if exact is False:
        return None
    if exact == "auto" and system.hilbert.n_states > AUTO_EXACT_MAX_STATES:
        return None
    return system.exact_energy()


def _check_same_config(stored: dict, config: dict) -> None:
    """Refuse to resume a run with a different physical or numerical setup."""
    diffs = []
    for section, values in config.items():
        old = stored.get(section, {})
        for key in sorted(set(values) | set(old)):
            if key in _RESUMABLE_KEYS:
                continue
            if _normalise(values.get(key)) != _normalise(old.get(key)):
                diffs.append(f"{section}.{key}: {old.get(key)!r} -> {values.get(key)!r}")
    if diffs:
        raise CheckpointError(
            "Cannot resume: the configuration differs from the checkpointed run ("
            + "; ".join(diffs)
            + "). Resume with the original configuration, or start a new run with --overwrite."
        )


def _normalise(value):
    import json

    return json.loads(json.dumps(value, default=str))
