"""nqs: symmetry-constrained autoregressive neural quantum states.

Packages of the distribution:

* :mod:`nqs` (this one): wave functions (:class:`ARTransformer`), constraints
  (:mod:`nqs.constraints`), errors and HDF5 output (:mod:`nqs.io`);
* :mod:`hamiltonians`: physical systems with exact references;
* :mod:`samplers`: exact autoregressive samplers;
* :mod:`solvers`: ground-state and dynamics solvers.
"""

from nqs import constraints, errors
from nqs.transformer import ARTransformer

__version__ = "0.1.0"

__all__ = ["ARTransformer", "__version__", "constraints", "errors"]
