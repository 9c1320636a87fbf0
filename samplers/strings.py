r"""Exact sampler of string-state mixtures (:class:`nqs.string_states.StringMixture`).

For :math:`P(a) = n_s^{-1}\sum_s P_\mathrm{AR}(\pi_s(a))` (``physics/povm.md`` §8):

1. draw the string :math:`s` uniformly;
2. draw :math:`x\sim P_\mathrm{AR}` autoregressively (one cached pass of the shared model);
3. return :math:`a = \pi_s^{-1}(x)`, i.e. :math:`a_{\pi_s(k)} = x_k`;
4. recompute :math:`\log P(a)` with the full mixture (all strings).

Then :math:`\Pr(a) = \sum_s n_s^{-1}P_\mathrm{AR}(\pi_s(a))` exactly: samples are independent and
exactly distributed, so the :math:`\mathbb E_P[\cdot/P]` estimators of the POVM solvers stay
unbiased. ``machine_pow`` is 1: the model's output is :math:`\log P`.
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
from netket.sampler import Sampler
from netket.utils import struct

from nqs.constraints import check_model_matches_hilbert
from nqs.errors import NQSError, SampleCountError, positive_int
from nqs.string_states import StringMixture
from samplers.direct import ARDirectSamplerState


class StringSampler(Sampler):
    """Exact sampler of a :class:`~nqs.string_states.StringMixture` (NetKet ``Sampler``).

    Args:
        hilbert: the Hilbert space of the mixture's model (e.g. ``Fock(n_max=3, N)``).
        chunk_size: if given, at most this many configurations are sampled at once per device;
            it must divide the number of samples per device.
        dtype: dtype of the sampled configurations (default: that of the local states).

    Example:
        >>> import netket as nk, nqs.povm_model as pm
        >>> from nqs.string_states import StringMixture, chain_orderings
        >>> from samplers.strings import StringSampler
        >>> inner = pm.probability_transformer(4, n_layers=1, d_model=8, n_heads=2)
        >>> mixture = StringMixture(inner, chain_orderings(4))
        >>> vs = nk.vqs.MCState(StringSampler(inner.hilbert), mixture, n_samples=16)
        >>> vs.samples.shape[-1]
        4
    """

    chunk_size: int | None = struct.field(pytree_node=False, default=None)

    def __init__(self, hilbert, *, chunk_size: int | None = None, dtype=None):
        if not isinstance(hilbert, HomogeneousHilbert):
            raise NQSError(
                f"Autoregressive sampling needs a homogeneous Hilbert space, got {hilbert}."
            )
        super().__init__(hilbert, machine_pow=1, dtype=dtype)
        self.chunk_size = None if chunk_size is None else positive_int("chunk_size", chunk_size)

    @property
    def is_exact(self) -> bool:
        return True

    def _init_state(self, model, variables, key):
        if not isinstance(model, StringMixture):
            raise NQSError(
                f"StringSampler samples string mixtures, got {type(model).__name__}; wrap the "
                "model as StringMixture(model, orderings), or use samplers.ARDirectSampler."
            )
        check_model_matches_hilbert(model.model, self.hilbert)
        return ARDirectSamplerState(key=key)

    def _reset(self, model, variables, state):
        return state

    def reset(self, machine, parameters, state=None):
        # Exact sampling keeps no configurations between calls: nothing to reset.
        return self.init_state(machine, parameters) if state is None else state

    def _n_chunks(self, n_total: int) -> int:
        if self.chunk_size is None:
            return 1
        per_device = n_total // self.n_chains
        if per_device <= self.chunk_size:
            return 1
        if per_device % self.chunk_size:
            raise SampleCountError(
                f"chunk_size={self.chunk_size} does not divide the {per_device} samples per "
                "device; choose a chunk_size that divides it (e.g. a power of two) or None."
            )
        return per_device // self.chunk_size

    @partial(jax.jit, static_argnames=("model", "chain_length", "return_log_probabilities"))
    def _sample_chain(self, model, variables, state, chain_length, return_log_probabilities=False):
        if "cache" in variables:
            variables, _ = flax.core.pop(variables, "cache")
        n_total = self.n_batches * chain_length
        n_chunks = self._n_chunks(n_total)
        new_key, key = jax.random.split(state.key)
        keys = jax.random.split(key, n_chunks)
        sample = partial(self._sample_batch, model, variables, n_total // n_chunks)
        if n_chunks == 1:
            x, log_p = sample(keys[0])
        else:
            x, log_p = jax.lax.map(sample, keys)
            # Keep the device-sharded axis leading, as in ARDirectSampler.
            x = jnp.swapaxes(x, 0, 1).reshape(n_total, self.hilbert.size)
            log_p = jnp.swapaxes(log_p, 0, 1).reshape(n_total)
        x = x.reshape((self.n_batches, chain_length, self.hilbert.size))
        new_state = state.replace(key=new_key)
        if return_log_probabilities:
            return (x, log_p.reshape((self.n_batches, chain_length))), new_state
        return x, new_state

    def _sample_batch(self, model, variables, n: int, key):
        """Draw ``n`` strings, sample the shared model, un-permute; return ``(a, log P(a))``."""
        key_init, key_scan, key_string = jax.random.split(key, 3)
        x = jnp.zeros((n, self.hilbert.size), dtype=self.dtype)
        if config.netket_sharding:
            x = jax.lax.with_sharding_constraint(
                x, NamedSharding(jax.sharding.get_abstract_mesh(), P("S"))
            )
        cache = model.init(key_init, x, 0, method=model.ar_conditional).get("cache")
        local_states = jnp.asarray(self.hilbert.local_states, dtype=self.dtype)

        def step(carry, index):
            x, cache, key = carry
            key, key_choice = jax.random.split(key)
            vars_i = {**variables, "cache": cache} if cache else variables
            p, mutables = model.apply(
                vars_i, x, index, method=model.ar_conditional, mutable=["cache"]
            )
            x = x.at[:, index].set(nkjax.batch_choice(key_choice, local_states, p))
            return (x, mutables.get("cache"), key), None

        order = model.apply(variables, jnp.arange(self.hilbert.size), method=model.ar_reorder)
        (x, _, _), _ = jax.lax.scan(step, (x, cache, key_scan), order)

        # a[pi_s[k]] = x[k]  <=>  a = x[:, inverse(pi_s)]
        inverse = jnp.argsort(jnp.asarray(model.orderings), axis=1)
        s = jax.random.randint(key_string, (n,), 0, model.n_strings)
        a = jnp.take_along_axis(x, inverse[s], axis=1)
        return a, model.apply(variables, a)

    def __repr__(self):
        return (
            f"{type(self).__name__}(hilbert={self.hilbert}, chunk_size={self.chunk_size}, "
            f"dtype={self.dtype})"
        )
