"""Helpers shared by the benchmark scripts: machine description and wall-clock timing."""

from __future__ import annotations

import os
import platform
import resource
import time

import jax


def machine() -> str:
    """One line describing where the numbers were measured."""
    cpu = platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), jax {jax.__version__} on "
        f"{jax.devices()[0].platform}, x64={jax.config.jax_enable_x64}"
    )


def best_of(fn, repeats: int = 3) -> float:
    """Best wall-clock time of ``fn()`` (blocking on its result) after one warm-up call."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return min(times)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
