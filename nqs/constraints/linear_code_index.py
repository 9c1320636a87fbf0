r"""NetKet indexing and random states of linear-code (GF(2)) sectors, without enumeration.

NetKet indexes a space with a custom constraint by testing *every* configuration of the
unconstrained space (``2**N`` of them, at most ``2**31``; netket_facts.md §3): 2^24 tests for the
2^17 states of the L=2 3D toric code, and no index at all for the 2^17 states of the L=4 Z2
Gauss law (32 links). A :class:`~nqs.constraints.linear_code.LinearCode` knows its sector
exactly: with the pivot-last reduction every forced bit is fixed by the bits before it, so two
sector configurations first differ at a *free* site, and the lexicographic rank (site 0 most
significant, the order NetKet itself uses) is the binary number formed by the free bits,

.. math:: \mathrm{rank}(n) = \sum_{i\ \mathrm{free}} n_i\, 2^{\#\{j > i\ \mathrm{free}\}} .

Unranking writes the free bits and completes the forced ones (one matmul).

:class:`LinearCodeMembership` is the :class:`~nqs.constraints.base.AutomatonMembership` of a
linear code (same membership test, equal to it). This module registers, for it only, the ranking
index with NetKet's ``optimalConstrainedHilbertindex`` dispatch and an exact uniform
``random_state`` that works even when the sector is too large to index (NetKet's fallback,
rejection from the unconstrained space, would practically never terminate: the L=3 3D toric code
keeps a fraction 2^-26 of the configurations). No other constraint's behaviour changes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from netket.hilbert import HomogeneousHilbert
from netket.hilbert.index import HilbertIndex, optimalConstrainedHilbertindex
from netket.hilbert.random import random_state
from netket.utils import struct

from nqs.constraints.base import AutomatonMembership
from nqs.errors import NQSError

_MAX_STATES = int(np.iinfo(np.int32).max)


class LinearCodeMembership(AutomatonMembership):
    """Membership test of a :class:`~nqs.constraints.linear_code.LinearCode` (one matmul per
    batch), with ranked indexing and exact uniform random states."""


@struct.dataclass
class LinearCodeHilbertIndex(HilbertIndex):
    """Ranks sector configurations of a linear code by their free bits (NetKet's order)."""

    automaton: object = struct.field(pytree_node=False)
    local_states: tuple = struct.field(pytree_node=False)

    @property
    def n_states(self) -> int:
        return self.automaton.sector_size()

    @property
    def size(self) -> int:
        return self.automaton.n_sites

    @property
    def local_size(self) -> int:
        return 2

    @property
    def is_indexable(self) -> bool:
        return self.n_states <= _MAX_STATES

    @property
    def n_states_bound(self) -> int:
        return self.n_states

    def _free_sites_and_weights(self):
        if not self.is_indexable:
            raise NQSError(
                f"The sector has {self.n_states} states, more than NetKet can index "
                f"({_MAX_STATES}); use sampling (hilbert.random_state, an exact AR sampler) "
                "instead of enumeration or exact diagonalisation."
            )
        free = np.setdiff1d(np.arange(self.size), np.asarray(self.automaton.pivots, dtype=int))
        weights = 2 ** np.arange(len(free) - 1, -1, -1, dtype=np.int64)
        return free, weights.astype(np.int32)

    @jax.jit
    def states_to_numbers(self, states):
        free, weights = self._free_sites_and_weights()
        states = jnp.asarray(states)
        bits = states[..., free] == jnp.asarray(self.local_states[1], states.dtype)
        return jnp.sum(bits.astype(jnp.int32) * jnp.asarray(weights), axis=-1, dtype=jnp.int32)

    @jax.jit
    def numbers_to_states(self, numbers):
        free, weights = self._free_sites_and_weights()
        numbers = jnp.asarray(numbers, jnp.int32)
        flat = numbers.reshape(-1)
        bits = (flat[:, None] // jnp.asarray(weights)[None, :]) % 2
        full = jnp.zeros((flat.shape[0], self.size), jnp.int32).at[:, free].set(bits)
        idx = self.automaton.complete(full)
        return jnp.asarray(self.local_states)[idx].reshape(*numbers.shape, self.size)

    def all_states(self):
        return self.numbers_to_states(jnp.arange(self.n_states, dtype=jnp.int32))


@optimalConstrainedHilbertindex.dispatch
def _linear_code_index(local_states, size, constraint: LinearCodeMembership):
    return LinearCodeHilbertIndex(constraint.automaton, constraint.local_states)


@random_state.dispatch
def _linear_code_random_state(
    hilb: HomogeneousHilbert, constraint: LinearCodeMembership, key, batches: int, *, dtype=None
):
    # Exactly uniform on the sector, with no index: uniform free bits, completed.
    idx = constraint.automaton.random_indices(key, batches)
    dtype = hilb._local_states.dtype if dtype is None else dtype
    return hilb.local_indices_to_states(idx, dtype=dtype)
