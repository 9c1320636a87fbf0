r"""The POVM Lindblad generator as a jittable NetKet JAX operator.

A generator :math:`\mathcal L` acting on POVM distributions is a sum of :math:`k`-local blocks
(:math:`k \le 2`, :class:`GeneratorBlock`), each a :math:`4^k\times4^k` matrix stored
**output index first**:

.. math::

    \frac{dP}{dt}(a) = (\mathcal L P)(a) = \sum_{a'} \mathcal L_{a a'} P(a'),\qquad
    \mathcal L_{a a'} = \sum_{\text{blocks } B} B[a_{S_B}, a'_{S_B}]\;
        \prod_{i\notin S_B}\delta_{a_i a'_i},

where :math:`a_S` is the sub-string on the block's sites :math:`S = (s_0, s_1)`, read as the
integer :math:`4 a_{s_0} + a_{s_1}`. :class:`POVMGenerator` implements NetKet's
``get_conn_padded(a) -> (a', L[a, a'])`` with this meaning, so the local estimator is
:math:`L_\mathrm{loc}(a) = \sum_{a'}\mathcal L_{a a'} P(a')/P(a)` (Luo, Chen, Carrasquilla & Clark,
PRL 128, 090501 (2022); ``physics/povm.md`` §4), computed exactly like NetKet's
:math:`E_\mathrm{loc}` with :math:`\log\psi` replaced by :math:`\log P`.

Connections are **distinct**: every connected string :math:`a'` appears once, with the
contributions of all blocks summed. They are grouped by how :math:`a'` differs from :math:`a`:

* the diagonal :math:`a' = a` (one slot);
* one site :math:`i` changed to :math:`c \ne a_i` (summed over the single-site parts of every
  block containing :math:`i`; at most 3 slots per site);
* both sites of a bond changed (at most 9 slots per bond).

Structurally zero elements are dropped: within each group, only the values that are non-zero
for some configuration are kept, compacted per local row and padded with zero elements, so
``max_conn_size`` :math:`= 1 + N K_\mathrm{site} + N_\mathrm{bonds} K_\mathrm{bond}`. For the 4-site
dissipative Ising ring this is 37 (SIC) and 49 (Pauli-4), exactly the largest number of non-zero
elements in a row of the dense generator, against 64 for 16 connections per bond.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node_class
from netket.hilbert import HomogeneousHilbert
from netket.operator import DiscreteJaxOperator

from nqs.errors import NQSError


@dataclasses.dataclass(frozen=True, eq=False)
class GeneratorBlock:
    """A :math:`k`-local block of the POVM generator (:math:`k \\in \\{1, 2\\}`).

    Attributes:
        sites: the sites it acts on, ``(i,)`` or ``(i, j)``; site ``sites[0]`` is the most
            significant digit of the local index.
        matrix: real ``(4^k, 4^k)`` array, output (row) index first:
            ``(L P)(a) += sum_b matrix[a_S, b] * P(a with a_S -> b)``.
    """

    sites: tuple[int, ...]
    matrix: np.ndarray

    def __repr__(self):
        nnz = int(np.count_nonzero(self.matrix))
        return f"GeneratorBlock(sites={self.sites}, nnz={nnz}/{self.matrix.size})"


def _swap_pair(matrix: np.ndarray) -> np.ndarray:
    """The same 16×16 block with the two sites' roles exchanged."""
    return matrix.reshape(4, 4, 4, 4).transpose(1, 0, 3, 2).reshape(16, 16)


