r"""The ``"connected"`` proposal of the trapezoid loss (:mod:`solvers.trapezoid`).

Draw :math:`x \sim p_t = |\psi_t|^2` exactly, then move half of the samples to a configuration
connected to them by :math:`H` (uniformly among the :math:`|C(x)|` genuine moves). The density
of this stratified mixture,

.. math::

    q(z) = \tfrac12\,p_t(z) + \tfrac12\sum_{y\in C(z)} \frac{p_t(y)}{|C(y)|},

is exactly computable: :math:`C` is symmetric for a Hermitian :math:`H`, the :math:`p_t(y)` are
already needed for :math:`(H\psi_t)(z)`, and the :math:`|C(y)|` cost one more call of
``get_conn_padded`` (no network evaluation). Since :math:`q > 0` wherever
:math:`B\psi_t = \psi_t - \tfrac{i\tau}2H\psi_t` is non-zero, the importance-sampled loss and its
gradient are unbiased even where :math:`\psi_t` nearly vanishes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _moves(x, xp, mels):
    """Padded connections that are genuine moves: non-zero element, another configuration."""
    return (mels != 0) & jnp.any(xp != x[..., None, :], axis=-1)


def random_connected(hamiltonian, x, key):
    """For each configuration, one configuration connected to it by H, uniformly at random
    (the configuration itself if H connects it to nothing else)."""
    xp, mels = hamiltonian.get_conn_padded(x)
    moves = _moves(x, xp, mels)
    choice = jax.random.categorical(key, jnp.where(moves, 0.0, -jnp.inf), axis=-1)
    choice = jnp.where(jnp.any(moves, axis=-1), choice, 0)
    picked = jnp.take_along_axis(xp, choice[:, None, None], axis=1)[:, 0]
    return jnp.where(jnp.any(moves, axis=-1)[:, None], picked, x)


def log_connected_proposal(hamiltonian, x, xp, mels, log_p):
    r""":math:`\log q(z)` of ``proposal="connected"``,
    :math:`q(z) = \tfrac12 p_t(z) + \tfrac12\sum_{y \in C(z)} p_t(y)/|C(y)|`, where
    :math:`C(y)` are the configurations connected to :math:`y` (symmetric for Hermitian H) and
    ``log_p`` holds :math:`\log p_t` of ``z`` followed by its connections, ``(B, K+1)``."""
    moves = _moves(x, xp, mels)  # (B, K): y = xp[:, k] is in C(z)
    xpp, mels2 = hamiltonian.get_conn_padded(xp)  # connections of each y: (B, K, K, N)
    n_moves = jnp.sum(_moves(xp, xpp, mels2), axis=-1)  # |C(y)|
    log_in = jnp.where(moves & (n_moves > 0), log_p[:, 1:] - jnp.log(jnp.maximum(n_moves, 1)),
                       -jnp.inf)
    # An isolated configuration (no moves) is its own "move": weight p_t(z) in both halves.
    log_in = jnp.concatenate(
        [log_in, jnp.where(jnp.any(moves, axis=-1), -jnp.inf, log_p[:, 0])[:, None]], axis=-1
    )
    return jnp.logaddexp(log_p[:, 0], jax.scipy.special.logsumexp(log_in, axis=-1)) - jnp.log(2.0)
