"""Turn a validated configuration into a system, a model and a solver call."""

from __future__ import annotations

import jax.numpy as jnp

import hamiltonians
import nqs
import solvers

_DTYPES = {"float64": jnp.float64, "float32": jnp.float32}


def build_system(config: dict) -> hamiltonians.System:
    params = {k: v for k, v in config["system"].items() if k != "model"}
    return hamiltonians.FAMILIES[config["system"]["model"]](**params)


def build_model(config: dict, system: hamiltonians.System):
    params = dict(config["model"])
    params.pop("type")
    params["param_dtype"] = _DTYPES[params.pop("dtype", "float64")]
    return nqs.ARTransformer(hilbert=system.hilbert, **params)


def run_job(config: dict, *, out: str | None, resume: bool, overwrite: bool, progress=None):
    """Run the job a configuration describes; returns the solver's result."""
    system = build_system(config)
    model = build_model(config, system)
    solver = dict(config["solver"])
    solver.pop("kind")
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