def _compile(n: int, blocks) -> dict[str, np.ndarray]:
    """Static lookup tables of the distinct, non-zero connections (numpy)."""
    singles = np.zeros((n, 4, 4))
    pairs: dict[frozenset, list] = {}
    for block in blocks:
        sites, matrix = tuple(int(s) for s in block.sites), np.asarray(block.matrix, dtype=float)
        if any(not 0 <= s < n for s in sites) or len(set(sites)) != len(sites):
            raise NQSError(f"Generator block on sites {sites} does not fit {n} distinct sites.")
        if len(sites) not in (1, 2) or matrix.shape != (4 ** len(sites),) * 2:
            raise NQSError(
                f"Generator blocks act on 1 or 2 sites with a 4^k x 4^k matrix; got sites "
                f"{sites} and shape {matrix.shape}."
            )
        if len(sites) == 1:
            singles[sites[0]] += matrix
            continue
        entry = pairs.setdefault(frozenset(sites), [sites, np.zeros((16, 16))])
        entry[1] += matrix if sites == entry[0] else _swap_pair(matrix)

    n_pairs = len(pairs)
    pair_sites = np.array([e[0] for e in pairs.values()] + [(0, 0)], dtype=np.int32)
    pair_matrix = np.stack([e[1] for e in pairs.values()] + [np.zeros((16, 16))])
    four = pair_matrix.reshape(-1, 4, 4, 4, 4)

    incidences = [[] for _ in range(n)]
    for p, (i, j) in enumerate(pair_sites[:n_pairs]):
        incidences[i].append((p, 0, j))
        incidences[j].append((p, 1, i))
    degree = max([1] + [len(inc) for inc in incidences])
    inc = np.array(
        [inc + [(n_pairs, 0, i)] * (degree - len(inc)) for i, inc in enumerate(incidences)],
        dtype=np.int32,
    ).reshape(n, degree, 3)

    # Single-site changes a_i -> c: non-zero for some value of the neighbours?
    nonzero = singles != 0
    for i in range(n):
        for p, pos, _ in incidences[i]:
            block = four[p] if pos == 0 else four[p].transpose(1, 0, 3, 2)
            # block[a_i, a_j, c_i, c_j]; single-site change keeps c_j = a_j
            nonzero[i] |= (np.einsum("ajcj->acj", block) != 0).any(axis=-1)
    site_cols = [
        [[c for c in range(4) if c != a and nonzero[i, a, c]] for a in range(4)] for i in range(n)
    ]
    k_site = max(len(cols) for per_site in site_cols for cols in per_site)
    site_col = np.array(
        [
            [cols + [a] * (k_site - len(cols)) for a, cols in enumerate(per_site)]
            for per_site in site_cols
        ],
        dtype=np.int32,
    ).reshape(n, 4, k_site)
    site_valid = site_col != np.arange(4)[None, :, None]

    # Both sites of a bond changed.
    bond_cols = []
    for p in range(n_pairs):
        rows = []
        for r in range(16):
            ai, aj = divmod(r, 4)
            rows.append(
                [
                    col
                    for col in range(16)
                    if col // 4 != ai and col % 4 != aj and pair_matrix[p, r, col] != 0
                ]
            )
        bond_cols.append(rows)
    k_bond = max([0] + [len(cols) for rows in bond_cols for cols in rows])
    bond_col = np.array(
        [[cols + [r] * (k_bond - len(cols)) for r, cols in enumerate(rows)] for rows in bond_cols],
        dtype=np.int32,
    ).reshape(n_pairs, 16, k_bond)
    bond_valid = bond_col != np.arange(16)[None, :, None]
    return dict(
        singles=singles,
        pair_matrix=pair_matrix,
        pair_sites=pair_sites,
        incidence=inc,
        site_col=site_col,
        site_valid=site_valid,
        bond_col=bond_col,
        bond_valid=bond_valid,
    )


_TABLES = (
    "singles",
    "pair_matrix",
    "pair_sites",
    "incidence",
    "site_col",
    "site_valid",
    "bond_col",
    "bond_valid",
)


@register_pytree_node_class
class POVMGenerator(DiscreteJaxOperator):
    r"""POVM Lindblad generator :math:`\mathcal L` as a NetKet ``DiscreteJaxOperator``.

    ``get_conn_padded(a)`` returns ``(a', L[a, a'])``, **output index first**:
    :math:`(\mathcal L P)(a) = \sum_{a'} \mathcal L_{a a'} P(a')`. Padded connections have
    ``a' = a`` and a zero element. The operator is a pytree (its tables are leaves), so it can be
    passed into ``jax.jit``; generators with the same sparsity pattern (e.g. the same model at
    another coupling) do not recompile.

    Build it with :func:`hamiltonians.lindblad.povm_generator` from a Hamiltonian and jump
    operators, or directly from blocks.

    Args:
        hilbert: a homogeneous, unconstrained Hilbert space with 4 local states (outcomes in
            ``local_states`` order), e.g. ``nk.hilbert.Fock(n_max=3, N=n)``.
        blocks: :class:`GeneratorBlock` objects; blocks on the same pair of sites are summed.

    Example:
        >>> import netket as nk, numpy as np
        >>> from hamiltonians.povm_operator import GeneratorBlock, POVMGenerator
        >>> op = POVMGenerator(nk.hilbert.Fock(3, 2), [GeneratorBlock((0,), np.zeros((4, 4)))])
        >>> op.max_conn_size
        1
    """

    def __init__(self, hilbert, blocks):
        _check_hilbert(hilbert)
        super().__init__(hilbert)
        tables = _compile(hilbert.size, list(blocks))
        self._tables = {k: jnp.asarray(v) for k, v in tables.items()}

    @property
    def dtype(self):
        return self._tables["pair_matrix"].dtype

    @property
    def is_hermitian(self) -> bool:
        return False

    @property
    def max_conn_size(self) -> int:
        t = self._tables
        n_pairs = t["bond_col"].shape[0]
        return 1 + self.hilbert.size * t["site_col"].shape[-1] + n_pairs * t["bond_col"].shape[-1]

    @property
    def blocks(self) -> tuple[GeneratorBlock, ...]:
        """The merged blocks (one per bond, plus single-site blocks); not for use inside jit."""
        t = {k: np.asarray(v) for k, v in self._tables.items()}
        n_pairs = t["bond_col"].shape[0]
        out = [
            GeneratorBlock(tuple(int(s) for s in t["pair_sites"][p]), t["pair_matrix"][p])
            for p in range(n_pairs)
        ]
        out += [GeneratorBlock((i,), m) for i, m in enumerate(t["singles"]) if np.any(m)]
        return tuple(out)

    def get_conn_padded(self, x):
        r"""Connected strings and elements: ``x (..., N) -> (x' (..., K, N), L (..., K))``."""
        x = jnp.asarray(x)
        local_states = jnp.asarray(self.hilbert.local_states, dtype=x.dtype)
        xp, mels = _connections(self._tables, local_states, x.reshape(-1, x.shape[-1]))
        return xp.reshape(*x.shape[:-1], *xp.shape[1:]), mels.reshape(*x.shape[:-1], -1)

    def tree_flatten(self):
        return tuple(self._tables[k] for k in _TABLES), (self.hilbert,)

    @classmethod
    def tree_unflatten(cls, aux, children):
        op = cls.__new__(cls)
        DiscreteJaxOperator.__init__(op, aux[0])
        op._tables = dict(zip(_TABLES, children, strict=True))
        return op

    def __repr__(self):
        n_pairs = self._tables["bond_col"].shape[0]
        return (
            f"POVMGenerator(hilbert={self.hilbert}, bonds={n_pairs}, "
            f"max_conn_size={self.max_conn_size})"
        )


