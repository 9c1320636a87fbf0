"""Open-system jobs for the ``nqs`` command: a schema fragment and :func:`run_open_job`.

``nqs run`` dispatches here when ``solver.kind`` is ``"evolve_open"`` or ``"steady_state"``:
such jobs have their own schema (:data:`OPEN_SCHEMA`, checked key by key per kind) and their own
systems (:data:`OPEN_FAMILIES`); only the ``[output]`` defaults are shared with closed systems.

Example job file::

    [system]
    model = "dissipative_ising_chain"
    n = 4
    g = 1.0

    [model]
    type = "probability_transformer"
    n_layers = 1
    d_model = 16
    n_heads = 2

    [sampler]
    n_samples = 2000

    [solver]
    kind = "steady_state"
    n_steps = 1500
    learning_rate = 0.01

    [output]
    file = "steady.h5"
"""

from __future__ import annotations

import copy

import jax.numpy as jnp

import nqs.povm_model as pm
from hamiltonians import OPEN_FAMILIES
from nqs.cli.config import _BOOL, _FLOAT, _INT, _STR, _check_value, _key, _validate_system
from nqs.errors import ConfigError, did_you_mean
from nqs.string_states import StringMixture, chain_orderings, square_snake_orderings

_TRAPEZOID = ("learning_rates", "iterations", "tol", "b1", "b2", "eps")
_TDVP = ("adaptive", "tol", "max_dt", "min_dt", "snr_tol", "pinv_tol", "pinv_cutoff", "diag_shift")

#: Schema of open-system jobs, in the rule format of ``nqs.cli.config.SCHEMA``. Keys are checked
#: per ``solver.kind`` by :func:`validate_open_config`.
OPEN_SCHEMA = {
    "model": {
        "type": _key(_STR, choices=("probability_transformer",)),
        "n_layers": _key(_INT, positive=True),
        "d_model": _key(_INT, positive=True),
        "n_heads": _key(_INT, positive=True),
        "d_ff": _key(_INT, positive=True),
        "attention": _key(_STR, choices=("standard", "factored")),
        "dtype": _key(_STR, choices=("float64", "float32")),
        "strings": _key(_STR, choices=("none", "chain", "snake")),
    },
    "sampler": {
        "n_samples": _key(_INT, positive=True),
        "chunk_size": _key(_INT, positive=True),
        "lookup": _key(_STR, choices=("auto", "on", "off")),
    },
    "solver": {
        "kind": _key(_STR, choices=("evolve_open", "steady_state")),
        "seed": _key(_INT),
        # evolve_open
        "method": _key(_STR, choices=("trapezoid", "tdvp")),
        "t_final": _key(_FLOAT, positive=True),
        "dt": _key(_FLOAT, positive=True),
        "save_every": _key(_FLOAT, positive=True),
        "n_samples_obs": _key(_INT, positive=True),
        "learning_rates": _key(_FLOAT, positive=True, sequence=True),
        "iterations": _key(_INT, positive=True, sequence=True),
        "tol": _key(_FLOAT),
        "b1": _key(_FLOAT),
        "b2": _key(_FLOAT),
        "eps": _key(_FLOAT, positive=True),
        "adaptive": _key(_BOOL),
        "max_dt": _key(_FLOAT, positive=True),
        "min_dt": _key(_FLOAT, positive=True),
        "snr_tol": _key(_FLOAT, positive=True),
        "pinv_tol": _key(_FLOAT),
        "pinv_cutoff": _key(_FLOAT, positive=True),
        "diag_shift": _key(_FLOAT),
        # steady_state
        "n_steps": _key(_INT, positive=True),
        "learning_rate": _key(_FLOAT, positive=True),
        "n_samples_eval": _key(_INT, positive=True),
        "eval_every": _key(_INT, positive=True),
        "eval_from": _key(_INT),
        "n_samples_final": _key(_INT, positive=True),
    },
    "output": {
        "file": _key(_STR),
        "checkpoint_every": _key(_INT, positive=True),
    },
}

