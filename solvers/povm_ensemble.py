r"""Where the open-system solvers get their strings from: exact samples, or full enumeration.

Every quantity the POVM solvers need is a sum over outcome strings, written as an expectation
over a set of points :math:`a_i` with weights :math:`w_i` (``physics/povm.md`` §4–§7):

.. math::

    \sum_a f(a) \;\approx\; \sum_i w_i\,\frac{f(a_i)}{P_\theta(a_i)},\qquad
    \mathbb E_{P_\theta}[g] \;\approx\; \sum_i w_i\, g(a_i),

* **sampled** (``n_samples`` an integer): :math:`a_i \sim P_\theta` drawn exactly by the
  autoregressive sampler, :math:`w_i = 1/N_s`; both estimators are unbiased, and the error of the
  mean is :math:`\sqrt{\mathrm{Var}_i/N_s}`;
* **exact** (``n_samples="exact"``): all :math:`4^N` strings, :math:`w_i = P_\theta(a_i)`; the
  sums are exact (tests and calibration at :math:`N \le 6`, no Monte Carlo error).

**Lookup evaluation** (``lookup``). The solvers evaluate :math:`\log P` on every point and on
its :math:`K` connected strings, :math:`B(K+1)` network passes per evaluation. When :math:`4^N`
is much smaller (tiny systems: :math:`4^4 = 256` strings against :math:`\sim 5\times10^4`
connections for 1000 samples), the network is evaluated once on all :math:`4^N` strings and the
values are gathered. The numbers (and gradients) are the same up to rounding; only the cost
changes. ``lookup="auto"`` does this when it saves at least a factor of 4.

:class:`Ensemble` is static configuration (hashable, closed over by the jitted steps); the PRNG
key is passed explicitly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import samplers
from nqs.errors import NQSError
from nqs.string_states import StringMixture
from samplers.direct import ARDirectSamplerState
from samplers.strings import StringSampler
from solvers._checks import sample_count

#: Largest system whose strings are enumerated for ``n_samples="exact"`` (4^N strings).
MAX_EXACT_SITES = 6
EXACT = "exact"


def check_sample_count(name: str, value) -> int | str:
    """``value`` as a positive integer divisible by the device count, or ``"exact"``."""
    if isinstance(value, str):
        if value != EXACT:
            raise NQSError(f"{name} must be a positive integer or 'exact', got {value!r}.")
        return value
    return sample_count(name, value)


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """Points and weights of the estimators (module docstring).

    Hashable and compared by value, so the solvers' compiled functions take it as a static
    argument: two runs with equal ensembles share their compiled code.

    Attributes:
        model: the probability model (output log P).
        hilbert: its Hilbert space (``Fock(3, N)``).
        n_samples: samples per draw, or ``"exact"`` for full enumeration.
        chunk_size: samples drawn at once per device (the sampler's memory bound).
        lookup: evaluate the model once on all strings and gather (module docstring).
    """

    model: Any
    hilbert: Any
    n_samples: int | str
    chunk_size: int | None = None
    lookup: bool = False

    @classmethod
    def build(
        cls,
        model,
        hilbert,
        n_samples,
        *,
        chunk_size: int | None = None,
        lookup: bool | str = "auto",
        n_connections: int = 1,
    ) -> Ensemble:
        """The ensemble of ``n_samples`` (or ``"exact"``); ``n_connections`` is the generator's
        ``max_conn_size``, used by ``lookup="auto"``."""
        if lookup not in (True, False, "auto"):
            raise NQSError(f"lookup must be True, False or 'auto', got {lookup!r}.")
        n_strings = 4**hilbert.size
        if n_samples == EXACT:
            if hilbert.size > MAX_EXACT_SITES:
                raise NQSError(
                    f"n_samples='exact' enumerates 4^N strings; N = {hilbert.size} exceeds the "
                    f"limit N <= {MAX_EXACT_SITES}. Use an integer number of samples."
                )
            per_call = n_strings * (n_connections + 1)
        else:
            make_sampler(model, hilbert, chunk_size)  # fails early for non-autoregressive models
            per_call = n_samples * (n_connections + 1)
        if lookup == "auto":
            lookup = hilbert.size <= MAX_EXACT_SITES and 4 * n_strings <= per_call
        elif lookup and hilbert.size > MAX_EXACT_SITES:
            raise NQSError(
                f"lookup=True evaluates all 4^N strings; N = {hilbert.size} exceeds the limit "
                f"N <= {MAX_EXACT_SITES}. Use lookup=False or 'auto'."
            )
        return cls(model, hilbert, n_samples, chunk_size, bool(lookup))

    @property
    def sampler(self):
        """The exact sampler (``None`` for enumeration)."""
        return None if self.exact else make_sampler(self.model, self.hilbert, self.chunk_size)

    @property
    def strings(self) -> np.ndarray:
        """All :math:`4^N` strings, ``(4^N, N)``, site 0 most significant (the order of
        ``hilbert.all_states()``, built with numpy so it is a constant inside ``jit``)."""
        n = self.hilbert.size
        digits = np.indices((4,) * n).reshape(n, -1).T
        return np.asarray(self.hilbert.local_states)[digits]

    @property
    def exact(self) -> bool:
        return self.n_samples == EXACT

    def with_samples(self, n_samples) -> Ensemble:
        """The same ensemble with another number of samples (enumeration stays exact)."""
        return self if self.exact else dataclasses.replace(self, n_samples=n_samples)

    def string_index(self, x: jax.Array) -> jax.Array:
        """Row of each string in :attr:`strings` (site 0 most significant)."""
        local = jnp.asarray(self.hilbert.local_states, dtype=x.dtype)
        digits = jnp.searchsorted(local, x).astype(jnp.int32)
        n = x.shape[-1]
        return digits @ (4 ** jnp.arange(n - 1, -1, -1, dtype=jnp.int32))

    def draw(self, variables, key) -> jax.Array:
        """The points :math:`a_i`, shape ``(n_points, N)`` (jittable)."""
        if self.exact:
            return jnp.asarray(self.strings)
        sampler = self.sampler
        state = ARDirectSamplerState(key=key)  # exact samplers keep only a key
        chain_length = self.n_samples // sampler.n_batches
        x, _ = sampler.sample(self.model, variables, state=state, chain_length=chain_length)
        return x.reshape(-1, x.shape[-1])

    def log_scale(self, log_p: jax.Array) -> jax.Array:
        r""":math:`\log(w_i/P(a_i))` with :math:`P` detached: multiplies a summand to give
        :math:`\sum_a f(a)`; zero for enumeration (the weights are then :math:`P` itself)."""
        if self.exact:
            return jnp.zeros_like(log_p)
        return -jnp.log(self.n_samples) - jax.lax.stop_gradient(log_p)

    def weights(self, log_p: jax.Array) -> jax.Array:
        """:math:`w_i` of the expectations :math:`\\mathbb E_P[g] = \\sum_i w_i g(a_i)`."""
        if self.exact:
            return jnp.exp(jax.lax.stop_gradient(log_p))
        return jnp.full_like(log_p, 1.0 / self.n_samples)


def make_sampler(model, hilbert, chunk_size: int | None = None):
    """The exact sampler of ``model``: string mixtures get :class:`StringSampler`, other
    autoregressive models :class:`samplers.ARDirectSampler` (which draws from the model's
    conditionals, so it is exact for probability models too)."""
    if isinstance(model, StringMixture):
        return StringSampler(hilbert, chunk_size=chunk_size)
    if not hasattr(model, "conditional"):
        raise NQSError(
            f"{type(model).__name__} has no autoregressive conditionals, so it cannot be sampled "
            "exactly; use nqs.povm_model.probability_transformer (or a StringMixture of it), or "
            "n_samples='exact' for tiny systems."
        )
    return samplers.ARDirectSampler(hilbert, chunk_size=chunk_size)


def weighted_stats(values: jax.Array, weights: jax.Array, exact: bool):
    r"""Mean, error of the mean and variance of per-point values (last axis: points).

    Sampled: the sample mean, :math:`\sqrt{\mathrm{Var}/N_s}` and the sample variance.
    Exact: the exact mean and variance, error zero.
    """
    mean = jnp.sum(weights * values, axis=-1)
    variance = jnp.sum(weights * (values - mean[..., None]) ** 2, axis=-1)
    if exact:
        return mean, jnp.zeros_like(mean), variance
    n = values.shape[-1]
    variance = variance * n / max(n - 1, 1)
    return mean, jnp.sqrt(variance / n), variance
