r"""Autoregressive *probability* models for POVM distributions, and exact product states.

An N-qubit density matrix is represented by the distribution :math:`P(a)` of informationally
complete measurement outcomes :math:`a\in\{0,1,2,3\}^N` (``physics/povm.md``; Carrasquilla et
al., PRA 99, 012113 (2019); Luo, Chen, Carrasquilla & Clark, PRL 128, 090501 (2022)). The model is
an :class:`~nqs.ARTransformer` on ``Fock(n_max=3, N)`` with ``machine_pow=1`` and no phase, so
its output *is* :math:`\log P(a) = \sum_i \log p_i(a_i\mid a_{<i})`, normalised exactly.

A product state :math:`\rho = \rho_1^{\otimes N}` has :math:`P(a) = \prod_i p_1(a_i)` with
:math:`p_1(a) = \mathrm{tr}(\rho_1 M^a)`. The transformer represents it *exactly* when the
output layer's kernel is zero and its bias is :math:`\log p_1` (``povm.md`` §9): every conditional
is then :math:`\mathrm{softmax}(\log p_1) = p_1`, whatever the rest of the network computes.
"""

from __future__ import annotations

import flax
import jax.numpy as jnp
import netket as nk
import numpy as np

from nqs.constraints import Unconstrained
from nqs.errors import NQSError, positive_int
from nqs.transformer import ARTransformer

_FIXED = ("hilbert", "machine_pow", "phase", "constraint")
_ATOL = 1e-10


def probability_transformer(n_sites: int, **transformer_options) -> ARTransformer:
    """An :class:`~nqs.ARTransformer` modelling a POVM distribution on ``n_sites`` qubits.

    Args:
        n_sites: number of qubits :math:`N`.
        **transformer_options: any other :class:`~nqs.ARTransformer` option (``n_layers``,
            ``d_model``, ``n_heads``, ``attention``, ``param_dtype``, ``use_cache``, ...).

    Returns:
        ``ARTransformer(hilbert=nk.hilbert.Fock(n_max=3, N=n_sites), machine_pow=1,
        phase=False, ...)``, whose output is :math:`\\log P(a)`.

    Example:
        >>> import jax, nqs.povm_model as pm
        >>> model = pm.probability_transformer(3, n_layers=1, d_model=8, n_heads=2)
        >>> x = model.hilbert.all_states()
        >>> params = model.init(jax.random.PRNGKey(0), x)
        >>> round(float(jax.numpy.exp(model.apply(params, x)).sum()), 10)
        1.0
    """
    n_sites = positive_int("n_sites", n_sites)
    fixed = sorted(set(transformer_options) & set(_FIXED))
    if fixed:
        raise NQSError(
            f"probability_transformer sets {', '.join(fixed)} itself (Fock(3, N) outcomes, "
            "machine_pow=1, phase=False, no constraint); drop those options, or build "
            "nqs.ARTransformer directly."
        )
    return ARTransformer(
        hilbert=nk.hilbert.Fock(n_max=3, N=n_sites),
        machine_pow=1,
        phase=False,
        **transformer_options,
    )


def product_state_probabilities(povm, single_site_rho) -> np.ndarray:
    r"""Single-site outcome distribution :math:`p_1(a) = \mathrm{tr}(\rho_1 M^a)`, shape ``(4,)``.

    Args:
        povm: a frame from :func:`hamiltonians.povm.povm` (anything with an ``M`` attribute of
            shape ``(4, 2, 2)``), or the array ``M`` itself.
        single_site_rho: the 2×2 density matrix :math:`\rho_1` (basis :math:`|{\uparrow}\rangle,
            |{\downarrow}\rangle`), e.g. ``[[1, 0], [0, 0]]`` for spin up.

    Example:
        >>> from hamiltonians.povm import povm
        >>> product_state_probabilities(povm("pauli4"), [[0, 0], [0, 1]]).round(12).tolist()
        [0.0, 0.166666666667, 0.166666666667, 0.666666666667]
    """
    frame = np.asarray(getattr(povm, "M", povm), dtype=complex)
    if frame.ndim != 3 or frame.shape[1:] != (2, 2):
        raise NQSError(f"The POVM frame must have shape (n_outcomes, 2, 2), got {frame.shape}.")
    rho = np.asarray(single_site_rho, dtype=complex)
    if rho.shape != (2, 2):
        raise NQSError(f"A single-site density matrix is 2x2, got shape {rho.shape}.")
    if not np.allclose(rho, rho.conj().T, atol=_ATOL) or abs(np.trace(rho) - 1) > _ATOL:
        raise NQSError("The single-site density matrix must be Hermitian with unit trace.")
    if np.linalg.eigvalsh(rho).min() < -_ATOL:
        raise NQSError("The single-site density matrix has a negative eigenvalue (not a state).")
    p1 = np.einsum("rc,acr->a", rho, frame).real
    p1[np.abs(p1) < 1e-15] = 0.0  # exact zeros stay zeros (e.g. <down|M^0|down> = 0)
    return p1


