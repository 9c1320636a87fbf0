r"""Parameters that make an :class:`~nqs.ARTransformer` represent simple states *exactly*.

Two constructions (constraints.md §1.2 and §3.5):

* **Uniform state on the sector.** Zero logits and phase heads give uniform conditionals over
  the allowed values and zero phase. For linear-code masks (Z2 Gauss laws, X-cube) the number
  of completions does not depend on the prefix, so this is the uniform superposition of the
  sector: the toric-code (3D toric code, X-cube) ground state and, with Gauss targets
  :math:`t_v = 1` at two vertices, the e-pair state. For other masks (U(1), Dyck paths) it is
  *not* uniform on the sector.

* **Uniform modulus with a sign string**, :math:`\psi(x) \propto (-1)^{\sum_{i \in S} n_i}` with
  :math:`n_i` the local index of site :math:`i`: the toric-code m-pair state for :math:`S`
  the links crossed by a dual path (:math:`\prod_{l\in S}\sigma^x_l` on the ground state).
  The phase of site :math:`i` is the phase head read on the final hidden state :math:`h_i`,
  which must therefore carry "is :math:`i \in S`". The construction:

  1. zero the token embedding and the output projections of every block (attention
     ``out_kernel``/``out_bias``, ``ffn_out``), so that each pre-LayerNorm block is the
     identity and the residual stream is exactly the position embedding :math:`P_i`;
  2. :math:`P_i = (+1, -1, 0, \dots)` for :math:`i \in S` and :math:`(-1, +1, 0, \dots)`
     otherwise; the final LayerNorm (scale 1, bias 0) maps them to two vectors whose first
     coordinates :math:`s_\pm` are read back from the model itself (no assumption on the
     LayerNorm's epsilon);
  3. phase head: kernel column of local index 1 equal to :math:`k\,e_0` and bias :math:`b`,
     with :math:`k s_+ + b = \pi`, :math:`k s_- + b = 0`; everything else zero.

  Then :math:`\phi_i = \pi\,n_i\,1[i \in S]` exactly (up to rounding), with uniform conditionals.
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np
from flax.core import unfreeze

from nqs.errors import NQSError


def _zero(tree):
    return jax.tree.map(jnp.zeros_like, tree)


def _params_dict(params) -> tuple[dict, dict | None]:
    """The ``params`` collection as a mutable dict, and the variables it came from (``None``
    if ``params`` was the bare collection)."""
    params = unfreeze(params)
    if "params" in params and isinstance(params["params"], dict):
        return params["params"], params
    return params, None


def _rewrap(inner, variables):
    """Put the new ``params`` back next to the other collections (if any)."""
    return inner if variables is None else {**variables, "params": inner}


def _check_transformer(model, params):
    for key in ("logits_head", "position_embedding", "token_embedding", "final_norm"):
        if key not in params:
            raise NQSError(
                f"Exact-state parameters need an nqs.ARTransformer's parameters (missing "
                f"{key!r}); pass model.init(...) of an ARTransformer."
            )


def uniform_parameters(model, params):
    """Parameters of ``model`` for uniform conditionals over the allowed values and zero phase.

    Args:
        model: an :class:`~nqs.ARTransformer`.
        params: any parameters of ``model`` (e.g. from ``model.init``); only the logits and
            phase heads are changed.

    Returns:
        The new parameters, with the same structure as ``params``.
    """
    inner, variables = _params_dict(params)
    _check_transformer(model, inner)
    inner["logits_head"] = _zero(inner["logits_head"])
    if "phase_head" in inner:
        inner["phase_head"] = _zero(inner["phase_head"])
    return _rewrap(inner, variables)


def sign_string_parameters(model, params, sites: Iterable[int]):
    r"""Parameters for :math:`\psi(x) \propto (-1)^{\sum_{i\in S} n_i}` with uniform conditionals.

    Args:
        model: an :class:`~nqs.ARTransformer` with ``phase=True``, ``d_model >= 2`` and local
            dimension 2 (:math:`n_i` is the local index, 1 for NetKet's spin value -1).
        params: parameters of ``model`` (structure template; all values are overwritten where
            it matters).
        sites: the set :math:`S` (sites in AR order).

    Returns:
        The new parameters. See the module docstring for the construction.
    """
    if not getattr(model, "phase", False):
        raise NQSError("A sign string needs a phase: build the ARTransformer with phase=True.")
    if model.d_model < 2 or model.hilbert.local_size != 2:
        raise NQSError(
            f"The sign-string construction needs d_model >= 2 and local dimension 2, got "
            f"d_model={model.d_model}, local_size={model.hilbert.local_size}."
        )
    n = model.hilbert.size
    members = np.zeros(n, dtype=bool)
    sites = np.asarray(list(sites), dtype=np.int64)
    if sites.size and (sites.min() < 0 or sites.max() >= n):
        raise NQSError(f"Sign-string sites must lie in [0, {n}), got {sites.tolist()}.")
    members[sites] = True

    inner, variables = _params_dict(uniform_parameters(model, params))
    inner["token_embedding"] = _zero(inner["token_embedding"])
    for name, block in inner.items():
        if name.startswith("blocks_"):
            block["attn"]["out_kernel"] = jnp.zeros_like(block["attn"]["out_kernel"])
            block["attn"]["out_bias"] = jnp.zeros_like(block["attn"]["out_bias"])
            block["ffn_out"] = _zero(block["ffn_out"])
    pattern = np.zeros((n, model.d_model))
    pattern[:, 0] = np.where(members, 1.0, -1.0)
    pattern[:, 1] = -pattern[:, 0]
    position = inner["position_embedding"]
    inner["position_embedding"] = jnp.asarray(pattern, dtype=position.dtype)
    norm = inner["final_norm"]
    inner["final_norm"] = {
        "scale": jnp.ones_like(norm["scale"]),
        "bias": jnp.zeros_like(norm["bias"]),
    }

    # Read the two normalised vectors back from the model's own LayerNorm.
    two = jnp.asarray(np.stack([[1.0, -1.0], [-1.0, 1.0]]) @ np.eye(2, model.d_model))
    final_norm = model.apply({"params": inner}, two, method=lambda m, h: m.final_norm(h))
    s_plus, s_minus = final_norm[:, 0]
    k = jnp.pi / (s_plus - s_minus)
    kernel = jnp.zeros_like(inner["phase_head"]["kernel"]).at[0, 1].set(k)
    bias = jnp.zeros_like(inner["phase_head"]["bias"]).at[1].set(-k * s_minus)
    inner["phase_head"] = {"kernel": kernel, "bias": bias}
    return _rewrap(inner, variables)
