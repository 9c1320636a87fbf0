"""Physical systems: Hilbert spaces with their symmetry sectors, Hamiltonians, observables and
exact references for small sizes."""

from hamiltonians.spin_models import heisenberg_chain, j1j2_square, tfim_chain
from hamiltonians.system import System, check_closure

#: System constructors by name, as used in configuration files (``[system] model = "..."``).
FAMILIES = {
    "tfim_chain": tfim_chain,
    "heisenberg_chain": heisenberg_chain,
    "j1j2_square": j1j2_square,
}

__all__ = ["FAMILIES", "System", "check_closure", "heisenberg_chain", "j1j2_square", "tfim_chain"]
