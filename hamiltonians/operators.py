"""Small JAX operators NetKet does not provide."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node_class
from netket.operator import DiscreteJaxOperator
from netket.utils import HashablePartial


@register_pytree_node_class
class DiagonalOperator(DiscreteJaxOperator):
    r"""An operator diagonal in the computational basis, :math:`O|x\rangle = f(x)|x\rangle`.

    Args:
        hilbert: the Hilbert space.
        fn: a hashable function (e.g. :class:`netket.utils.HashablePartial`) mapping a batch of
            configurations ``(..., N)`` to real values ``(...)``.
        name: a short label used in reprs.
    """

    def __init__(self, hilbert, fn, name: str = "diagonal"):
        super().__init__(hilbert)
        self._fn = fn
        self._name = name

    @property
    def dtype(self):
        return jnp.float64

    @property
    def is_hermitian(self) -> bool:
        return True

    @property
    def max_conn_size(self) -> int:
        return 1

    def get_conn_padded(self, x):
        x = jnp.asarray(x)
        return x[..., None, :], self._fn(x)[..., None]

    def tree_flatten(self):
        return (), (self.hilbert, self._fn, self._name)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*aux)

    def __repr__(self):
        return f"DiagonalOperator({self._name}, hilbert={self.hilbert})"


def _real(x):
    # Samples may be stored as small integers; compute in floating point.
    return jnp.asarray(x, dtype=jnp.result_type(float))


def _weighted_sum_squared(x, weights, scale):
    return scale * jnp.square(_real(x) @ jnp.asarray(weights, dtype=_real(x).dtype))


def _weighted_sum(x, weights, scale):
    return scale * (_real(x) @ jnp.asarray(weights, dtype=_real(x).dtype))


def _pair_products(x, pairs, scale):
    p, x = np.asarray(pairs), _real(x)
    return scale * jnp.sum(x[..., p[:, 0]] * x[..., p[:, 1]], axis=-1)


def squared_sum(hilbert, weights, scale: float, name: str) -> DiagonalOperator:
    r""":math:`\text{scale}\,(\sum_i w_i x_i)^2` for local values :math:`x_i` (NetKet's units)."""
    fn = HashablePartial(_weighted_sum_squared, weights=tuple(weights), scale=float(scale))
    return DiagonalOperator(hilbert, fn, name)


def weighted_sum(hilbert, weights, scale: float, name: str) -> DiagonalOperator:
    r""":math:`\text{scale}\,\sum_i w_i x_i`."""
    fn = HashablePartial(_weighted_sum, weights=tuple(weights), scale=float(scale))
    return DiagonalOperator(hilbert, fn, name)


def pair_correlation(hilbert, pairs, scale: float, name: str) -> DiagonalOperator:
    r""":math:`\text{scale}\,\sum_{(i,j)} x_i x_j` over the given site pairs."""
    fn = HashablePartial(
        _pair_products, pairs=tuple(tuple(int(s) for s in p) for p in pairs), scale=float(scale)
    )
    return DiagonalOperator(hilbert, fn, name)