_KIND_KEYS = {
    "evolve_open": {"kind", "seed", "method", "t_final", "dt", "save_every", "n_samples_obs"}
    | set(_TRAPEZOID)
    | set(_TDVP),
    "steady_state": {
        "kind",
        "seed",
        "n_steps",
        "learning_rate",
        "b1",
        "b2",
        "n_samples_eval",
        "eval_every",
        "eval_from",
        "n_samples_final",
    },
}


def validate_open_config(config: dict) -> dict:
    """Check the sections of an open-system job; one clear :class:`ConfigError` per mistake."""
    family = config.get("system", {}).get("model")
    if family not in OPEN_FAMILIES:
        raise ConfigError(
            f"system.model = {family!r} is not an open system"
            f"{did_you_mean(str(family), OPEN_FAMILIES)}; known: {', '.join(OPEN_FAMILIES)}"
        )
    _validate_system(config["system"], known=OPEN_FAMILIES)
    kind = config.get("solver", {}).get("kind")
    if kind not in _KIND_KEYS:
        raise ConfigError(f"solver.kind = {kind!r} is not one of 'evolve_open', 'steady_state'")
    for section, rules in OPEN_SCHEMA.items():
        allowed = _KIND_KEYS[kind] if section == "solver" else set(rules)
        for key, value in config.get(section, {}).items():
            if key not in allowed:
                raise ConfigError(
                    f"unknown key {section}.{key} for {kind}{did_you_mean(key, allowed)}; "
                    f"valid keys: {', '.join(sorted(allowed))}"
                )
            _check_value(f"{section}.{key}", value, rules[key])
    if kind == "evolve_open":
        method = config["solver"].get("method", "trapezoid")
        other = _TDVP if method == "trapezoid" else _TRAPEZOID
        shared = set(_TRAPEZOID) & set(_TDVP)  # "tol" means each method's own tolerance
        ignored = sorted(k for k in config["solver"] if k in other and k not in shared)
        if ignored:
            raise ConfigError(
                f"solver keys {ignored} are options of the other method; method = {method!r} "
                "would ignore them"
            )
    return config


def build_open_model(config: dict, system):
    """The probability model of ``[model]`` (``strings = "chain"|"snake"``: a string mixture)."""
    params = dict(config.get("model", {}))
    params.pop("type", None)
    strings = params.pop("strings", "none")
    params["param_dtype"] = {"float64": jnp.float64, "float32": jnp.float32}[
        params.pop("dtype", "float64")
    ]
    model = pm.probability_transformer(system.n_sites, **params)
    if strings == "chain":
        return StringMixture(model, chain_orderings(system.n_sites))
    if strings == "snake":
        return StringMixture(model, square_snake_orderings(system.parameters["L"]))
    return model


def run_open_job(config: dict, *, out: str | None, resume: bool, overwrite: bool, progress=None):
    """Run an ``evolve_open`` or ``steady_state`` job; returns the solver's result."""
    from solvers import evolve_open, steady_state

    config = validate_open_config(copy.deepcopy(config))
    system_params = {k: v for k, v in config["system"].items() if k != "model"}
    system = OPEN_FAMILIES[config["system"]["model"]](**system_params)
    model = build_open_model(config, system)
    sampler = dict(config.get("sampler", {}))
    lookup = {"auto": "auto", "on": True, "off": False}[sampler.pop("lookup", "auto")]
    solver = dict(config["solver"])
    kind = solver.pop("kind")
    output = config.get("output", {})
    common = dict(
        **sampler,
        lookup=lookup,
        out=out or output.get("file"),
        resume=resume,
        overwrite=overwrite,
        progress=progress,
    )
    if "checkpoint_every" in output:
        common["checkpoint_every"] = output["checkpoint_every"]
    if kind == "steady_state":
        return steady_state(system, model, **solver, **common)
    method = solver.get("method", "trapezoid")
    names = _TRAPEZOID if method == "trapezoid" else _TDVP
    options = {k: solver.pop(k) for k in list(solver) if k in names}
    for key in ("learning_rates", "iterations"):
        if key in options:
            options[key] = tuple(options[key]) if isinstance(options[key], list) else options[key]
    return evolve_open(
        system, model, **solver, options=options or None, **common
    )
