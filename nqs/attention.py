r"""Causal self-attention with a key/value cache, in two flavours.

* ``standard``: scaled dot-product attention (Vaswani et al. 2017),
  :math:`A_i = \sum_{j \le i} \mathrm{softmax}_j(q_i\cdot k_j/\sqrt{d_h})\, v_j`.
* ``factored``: position-only weights with no queries or keys (Rende & Viteritti,
  "Are queries and keys always relevant?", Mach. Learn.: Sci. Technol. 6, 010501 (2025)),
  :math:`A_i = \sum_{j \le i} \mathrm{softmax}_j(\alpha^{h}_{ij})\, v_j`, with the learned logits
  :math:`\alpha^h_{ij}` initialised to zero (a uniform average over the past). The softmax keeps
  the causal weights normalised, which keeps the residual stream well scaled at any length.

Called with ``decode_index=i`` and a single token per configuration, the layer appends the token's
key and value to the flax ``"cache"`` collection and attends over positions ``<= i`` only, so an
autoregressive pass over :math:`N` sites costs :math:`O(N)` cached steps.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def _masked_softmax(scores, visible):
    # Finite fill value: a fully masked row never occurs (position 0 always sees itself).
    return jax.nn.softmax(jnp.where(visible, scores, -1e30), axis=-1)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention over ``n_sites`` positions.

    Heads are kept in the ``(batch, head, position, head_dim)`` layout throughout: on CPU the
    batched contractions are several times faster than with heads after positions.
    """

    n_sites: int
    d_model: int
    n_heads: int
    factored: bool = False
    param_dtype: Any = jnp.float64

    @nn.compact
    def __call__(self, h: jax.Array, decode_index: jax.Array | None = None) -> jax.Array:
        """Args:
            h: ``(batch, n_sites, d_model)``, or ``(batch, d_model)`` when decoding.
            decode_index: position of the single token in ``h`` (cached incremental mode).
        """
        head_dim = self.d_model // self.n_heads
        n_proj = 1 if self.factored else 3  # values only, or queries, keys and values
        kernel = self.param(
            "qkv_kernel",
            nn.initializers.lecun_normal(in_axis=0, out_axis=(1, 2, 3)),
            (self.d_model, n_proj, self.n_heads, head_dim),
            self.param_dtype,
        )
        bias = self.param(
            "qkv_bias", nn.initializers.zeros, (n_proj, self.n_heads, head_dim), self.param_dtype
        )
        if decode_index is None:
            proj = jnp.einsum("bnd,dphk->pbhnk", h, kernel) + bias[:, None, :, None, :]
        else:
            proj = jnp.einsum("bd,dphk->pbhk", h, kernel) + bias[:, None]
        value = proj[-1]
        if self.factored:
            alpha = self.param(
                "position_logits",
                nn.initializers.zeros,
                (self.n_heads, self.n_sites, self.n_sites),
                self.param_dtype,
            )
        else:
            query, key = proj[0], proj[1]
        scale = 1.0 / jnp.sqrt(head_dim).astype(value.dtype)

        if decode_index is None:
            visible = jnp.tril(jnp.ones((self.n_sites, self.n_sites), dtype=bool))
            if self.factored:
                scores = alpha[None]
            else:
                scores = jnp.einsum("bhqk,bhnk->bhqn", query, key) * scale
            out = jnp.einsum("bhqn,bhnk->bhqk", _masked_softmax(scores, visible), value)
            contract = "bhqk,hkd->bqd"
        else:
            i = decode_index
            values = self._cached("cached_value", value, i)
            visible = jnp.arange(self.n_sites) <= i
            if self.factored:
                scores = jax.lax.dynamic_index_in_dim(alpha, i, axis=1, keepdims=False)[None]
            else:
                keys = self._cached("cached_key", key, i)
                scores = jnp.einsum("bhk,bhnk->bhn", query, keys) * scale
            out = jnp.einsum("bhn,bhnk->bhk", _masked_softmax(scores, visible), values)
            contract = "bhk,hkd->bd"

        out_kernel = self.param(
            "out_kernel",
            nn.initializers.lecun_normal(in_axis=(0, 1), out_axis=2),
            (self.n_heads, head_dim, self.d_model),
            self.param_dtype,
        )
        out_bias = self.param("out_bias", nn.initializers.zeros, (self.d_model,), self.param_dtype)
        return jnp.einsum(contract, out, out_kernel) + out_bias

    def _cached(self, name: str, new: jax.Array, i) -> jax.Array:
        """Write ``new`` (batch, heads, head_dim) at position ``i`` of the cache; return all."""
        batch, heads, head_dim = new.shape
        var = self.variable(
            "cache", name, jnp.zeros, (batch, heads, self.n_sites, head_dim), new.dtype
        )
        full = jax.lax.dynamic_update_index_in_dim(var.value, new, i, axis=2)
        if not self.is_initializing():
            var.value = full
        return full


class DecoderBlock(nn.Module):
    """Pre-LayerNorm transformer block: ``h + Attn(LN h)``, then ``h + FFN(LN h)`` (GELU)."""

    n_sites: int
    d_model: int
    n_heads: int
    d_ff: int
    factored: bool = False
    param_dtype: Any = jnp.float64

    @nn.compact
    def __call__(self, h, decode_index=None):
        norm = lambda name: nn.LayerNorm(param_dtype=self.param_dtype, name=name)  # noqa: E731
        h = h + CausalSelfAttention(
            self.n_sites, self.d_model, self.n_heads, self.factored, self.param_dtype, name="attn"
        )(norm("norm_attn")(h), decode_index)
        y = nn.Dense(self.d_ff, param_dtype=self.param_dtype, name="ffn_in")(norm("norm_ffn")(h))
        y = nn.Dense(self.d_model, param_dtype=self.param_dtype, name="ffn_out")(nn.gelu(y))
        return h + y
