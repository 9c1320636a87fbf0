r"""Autoregressive transformer wave function with exact symmetry masks and a key/value cache.

.. math::

    \psi(x) = \prod_{i=1}^{N} \sqrt{p_i(x_i \mid x_{<i})}\; e^{\,i \sum_i \phi_i(x_i \mid x_{<i})},
    \qquad
    p_i(\cdot \mid x_{<i}) = \mathrm{softmax}\big(z_i + \log M_i(x_{<i})\big),

where :math:`z_i` are the logits of a causal decoder-only transformer fed with the shifted sequence
(start token, :math:`x_1, \dots, x_{N-1}`), :math:`M_i` is the mask of the symmetry constraint
(:mod:`nqs.constraints`) and :math:`\phi_i` a learned phase head. The masked softmax makes
:math:`\sum_x |\psi(x)|^2 = 1` exactly on the sector.

The model is a NetKet :class:`~netket.models.AbstractARNN`, so it drops into ``nk.vqs.MCState``,
``nk.driver.VMC_SR`` and NetKet's own samplers (on unconstrained spaces) unchanged.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from netket.models import AbstractARNN

from nqs.attention import DecoderBlock
from nqs.constraints import MASK_LOGIT, AbstractConstraint, constraint_of
from nqs.errors import ConstraintMismatchError, NQSError, check_choice, positive_int


class _ConstraintState(nn.Module):
    """Carries the constraint automaton's state in the ``"cache"`` collection while decoding."""

    constraint: AbstractConstraint

    @nn.compact
    def __call__(self, idx: jax.Array, index) -> jax.Array:
        batch = idx.shape[0]
        init = self.constraint.init(batch)
        var = self.variable("cache", "automaton", lambda: init)
        previous = jnp.maximum(index - 1, 0)
        advanced = self.constraint.update(var.value, previous, idx[:, previous])
        state = jax.tree.map(lambda a, b: jnp.where(index == 0, a, b), init, advanced)
        if not self.is_initializing():
            var.value = state
        return self.constraint.allowed(state, index)


