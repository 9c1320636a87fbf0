"""Job configuration files (TOML): schema, defaults and validation (reference: docs/config.md).

Every value is checked before any work starts; a mistake gives a one-line :class:`ConfigError`
that names the key, with a suggestion for near-misses.
"""

from __future__ import annotations

import inspect
import tomllib
from importlib import resources
from pathlib import Path

from nqs.errors import ConfigError, did_you_mean

_INT, _FLOAT, _BOOL, _STR = "an integer", "a number", "a boolean", "a string"
_TABLE = "a table"


def _key(kind, *, positive=False, choices=None, sequence=False):
    """A schema rule; ``sequence``: a list of such values is accepted too."""
    return {"kind": kind, "positive": positive, "choices": choices, "sequence": sequence}


#: Fixed sections: key -> rule. The ``system`` section is checked against the constructor of the
#: chosen family (``hamiltonians.FAMILIES``) instead.
SCHEMA = {
    "model": {
        "type": _key(_STR, choices=("transformer",)),
        "n_layers": _key(_INT, positive=True),
        "d_model": _key(_INT, positive=True),
        "n_heads": _key(_INT, positive=True),
        "d_ff": _key(_INT, positive=True),
        "attention": _key(_STR, choices=("standard", "factored")),
        "phase": _key(_BOOL),
        "dtype": _key(_STR, choices=("float64", "float32")),
    },
    "sampler": {
        "n_samples": _key(_INT, positive=True),
        "chunk_size": _key(_INT, positive=True),
    },
    "solver": {
        "kind": _key(_STR, choices=("ground_state", "evolve", "evolve_open", "steady_state")),
        "method": _key(_STR, choices=("minsr", "sr", "adam", "trapezoid", "tdvp")),
        "n_steps": _key(_INT, positive=True),
        "learning_rate": _key(_FLOAT, positive=True),
        "diag_shift": _key(_FLOAT, positive=True),
        "seed": _key(_INT),
        "observe_every": _key(_INT, positive=True),
        "n_samples_final": _key(_INT, positive=True),
        "exact": _key(_BOOL),
        # real-time evolution ([solver] kind = "evolve")
        "t_final": _key(_FLOAT, positive=True),
        "dt": _key(_FLOAT, positive=True),
        "save_every": _key(_FLOAT, positive=True),
        "initial_state": _key(
            _STR, choices=("x_polarised", "all_up", "all_down", "bare_vacuum", "ground_state")
        ),
        "initial_system": _key(_TABLE),
        "initial_steps": _key(_INT, positive=True),
        "full_sum": _key(_BOOL),
        "optimizer": _key(_STR, choices=("natural_gradient", "gauss_newton", "adam")),
        "max_iterations": _key(_INT, positive=True),
        "tol": _key(_FLOAT, positive=True),
        "learning_rate_end": _key(_FLOAT, positive=True),
        "step_size": _key(_FLOAT, positive=True),
        "proposal": _key(_STR, choices=("connected", "state")),
        "integrator": _key(_STR, choices=("rk4", "rk23", "rk45")),
        "rtol": _key(_FLOAT, positive=True),
        "atol": _key(_FLOAT),
        "snr_atol": _key(_FLOAT, positive=True),
    },
    "output": {
        "file": _key(_STR),
        "checkpoint_every": _key(_INT, positive=True),
    },
}
SECTIONS = ("system", *SCHEMA)

