r"""SU(2)_k fusion rules, quantum dimensions and the pair projector on fusion paths.

Labels are stored as twice their spin, :math:`\ell = 2x` (integers). For SU(2)_k the fusion rule
of a label :math:`x` with an anyon of spin :math:`j` is (constraints.md §6.1)

.. math:: x \otimes j = \bigoplus_{z = |x-j|}^{\min(x+j,\ k-x-j)} z \quad\text{(integer steps)},

with quantum dimensions :math:`d_x = \sin\frac{(2x+1)\pi}{k+2} / \sin\frac{\pi}{k+2}`; ``k=None``
is ordinary SU(2) (:math:`k\to\infty`, :math:`d_x = 2x+1`, no upper truncation). The projector of
two neighbouring anyons onto the trivial channel acts on :math:`(x_{i-1}, x_i, x_{i+1})` and
changes only the middle label (Temperley–Lieb form, constraints.md §6.2):

.. math::

    \langle x_{i-1}, x_i', x_{i+1} | P^{(0)}_i | x_{i-1}, x_i, x_{i+1} \rangle
    = \delta_{x_{i-1}, x_{i+1}}\, \frac{\sqrt{d_{x_i} d_{x_i'}}}{d_{x_{i-1}}\, d_j}.

:class:`FusionChainOperator` is the jittable NetKet operator
:math:`H = J\,(\text{offset} - \sum_{b} P^{(0)}_b)`, for label-encoded chains (one token per
label) and step-encoded chains (token :math:`\pm1` = change of :math:`2x`, labels are prefix sums).

References: Feiguin et al., PRL 98, 160409 (2007); constraints.md §6–§7; models.md §9–§10.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node_class
from netket.operator import DiscreteJaxOperator

from nqs.errors import NQSError


def quantum_dimensions(labels2x, k: int | None) -> np.ndarray:
    """Quantum dimensions :math:`d_x` of the labels ``2x`` (SU(2)_k, or SU(2) if ``k`` is None)."""
    two_x = np.asarray(labels2x, dtype=float)
    if k is None:
        return two_x + 1
    return np.sin((two_x + 1) * np.pi / (k + 2)) / np.sin(np.pi / (k + 2))


def fuses(a2: int, b2: int, j2: int, k: int | None) -> bool:
    """Whether label ``b`` appears in ``a ⊗ j`` (all arguments are twice the spins)."""
    if (a2 + j2 + b2) % 2 or b2 < abs(a2 - j2):
        return False
    top = a2 + j2 if k is None else min(a2 + j2, 2 * k - a2 - j2)
    return b2 <= top


def fusion_graph(labels2x, j2: int, k: int | None) -> np.ndarray:
    """Boolean adjacency ``A[a, b] = [labels[b] ∈ labels[a] ⊗ j]`` of the fusion graph."""
    return np.array([[fuses(a, b, j2, k) for b in labels2x] for a in labels2x], dtype=bool)


def pair_projector_tables(labels2x, j2: int, k: int | None):
    """Tables of :math:`P^{(0)}` over label-index triples ``(left, middle, right)``.

    Returns:
        ``(diagonal, alternative, off_diagonal)`` of shape ``(n, n, n)``: the diagonal element,
        the index of the other middle label it connects to (``-1`` if none), and that element.
        Triples that are not fusion paths get zeros (they never occur in the sector).

    Raises:
        NQSError: if some bond connects to more than one other middle label (spin-½ anyons and
            the golden chain have at most one).
    """
    labels2x = [int(v) for v in labels2x]
    n = len(labels2x)
    d = quantum_dimensions(labels2x, k)
    dj = quantum_dimensions([j2], k)[0]
    adj = fusion_graph(labels2x, j2, k)
    diagonal = np.zeros((n, n, n))
    alternative = -np.ones((n, n, n), dtype=np.int32)
    off = np.zeros((n, n, n))
    for a in range(n):
        for b in range(n):
            if not adj[a, b] or not adj[b, a]:
                continue
            diagonal[a, b, a] = d[b] / (d[a] * dj)
            others = [c for c in range(n) if c != b and adj[a, c] and adj[c, a]]
            if len(others) > 1:
                raise NQSError(
                    f"The pair projector of spin-{j2}/2 anyons connects the middle label "
                    f"{labels2x[b]}/2 to {len(others)} others; FusionChainOperator supports one "
                    "alternative per bond (spin-1/2 anyons, or the golden chain)."
                )
            if others:
                alternative[a, b, a] = others[0]
                off[a, b, a] = np.sqrt(d[b] * d[others[0]]) / (d[a] * dj)
    return diagonal, alternative, off


def _as_tuple(table: np.ndarray):
    return tuple(np.asarray(table).ravel().tolist()), tuple(np.shape(table))


@register_pytree_node_class
class FusionChainOperator(DiscreteJaxOperator):
    r""":math:`H = J\,(\text{offset} - \sum_b P^{(0)}_b)` on fusion paths (jittable).

    Args:
        hilbert: the constrained NetKet space of the chain.
        tables: ``(diagonal, alternative, off_diagonal)`` from :func:`pair_projector_tables`,
            indexed by label indices.
        bonds: ``(left, middle, right)`` label positions of each projector.
        encoding: ``"labels"``: site ``i`` holds label position ``i`` as a local index (label
            index = position in ``hilbert.local_states``); ``"steps"``: site ``i`` holds
            :math:`\pm 1 = 2x_{i+1} - 2x_i`, and label position ``p`` is :math:`2x_p` with
            :math:`x_0 = 0` (labels ``0, 1, ...`` in units of ½).
        J: coupling (a pytree leaf: changing it does not recompile).
        offset: constant added inside the bracket, e.g. :math:`(N-1)/4` for
            :math:`\sum S\cdot S = (N-1)/4 - \sum P^{(0)}`.

    ``get_conn_padded`` returns the diagonal element first, then one entry per bond (the
    configuration with the other middle label, or the unchanged configuration with a zero
    element), so ``max_conn_size = 1 + n_bonds``.
    """

    def __init__(self, hilbert, tables, bonds, encoding: str, J=1.0, offset: float = 0.0):
        super().__init__(hilbert)
        if encoding not in ("labels", "steps"):
            raise NQSError(f"encoding must be 'labels' or 'steps', got {encoding!r}.")
        # Hashable (flat values, shape) pairs: the tables are static pytree metadata.
        self._tables = tuple(map(_as_tuple, tables))
        self._bonds = tuple(tuple(int(p) for p in b) for b in bonds)
        self._encoding = encoding
        self._J = J
        self._offset = float(offset)

    @property
    def dtype(self):
        return jnp.float64

    @property
    def is_hermitian(self) -> bool:
        return True

    @property
    def max_conn_size(self) -> int:
        return 1 + len(self._bonds)

    def _table(self, which: int):
        flat, shape = self._tables[which]
        return jnp.asarray(flat).reshape(shape)

    def _decode(self, x):
        if self._encoding == "labels":
            return self.hilbert.states_to_local_indices(x).astype(jnp.int32)
        steps = jnp.round(x).astype(jnp.int32)
        zero = jnp.zeros((*x.shape[:-1], 1), jnp.int32)
        return jnp.concatenate([zero, jnp.cumsum(steps, axis=-1, dtype=jnp.int32)], axis=-1)

    def _encode(self, labels, dtype):
        if self._encoding == "labels":
            return jnp.asarray(self.hilbert.local_states, dtype)[labels]
        return jnp.diff(labels, axis=-1).astype(dtype)

    def get_conn_padded(self, x):
        return _get_conn_padded(self, jnp.asarray(x))

    def _get_conn_padded(self, x):
        labels = self._decode(x)  # (..., n_positions)
        bonds = np.asarray(self._bonds)
        left, mid, right = (labels[..., bonds[:, c]] for c in range(3))  # (..., n_bonds)
        diagonal = self._table(0)[left, mid, right]
        alternative = self._table(1)[left, mid, right]
        off = jnp.where(alternative >= 0, self._table(2)[left, mid, right], 0.0)
        new_mid = jnp.where(alternative >= 0, alternative, mid)
        at_mid = jnp.arange(labels.shape[-1]) == bonds[:, 1:2]  # (n_bonds, n_positions)
        new_labels = jnp.where(at_mid, new_mid[..., None], labels[..., None, :])
        xp = jnp.concatenate([x[..., None, :], self._encode(new_labels, x.dtype)], axis=-2)
        mels = jnp.concatenate(
            [(self._J * (self._offset - diagonal.sum(axis=-1)))[..., None], -self._J * off],
            axis=-1,
        )
        return xp, mels

    def tree_flatten(self):  # J is a leaf: changing it does not recompile
        return (self._J,), (self.hilbert, self._tables, self._bonds, self._encoding, self._offset)

    @classmethod
    def tree_unflatten(cls, aux, children):
        hilbert, tables, bonds, encoding, offset = aux
        operator = cls(hilbert, (), bonds, encoding, J=children[0], offset=offset)
        operator._tables = tables  # already hashable; skip the conversion
        return operator

    def __repr__(self):
        return (
            f"FusionChainOperator(J={self._J}, offset={self._offset}, n_bonds={len(self._bonds)}, "
            f"encoding={self._encoding!r}, hilbert={self.hilbert})"
        )


@jax.jit
def _get_conn_padded(operator, x):
    # One compilation per input shape also for eager callers (to_sparse, closure checks).
    return operator._get_conn_padded(x)
