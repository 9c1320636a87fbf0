"""Solvers: one functional entry point per problem, each returning a result object and,
given ``out=``, writing an HDF5 file as it goes."""

from solvers.ground_state import ground_state
from solvers.result import GroundStateResult

__all__ = ["GroundStateResult", "ground_state"]
