r"""String states: a uniform mixture of one autoregressive model over several site orderings.

.. math::

    P(a) = \frac1{n_s}\sum_{s=1}^{n_s} P_\mathrm{AR}\big(\pi_s(a)\big),\qquad
    \log P(a) = \operatorname{logsumexp}_s \log P_\mathrm{AR}\big(\pi_s(a)\big) - \log n_s,

with :math:`\pi_s(a)_k = a_{\pi_s(k)}`: string :math:`s` visits site :math:`\pi_s(k)` at step
:math:`k`. Probabilities are averaged, not :math:`|\psi|^2`, so the mixture is a normalised
distribution sampled exactly by :class:`samplers.strings.StringSampler` (Luo, Chen, Carrasquilla &
Clark, PRL 128, 090501 (2022); ``physics/povm.md`` §8).

**Symmetry.** If the orderings are an orbit :math:`\{g\circ\pi_0 : g\in G\}` of a group
:math:`G` of site permutations, then :math:`P(g\cdot a) = P(a)` exactly for every
:math:`g\in G`, because :math:`g^{-1}` only permutes the terms of the sum. Helpers:

* :func:`chain_orderings`: the dihedral group of the ring (cyclic translations, reflections);
* :func:`square_snake_orderings`: the snake (boustrophedon) path mapped by the 8 elements of
  :math:`D_4` (:func:`square_point_group`), optionally also by all translations of the torus.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nqs.errors import NQSError, positive_int


def _unique(perms) -> tuple[tuple[int, ...], ...]:
    return tuple(dict.fromkeys(tuple(int(i) for i in p) for p in perms))


def chain_orderings(n: int, *, reflection: bool = True) -> tuple[tuple[int, ...], ...]:
    """Orderings of a periodic chain: the :math:`n` cyclic translations
    :math:`\\pi_t(k) = k + t \\bmod n` and, with ``reflection``, the :math:`n` reflections
    :math:`\\pi(k) = t - k \\bmod n`. They form the group itself (:math:`\\pi_0` = identity)."""
    n = positive_int("n", n)
    perms = [[(k + t) % n for k in range(n)] for t in range(n)]
    perms += [[(t - k) % n for k in range(n)] for t in range(n)] if reflection else []
    return _unique(perms)


def square_point_group(L: int) -> tuple[tuple[int, ...], ...]:
    """The 8 :math:`D_4` symmetries of the :math:`L\\times L` lattice (row-major sites
    :math:`i = rL + c`) as site permutations ``g[i]`` = image of site ``i``."""
    L = positive_int("L", L)
    r, c = np.divmod(np.arange(L * L), L)
    m = L - 1
    images = [
        (r, c),
        (c, m - r),
        (m - r, m - c),
        (m - c, r),  # rotations by 0, 90, 180, 270
        (r, m - c),
        (m - r, c),
        (c, r),
        (m - c, m - r),
    ]  # the four mirrors
    return _unique(rr * L + cc for rr, cc in images)


def _snake(L: int) -> list[int]:
    return [r * L + (c if r % 2 == 0 else L - 1 - c) for r in range(L) for c in range(L)]


def square_snake_orderings(L: int, *, translations: bool = False) -> tuple[tuple[int, ...], ...]:
    """The snake path (row 0 left to right, row 1 right to left, ...) mapped by the 8
    :math:`D_4` symmetries and, with ``translations``, also by the :math:`L^2` translations of the
    torus (the mixture is then invariant under the full lattice symmetry group)."""
    L = positive_int("L", L)
    group = [np.array(g) for g in square_point_group(L)]
    if translations:
        r, c = np.divmod(np.arange(L * L), L)
        shifts = [((r + dr) % L) * L + (c + dc) % L for dr in range(L) for dc in range(L)]
        group = [t[g] for t in shifts for g in group]
    snake = np.array(_snake(L))
    return _unique(g[snake] for g in group)


class StringMixture(nn.Module):
    """Uniform mixture of one autoregressive probability model over site orderings.

    Attributes:
        model: the shared autoregressive probability model (``machine_pow=1``, no phase; e.g.
            :func:`nqs.povm_model.probability_transformer`). Its parameters live under
            ``params["model"]``.
        orderings: the strings, each a permutation of ``range(N)`` (``orderings[s][k]`` is the
            site visited at step ``k``).

    The output is :math:`\\log P(a)` of the mixture (real). Sample it exactly with
    :class:`samplers.strings.StringSampler`, e.g. inside ``nk.vqs.MCState``.

    Example:
        >>> import jax, nqs.povm_model as pm
        >>> from nqs.string_states import StringMixture, chain_orderings
        >>> inner = pm.probability_transformer(3, n_layers=1, d_model=8, n_heads=2)
        >>> mixture = StringMixture(inner, chain_orderings(3))
        >>> x = inner.hilbert.all_states()
        >>> params = mixture.init(jax.random.PRNGKey(0), x)
        >>> round(float(jax.numpy.exp(mixture.apply(params, x)).sum()), 10)
        1.0
    """

    model: nn.Module
    orderings: tuple[tuple[int, ...], ...]

    def __post_init__(self):
        hilbert = getattr(self.model, "hilbert", None)
        if hilbert is None or not hasattr(self.model, "conditional"):
            raise NQSError(
                f"StringMixture needs an autoregressive model with a hilbert space and "
                f"conditionals (e.g. nqs.povm_model.probability_transformer), got {self.model!r}."
            )
        if getattr(self.model, "machine_pow", None) != 1 or getattr(self.model, "phase", False):
            raise NQSError(
                "StringMixture averages probabilities, so the model must output log P: build it "
                "with machine_pow=1 and phase=False (nqs.povm_model.probability_transformer)."
            )
        orderings = _unique(np.atleast_2d(np.asarray(self.orderings, dtype=int)))
        n = hilbert.size
        for perm in orderings:
            if sorted(perm) != list(range(n)):
                raise NQSError(
                    f"Ordering {perm} is not a permutation of the {n} sites 0..{n - 1}; every "
                    "string must visit each site exactly once."
                )
        object.__setattr__(self, "orderings", orderings)
        super().__post_init__()

    @property
    def hilbert(self):
        return self.model.hilbert

    @property
    def n_strings(self) -> int:
        return len(self.orderings)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        batch_shape, n = x.shape[:-1], x.shape[-1]
        x = x.reshape(-1, n)
        perms = jnp.asarray(self.orderings)
        permuted = x[:, perms]  # (B, S, N): string s visits site perms[s, k] at step k
        log_p = self.model(permuted.reshape(-1, n)).real.reshape(x.shape[0], self.n_strings)
        out = jax.nn.logsumexp(log_p, axis=-1) - jnp.log(self.n_strings)
        return out.reshape(batch_shape)

    def ar_conditional(self, inputs: jax.Array, index) -> jax.Array:
        """The shared model's conditional (for the sampler; in the model's own order)."""
        return self.model.conditional(inputs, index)

    def ar_reorder(self, inputs: jax.Array) -> jax.Array:
        """The shared model's ``reorder`` (for the sampler)."""
        return self.model.reorder(inputs)
