r"""NetKet indexing of walk-constrained Hilbert spaces by combinatorial ranking.

NetKet indexes a space with a custom constraint by evaluating the constraint on *every*
configuration of the unconstrained space (``local_size ** N`` of them; netket_facts.md §3): 4^14
configurations for a 14-site SU(2)_3 chain whose sector has 1686. A
:class:`~nqs.constraints.transfer.WalkAutomaton` knows the exact number of completions of every
prefix, so the lexicographic rank of a sector configuration is

.. math::

    \mathrm{rank}(x) = \sum_{i} \sum_{v < x_i} C_{i+1}\big(\mathrm{next}_i(s_i, v)\big),

and unranking walks the same counts greedily. Both are ``O(N · local_size)`` gathers, jittable,
and give the order NetKet itself would (configurations sorted with the last site fastest).

:class:`TransferMembership` is the :class:`~nqs.constraints.base.AutomatonMembership` of a walk
automaton (same membership test, equal to it); this module registers, for it only, the
ranking index with NetKet's ``optimalConstrainedHilbertindex`` dispatch and an exact uniform
``random_state`` (ancestral sampling with counting conditionals, at any sector size). No other
constraint's behaviour changes.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from netket.hilbert import HomogeneousHilbert
from netket.hilbert.index import HilbertIndex, optimalConstrainedHilbertindex
from netket.hilbert.random import random_state
from netket.utils import struct

from nqs.constraints.base import AutomatonMembership

_MAX_STATES = int(np.iinfo(np.int32).max)


class TransferMembership(AutomatonMembership):
    """Membership test of a :class:`~nqs.constraints.transfer.WalkAutomaton` (ranked indexing)."""

    def __call__(self, x):
        return _membership(self, jnp.asarray(x))


@partial(jax.jit, static_argnums=0)
def _membership(constraint, x):
    # Compiled once per shape (the inherited test runs the automaton op by op when eager).
    return AutomatonMembership.__call__(constraint, x)


def _rank_tables(automaton):
    """Successor counts ``(n, F, P, V)`` clipped to int32, and the next-node table.

    Counts of states reachable from a sector prefix never exceed the sector size, so clipping
    only touches unreachable states when the sector itself is indexable.
    """
    succ = np.stack(
        [np.minimum(s, _MAX_STATES) for s in map(automaton.completions, range(automaton.n_sites))]
    )
    return succ.astype(np.int64).astype(np.int32), automaton._tables["next"]


@struct.dataclass
class TransferHilbertIndex(HilbertIndex):
    """Ranks sector configurations of a walk automaton (lexicographic in local indices)."""

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
        return self.automaton.local_size

    @property
    def is_indexable(self) -> bool:
        return self.n_states <= _MAX_STATES

    @property
    def n_states_bound(self) -> int:
        return self.n_states

    def _tables(self):
        succ, nxt = _rank_tables(self.automaton)
        return jnp.asarray(succ), jnp.asarray(nxt)

    @jax.jit
    def states_to_numbers(self, states):
        states = jnp.asarray(states)
        batch_shape = states.shape[:-1]
        flat = states.reshape(-1, states.shape[-1])
        idx = jnp.argmax(flat[..., None] == jnp.asarray(self.local_states, flat.dtype), axis=-1)
        succ, _ = self._tables()
        automaton = self.automaton

        def step(carry, i):
            state, rank = carry
            counts = succ[i, state[:, 0], state[:, 1]]  # (batch, V)
            below = jnp.arange(automaton.local_size)[None, :] < idx[:, i, None]
            rank = rank + jnp.sum(jnp.where(below, counts, 0), axis=-1, dtype=jnp.int32)
            return (automaton.update(state, i, idx[:, i]), rank), None

        init = (automaton.init(flat.shape[0]), jnp.zeros(flat.shape[0], jnp.int32))
        (_, rank), _ = jax.lax.scan(step, init, jnp.arange(automaton.n_sites))
        return rank.reshape(batch_shape)

    @jax.jit
    def numbers_to_states(self, numbers):
        numbers = jnp.asarray(numbers, jnp.int32)
        batch_shape = numbers.shape
        flat = numbers.reshape(-1)
        succ, _ = self._tables()
        automaton = self.automaton

        def step(carry, i):
            state, rest = carry
            counts = succ[i, state[:, 0], state[:, 1]]  # (batch, V)
            cum = jnp.cumsum(counts, axis=-1, dtype=jnp.int32)
            value = jnp.sum(cum <= rest[:, None], axis=-1).astype(jnp.int32)
            below = jnp.take_along_axis(cum - counts, value[:, None], axis=-1)[:, 0]
            return (automaton.update(state, i, value), rest - below), value

        init = (automaton.init(flat.shape[0]), flat)
        _, values = jax.lax.scan(step, init, jnp.arange(automaton.n_sites))
        states = jnp.asarray(self.local_states)[values.T]
        return states.reshape(*batch_shape, automaton.n_sites)

    def all_states(self):
        return self.numbers_to_states(jnp.arange(self.n_states, dtype=jnp.int32))


@optimalConstrainedHilbertindex.dispatch
def _transfer_index(local_states, size, constraint: TransferMembership):
    return TransferHilbertIndex(constraint.automaton, constraint.local_states)


@random_state.dispatch
def _transfer_random_state(
    hilb: HomogeneousHilbert, constraint: TransferMembership, key, batches: int, *, dtype=None
):
    states = _uniform_states(constraint, key, batches)
    return states if dtype is None else states.astype(dtype)


@partial(jax.jit, static_argnums=(0, 2))
def _uniform_states(constraint, key, batches):
    # Exactly uniform on the sector at any size (no int32 rank needed): ancestral sampling with
    # the counting conditionals C_{i+1}(next) / C_i(state) (constraints.md §1.2).
    automaton = constraint.automaton

    def step(state, inputs):
        i, sub = inputs
        value = jax.random.categorical(sub, automaton.uniform_logits(state, i)).astype(jnp.int32)
        return automaton.update(state, i, value), value

    keys = jax.random.split(key, automaton.n_sites)
    _, values = jax.lax.scan(step, automaton.init(batches), (jnp.arange(automaton.n_sites), keys))
    return jnp.asarray(constraint.local_states)[values.T]
