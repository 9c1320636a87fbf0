"""Solvers: one functional entry point per problem, each returning a result object and,
given ``out=``, writing an HDF5 file as it goes.

* :func:`ground_state`: variational ground states (MinSR, SR or Adam);
* :func:`evolve`: real-time dynamics of pure states (implicit trapezoid or SNR-regularised TDVP);
* :func:`evolve_open`: Lindblad dynamics of POVM probability models (trapezoid or TDVP);
* :func:`steady_state`: Lindblad steady states by minimising :math:`\\|\\mathcal{L}P\\|_1`.
"""

from solvers.evolve import evolve
from solvers.evolve_open import evolve_open
from solvers.evolve_options import TDVPOptions, TrapezoidOptions
from solvers.evolve_result import EvolutionResult
from solvers.ground_state import ground_state
from solvers.open_results import OpenEvolutionResult, SteadyStateResult
from solvers.povm_tdvp import OpenTDVPOptions
from solvers.povm_trapezoid import OpenTrapezoidOptions
from solvers.result import GroundStateResult
from solvers.steady_state import steady_state

__all__ = [
    "EvolutionResult",
    "GroundStateResult",
    "OpenEvolutionResult",
    "OpenTDVPOptions",
    "OpenTrapezoidOptions",
    "SteadyStateResult",
    "TDVPOptions",
    "TrapezoidOptions",
    "evolve",
    "evolve_open",
    "ground_state",
    "steady_state",
]
