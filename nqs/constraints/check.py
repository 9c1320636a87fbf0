"""Exhaustive and random exploration of a constraint automaton (for checks and tests)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from nqs.constraints.base import AbstractConstraint


def enumerate_sector(constraint: AbstractConstraint, max_states: int = 2**22):
    """Generate every configuration the automaton accepts, breadth first over the AR order.

    Returns:
        ``(configs, dead_ends)``: the accepted configurations as local indices, shape
        ``(n_states, n_sites)``, and the number of reachable prefixes with no allowed value
        (zero for a correct look-ahead mask).
    """
    prefixes = np.zeros((1, 0), dtype=np.int32)
    state = constraint.init(1)
    dead_ends = 0
    for i in range(constraint.n_sites):
        allowed = np.asarray(constraint.allowed(state, i))
        dead_ends += int((~allowed.any(axis=1)).sum())
        parent, value = np.nonzero(allowed)
        if len(parent) > max_states:
            raise ValueError(f"More than {max_states} prefixes at token {i}; sector too large.")
        state = jax.tree.map(lambda s, parent=parent: s[parent], state)
        state = constraint.update(state, i, jnp.asarray(value, dtype=jnp.int32))
        prefixes = np.concatenate([prefixes[parent], value[:, None].astype(np.int32)], axis=1)
    return prefixes, dead_ends


@partial(jax.jit, static_argnums=(0, 2))  # constraints are hashable: compiled once per sector
def random_sector_indices(constraint: AbstractConstraint, key, n: int) -> jax.Array:
    """``n`` random configurations of the sector (local indices), uniform over allowed values.

    The distribution is not uniform over the sector in general, but every configuration of the
    sector has non-zero probability: good for closure checks of Hamiltonians.
    """
    def step(carry, i):
        state, key = carry
        key, sub = jax.random.split(key)
        allowed = constraint.allowed(state, i)
        logits = jnp.where(allowed, 0.0, -jnp.inf)
        value = jax.random.categorical(sub, logits, axis=-1).astype(jnp.int32)
        return (constraint.update(state, i, value), key), value

    _, values = jax.lax.scan(step, (constraint.init(n), key), jnp.arange(constraint.n_sites))
    return values.T