class ARTransformer(AbstractARNN):
    """Causal transformer wave function with exact symmetry masks.

    Args:
        hilbert: NetKet homogeneous Hilbert space, with its sector constraint (e.g.
            ``system.hilbert``).
        constraint: the automaton to mask with. ``None`` (default) derives it from
            ``hilbert.constraint``; an explicit one must generate the same sector.
        n_layers: number of decoder blocks.
        d_model: width of the residual stream.
        n_heads: attention heads (must divide ``d_model``).
        d_ff: hidden width of the feed-forward network (default ``4 * d_model``).
        attention: ``"standard"`` (queries and keys) or ``"factored"`` (position-only weights).
        phase: learn a phase (complex amplitudes). With ``False`` the amplitudes are positive,
            which is exact for stoquastic Hamiltonians (e.g. with the Marshall sign rule).
        param_dtype: real dtype of the parameters (float64 for validation, float32 for speed).
        use_cache: decode with the key/value cache (``O(N)`` sampling). ``False`` recomputes
            the full sequence at every site, as NetKet's default ``conditional`` does.
        machine_pow: exponent relating amplitudes to the sampled distribution (2 for wave
            functions, 1 for probability models).

    Example:
        >>> import netket as nk, nqs
        >>> hi = nk.hilbert.Spin(0.5, 8, total_sz=0)
        >>> model = nqs.ARTransformer(hilbert=hi, n_layers=1, d_model=8, n_heads=2)
        >>> vs = nk.vqs.MCState(nqs_sampler := __import__("samplers").ARDirectSampler(hi),
        ...                     model, n_samples=16, seed=0)
        >>> bool((vs.samples.sum(axis=-1) == 0).all())
        True
    """

    constraint: AbstractConstraint | None = None
    n_layers: int = 2
    d_model: int = 32
    n_heads: int = 4
    d_ff: int | None = None
    attention: str = "standard"
    phase: bool = True
    param_dtype: Any = jnp.float64
    use_cache: bool = True
    machine_pow: int = 2

    def __post_init__(self):
        super().__post_init__()
        positive_int("n_layers", self.n_layers)
        positive_int("d_model", self.d_model)
        positive_int("n_heads", self.n_heads)
        if self.d_ff is not None:
            positive_int("d_ff", self.d_ff)
        if self.d_model % self.n_heads:
            raise NQSError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                "choose n_heads among the divisors of d_model."
            )
        check_choice("attention", self.attention, ("standard", "factored"))
        if not jnp.issubdtype(self.param_dtype, jnp.floating):
            raise NQSError(
                f"param_dtype must be a real floating dtype, got {self.param_dtype}; the phase "
                "is learned by a separate real head (phase=True)."
            )
        if self.constraint is not None:
            expected = self.hilbert.constraint
            if self.constraint.hilbert_constraint() != expected or (
                self.constraint.n_sites != self.hilbert.size
            ):
                raise ConstraintMismatchError(
                    f"The model masks with {self.constraint!r} but the Hilbert space has "
                    f"{'no constraint' if expected is None else repr(expected)}; build the "
                    "Hilbert space with constraint=constraint.hilbert_constraint() "
                    "(systems do this: use hilbert=system.hilbert), or drop constraint=."
                )

    @property
    def resolved_constraint(self) -> AbstractConstraint:
        """The automaton the model masks with."""
        return self.constraint if self.constraint is not None else constraint_of(self.hilbert)

    def setup(self):
        n = self.hilbert.size
        embed_init = nn.initializers.normal(stddev=1.0)
        self.token_embedding = nn.Embed(
            self.hilbert.local_size + 1, self.d_model, param_dtype=self.param_dtype
        )
        self.position_embedding = self.param(
            "position_embedding", embed_init, (n, self.d_model), self.param_dtype
        )
        self.blocks = [
            DecoderBlock(
                n,
                self.d_model,
                self.n_heads,
                self.d_ff or 4 * self.d_model,
                self.attention == "factored",
                self.param_dtype,
            )
            for _ in range(self.n_layers)
        ]
        self.final_norm = nn.LayerNorm(param_dtype=self.param_dtype)
        self.logits_head = nn.Dense(self.hilbert.local_size, param_dtype=self.param_dtype)
        if self.phase:
            self.phase_head = nn.Dense(self.hilbert.local_size, param_dtype=self.param_dtype)
        self.automaton = _ConstraintState(self.resolved_constraint)

    @property
    def _start_token(self) -> int:
        return self.hilbert.local_size

    def _log_psi(self, h: jax.Array, mask: jax.Array) -> jax.Array:
        """Conditional log-amplitudes from final hidden states and masks."""
        logits = jnp.where(mask, self.logits_head(h), MASK_LOGIT)
        log_psi = jax.nn.log_softmax(logits, axis=-1) / self.machine_pow
        if self.phase:
            log_psi = log_psi + 1j * self.phase_head(h)
        return log_psi

    def conditionals_log_psi(self, inputs: jax.Array) -> jax.Array:
        """Log conditional amplitudes ``(batch, N, local_size)`` from full configurations."""
        idx = self.hilbert.states_to_local_indices(inputs)
        start = jnp.full((idx.shape[0], 1), self._start_token, dtype=idx.dtype)
        tokens = jnp.concatenate([start, idx[:, :-1]], axis=1)
        h = self.token_embedding(tokens) + self.position_embedding
        for block in self.blocks:
            h = block(h)
        return self._log_psi(self.final_norm(h), self.resolved_constraint.masks(idx))

    def conditional(self, inputs: jax.Array, index) -> jax.Array:
        """Conditional probabilities ``(batch, local_size)`` of site ``index``.

        Must be called with ``index = 0, 1, ..., N-1`` in turn (as the samplers do): each call
        reads the previous site from ``inputs`` and extends the key/value cache by one position.
        """
        if not self.use_cache:
            return super().conditional(inputs, index)
        if inputs.ndim == 1:
            inputs = inputs[None]
        idx = self.hilbert.states_to_local_indices(inputs)
        previous = jnp.take(idx, jnp.maximum(index - 1, 0), axis=1)
        token = jnp.where(index == 0, self._start_token, previous)
        h = self.token_embedding(token) + jnp.take(self.position_embedding, index, axis=0)
        for block in self.blocks:
            h = block(h, decode_index=index)
        mask = self.automaton(idx, index)
        log_psi = self._log_psi(self.final_norm(h), mask)
        return jnp.exp(self.machine_pow * log_psi.real)
