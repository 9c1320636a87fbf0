"""Turn a validated configuration into a system, a model and a solver call."""

from __future__ import annotations

import jax.numpy as jnp

import hamiltonians
import nqs
import solvers
from nqs.cli.config import OPEN_KINDS, families

_DTYPES = {"float64": jnp.float64, "float32": jnp.float32}


def build_system(config: dict, overrides: dict | None = None) -> hamiltonians.System:
    params = {k: v for k, v in config["system"].items() if k != "model"}
    params.update({k: v for k, v in (overrides or {}).items() if k != "model"})
    return families()[config["system"]["model"]](**params)


def build_model(config: dict, system: hamiltonians.System):
    params = dict(config["model"])
    params.pop("type")
    params["param_dtype"] = _DTYPES[params.pop("dtype", "float64")]
    return nqs.ARTransformer(hilbert=system.hilbert, **params)


def run_job(config: dict, *, out: str | None, resume: bool, overwrite: bool, progress=None):
    """Run the job a configuration describes; returns the solver's result."""
    if config["solver"]["kind"] in OPEN_KINDS:
        from nqs.cli.open_jobs import run_open_job

        return run_open_job(config, out=out, resume=resume, overwrite=overwrite, progress=progress)
    system = build_system(config)
    model = build_model(config, system)
    solver = dict(config["solver"])
    kind = solver.pop("kind")
    if kind == "evolve":
        return _run_evolve(config, system, model, solver, out=out, resume=resume,
                           overwrite=overwrite, progress=progress)
    return solvers.ground_state(
        system,
        model,
        **config["sampler"],
        **solver,
        out=out or config["output"]["file"],
        checkpoint_every=config["output"]["checkpoint_every"],
        resume=resume,
        overwrite=overwrite,
        progress=progress,
    )


# Keys of a ``kind = "evolve"`` job that go into the method's options object.
_TRAPEZOID_OPTIONS = ("optimizer", "max_iterations", "tol", "step_size", "diag_shift", "proposal")
_TDVP_OPTIONS = ("integrator", "diag_shift", "rtol", "atol", "snr_atol")


def _run_evolve(config, system, model, solver, *, out, resume, overwrite, progress):
    from solvers.evolve import evolve

    method = solver.pop("method", "trapezoid")
    names = _TRAPEZOID_OPTIONS if method == "trapezoid" else _TDVP_OPTIONS
    options = {k: solver.pop(k) for k in names if k in solver}
    if "learning_rate" in solver or "learning_rate_end" in solver:
        start = solver.pop("learning_rate", 1e-2)
        options["learning_rate"] = (start, solver.pop("learning_rate_end", start / 100))
    initial = solver.pop("initial_state", "x_polarised")
    pre_system = solver.pop("initial_system", None)
    initial_steps = solver.pop("initial_steps", 300)
    state, initial_state = model, initial
    if initial == "ground_state" and not resume:
        # Quench: the ground state of the system with the `initial_system` parameters.
        before = build_system(config, pre_system)
        print(f"  preparing the initial state: ground state of {before}", flush=True)
        state = solvers.ground_state(
            before, model, **config["sampler"], n_steps=initial_steps, seed=solver.get("seed", 0),
            progress=progress,
        ).state
        initial_state = None
    elif initial == "ground_state":
        initial_state = None  # resumed from the checkpoint: the initial state is not needed
    if solver.get("exact") is not None:
        solver["exact"] = bool(solver["exact"])
    return evolve(
        system,
        state,
        method=method,
        options=options or None,
        initial_state=initial_state,
        **config["sampler"],
        **solver,
        out=out or config["output"]["file"],
        checkpoint_every=config["output"]["checkpoint_every"],
        resume=resume,
        overwrite=overwrite,
        progress=progress,
    )