#: Solver keys by kind, and the methods each kind accepts. A key of the other kind is refused
#: (it would be silently ignored).
SOLVER_KINDS = {
    "ground_state": {
        "methods": ("minsr", "sr", "adam"),
        "keys": ("kind", "method", "n_steps", "learning_rate", "diag_shift", "seed",
                 "observe_every", "n_samples_final", "exact"),
    },
    "evolve": {
        "methods": ("trapezoid", "tdvp"),
        "keys": ("kind", "method", "t_final", "dt", "save_every", "seed", "exact",
                 "initial_state", "initial_system", "initial_steps", "full_sum", "optimizer",
                 "max_iterations", "tol", "learning_rate", "learning_rate_end", "step_size",
                 "diag_shift", "proposal", "integrator", "rtol", "atol", "snr_atol"),
    },
}
#: Solver kinds of open-system jobs, validated by :func:`nqs.cli.open_jobs.validate_open_config`.
OPEN_KINDS = ("evolve_open", "steady_state")
#: Defaults of a ``kind = "evolve"`` job (the rest are the solver's own defaults).
EVOLVE_DEFAULTS = {
    "kind": "evolve",
    "method": "trapezoid",
    "t_final": 1.0,
    "dt": 0.02,
    "save_every": 0.1,
    "initial_state": "x_polarised",
    "seed": 0,
}
#: Keys that only apply to one evolution method, or to one inner solver of the trapezoid.
_METHOD_KEYS = {
    "trapezoid": ("optimizer", "max_iterations", "tol", "learning_rate", "learning_rate_end",
                  "step_size", "proposal", "full_sum"),
    "tdvp": ("integrator", "rtol", "atol", "snr_atol"),
}
_ADAM_KEYS = ("learning_rate", "learning_rate_end")
_NATURAL_GRADIENT_KEYS = ("step_size", "diag_shift")


def default_config() -> dict:
    """The embedded default job (``nqs run`` without a file)."""
    text = resources.files("nqs.cli").joinpath("default.toml").read_text()
    return tomllib.loads(text)


def load_config(path: str | Path | None) -> dict:
    """Read, merge over the defaults and validate a job file (``None``: the default job)."""
    config = default_config()
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        try:
            user = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path} is not valid TOML: {err}") from None
        _check_sections(user)
        if "model" in user.get("system", {}) and user["system"]["model"] != config["system"].get(
            "model"
        ):
            config["system"] = {}  # another family: its own parameters only
        kind = user.get("solver", {}).get("kind")
        if kind in OPEN_KINDS:
            # open systems have their own schema (nqs.cli.open_jobs); only the output defaults
            from nqs.cli.open_jobs import validate_open_config

            return validate_open_config({"output": dict(config["output"]), **user})
        if kind is not None and kind != config["solver"].get("kind"):
            # another solver: its own keys only, on top of its defaults
            config["solver"] = dict(EVOLVE_DEFAULTS) if kind == "evolve" else {}
        for section, values in user.items():
            config.setdefault(section, {}).update(values)
    return validate(config)


