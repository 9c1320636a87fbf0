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


def _key(kind, *, positive=False, choices=None):
    return {"kind": kind, "positive": positive, "choices": choices}


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
        "kind": _key(_STR, choices=("ground_state",)),
        "method": _key(_STR, choices=("minsr", "sr", "adam")),
        "n_steps": _key(_INT, positive=True),
        "learning_rate": _key(_FLOAT, positive=True),
        "diag_shift": _key(_FLOAT, positive=True),
        "seed": _key(_INT),
        "observe_every": _key(_INT, positive=True),
        "n_samples_final": _key(_INT, positive=True),
        "exact": _key(_BOOL),
    },
    "output": {
        "file": _key(_STR),
        "checkpoint_every": _key(_INT, positive=True),
    },
}
SECTIONS = ("system", *SCHEMA)


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
    return config


def _check_value(name: str, value, rule: dict) -> None:
    kind = rule["kind"]
    ok = {
        _INT: isinstance(value, int) and not isinstance(value, bool),
        _FLOAT: isinstance(value, int | float) and not isinstance(value, bool),
        _BOOL: isinstance(value, bool),
        _STR: isinstance(value, str),
    }[kind]
    if not ok:
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    if rule["positive"] and not value > 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    if rule["choices"] and value not in rule["choices"]:
        options = ", ".join(repr(c) for c in rule["choices"])
        raise ConfigError(
            f"{name} = {value!r} is not one of {options}{did_you_mean(value, rule['choices'])}"
        )


def _validate_system(system: dict) -> None:
    import hamiltonians

    family = system.get("model")
    if family is None:
        raise ConfigError("system.model is missing; e.g. model = \"heisenberg_chain\"")
    if family not in hamiltonians.FAMILIES:
        raise ConfigError(
            f"system.model = {family!r} is not a known system"
            f"{did_you_mean(family, hamiltonians.FAMILIES)}; known: "
            + ", ".join(hamiltonians.FAMILIES)
        )
    signature = inspect.signature(hamiltonians.FAMILIES[family])
    for key, value in system.items():
        if key == "model":
            continue
        if key not in signature.parameters:
            raise ConfigError(
                f"unknown key system.{key} for {family}{did_you_mean(key, signature.parameters)}; "
                f"valid keys: {', '.join(signature.parameters)}"
            )
        default = signature.parameters[key].default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"system.{key} must be a boolean, got {value!r}")
        if isinstance(value, str | list | dict) and not isinstance(default, str):
            raise ConfigError(f"system.{key} must be a number, got {value!r}")
    missing = [
        name
        for name, p in signature.parameters.items()
        if p.default is inspect.Parameter.empty and name not in system
    ]
    if missing:
        raise ConfigError(f"system.{missing[0]} is required for {family}")
