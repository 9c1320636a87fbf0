"""Test helper: run scipy's OpenBLAS (the LAPACK behind jaxlib's CPU ``eigh``) single-threaded.

On the 2-core development machines under load, OpenBLAS's spinning worker threads make a
300x300 ``jnp.linalg.eigh`` take ~1 s instead of ~10 ms; the POVM TDVP diagonalises the Fisher
matrix at every right-hand side. ``OPENBLAS_NUM_THREADS=1`` in the environment has the same
effect for a whole process; this context manager does it at run time and restores the setting.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os

import scipy


def _libraries():
    root = os.path.dirname(scipy.__file__)
    for path in glob.glob(os.path.join(root + ".libs", "libscipy_openblas*.so*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            setter = getattr(lib, f"{prefix}_set_num_threads", None)
            getter = getattr(lib, f"{prefix}_get_num_threads", None)
            if setter is not None and getter is not None:
                yield setter, getter
                break


@contextlib.contextmanager
def single_threaded_openblas():
    """Limit scipy's OpenBLAS to one thread inside the block (no-op where it is not found)."""
    libs = list(_libraries())
    before = [getter() for _, getter in libs]
    for setter, _ in libs:
        setter(1)
    try:
        yield
    finally:
        for (setter, _), n in zip(libs, before, strict=True):
            setter(n)
