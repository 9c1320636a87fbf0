r"""Exact autoregressive sampling, constraint-aware and chunked.

Ancestral sampling :math:`x_1 \sim p_1,\ x_2 \sim p_2(\cdot|x_1), \dots` draws independent,
exactly distributed configurations: no Markov chain, no burn-in, no autocorrelation. The model's
``conditional(x, i)`` is called for ``i = 0 .. N-1`` inside one ``lax.scan``; models with a
key/value cache (:class:`nqs.ARTransformer`) make the whole pass :math:`O(N)`.

Differences from ``netket.sampler.ARDirectSampler``:

* constrained Hilbert spaces are accepted when the model masks exactly the same sector
  (checked when the sampler state is created, before any sampling);
* ``chunk_size`` bounds memory by sampling at most that many configurations per device at once;
* the log-probabilities :math:`\log|\psi(x)|^2` of the drawn samples can be returned.
"""

from __future__ import annotations

from functools import partial

import flax
import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from netket import config
from netket import jax as nkjax
from netket.hilbert import HomogeneousHilbert
from netket.sampler import Sampler, SamplerState
from netket.utils import struct
from netket.utils.types import PRNGKeyT

from nqs.constraints import check_model_matches_hilbert
from nqs.errors import NQSError, SampleCountError, positive_int


class ARDirectSamplerState(SamplerState):
    """State of :class:`ARDirectSampler`: only the PRNG key."""

    key: PRNGKeyT

    def __init__(self, key):
        self.key = key
        super().__init__()


class ARDirectSampler(Sampler):
    """Exact autoregressive sampler for (constrained) autoregressive models.

    Args:
        hilbert: the Hilbert space to sample, possibly with a constraint (``system.hilbert``).
        chunk_size: if given, at most this many configurations are sampled at once on each
            device, bounding the memory of activations and key/value caches. It must divide
            the number of samples per device.
        dtype: dtype of the sampled configurations (default: that of the local states).

    Example:
        >>> import netket as nk, nqs, samplers
        >>> hi = nk.hilbert.Spin(0.5, 6, total_sz=0)
        >>> model = nqs.ARTransformer(hilbert=hi, n_layers=1, d_model=8, n_heads=2)
        >>> vs = nk.vqs.MCState(samplers.ARDirectSampler(hi), model, n_samples=32, seed=0)
        >>> bool((vs.samples.sum(axis=-1) == 0).all())
        True
    """

    chunk_size: int | None = struct.field(pytree_node=False, default=None)

    def __init__(self, hilbert, *, chunk_size: int | None = None, dtype=None):
        if not isinstance(hilbert, HomogeneousHilbert):
            raise NQSError(
                f"Autoregressive sampling needs a homogeneous Hilbert space, got {hilbert}."
            )
        super().__init__(hilbert, machine_pow=2, dtype=dtype)
        self.chunk_size = None if chunk_size is None else positive_int("chunk_size", chunk_size)

    @property
    def is_exact(self) -> bool:
        return True

    def _init_state(self, model, variables, key):
        # Fails before any work if the model would draw configurations outside the sector.
        check_model_matches_hilbert(model, self.hilbert)
        return ARDirectSamplerState(key=key)

    def _reset(self, model, variables, state):
        return state

    def reset(self, machine, parameters, state=None):
        # Exact sampling keeps no configurations between calls, so there is nothing to reset.
        # (NetKet's base method would warn that a non-existent `state.σ` is not sharded.)
        return self.init_state(machine, parameters) if state is None else state

    def _chunking(self, n_total: int) -> int:
        """Number of chunks the ``n_total`` samples are drawn in."""
        if self.chunk_size is None:
            return 1
        n_devices = self.n_chains  # one dummy chain per device
        per_device = n_total // n_devices
        if per_device <= self.chunk_size:
            return 1
        if per_device % self.chunk_size:
            raise SampleCountError(
                f"chunk_size={self.chunk_size} does not divide the {per_device} samples per "
                f"device; choose a chunk_size that divides it (e.g. a power of two) or None."
            )
        return per_device // self.chunk_size

    @partial(jax.jit, static_argnames=("model", "chain_length", "return_log_probabilities"))
    def _sample_chain(self, model, variables, state, chain_length, return_log_probabilities=False):
        if "cache" in variables:
            variables, _ = flax.core.pop(variables, "cache")
        n_total = self.n_batches * chain_length
        n_chunks = self._chunking(n_total)
        new_key, key = jax.random.split(state.key)
        keys = jax.random.split(key, n_chunks)

        sample = partial(self._sample_batch, model, variables, n_total // n_chunks)
        if n_chunks == 1:
            σ, log_prob = sample(keys[0])
        else:
            σ, log_prob = jax.lax.map(sample, keys)
            # (chunks, per_chunk, N) -> (per_chunk * chunks, N): the device-sharded axis stays
            # the leading one, so no data moves between devices.
            σ = jnp.swapaxes(σ, 0, 1).reshape(n_total, self.hilbert.size)
            log_prob = jnp.swapaxes(log_prob, 0, 1).reshape(n_total)

        σ = σ.reshape((self.n_batches, chain_length, self.hilbert.size))
        new_state = state.replace(key=new_key)
        if return_log_probabilities:
            return (σ, log_prob.reshape((self.n_batches, chain_length))), new_state
        return σ, new_state

    def _sample_batch(self, model, variables, n: int, key):
        """Draw ``n`` configurations and their log-probabilities."""
        key_init, key_scan = jax.random.split(key)
        σ = jnp.zeros((n, self.hilbert.size), dtype=self.dtype)
        if config.netket_sharding:
            σ = jax.lax.with_sharding_constraint(
                σ, NamedSharding(jax.sharding.get_abstract_mesh(), P("S"))
            )
        cache = model.init(key_init, σ, 0, method=model.conditional).get("cache")
        local_states = jnp.asarray(self.hilbert.local_states, dtype=self.dtype)

        def step(carry, index):
            σ, cache, key, log_prob = carry
            key, key_choice = jax.random.split(key)
            vars_i = {**variables, "cache": cache} if cache else variables
            p, mutables = model.apply(
                vars_i, σ, index, method=model.conditional, mutable=["cache"]
            )
            value, p_value = nkjax.batch_choice(key_choice, local_states, p, return_prob=True)
            σ = σ.at[:, index].set(value)
            return (σ, mutables.get("cache"), key, log_prob + jnp.log(p_value)), None

        order = model.apply(variables, jnp.arange(self.hilbert.size), method=model.reorder)
        log_prob = jnp.zeros((n,), dtype=jnp.result_type(float))
        (σ, _, _, log_prob), _ = jax.lax.scan(step, (σ, cache, key_scan, log_prob), order)
        return σ, log_prob

    def __repr__(self):
        return (
            f"{type(self).__name__}(hilbert={self.hilbert}, chunk_size={self.chunk_size}, "
            f"dtype={self.dtype})"
        )
