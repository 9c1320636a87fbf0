r"""Symmetry constraints as finite automata over the autoregressive order.

An autoregressive wave function :math:`\psi(x) = \prod_i \sqrt{p(x_i|x_{<i})}\,e^{i\phi(x)}`
vanishes exactly outside a symmetry sector if every conditional is masked to the values that keep
the prefix
completable inside the sector and then renormalised:

.. math::

    p(x_i = a | x_{<i}) = \frac{M_i(a|x_{<i})\, e^{z_i(a)}}{\sum_b M_i(b|x_{<i})\, e^{z_i(b)}}.

If no reachable prefix is a dead end (some value is always allowed), :math:`\sum_x |\psi(x)|^2 = 1`
on the sector and ancestral sampling never leaves it. Each constraint is a finite automaton with
fixed-shape state, vectorised over a batch and jittable:

* ``init(batch) -> state``: the state before the first token;
* ``allowed(state, i) -> bool[batch, local_size]``: the mask :math:`M_i`;
* ``update(state, i, value) -> state``: the state after token ``i`` took local index ``value``.

Values are *local indices* ``0 .. local_size-1`` (positions in ``hilbert.local_states``), never
physical values, so the automaton does not depend on NetKet's ordering of local states.

Reference: Hibat-Allah et al., PRR 2, 023358 (2020) (U(1) mask); Luo et al., PRR 5, 013216 (2023)
(gauge and anyonic constraints).
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp
import numpy as np
from netket.hilbert.constraint import DiscreteHilbertConstraint
from netket.utils import struct

#: Logit assigned to forbidden values before the softmax: finite, so that 0 * (-big) stays 0
#: in gradients and entropies (a literal -inf would give NaN).
MASK_LOGIT = -1e30


class AbstractConstraint(abc.ABC):
    """A symmetry sector described as a finite automaton over the autoregressive order.

    Subclasses are frozen dataclasses (hashable, so that models carrying them can be static
    arguments of ``jax.jit``) and implement :meth:`init`, :meth:`allowed`, :meth:`update` and
    :meth:`hilbert_constraint`. They may override :meth:`masks` with a vectorised version.
    """

    n_sites: int
    local_size: int

    @abc.abstractmethod
    def init(self, batch: int):
        """The automaton state before the first token, for ``batch`` configurations."""

    @abc.abstractmethod
    def allowed(self, state, i) -> jax.Array:
        """Boolean mask ``(batch, local_size)`` of the values token ``i`` may take."""

    @abc.abstractmethod
    def update(self, state, i, value: jax.Array):
        """The state after token ``i`` took the local indices ``value`` of shape ``(batch,)``."""

    @abc.abstractmethod
    def hilbert_constraint(self) -> DiscreteHilbertConstraint | None:
        """The NetKet constraint whose sector this automaton generates (``None``: unconstrained).

        Used to build the Hilbert space (so that exact diagonalisation and ``all_states`` see
        exactly the sector) and to check that a model and a Hilbert space agree.
        """

    def masks(self, idx: jax.Array) -> jax.Array:
        """Masks of all tokens of complete configurations.

        Args:
            idx: local indices, shape ``(batch, n_sites)``, in autoregressive order.

        Returns:
            Boolean array ``(batch, n_sites, local_size)``; entry ``[b, i]`` is the mask of token
            ``i`` given the prefix ``idx[b, :i]``.
        """
        # Tie the initial state to ``idx``: under NetKet's chunked kernels (shard_map) ``idx`` is
        # device-varying and so is every updated state, while ``init`` is a constant, and
        # ``lax.scan`` refuses a carry whose varying-axis type changes.
        zero = jnp.zeros_like(idx[:, 0])
        state = jax.tree.map(
            lambda s: s + zero.reshape(zero.shape + (1,) * (s.ndim - 1)).astype(s.dtype),
            self.init(idx.shape[0]),
        )

        def step(state, i):
            mask = self.allowed(state, i)
            return self.update(state, i, idx[:, i]), mask

        _, masks = jax.lax.scan(step, state, jnp.arange(self.n_sites))
        return jnp.swapaxes(masks, 0, 1)

    def contains(self, idx: jax.Array) -> jax.Array:
        """Whether each configuration (local indices, AR order) lies in the sector."""
        masks = self.masks(idx)
        ok = jnp.take_along_axis(masks, idx[..., None], axis=-1)[..., 0]
        return ok.all(axis=-1)


class Unconstrained(AbstractConstraint):
    """The trivial automaton: every value is allowed at every token."""

    def __init__(self, n_sites: int, local_size: int):
        self.n_sites = int(n_sites)
        self.local_size = int(local_size)

    def init(self, batch):
        return jnp.zeros((batch,), dtype=jnp.int32)

    def allowed(self, state, i):
        return jnp.ones((state.shape[0], self.local_size), dtype=bool)

    def update(self, state, i, value):
        return state

    def masks(self, idx):
        return jnp.ones((*idx.shape, self.local_size), dtype=bool)

    def hilbert_constraint(self):
        return None

    def __eq__(self, other):
        return type(other) is Unconstrained and (self.n_sites, self.local_size) == (
            other.n_sites,
            other.local_size,
        )

    def __hash__(self):
        return hash((Unconstrained, self.n_sites, self.local_size))

    def __repr__(self):
        return f"Unconstrained(n_sites={self.n_sites}, local_size={self.local_size})"


class AutomatonMembership(DiscreteHilbertConstraint):
    """NetKet Hilbert-space constraint that accepts exactly the strings an automaton generates.

    Use it for constraints NetKet has no built-in for (Gauss laws, fusion rules): the Hilbert
    space ``Spin(0.5, n, constraint=AutomatonMembership(automaton, local_states))`` then
    enumerates exactly the sector, so ``all_states`` and exact diagonalisation see the sector.
    """

    automaton: AbstractConstraint = struct.field(pytree_node=False)
    local_states: tuple = struct.field(pytree_node=False)

    def __init__(self, automaton: AbstractConstraint, local_states):
        self.automaton = automaton
        self.local_states = tuple(np.asarray(local_states).tolist())

    def __call__(self, x):
        x = jnp.asarray(x)
        batch_shape = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        ls = jnp.asarray(self.local_states, dtype=x.dtype)
        idx = jnp.argmax(x[..., None] == ls, axis=-1)
        return self.automaton.contains(idx).reshape(batch_shape)

    def __hash__(self):
        return hash((AutomatonMembership, self.automaton, self.local_states))

    def __eq__(self, other):
        return (
            isinstance(other, AutomatonMembership)
            and self.automaton == other.automaton
            and self.local_states == other.local_states
        )

    def __repr__(self):
        return f"AutomatonMembership({self.automaton!r})"
