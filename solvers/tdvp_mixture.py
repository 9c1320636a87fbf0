r"""SNR-regularised TDVP with importance samples from a *mixture* of the autoregressive
conditionals, for states whose amplitudes pass through zero.

Samples drawn from :math:`|\psi|^2` never visit a configuration while its amplitude is near a
node, so TDVP cannot move it through the node (Sinibaldi et al., Quantum 7, 1131 (2023)). Here each
conditional is mixed with the uniform distribution,

.. math::

    q(x) = \prod_i \big[(1-\epsilon)\,|\psi_i(x_i\mid x_{<i})|^2 + \epsilon/d\big],

which an autoregressive model samples exactly, and every estimate carries the self-normalised
importance weight :math:`w(x) \propto |\psi(x)|^2/q(x)`:

.. math::

    S = \mathrm{Re}\sum_x w\,\Delta O^\dagger \Delta O,\qquad
    F = \sum_x w\,\Delta O^* \Delta E_\mathrm{loc},\qquad
    S\,\dot\theta = \mathrm{Im}\,F,

solved in the eigenbasis :math:`S = V\Lambda V^T` with the cut-offs of NetKet's ``TDVPSchmitt``
(Schmitt & Heyl, PRL 125, 100503 (2020)): ``rcond``, the smooth ``rcond_smooth`` and the
signal-to-noise filter, whose noise for component :math:`k` is the weighted standard error
:math:`\sigma_k^2 = \sum_x w^2 |c_k(x) - \rho_k|^2`, :math:`c_k = (V^T \Delta O^*)_k \Delta E`.
With :math:`\epsilon = 0` this is ``TDVPSchmitt`` itself. Real parameters only.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import netket.experimental as nkx
import numpy as np
from jax.flatten_util import ravel_pytree
from netket.experimental.driver.tdvp_common import odefun
from netket.utils import struct
from netket.vqs import MCState


@partial(jax.jit, static_argnames=("model", "n_samples"))
def draw(model, variables, key, n_samples: int, mixing):
    """``n_samples`` configurations from the mixture :math:`q` and their :math:`\\log q`."""
    hilbert = model.hilbert
    n, d = hilbert.size, hilbert.local_size
    local = jnp.asarray(hilbert.local_states)

    def site(i, carry):
        x, log_q, key = carry
        key, sub = jax.random.split(key)
        p = model.apply(variables, x, method=model.conditionals)[:, i]
        log_qi = jnp.log((1 - mixing) * p + mixing / d)
        idx = jax.random.categorical(sub, log_qi)
        log_q = log_q + jnp.take_along_axis(log_qi, idx[:, None], axis=1)[:, 0]
        return x.at[:, i].set(local[idx]), log_q, key

    x0 = jnp.full((n_samples, n), local[0], dtype=local.dtype)
    x, log_q, _ = jax.lax.fori_loop(0, n, site, (x0, jnp.zeros(n_samples), key))
    return x, log_q


def distinct(x, log_q):
    """The distinct rows of ``x`` with their multiplicities, padded (multiplicity 0) to the next
    power of two: small or peaked distributions repeat samples, and every later cost scales
    with the number of rows; the padding keeps the compiled shapes to a few."""
    x, log_q = np.asarray(x), np.asarray(log_q)
    unique, first, counts = np.unique(x, axis=0, return_index=True, return_counts=True)
    size = min(len(x), 1 << int(np.ceil(np.log2(len(unique)))))
    pad = size - len(unique)
    return (np.concatenate([unique, np.repeat(unique[:1], pad, axis=0)]),
            np.concatenate([log_q[first], np.repeat(log_q[first[:1]], pad)]),
            np.concatenate([counts, np.zeros(pad, counts.dtype)]))


@partial(jax.jit, static_argnames=("model",))
def solve(model, model_state, params, x, log_q, counts, x_conn, mels, rcond, rcond_smooth,
          snr_atol, diag_shift):
    """The regularised TDVP velocity (a parameter tree) and the residual of its solve, from
    distinct samples ``x`` drawn ``counts`` times each."""
    flat, unravel = ravel_pytree(params)
    n_samples, n_conn = mels.shape

    def log_psi(f, states):
        return model.apply({"params": unravel(f), **model_state}, states)

    lp = log_psi(flat, x)
    lp_conn = log_psi(flat, x_conn.reshape(n_samples * n_conn, -1)).reshape(n_samples, n_conn)
    e_loc = jnp.sum(mels * jnp.exp(lp_conn - lp[:, None]), axis=1)
    # Self-normalised |psi|^2 / q of one draw (w1) and of all draws of a row (w).
    log_ratio = jnp.where(counts > 0, 2 * lp.real - log_q, -jnp.inf)
    w1 = jax.nn.softmax(log_ratio + jnp.log(counts)) / jnp.maximum(counts, 1)
    w = counts * w1

    def parts(f, state):
        value = log_psi(f, state[None])[0]
        return jnp.stack([value.real, value.imag])

    jac = jax.vmap(jax.jacrev(parts), in_axes=(None, 0))(flat, x)
    o = jac[:, 0] + 1j * jac[:, 1]  # d log psi / d theta, (n_samples, n_params)
    d_o, d_e = o - w @ o, e_loc - w @ e_loc
    weighted = jnp.sqrt(w)[:, None] * d_o
    s = (weighted.conj().T @ weighted).real + diag_shift * jnp.eye(flat.size)
    ev, v = jnp.linalg.eigh(s)
    c = (d_o.conj() @ v) * d_e[:, None]  # per-sample components in the eigenbasis
    rho = w @ c
    sigma = jnp.sqrt(jnp.sum((counts * w1**2)[:, None] * jnp.abs(c - rho) ** 2, axis=0))
    snr = jnp.where(sigma == 0, jnp.inf, jnp.abs(rho) / jnp.maximum(sigma, 1e-300))
    relative = jnp.abs(ev / ev[-1])
    ev_inv = jnp.where(relative > rcond, 1.0 / ev, 0.0)
    keep = 1.0 / (1.0 + (rcond_smooth / relative) ** 6) / (1.0 + (snr_atol / snr) ** 6)
    velocity = v @ (ev_inv * keep * rho.imag)
    force = (d_o.conj().T @ (w * d_e)).imag
    residual = jnp.linalg.norm(s @ velocity - force) / jnp.linalg.norm(force)
    return unravel(velocity), residual


class MixtureTDVP(nkx.driver.TDVPSchmitt):
    """``TDVPSchmitt`` with importance samples from the mixture :math:`q` (module docstring).

    The samples of each stage come from a key folded from ``seed``, the stage's time and the
    stage index, so a resumed run draws exactly what an uninterrupted one does.
    """

    mixing: float = struct.field(pytree_node=False, serialize=False)
    seed: int = struct.field(pytree_node=False, serialize=False)

    def __init__(self, *args, mixing: float, seed: int, **kwargs):
        self.mixing = float(mixing)
        self.seed = int(seed)
        super().__init__(*args, error_norm="euclidean", **kwargs)


@odefun.dispatch
def _odefun_mixture(state: MCState, driver: MixtureTDVP, t, params, *, stage=0):
    state.parameters = params
    time_bits = int(np.float64(t).view(np.uint64) % np.uint64(2**31))
    key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(driver.seed), time_bits),
                             stage)
    variables = {"params": params, **state.model_state}
    x, log_q, counts = distinct(*draw(state.model, variables, key, state.n_samples,
                                      driver.mixing))
    x_conn, mels = driver.generator(t).get_conn_padded(x)
    velocity, residual = solve(
        state.model, state.model_state, params, x, log_q, counts, x_conn, mels,
        driver.rcond, driver.rcond_smooth, driver.snr_atol, driver.diag_shift,
    )
    driver._rmd = residual
    driver._dw = velocity
    return velocity
