r"""Real-time evolution :math:`|\psi(t)\rangle = e^{-iHt}|\psi_0\rangle` of autoregressive states.

Conventions: :math:`\hbar = 1`; time in the inverse units of the system's energies (e.g.
:math:`1/J` for the Ising chain in Pauli units, :math:`1/w` for the quantum link model); ``dt`` is
the *physical* time step :math:`\tau` of every scheme (dynamics.md §3.1).

Methods (dynamics.md §1, §7):

* ``"trapezoid"`` (default): implicit Crank–Nicolson steps
  :math:`(1 + i\tau H/2)\psi_{t+\tau} = (1 - i\tau H/2)\psi_t`, each solved by minimising
  :math:`\lVert A\psi_\theta - B\psi_t\rVert^2` with fresh exact samples at every inner iteration
  (:mod:`solvers.trapezoid`, options :class:`~solvers.evolve_options.TrapezoidOptions`). The
  Hamiltonian is shifted by the conserved :math:`E_0 = \langle H\rangle_{t=0}`: the exact
  evolution only changes by the global phase :math:`e^{-iE_0t}`, while the Crank–Nicolson phase
  error per step drops from :math:`(E\tau)^3/12` to :math:`((E-E_0)\tau)^3/12` and the loss
  scale from :math:`\tau^2\langle H^2\rangle` to :math:`\tau^2\,\mathrm{Var}\,H`.
* ``"tdvp"``: NetKet's ``TDVPSchmitt`` (SNR-regularised TDVP, Schmitt & Heyl, PRL 125, 100503
  (2020)) with ``holomorphic=False`` and RK4, or adaptive RK23/RK45 whose steps end exactly on
  the save times (:mod:`solvers.tdvp`, options :class:`~solvers.evolve_options.TDVPOptions`).
  With ``mixing > 0`` each stage samples the conditionals mixed with the uniform distribution
  and reweights (:mod:`solvers.tdvp_mixture`), so that amplitudes can pass through zero.

Every save time :math:`t_k = k\,\Delta t_\mathrm{save}` records the observables and the energy
with fresh samples (the energy drift :math:`E(t) - E(0)` beyond Monte Carlo error measures the
fitting error, dynamics.md §6), and per-step diagnostics are logged; with ``out=`` everything goes
to HDF5 (``kind="evolve"``, docs/hdf5.md) with checkpoints that resume exactly.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from hamiltonians import System
from nqs.errors import (
    NonFiniteError,
    NQSError,
    check_choice,
    positive_float,
    positive_int,
)
from nqs.io import RunFile
from solvers._checks import check_output_flags, sample_count
from solvers._evolve_checks import (
    check_same_config,
    grid_time,
    resolve_observables,
    time_grid,
    unpack_state,
)
from solvers._evolve_engine import (
    Stepper,
    exact_reference,
    initial_vector,
    measure,
    stored_vector,
    variational_state,
)
from solvers._evolve_record import EvolutionRecorder
from solvers.evolve_options import TDVPOptions, TrapezoidOptions, resolve_options
from solvers.evolve_result import EvolutionResult
from solvers.ground_state import model_config, system_config
from solvers.initial_state import initial_variables

METHODS = ("trapezoid", "tdvp")
#: Sectors up to this size get exact references automatically (``exact="auto"``).
AUTO_EXACT_MAX_STATES = 2**14
#: Largest sector for ``full_sum=True`` (exact sums replace the samples).
FULL_SUM_MAX_STATES = 2**12


def evolve(
    system: System,
    state,
    *,
    t_final: float,
    dt: float,
    method: str = "trapezoid",
    options: TrapezoidOptions | TDVPOptions | dict | None = None,
    initial_state: str | None = None,
    save_every: float | None = None,
    observables: bool | dict = True,
    n_samples: int | None = None,
    seed: int = 0,
    chunk_size: int | None = None,
    full_sum: bool = False,
    exact: bool | str = "auto",
    out=None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 10,
    progress: bool | None = None,
    callback=None,
) -> EvolutionResult:
    r"""Evolve ``state`` under ``system.hamiltonian`` from :math:`t = 0` to ``t_final``.

    Args:
        system: a :class:`hamiltonians.System`.
        state: the initial state: an ``nk.vqs.MCState`` (e.g. ``ground_state(...).state``), a
            ``(model, variables)`` pair, or a model (randomly initialised with ``seed``, or set to
            ``initial_state``). Its Hilbert space and sector must be ``system.hilbert``'s.
        t_final: final time (> 0, a multiple of ``save_every``).
        dt: physical time step :math:`\tau` (the initial step of adaptive integrators); must
            divide ``save_every`` (relative tolerance 1e-9) for fixed-step schemes.
        method: ``"trapezoid"`` or ``"tdvp"`` (module docstring).
        options: a :class:`TrapezoidOptions` / :class:`TDVPOptions` (or a dict of its fields).
        initial_state: with a bare model: ``"x_polarised"``, ``"all_up"``, ``"all_down"`` or
            ``"bare_vacuum"`` (:mod:`solvers.initial_state`).
        save_every: interval of the save grid (default ``dt``).
        observables: ``True`` for the system's named observables, ``False``, or a dict.
        n_samples: samples per inner iteration / TDVP stage and per measurement (default: the
            state's, else 1024).
        seed: seeds the parameters of a bare model (``seed``), the measurements
            (``seed + 1``) and the trapezoid inner samples (``seed + 2``).
        chunk_size: samples per device evaluated at once (memory bound).
        full_sum: replace samples by exact sums over the sector (trapezoid only; at most
            4096 states): for tests of the integrator and tiny systems.
        exact: compute exact references on the save grid (``"auto"``: sectors of at most
            16384 states) with :func:`hamiltonians.exact_dynamics.exact_evolution`.
        out, resume, overwrite: HDF5 output; ``resume=True`` continues the checkpointed run
            (``t_final`` may grow) and reproduces the uninterrupted series exactly.
        checkpoint_every: save times between checkpoints (also at the first and last).
        progress: progress bar (``None``: only on a terminal).
        callback: ``f(t, row, state) -> bool`` after every save (``row``: the estimates);
            ``True`` stops the run.

    Returns:
        An :class:`~solvers.evolve_result.EvolutionResult`.

    Example:
        >>> import hamiltonians, nqs
        >>> from solvers.evolve import evolve
        >>> system = hamiltonians.tfim_chain(4, h=1.0)
        >>> model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
        >>> result = evolve(system, model, initial_state="x_polarised", t_final=0.1, dt=0.05,
        ...                 n_samples=256, progress=False)
        >>> result.times.tolist()
        [0.0, 0.05, 0.1]
    """
    # -- validation: everything that can be wrong fails here, before any work ---------------
    check_choice("method", method, METHODS)
    options = resolve_options(method, options)
    adaptive = method == "tdvp" and options.adaptive
    t_final = positive_float("t_final", t_final)
    dt = positive_float("dt", dt)
    save_every = dt if save_every is None else positive_float("save_every", save_every)
    steps_per_save, n_saves = time_grid(t_final, dt, save_every, adaptive)
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    model, variables, default_samples = unpack_state(system, state, initial_state)
    n_samples = sample_count("n_samples", n_samples or default_samples or 1024)
    if full_sum and method == "tdvp":
        raise NQSError("full_sum=True is available for method='trapezoid' only.")
    if full_sum and system.hilbert.n_states > FULL_SUM_MAX_STATES:
        raise NQSError(
            f"full_sum=True enumerates the sector, which has {system.hilbert.n_states} states "
            f"(limit {FULL_SUM_MAX_STATES}); use sampling (full_sum=False)."
        )
    check_output_flags(out, resume, overwrite)
    if exact is True and system.hilbert.n_states > 2**22:
        raise NQSError(f"exact=True: the sector ({system.hilbert.n_states} states) is too large.")
    observables = resolve_observables(system, observables)
    small = system.hilbert.n_states <= AUTO_EXACT_MAX_STATES
    want_exact = exact is True or (exact == "auto" and small)

    config = {
        "system": system_config(system),
        "model": model_config(model),
        "sampler": {"type": "ARDirectSampler", "chunk_size": chunk_size, "n_samples": n_samples},
        "solver": {
            "kind": "evolve",
            "method": method,
            "t_final": t_final,
            "dt": dt,
            "save_every": save_every,
            "seed": seed,
            "initial_state": initial_state or "given",
            "full_sum": bool(full_sum),
            "options": dataclasses.asdict(options),
            "observables": sorted(observables),
            "checkpoint_every": checkpoint_every,
        },
    }
    run_file = None
    if out is not None:
        mode = "resume" if resume else ("overwrite" if overwrite else "create")
        run_file = RunFile(out, kind="evolve", mode=mode)
        if resume:
            check_same_config(run_file.read_config(), config)

    # -- build --------------------------------------------------------------------------------
    vstate = variational_state(system, model, variables, n_samples, seed, chunk_size, full_sum)
    if initial_state is not None:
        vstate.variables = initial_variables(system, model, vstate.variables, initial_state)
    psi0 = initial_vector(system, vstate) if want_exact else None
    stepper = Stepper(system, vstate, method, options, dt, n_samples, seed, full_sum)

    start_save, energy_shift = 0, None
    recorder = EvolutionRecorder(
        run_file=run_file, observables=observables, t_final=t_final, t_start=0.0,
        progress=progress,
    )
    if resume:
        step, flat, attrs = run_file.load_checkpoint()
        stepper.restore(step, flat)
        start_save, energy_shift = int(attrs["save_index"]), attrs.get("energy_shift")
        run_file.truncate(step)
        recorder.load(out)
        recorder.advance_bar(start_save * save_every)
        psi0 = stored_vector(out) if want_exact else None
    elif run_file is not None:
        run_file.write_metadata(config=config, system=system_config(system), seed=seed)
    save_times = [grid_time(j, save_every) for j in range(n_saves)]
    exact_ref = exact_reference(system, psi0, np.asarray(save_times), observables)
    if run_file is not None and exact_ref is not None:
        # The exact energy is conserved: one number (also what `nqs info` shows).
        curves = {k: v for k, v in exact_ref.items() if k != "energy"}
        energy = float(np.real(exact_ref["energy"][0]))
        run_file.write_exact({**curves, "energy": energy, "initial_vector": psi0})

    # -- time loop ----------------------------------------------------------------------------
    status, t0 = "completed", time.perf_counter()
    for j in range(start_save, n_saves):
        t = save_times[j]
        if run_file is not None and (j % checkpoint_every == 0 or j == n_saves - 1) and not (
            resume and j == start_save
        ):
            attrs = {"save_index": j, "time": t}
            if energy_shift is not None:
                attrs["energy_shift"] = energy_shift
            run_file.save_checkpoint(stepper.step_count, stepper.checkpoint(), **attrs)
        row = measure(stepper.state, system.hamiltonian, observables)
        recorder.save(stepper.step_count, t, row)
        if energy_shift is None and method == "trapezoid":
            energy_shift = float(np.real(row["energy"].mean))
        if callback is not None and callback(t, row, stepper.state):
            status = f"stopped by the callback at t={t:.6g}"
            break
        if j == n_saves - 1:
            break
        try:
            first = stepper.step_count
            rows = stepper.advance(save_times[j + 1], steps_per_save, energy_shift)
            recorder.steps(first, rows)
        except NonFiniteError as err:
            status = f"stopped: {err}; the state was left at t={t:.6g} (last good state)"
            print(f"evolve {status}")
            break
        recorder.advance_bar(save_every, f"E={np.real(row['energy'].mean):.6g}")
    wall_time = time.perf_counter() - t0
    recorder.close()
    if run_file is not None:
        run_file.close(status=status)

    times, energies, energy_errors, obs, diagnostics = recorder.arrays()
    if exact_ref is not None:
        exact_ref = {k: v[: len(times)] for k, v in exact_ref.items()}
    return EvolutionResult(
        times=times,
        observables=obs,
        energies=energies,
        energy_errors=energy_errors,
        diagnostics=diagnostics,
        exact=exact_ref,
        state=stepper.state,
        method=method,
        status=status,
        wall_time=wall_time,
        simulated_time=max(times[-1] - start_save * save_every, 0.0) if len(times) else 0.0,
        path=None if out is None else str(out),
        system_name=system.name,
        details=stepper.describe(),
    )


