"""Input checks shared by every solver, raised before any work starts."""

from __future__ import annotations

import jax

from nqs.errors import NQSError, SampleCountError, positive_int


def sample_count(name: str, value) -> int:
    """``value`` as a positive integer that the devices share evenly (samples are sharded)."""
    value = positive_int(name, value)
    n_dev = jax.device_count()
    if value % n_dev:
        raise SampleCountError(
            f"{name}={value} is not divisible by the {n_dev} devices; use a multiple of "
            f"{n_dev}, e.g. {value + (-value) % n_dev}."
        )
    return value


def check_output_flags(out, resume: bool, overwrite: bool) -> None:
    """``resume`` and ``overwrite`` exclude each other and need an output file."""
    if resume and overwrite:
        raise NQSError("resume=True and overwrite=True contradict each other; choose one.")
    if (resume or overwrite) and out is None:
        raise NQSError("resume/overwrite need an output file: pass out='run.h5'.")
