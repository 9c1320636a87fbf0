"""Physical systems: Hilbert spaces with their symmetry sectors, Hamiltonians, observables and
exact references for small sizes."""

from hamiltonians.anyons import golden_chain, su2_singlet_chain, su2k_chain
from hamiltonians.gauge_z2 import (
    toric_code,
    toric_code_3d,
    toric_code_state_parameters,
    x_cube,
    z2_gauge_theory,
)
from hamiltonians.open_systems import OpenSystem, dissipative_ising_chain, dissipative_xyz
from hamiltonians.povm import POVM, povm
from hamiltonians.quantum_link import bare_vacuum, bare_vacuum_parameters, quantum_link_model
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
    "quantum_link_model": quantum_link_model,
    "golden_chain": golden_chain,
    "su2k_chain": su2k_chain,
    "su2_singlet_chain": su2_singlet_chain,
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
    "bare_vacuum",
    "bare_vacuum_parameters",
    "check_closure",
    "dissipative_ising_chain",
    "dissipative_xyz",
    "golden_chain",
    "heisenberg_chain",
    "j1j2_square",
    "povm",
    "quantum_link_model",
    "su2_singlet_chain",
    "su2k_chain",
    "tfim_chain",
    "toric_code",
    "toric_code_3d",
    "toric_code_state_parameters",
    "x_cube",
    "z2_gauge_theory",
]