@jax.jit
def _connections(t, local_states, x):
    """Jitted kernel of :meth:`POVMGenerator.get_conn_padded` for a batch ``x (B, N)``."""
    n = x.shape[-1]
    idx = jnp.searchsorted(local_states, x).astype(jnp.int32)
    sites = jnp.arange(n)
    matrix, pair_sites = t["pair_matrix"], t["pair_sites"]
    row = 4 * idx[:, pair_sites[:, 0]] + idx[:, pair_sites[:, 1]]  # (B, P+1)

    diagonal = matrix[jnp.arange(matrix.shape[0]), row, row].sum(-1)
    diagonal += t["singles"][sites, idx, idx].sum(-1)

    # One site i changed to c: every block containing i contributes its single-site part.
    c = t["site_col"][sites, idx]  # (B, N, Ks)
    inc_p, inc_pos, inc_other = (t["incidence"][..., m] for m in range(3))  # (N, D)
    other = idx[:, inc_other][:, :, None, :]  # (B, N, 1, D)
    col = jnp.where(inc_pos[:, None, :] == 0, 4 * c[..., None] + other, 4 * other + c[..., None])
    site_mels = matrix[inc_p[None, :, None, :], row[:, inc_p][:, :, None, :], col].sum(-1)
    site_mels += t["singles"][sites[None, :, None], idx[:, :, None], c]
    site_mels = jnp.where(t["site_valid"][sites, idx], site_mels, 0)
    site_x = jnp.where(
        jnp.eye(n, dtype=bool)[None, :, None, :], c[..., None], idx[:, None, None, :]
    )

    # Both sites of bond p changed to (col // 4, col % 4).
    n_pairs = t["bond_col"].shape[0]
    bonds = jnp.arange(n_pairs)
    bond_row = row[:, :n_pairs]
    col = t["bond_col"][bonds, bond_row]  # (B, P, Kb)
    bond_mels = matrix[bonds[None, :, None], bond_row[..., None], col]
    bond_mels = jnp.where(t["bond_valid"][bonds, bond_row], bond_mels, 0)
    first = (sites == pair_sites[:n_pairs, :1])[None, :, None, :]  # (1, P, 1, N)
    second = (sites == pair_sites[:n_pairs, 1:])[None, :, None, :]
    bond_x = jnp.where(
        first, (col // 4)[..., None], jnp.where(second, (col % 4)[..., None], idx[:, None, None, :])
    )

    n_batch = idx.shape[0]
    xp = jnp.concatenate(
        [idx[:, None, :], site_x.reshape(n_batch, -1, n), bond_x.reshape(n_batch, -1, n)], axis=1
    )
    mels = jnp.concatenate(
        [diagonal[:, None], site_mels.reshape(n_batch, -1), bond_mels.reshape(n_batch, -1)], axis=1
    )
    return local_states[xp], mels


def _check_hilbert(hilbert) -> None:
    if not isinstance(hilbert, HomogeneousHilbert) or hilbert.local_size != 4:
        raise NQSError(
            f"POVM generators act on strings of 4 outcomes per site; got {hilbert}. Use "
            "nk.hilbert.Fock(n_max=3, N=n_sites) (or another homogeneous 4-state space)."
        )
    if hilbert.constrained:
        raise NQSError(
            f"POVM distributions live on all 4^N outcome strings, but {hilbert} is constrained; "
            "use nk.hilbert.Fock(n_max=3, N=n_sites) without a constraint."
        )
