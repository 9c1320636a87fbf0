"""The :class:`System`: everything that defines a physical problem, bundled and validated."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hamiltonians import exact
from nqs.constraints import AbstractConstraint, constraint_of
from nqs.constraints.check import random_sector_indices
from nqs.errors import ConstraintMismatchError


@dataclasses.dataclass(frozen=True, eq=False)
class System:
    """A lattice model: Hilbert space (with its sector), Hamiltonian, constraint, observables.

    Sites are numbered in the default autoregressive order, so models built on ``hilbert`` visit
    them in that order.

    Attributes:
        name: short identifier, e.g. ``"heisenberg_chain"``.
        hilbert: NetKet Hilbert space whose constraint is exactly the symmetry sector.
        hamiltonian: NetKet JAX operator acting on ``hilbert``.
        constraint: automaton the models mask with (``constraint.hilbert_constraint()`` is
            ``hilbert.constraint``).
        observables: named operators measured by the solvers.
        parameters: physical parameters (sizes, couplings, boundary conditions), for metadata.
        graph: the NetKet graph, where there is one.
        energy_units: how energies are measured (e.g. ``"S·S, J=1"``).
        infinite_temperature_energy: ``tr H / dim``, the energy zero of the V-score.

    Example:
        >>> import hamiltonians
        >>> system = hamiltonians.heisenberg_chain(8)
        >>> round(system.exact_energy(), 6)
        -3.651093
    """

    name: str
    hilbert: Any
    hamiltonian: Any
    constraint: AbstractConstraint
    observables: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    graph: Any = None
    energy_units: str = ""
    infinite_temperature_energy: float = 0.0
    _cache: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "observables", MappingProxyType(dict(self.observables)))
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        if self.constraint != constraint_of(self.hilbert):
            raise ConstraintMismatchError(
                f"The constraint {self.constraint!r} does not generate the sector of "
                f"{self.hilbert}; build the Hilbert space with "
                "constraint=constraint.hilbert_constraint()."
            )
        if self.hilbert.constrained:
            check_closure(self.hamiltonian, self.hilbert, self.constraint)

    @property
    def n_sites(self) -> int:
        return self.hilbert.size

    def exact_ground_state(self) -> tuple[float, np.ndarray]:
        """Ground-state energy and vector inside the sector (Lanczos; cached)."""
        if "ground_state" not in self._cache:
            self._cache["ground_state"] = exact.ground_state(self.hamiltonian, self.hilbert)
        return self._cache["ground_state"]

    def exact_energy(self) -> float:
        """Exact ground-state energy inside the sector, in ``energy_units``."""
        return self.exact_ground_state()[0]

    def exact_observables(self) -> dict[str, float]:
        """Ground-state expectation values of every named observable (real parts)."""
        _, vector = self.exact_ground_state()
        return {k: exact.expectation(op, vector).real for k, op in self.observables.items()}

    def __repr__(self):
        params = ", ".join(f"{k}={v}" for k, v in self.parameters.items())
        return f"System({self.name}: {params}; {self.hilbert})"


def check_closure(hamiltonian, hilbert, constraint, n_states: int = 64, seed: int = 0) -> None:
    """Raise if the Hamiltonian connects random sector states to states outside the sector.

    Autoregressive models are exactly zero outside the sector, so a Hamiltonian that leaves it
    would be silently projected and give wrong energies.
    """
    idx = random_sector_indices(constraint, jax.random.PRNGKey(seed), n_states)
    x = jnp.asarray(hilbert.local_states)[idx]
    xp, mels = hamiltonian.get_conn_padded(x)
    inside = hilbert.constraint(xp)
    bad = np.asarray((jnp.abs(mels) > 1e-12) & ~inside)
    if bad.any():
        b, k = np.argwhere(bad)[0]
        raise ConstraintMismatchError(
            f"The Hamiltonian connects the sector state {np.asarray(x[b]).tolist()} to "
            f"{np.asarray(xp[b, k]).tolist()}, which lies outside the sector of {constraint!r}. "
            "Use a Hamiltonian that conserves the symmetry, or drop the constraint."
        )
