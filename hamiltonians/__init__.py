"""Physical systems: Hilbert spaces with their symmetry sectors, Hamiltonians, observables and
exact references for small sizes."""

from hamiltonians.gauge_z2 import (
    toric_code,
    toric_code_3d,
    toric_code_state_parameters,
    x_cube,
    z2_gauge_theory,
)
from hamiltonians.open_systems import OpenSystem, dissipative_ising_chain, dissipative_xyz
from hamiltonians.povm import POVM, povm
from hamiltonians.spin_models import heisenberg_chain, j1j2_square, tfim_chain
from hamiltonians.system import System, check_closure

#: System constructors by name, as used in configuration files (``[system] model = "..."``).
FAMILIES = {
    "tfim_chain": tfim_chain,
    "heisenberg_chain": heisenberg_chain,
    "j1j2_square": j1j2_square,
    "toric_code": toric_code,
    "z2_gauge_theory": z2_gauge_theory,
    "toric_code_3d": toric_code_3d,
    "x_cube": x_cube,
}

#: Open (Lindblad) systems in the POVM formulation, by name.
OPEN_FAMILIES = {
    "dissipative_ising_chain": dissipative_ising_chain,
    "dissipative_xyz": dissipative_xyz,
}

__all__ = [
    "FAMILIES",
    "OPEN_FAMILIES",
    "POVM",
    "OpenSystem",
    "System",
    "check_closure",
    "dissipative_ising_chain",
    "dissipative_xyz",
    "heisenberg_chain",
    "j1j2_square",
    "povm",
    "tfim_chain",
    "toric_code",
    "toric_code_3d",
    "toric_code_state_parameters",
    "x_cube",
    "z2_gauge_theory",
]
