"""HDF5 output shared by every solver (schema in docs/hdf5.md) and checkpoint helpers."""

from nqs.io.checkpoint import flat_to_state, state_to_flat
from nqs.io.hdf5 import SCHEMA_VERSION, RunFile, package_versions, read_run, read_series

__all__ = [
    "SCHEMA_VERSION",
    "RunFile",
    "flat_to_state",
    "package_versions",
    "read_run",
    "read_series",
    "state_to_flat",
]
