"""Errors raised by the library.

Every error says what went wrong *and* how to fix it, and is raised at the API boundary before
any expensive work starts. All derive from :class:`NQSError`, which is also a ``ValueError`` so
that generic ``except ValueError`` handlers in user scripts keep working.
"""

from __future__ import annotations

import difflib


class NQSError(ValueError):
    """Base class of every error raised by this library for bad input."""


class ConstraintMismatchError(NQSError):
    """The model's symmetry constraint differs from the Hilbert space's constraint."""


class EmptySectorError(NQSError):
    """The requested symmetry sector contains no configuration."""


class SampleCountError(NQSError):
    """A sample count is incompatible with the devices or the chunk size."""


class OutputExistsError(NQSError):
    """The output file exists and neither resume nor overwrite was requested."""


class CheckpointError(NQSError):
    """A checkpoint cannot be used to resume the requested run."""


class ConfigError(NQSError):
    """A configuration file has an unknown key or an invalid value."""


class NonFiniteError(NQSError):
    """A NaN or infinity appeared during a run."""


def positive_int(name: str, value) -> int:
    """Return ``value`` as an ``int`` if it is a positive integer, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise NQSError(f"{name} must be a positive integer, got {value!r}.")
    if value <= 0:
        raise NQSError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def positive_float(name: str, value) -> float:
    """Return ``value`` as a ``float`` if it is a finite positive number, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise NQSError(f"{name} must be a positive number, got {value!r}.")
    if value == float("inf"):
        raise NQSError(f"{name} must be finite, got {value!r}.")
    return float(value)


def non_negative_float(name: str, value) -> float:
    """Return ``value`` as a ``float`` if it is a finite number >= 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0 <= value < float("inf"):
        raise NQSError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def did_you_mean(word: str, choices) -> str:
    """A ' (did you mean 'x'?)' suffix for near-misses, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_choice(name: str, value, choices) -> str:
    """Raise a clear error unless ``value`` is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        hint = did_you_mean(str(value), choices)
        raise NQSError(f"{name}={value!r} is not one of {options}{hint}.")
    return value