def _check_sections(config: dict) -> None:
    for section, values in config.items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown section [{section}]{did_you_mean(section, SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table of key = value pairs")


def validate(config: dict) -> dict:
    """Check every key and value; returns the config unchanged if it is valid."""
    _check_sections(config)
    for section, rules in SCHEMA.items():
        values = config.get(section, {})
        for key, value in values.items():
            if key not in rules:
                raise ConfigError(
                    f"unknown key {section}.{key}{did_you_mean(key, rules)}; "
                    f"valid keys: {', '.join(rules)}"
                )
            _check_value(f"{section}.{key}", value, rules[key])
    _validate_system(config.get("system", {}))
    _validate_solver(config.get("solver", {}), config.get("system", {}))
    return config


def _validate_solver(solver: dict, system: dict) -> None:
    """Keys and methods must belong to the solver kind (and the method, and inner solver)."""
    kind = solver.get("kind", "ground_state")
    spec = SOLVER_KINDS[kind]
    for key in solver:
        if key not in spec["keys"]:
            other = next(k for k, v in SOLVER_KINDS.items() if key in v["keys"])
            raise ConfigError(
                f"solver.{key} applies to kind = {other!r}, not {kind!r}; remove it or set "
                f"solver.kind = {other!r}"
            )
    method = solver.get("method")
    if method is not None and method not in spec["methods"]:
        options = ", ".join(repr(m) for m in spec["methods"])
        raise ConfigError(
            f"solver.method = {method!r} is not a method of kind = {kind!r}; use one of {options}"
        )
    if kind != "evolve":
        return
    method = method or EVOLVE_DEFAULTS["method"]
    for other, keys in _METHOD_KEYS.items():
        for key in keys:
            if other != method and key in solver:
                raise ConfigError(
                    f"solver.{key} applies to method = {other!r}, not {method!r}; remove it"
                )
    optimizer = solver.get("optimizer", "natural_gradient")
    if method == "trapezoid":
        wrong = _NATURAL_GRADIENT_KEYS if optimizer == "adam" else _ADAM_KEYS
        for key in wrong:
            if key in solver:
                other = "'natural_gradient' or 'gauss_newton'" if optimizer == "adam" else "'adam'"
                raise ConfigError(
                    f"solver.{key} applies to optimizer = {other}, not {optimizer!r}; remove it"
                )
    if solver.get("initial_state") != "ground_state":
        for key in ("initial_system", "initial_steps"):
            if key in solver:
                raise ConfigError(
                    f"solver.{key} applies to initial_state = \"ground_state\"; remove it"
                )
    elif "initial_system" in solver:
        _validate_system({**system, **solver["initial_system"]}, prefix="solver.initial_system")


def _check_value(name: str, value, rule: dict) -> None:
    kind = rule["kind"]
    values = value if rule.get("sequence") and isinstance(value, list) else [value]
    for v in values:
        ok = {
            _INT: isinstance(v, int) and not isinstance(v, bool),
            _FLOAT: isinstance(v, int | float) and not isinstance(v, bool),
            _BOOL: isinstance(v, bool),
            _STR: isinstance(v, str),
            _TABLE: isinstance(v, dict),
        }[kind]
        if not ok:
            raise ConfigError(f"{name} must be {kind}, got {value!r}")
        if rule["positive"] and not v > 0:
            raise ConfigError(f"{name} must be positive, got {value!r}")
        if rule["choices"] and v not in rule["choices"]:
            options = ", ".join(repr(c) for c in rule["choices"])
            raise ConfigError(
                f"{name} = {v!r} is not one of {options}{did_you_mean(v, rule['choices'])}"
            )


def families() -> dict:
    """System constructors by name (``hamiltonians.FAMILIES``; imported lazily so that
    ``nqs --help`` stays instant)."""
    import hamiltonians

    return hamiltonians.FAMILIES


def _validate_system(system: dict, prefix: str = "system", known: dict | None = None) -> None:
    known = families() if known is None else known
    family = system.get("model")
    if family is None:
        raise ConfigError(f"{prefix}.model is missing; e.g. model = \"heisenberg_chain\"")
    if family not in known:
        raise ConfigError(
            f"{prefix}.model = {family!r} is not a known system"
            f"{did_you_mean(family, known)}; known: " + ", ".join(known)
        )
    signature = inspect.signature(known[family])
    for key, value in system.items():
        if key == "model":
            continue
        if key not in signature.parameters:
            raise ConfigError(
                f"unknown key {prefix}.{key} for {family}"
                f"{did_you_mean(key, signature.parameters)}; "
                f"valid keys: {', '.join(signature.parameters)}"
            )
        default = signature.parameters[key].default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{prefix}.{key} must be a boolean, got {value!r}")
        if isinstance(value, list) and (default is None or isinstance(default, tuple | list)):
            continue  # a sequence parameter (charges, winding, ...)
        if isinstance(value, str | list | dict) and not isinstance(default, str):
            raise ConfigError(f"{prefix}.{key} must be a number, got {value!r}")
    missing = [
        name
        for name, p in signature.parameters.items()
        if p.default is inspect.Parameter.empty and name not in system
    ]
    if missing:
        raise ConfigError(f"{prefix}.{missing[0]} is required for {family}")
