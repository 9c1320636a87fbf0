r"""Losses and local estimators of the POVM solvers, with unbiased gradients.

Notation (``physics/povm.md`` §4–§7): :math:`P_\theta(a)` the model's probability,
:math:`(\mathcal LP)(a) = \sum_{a'}\mathcal L_{aa'}P(a')` from the generator's
``get_conn_padded(a) -> (a', L[a, a'])`` (output index first), and points :math:`a_i` with the
weights of :class:`solvers.povm_ensemble.Ensemble`, so that
:math:`\sum_a f(a) \approx \sum_i f(a_i)\,e^{s_i}` with :math:`e^{s_i} = w_i/P_\theta(a_i)`
(:math:`1/(N_sP)` for samples, 1 for enumeration), :math:`P` **detached** in :math:`s_i`.

* **Trapezoid residual** (Luo, Chen, Carrasquilla & Clark, PRL 128, 090501 (2022)): with the frozen
  target :math:`R(a) = P_{\bar\theta}(a) + \tau(\mathcal LP_{\bar\theta})(a)`,

  .. math::

      r_\theta(a) = P_\theta(a) - \tau(\mathcal LP_\theta)(a) - R(a),\qquad
      C(\theta) = \sum_a|r_\theta(a)| \approx \sum_i |r_\theta(a_i)|\,e^{s_i}.

  Differentiating through :math:`P_\theta(a_i)` and all connected :math:`P_\theta(a')` with
  :math:`e^{s_i}` held fixed gives :math:`\nabla\hat C = \sum_i \mathrm{sign}(r_i)\nabla r_i\,
  e^{s_i}`, an unbiased estimator of :math:`\nabla C`, because
  :math:`\sum_a g(a) = \mathbb E_q[g/q]` for any fixed :math:`q` covering the support.
* **Steady-state cost** (povm.md §7): :math:`\lVert\mathcal LP_\theta\rVert_1 = \sum_a
  |(\mathcal LP_\theta)(a)| = \mathbb E_P[|L_\mathrm{loc}|]`, same gradient construction.
* **Local estimator**: :math:`L_\mathrm{loc}(a) = (\mathcal LP)(a)/P(a) = \sum_{a'}\mathcal
  L_{aa'}\,e^{\log P(a') - \log P(a)}`, with :math:`\mathbb E_P[L_\mathrm{loc}] = 0` exactly
  (trace preservation).

All ratios are formed in log space, so no probability is ever divided by directly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def log_probs_with_connections(ensemble, params, generator, x):
    r""":math:`\log P(a_i)`, :math:`\log P(a'_{ik})` and :math:`\mathcal L_{a_i a'_{ik}}`.

    Args:
        ensemble: the :class:`~solvers.povm_ensemble.Ensemble` (its model and evaluation mode).
        params: the model's ``params`` collection.
        generator: the POVM generator (``get_conn_padded`` semantics above).
        x: points, ``(B, N)``.

    Returns:
        ``(log_p (B,), log_p_conn (B, K), mels (B, K))``: one forward pass over
        :math:`B(K+1)` strings, or over all :math:`4^N` strings with ``ensemble.lookup``.
    """
    model = ensemble.model
    xp, mels = generator.get_conn_padded(x)
    b, k, n = xp.shape
    if ensemble.lookup:
        table = model.apply({"params": params}, jnp.asarray(ensemble.strings))
        return table[ensemble.string_index(x)], table[ensemble.string_index(xp)], mels
    both = jnp.concatenate([x, xp.reshape(b * k, n)], axis=0)
    log_p = model.apply({"params": params}, both)
    return log_p[:b], log_p[b:].reshape(b, k), mels


def _sum_stats(terms, ensemble):
    """Total :math:`\\sum_i t_i` and its Monte Carlo error (terms already carry :math:`e^{s}`)."""
    total = jnp.sum(terms)
    if ensemble.exact:
        return total, jnp.zeros_like(total)
    per_sample = ensemble.n_samples * terms  # the unbiased per-sample estimator |f|/P
    n = terms.shape[0]
    return total, jnp.std(per_sample, ddof=1) / jnp.sqrt(n)


def trapezoid_l1(ensemble, generator, params, frozen, x, tau):
    r"""Trapezoid loss :math:`\hat C(\theta) = \sum_i|r_\theta(a_i)|e^{s_i}` (module docstring).

    Args:
        ensemble: the :class:`~solvers.povm_ensemble.Ensemble` that drew ``x``.
        generator: POVM generator.
        params: parameters :math:`\theta` (differentiated).
        frozen: parameters :math:`\bar\theta` of the state at time :math:`t` (not differentiated).
        x: points ``(B, N)``.
        tau: half the physical step, :math:`\tau = \Delta t/2`.

    Returns:
        ``(loss, (error, residual_terms))``: the estimate, its Monte Carlo error (0 for
        enumeration) and the per-point terms :math:`|r_i|e^{s_i}`. ``jax.grad`` of ``loss`` is
        the unbiased gradient estimator.
    """
    log_p, log_p_conn, mels = log_probs_with_connections(ensemble, params, generator, x)
    frozen = jax.lax.stop_gradient(frozen)
    log_q, log_q_conn, _ = log_probs_with_connections(ensemble, frozen, generator, x)
    s = ensemble.log_scale(log_p)[:, None]
    new = jnp.exp(log_p + s[:, 0]) - tau * jnp.sum(mels * jnp.exp(log_p_conn + s), axis=-1)
    old = jnp.exp(log_q + s[:, 0]) + tau * jnp.sum(mels * jnp.exp(log_q_conn + s), axis=-1)
    terms = jnp.abs(new - old)
    loss, error = _sum_stats(terms, ensemble)
    return loss, (error, terms)


def lindblad_l1(ensemble, generator, params, x):
    r"""Steady-state cost :math:`\widehat{\lVert\mathcal LP\rVert_1} = \sum_i
    |(\mathcal LP_\theta)(a_i)|\,e^{s_i}` and its unbiased gradient (module docstring).

    Returns:
        ``(loss, (error, terms))`` as :func:`trapezoid_l1`.
    """
    log_p, log_p_conn, mels = log_probs_with_connections(ensemble, params, generator, x)
    s = ensemble.log_scale(log_p)[:, None]
    terms = jnp.abs(jnp.sum(mels * jnp.exp(log_p_conn + s), axis=-1))
    loss, error = _sum_stats(terms, ensemble)
    return loss, (error, terms)


def local_estimator(ensemble, params, generator, x):
    r""":math:`L_\mathrm{loc}(a_i) = \sum_k\mathcal L_{a_ia'_k}e^{\log P(a'_k)-\log P(a_i)}`
    and :math:`\log P(a_i)`, shapes ``(B,)``."""
    log_p, log_p_conn, mels = log_probs_with_connections(ensemble, params, generator, x)
    return jnp.sum(mels * jnp.exp(log_p_conn - log_p[:, None]), axis=-1), log_p
