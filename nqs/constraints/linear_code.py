r"""Linear codes over GF(2): parity checks :math:`A\,n = t \pmod 2` as an exact AR mask.

Z2 Gauss laws (toric code, Z2 lattice gauge theory, 3D toric code), X-cube vertex rules and
winding-sector selections are all affine subspaces of :math:`\{0,1\}^N`. The *pivot-last* row
reduction (constraints.md §3.3) turns the checks into an automaton that never dead-ends:

1. Gaussian elimination over the columns from the **last** variable (in AR order) downwards:
   for column :math:`c`, a not-yet-assigned row with a 1 in column :math:`c` becomes the pivot
   row of :math:`c` and is XORed into every other unassigned row with a 1 there. Each pivot
   row's last non-zero entry is then its pivot, and no two rows share one.
2. Rows left unassigned are zero; one with target 1 means the sector is empty
   (:class:`~nqs.errors.EmptySectorError`), e.g. an odd number of charges on a torus.
3. Variable :math:`i` is *forced* if it is the pivot of row :math:`r`,
   :math:`n_i = t_r \oplus \bigoplus_{j<i} R_{rj} n_j`, and *free* otherwise.

Automaton state: the parity accumulator :math:`s_r = t_r \oplus \bigoplus_{j<i} R_{rj} n_j` of
every reduced row, a boolean array ``(batch, rank)``. Every reachable prefix extends (the system is
consistent), the sector has :math:`2^{N-\mathrm{rank}}` configurations, and uniform conditionals
over the allowed values give the uniform distribution on the sector (the number of completions
does not depend on the prefix).

**Convention.** Bits are local indices: :math:`n_i = ` local index of site :math:`i`. With
NetKet's ``Spin(0.5, N)`` (``local_states == [1, -1]``) the value :math:`+1` is :math:`n = 0`,
so the all-(+1) configuration is the empty-string (no electric flux) configuration and the
NetKet value equals :math:`1 - 2n` (:math:`\sigma^x` in the electric basis).

Reference: Luo et al., PRR 5, 013216 (2023) (gauge-invariant autoregressive states).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from nqs.constraints.base import AbstractConstraint
from nqs.constraints.linear_code_index import LinearCodeMembership
from nqs.errors import EmptySectorError, NQSError


def pivot_last_reduction(matrix: np.ndarray, targets: np.ndarray):
    """Row-reduce ``matrix @ n = targets (mod 2)`` eliminating from the last column down.

    Args:
        matrix: ``(n_checks, n_sites)`` 0/1 array.
        targets: ``(n_checks,)`` 0/1 array.

    Returns:
        ``(rows, row_targets, pivots, inconsistent)``: the reduced non-zero rows
        ``(rank, n_sites)`` (uint8), their targets, each row's pivot column (its last non-zero
        entry; all distinct) and, for an inconsistent system, the indices of original checks
        whose sum is ``0 = 1`` (else ``None``).
    """
    a = np.asarray(matrix, dtype=np.uint8) % 2
    t = np.asarray(targets, dtype=np.uint8) % 2
    m, n = a.shape
    combo = np.eye(m, dtype=np.uint8)  # which original checks each current row is the sum of
    free = np.ones(m, dtype=bool)  # not yet assigned a pivot
    pivot_of_row = np.full(m, -1)
    for c in range(n - 1, -1, -1):
        candidates = np.flatnonzero(free & (a[:, c] == 1))
        if len(candidates) == 0:
            continue
        r, others = candidates[0], candidates[1:]
        a[others] ^= a[r]
        t[others] ^= t[r]
        combo[others] ^= combo[r]
        free[r] = False
        pivot_of_row[r] = c
    inconsistent = None
    bad = np.flatnonzero(free & (t == 1))  # free rows are zero rows now
    if len(bad):
        inconsistent = np.flatnonzero(combo[bad[0]]).tolist()
    keep = np.flatnonzero(~free)
    keep = keep[np.argsort(pivot_of_row[keep])]  # rows sorted by pivot, in AR order
    return a[keep], t[keep], pivot_of_row[keep], inconsistent


def _inverse_unitriangular(t: np.ndarray) -> np.ndarray:
    """Inverse over GF(2) of a lower unitriangular 0/1 matrix (forward substitution)."""
    r = t.shape[0]
    inv = np.eye(r, dtype=np.int64)
    for k in range(1, r):
        inv[k] = (inv[k] + t[k, :k].astype(np.int64) @ inv[:k]) % 2
    return inv.astype(bool)


@dataclass(frozen=True)
class LinearCode(AbstractConstraint):
    r"""The affine GF(2) sector :math:`\{n : \bigoplus_{j \in S_k} n_j = t_k\ \forall k\}`.

    Args:
        n_sites: number of bits :math:`N` (sites in AR order, local dimension 2).
        checks: the parity checks, each the sequence of sites :math:`S_k` it contains (the
            support of a row of :math:`A`). Stored as sorted tuples, so the code is hashable.
        targets: the parity :math:`t_k \in \{0, 1\}` of each check (default all 0).
        name: a short label shown in reprs and errors (e.g. ``"Z2 Gauss law L=3"``).

    Raises:
        EmptySectorError: the checks are inconsistent (no configuration satisfies them).

    Example:
        >>> from nqs.constraints.linear_code import LinearCode
        >>> code = LinearCode(3, checks=((0, 1), (1, 2)))  # n0 = n1 = n2
        >>> code.sector_size(), code.pivots
        (2, (1, 2))
    """

    n_sites: int
    checks: tuple[tuple[int, ...], ...]
    targets: tuple[int, ...] | None = None
    name: str = field(default="", compare=False)

    def __post_init__(self):
        n = int(self.n_sites)
        if n <= 0:
            raise NQSError(f"n_sites must be a positive integer, got {self.n_sites!r}.")
        checks = tuple(tuple(sorted(int(s) for s in row)) for row in self.checks)
        for k, row in enumerate(checks):
            if len(set(row)) != len(row) or (row and not 0 <= row[0] <= row[-1] < n):
                raise NQSError(
                    f"Check {k} = {row} must list distinct sites in [0, {n}); a site appearing "
                    "twice cancels mod 2, so list it once or drop it."
                )
        targets = (0,) * len(checks) if self.targets is None else tuple(self.targets)
        if len(targets) != len(checks) or any(int(t) not in (0, 1) for t in targets):
            raise NQSError(
                f"targets must be {len(checks)} parities in {{0, 1}} (one per check), got "
                f"{self.targets!r}."
            )
        object.__setattr__(self, "n_sites", n)
        object.__setattr__(self, "checks", checks)
        object.__setattr__(self, "targets", tuple(int(t) for t in targets))

        rows, row_targets, pivots, inconsistent = pivot_last_reduction(
            self.parity_check_matrix(), np.asarray(self.targets)
        )
        if inconsistent is not None:
            raise EmptySectorError(
                f"The parity checks of {self!r} are inconsistent: checks {inconsistent} add up "
                "to 0 = 1 mod 2, so the sector is empty (on a closed surface, e.g., the number "
                "of Gauss-law charges must be even). Change the targets so that every "
                "dependent set of checks has an even total (place charges in pairs)."
            )
        pivot_row = np.full(n, -1, dtype=np.int32)
        pivot_row[pivots] = np.arange(len(pivots))
        # Derived tables (numpy, not dataclass fields: equality and hash use checks/targets).
        object.__setattr__(self, "_rows", rows.astype(bool))
        object.__setattr__(self, "_row_targets", row_targets.astype(bool))
        object.__setattr__(self, "_pivot_row", pivot_row)
        object.__setattr__(self, "_pivots", np.asarray(pivots, dtype=np.int32))
        # Rows sorted by pivot restricted to the pivot columns: lower unitriangular, so the
        # forced bits are (T^-1 (t + R_free n_free)) mod 2 (used by `complete`).
        object.__setattr__(self, "_forced_solve", _inverse_unitriangular(rows[:, pivots]))

    # -- structure -------------------------------------------------------------------------
    @property
    def local_size(self) -> int:
        return 2

    @property
    def rank(self) -> int:
        """Rank of the parity-check matrix over GF(2)."""
        return len(self._pivots)

    @property
    def pivots(self) -> tuple[int, ...]:
        """The forced sites (one per reduced row), in AR order."""
        return tuple(int(p) for p in self._pivots)

    def is_forced(self, i: int) -> bool:
        """Whether site ``i`` is fixed by the earlier sites (then its conditional is 1)."""
        return bool(self._pivot_row[i] >= 0)

    def sector_size(self) -> int:
        """Number of configurations in the sector, :math:`2^{N - \\mathrm{rank}}`."""
        return 2 ** (self.n_sites - self.rank)

    def parity_check_matrix(self) -> np.ndarray:
        """The checks as a dense 0/1 matrix ``(n_checks, n_sites)``."""
        a = np.zeros((len(self.checks), self.n_sites), dtype=np.uint8)
        for k, row in enumerate(self.checks):
            a[k, list(row)] = 1
        return a

    # -- automaton -------------------------------------------------------------------------
    def init(self, batch):
        return jnp.broadcast_to(jnp.asarray(self._row_targets), (batch, self.rank))

    def allowed(self, state, i):
        if isinstance(i, int | np.integer):  # concrete site: decide free/forced in Python
            row = int(self._pivot_row[i])
            if row < 0:
                return jnp.ones((state.shape[0], 2), dtype=bool)
            return jnp.stack([~state[:, row], state[:, row]], axis=-1)
        if self.rank == 0:  # no independent check: every bit is free
            return jnp.ones((state.shape[0], 2), dtype=bool)
        row = jnp.asarray(self._pivot_row)[i]
        forced = jnp.take(state, jnp.maximum(row, 0), axis=1)  # value n_i must take
        only = jnp.stack([~forced, forced], axis=-1)
        return jnp.where(row >= 0, only, True)

    def update(self, state, i, value):
        if isinstance(i, int | np.integer) and not self._rows[:, i].any():
            return state  # site i enters no reduced row
        column = jnp.asarray(self._rows.T)[i]  # (rank,)
        return state ^ (column[None, :] & (value[:, None] == 1))

    def _syndrome(self, idx):
        """:math:`R\\,n \\bmod 2` for each configuration, ``(batch, rank)``."""
        rows = jnp.asarray(self._rows.T, dtype=jnp.int32)
        return (jnp.asarray(idx, dtype=jnp.int32) @ rows) % 2

    def masks(self, idx):
        # The value forced at the pivot p_r of row r is t_r + sum_{j<p_r} R_rj n_j, and the rows
        # vanish beyond their pivot, so it is t_r + (R n)_r + n_{p_r}: one matmul for all sites.
        idx = jnp.asarray(idx, dtype=jnp.int32)
        if self.rank == 0:
            return jnp.ones((*idx.shape, 2), dtype=bool)
        pivots = jnp.asarray(self._pivots)
        forced = (self._syndrome(idx) + jnp.asarray(self._row_targets) + idx[:, pivots]) % 2
        per_site = jnp.take(forced, jnp.maximum(jnp.asarray(self._pivot_row), 0), axis=1)
        only = jnp.stack([per_site == 0, per_site == 1], axis=-1)
        return jnp.where((jnp.asarray(self._pivot_row) >= 0)[None, :, None], only, True)

    def contains(self, idx):
        """Membership by one matmul: :math:`R\\,n = t` (mod 2)."""
        return jnp.all(self._syndrome(idx) == jnp.asarray(self._row_targets), axis=-1)

    def complete(self, bits) -> jax.Array:
        r"""Overwrite the forced bits of ``bits`` ``(batch, n_sites)`` so that every row lies in
        the sector; the free bits are kept. One matmul: the reduced rows restricted to the
        pivot columns are lower unitriangular, so the forced bits are
        :math:`T^{-1}(t + R_\mathrm{free}\, n_\mathrm{free}) \bmod 2`.
        """
        bits = jnp.asarray(bits, dtype=jnp.int32)
        if self.rank == 0:
            return bits
        pivots = jnp.asarray(self._pivots)
        free = bits.at[:, pivots].set(0)
        rhs = (self._syndrome(free) + jnp.asarray(self._row_targets)) % 2
        forced = (rhs @ jnp.asarray(self._forced_solve.T, dtype=jnp.int32)) % 2
        return free.at[:, pivots].set(forced)

    def random_indices(self, key, batch: int) -> jax.Array:
        """``batch`` configurations drawn **uniformly** from the sector (local indices): uniform
        free bits, completed by :meth:`complete`. Needs no enumeration of the sector."""
        return self.complete(jax.random.bernoulli(key, 0.5, (batch, self.n_sites)))

    def hilbert_constraint(self):
        # Spin(0.5, N).local_states == [1, -1]: local index n = 0 <-> value +1.
        return LinearCodeMembership(self, (1, -1))

    def __repr__(self):
        label = f"{self.name}: " if self.name else ""
        return (
            f"LinearCode({label}n_sites={self.n_sites}, checks={len(self.checks)}, "
            f"rank={self.rank if hasattr(self, '_pivots') else '?'})"
        )