def product_state_parameters(model, params, p1):
    r"""Parameters making ``model`` exactly the product distribution :math:`\prod_i p_1(a_i)`.

    Zeroes the output layer's kernel and sets its bias to :math:`\log p_1`, so every conditional
    equals :math:`p_1` exactly (and, with ``phase=True``, zeroes the phase head). All other
    parameters are kept, so training starts from the product state with a generic network.

    Args:
        model: an unconstrained :class:`~nqs.ARTransformer` (e.g. from
            :func:`probability_transformer`).
        params: its variables (``{"params": ...}`` from ``model.init``) or the parameter tree
            itself (``MCState.parameters``); the same structure is returned.
        p1: single-site distribution, shape ``(local_size,)``, e.g. from
            :func:`product_state_probabilities`.

    Raises:
        NQSError: if a needed probability is zero (``log 0`` would put :math:`-\infty` in the
            bias and NaN in the losses; ``povm.md`` §9), if ``p1`` is not a distribution, or if
            the model is not an unconstrained ARTransformer.
    """
    if not isinstance(model, ARTransformer):
        raise NQSError(
            f"product_state_parameters needs an nqs.ARTransformer, got {type(model).__name__}."
        )
    if not isinstance(model.resolved_constraint, Unconstrained):
        raise NQSError(
            "A constrained model renormalises its conditionals over the allowed values, so it "
            "cannot represent an unconstrained product state; use an unconstrained model."
        )
    p1 = np.asarray(p1, dtype=float)
    n_local = model.hilbert.local_size
    if p1.shape != (n_local,) or not np.all(np.isfinite(p1)):
        raise NQSError(f"p1 must be {n_local} finite probabilities, got {p1!r}.")
    if np.any(p1 < -_ATOL) or abs(p1.sum() - 1) > _ATOL:
        raise NQSError(f"p1 must be non-negative and sum to 1, got {p1.tolist()} (sum {p1.sum()}).")
    zero = np.flatnonzero(p1 <= 0)
    if zero.size:
        raise NQSError(
            f"The product state has zero probability for outcome(s) {zero.tolist()} "
            f"(p1 = {np.round(p1, 12).tolist()}), so the output bias would be log 0 = -inf and "
            "the losses NaN. Start from a state with no zero outcome probability (e.g. all up, "
            "or polarised along +y), use the other POVM, or mix in the maximally mixed state: "
            "rho1 = (1 - eps) rho1 + eps * I / 2 with a small eps."
        )
    p1 = p1 / p1.sum()

    frozen = isinstance(params, flax.core.FrozenDict)
    out = flax.core.unfreeze(params)
    tree = out["params"] if "params" in out and "logits_head" not in out else out
    if "logits_head" not in tree:
        raise NQSError(
            "The parameters have no 'logits_head' output layer; pass the variables of the "
            "ARTransformer (model.init(...) or MCState.parameters)."
        )
    head = tree["logits_head"]
    head["kernel"] = jnp.zeros_like(head["kernel"])
    head["bias"] = jnp.asarray(np.log(p1), dtype=head["bias"].dtype)
    if "phase_head" in tree:
        tree["phase_head"] = {k: jnp.zeros_like(v) for k, v in tree["phase_head"].items()}
    return flax.core.freeze(out) if frozen else out
