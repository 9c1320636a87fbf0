"""nqs: symmetry-constrained autoregressive neural quantum states.

Packages of the distribution:

* :mod:`nqs` (this one): wave functions (:class:`ARTransformer`), constraints
  (:mod:`nqs.constraints`), errors and HDF5 output (:mod:`nqs.io`);
* :mod:`hamiltonians`: physical systems with exact references;
* :mod:`samplers`: exact autoregressive samplers;
* :mod:`solvers`: ground-state and dynamics solvers.
"""

from nqs import constraints, errors
from nqs.povm_model import (
    probability_transformer,
    product_state_parameters,
    product_state_probabilities,
)
from nqs.string_states import StringMixture, chain_orderings, square_snake_orderings
from nqs.transformer import ARTransformer

__version__ = "0.1.0"

__all__ = [
    "ARTransformer",
    "StringMixture",
    "__version__",
    "chain_orderings",
    "constraints",
    "errors",
    "probability_transformer",
    "product_state_parameters",
    "product_state_probabilities",
    "square_snake_orderings",
]
