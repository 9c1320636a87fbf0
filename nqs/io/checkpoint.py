"""Flatten a NetKet driver (variational state, sampler key, optimiser state, step) to arrays
and back, so a run resumes exactly where its checkpoint was taken."""

from __future__ import annotations

import flax.serialization
import jax
import numpy as np
from flax import traverse_util

from nqs.errors import CheckpointError

_EMPTY = "__empty__"


def _to_numpy(leaf):
    if leaf is traverse_util.empty_node:
        return _EMPTY
    if leaf is None or isinstance(leaf, int | float | bool | str):
        return leaf
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    return np.asarray(jax.device_get(leaf))


def state_to_flat(obj) -> dict:
    """``{"a/b/c": array | int | None | "__empty__"}`` for any flax-serialisable object."""
    state = flax.serialization.to_state_dict(obj)
    flat = traverse_util.flatten_dict(state, sep="/", keep_empty_nodes=True)
    return {k: _to_numpy(v) for k, v in flat.items()}


def flat_to_state(template, flat: dict):
    """Restore ``template`` (a freshly built object of the same structure) from ``flat``."""
    expected = traverse_util.flatten_dict(
        flax.serialization.to_state_dict(template), sep="/", keep_empty_nodes=True
    )
    missing = sorted(set(expected) - set(flat))
    extra = sorted(set(flat) - set(expected))
    if missing or extra:
        raise CheckpointError(
            "The checkpoint does not match this run's model/optimiser "
            f"(missing: {missing[:5]}, unexpected: {extra[:5]}); resume with the same "
            "configuration that wrote it."
        )
    restored = {}
    for key, ref in expected.items():
        value = flat[key]
        if ref is traverse_util.empty_node:
            restored[key] = ref
        elif ref is None or (isinstance(value, str) and value == _EMPTY):
            restored[key] = None
        elif isinstance(ref, bool | int | float):
            restored[key] = type(ref)(np.asarray(value).item())
        else:
            ref_arr = np.asarray(ref) if not _is_key(ref) else np.asarray(jax.random.key_data(ref))
            arr = np.asarray(value, dtype=ref_arr.dtype)
            if arr.shape != ref_arr.shape:
                raise CheckpointError(
                    f"Checkpoint entry {key} has shape {arr.shape}, the run expects "
                    f"{ref_arr.shape}; resume with the same model configuration."
                )
            restored[key] = jax.random.wrap_key_data(arr) if _is_key(ref) else arr
    state = traverse_util.unflatten_dict(restored, sep="/")
    return flax.serialization.from_state_dict(template, state)


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
