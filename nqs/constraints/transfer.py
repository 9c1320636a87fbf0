r"""Walk constraints given by transfer matrices along a chain, with an exact look-ahead mask.

Many 1D constraints say that consecutive labels of a chain are neighbours on a graph: the
quantum-link Gauss law (link :math:`e_j` constrained by :math:`e_{j-1}`), fusion paths of anyons
(:math:`x_i \in x_{i-1}\otimes j`), Dyck paths of SU(2) singlets (constraints.md §5–§7). With
bond matrices :math:`T_i(a, b) \in \{0, 1\}` the sector is the set of walks

.. math::

    \text{periodic: } \prod_{i=0}^{L-1} T_i(x_{i-1}, x_i) = 1,\ x_{-1} \equiv x_{L-1};
    \qquad
    \text{open: } \prod_{i=1}^{L} T_i(x_{i-1}, x_i) = 1,\ x_0 = \text{start},\ x_L = \text{end}.

A mask that checks only :math:`T_i(x_{i-1}, \cdot)` dead-ends where the closing condition can no
longer be met. This module trims the automaton by reachability (constraints.md §1.2 "Look-ahead
by reachability"): with the number :math:`C_{i+1}(s)` of accepted completions after token
:math:`i` from state :math:`s`, computed once by backward dynamic programming,

.. math::

    M_i(v \mid s) = [\,\mathrm{next}_i(s, v) \text{ exists}\,]
                    \ \wedge\ [\,C_{i+1}(\mathrm{next}_i(s, v)) > 0\,],

so ``allowed`` is a table gather, there are no dead ends, and the sector size is
:math:`C_0(\text{init})` (:math:`\mathrm{tr}\prod_i T_i` for a ring, e.g. Lucas numbers for the
golden chain, constraints.md §6.4). The same counts give the exact uniform state (§1.2).

The automaton state is ``int32[batch, 2]``: column 0 is the first node :math:`x_0` (periodic
chains, where token 0 chooses it among the labels that admit a closed walk; 0 otherwise), column 1
the current node. Tokens are *local indices* (positions in ``hilbert.local_states``); nodes are
the automaton's own labels, equal to the token values for label-encoded chains
(:meth:`WalkAutomaton.periodic_chain`, :meth:`WalkAutomaton.open_chain`) and e.g. the running
total spin for step-encoded Dyck paths (general constructor).

References: constraints.md §1.2, §5, §6.3, §7; Luo et al., PRR 5, 013216 (2023).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from nqs.constraints.base import MASK_LOGIT, AbstractConstraint
from nqs.constraints.transfer_index import TransferMembership
from nqs.errors import EmptySectorError, NQSError


def _as_int_table(transitions) -> np.ndarray:
    table = np.asarray(transitions)
    if table.ndim != 3 or table.size == 0 or not np.issubdtype(table.dtype, np.integer):
        raise NQSError(
            "transitions must be an integer array of shape (n_tokens, n_nodes, local_size) "
            f"holding the next node or -1 (forbidden); got shape {table.shape}, "
            f"dtype {table.dtype}."
        )
    if table.max() >= table.shape[1] or table.min() < -1:
        raise NQSError(
            f"transitions must hold node indices in [0, {table.shape[1] - 1}] or -1 (forbidden)."
        )
    return table.astype(np.int64)


@dataclass(frozen=True, repr=False)
class WalkAutomaton(AbstractConstraint):
    """Deterministic walk over the nodes of a graph, trimmed by reachability (no dead ends).

    Args:
        transitions: ``[token][node][value]`` -> next node, or ``-1`` if token ``value`` is
            forbidden from ``node``; shape ``(n_sites, n_nodes, local_size)``.
        accept: ``[first][node]`` -> whether a walk ending at ``node`` is accepted; shape
            ``(n_nodes, n_nodes)`` if ``periodic`` (``first`` is the node after token 0, so the
            ring closes with ``accept[x_0][x_{L-1}]``), else ``(1, n_nodes)``.
        start: the node before token 0.
        periodic: remember the node after token 0 as the first node for ``accept``.
        local_states: physical values of the local indices (``hilbert.local_states``), used by
            the NetKet membership test; default ``0 .. local_size-1``.

    Raises:
        EmptySectorError: no string is accepted (e.g. a ring of odd length on a bipartite graph).

    Example:
        >>> import numpy as np
        >>> from nqs.constraints.transfer import WalkAutomaton
        >>> fib = np.array([[0, 1], [1, 1]])  # golden chain: no two adjacent trivial labels
        >>> WalkAutomaton.periodic_chain(fib, 12).sector_size()  # Lucas number L_12
        322
    """

    transitions: tuple
    accept: tuple
    start: int = 0
    periodic: bool = False
    local_states: tuple | None = None
    _tables: dict = field(default=None, init=False, compare=False, hash=False)

    def __post_init__(self):
        table = _as_int_table(self.transitions)
        n_tokens, n_nodes, local_size = table.shape
        accept = np.asarray(self.accept, dtype=bool)
        n_first = n_nodes if self.periodic else 1
        if accept.shape != (n_first, n_nodes):
            raise NQSError(
                f"accept must have shape {(n_first, n_nodes)} (first node x current node) for a "
                f"{'periodic' if self.periodic else 'open'} walk on {n_nodes} nodes, got "
                f"{accept.shape}."
            )
        if not 0 <= int(self.start) < n_nodes:
            raise NQSError(f"start={self.start} is not a node index in [0, {n_nodes - 1}].")
        local_states = tuple(range(local_size)) if self.local_states is None else self.local_states
        local_states = tuple(np.asarray(local_states).tolist())
        if len(local_states) != local_size:
            raise NQSError(
                f"local_states has {len(local_states)} values but the transitions have "
                f"local_size={local_size}."
            )
        nested = tuple(tuple(tuple(row) for row in token) for token in table.tolist())
        object.__setattr__(self, "transitions", nested)
        object.__setattr__(self, "accept", tuple(tuple(bool(a) for a in row) for row in accept))
        object.__setattr__(self, "start", int(self.start))
        object.__setattr__(self, "periodic", bool(self.periodic))
        object.__setattr__(self, "local_states", local_states)
        tables = _count_completions(table, accept, self.periodic)
        tables["hash"] = hash(
            (
                WalkAutomaton,
                self.transitions,
                self.accept,
                self.start,
                self.periodic,
                self.local_states,
            )
        )
        object.__setattr__(self, "_tables", tables)
        if self.sector_size() == 0:
            kind = "periodic" if self.periodic else "open"
            raise EmptySectorError(
                f"No string of {n_tokens} tokens satisfies this {kind} walk constraint (for a "
                "ring: tr(T_1 ... T_L) = 0; for an open chain: the end label is unreachable from "
                "the start label). On a bipartite graph (SU(2)_k spin-1/2 fusion paths, quantum "
                "link models) a ring needs an even length: change the length or the boundary "
                "labels."
            )

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def periodic_chain(cls, bonds, length: int | None = None, *, local_states=None):
        r"""Label-encoded ring :math:`x_0, \dots, x_{L-1}` with :math:`T_i(x_{i-1}, x_i) = 1`.

        Args:
            bonds: one boolean matrix ``(n, n)`` (homogeneous ring, give ``length``) or ``L``
                matrices ``(L, n, n)``; ``bonds[i][a][b]`` allows :math:`x_{i-1} = a \to x_i = b`,
                and ``bonds[0]`` closes the ring (:math:`x_{L-1} \to x_0`).
            length: number of sites :math:`L` when ``bonds`` is a single matrix.
            local_states: physical values of the labels 0..n-1.
        """
        bonds = _bond_stack(bonds, length)
        n_sites, n = bonds.shape[:2]
        transitions = np.where(bonds, np.arange(n)[None, None, :], -1)
        transitions[0] = np.arange(n)[None, :]  # token 0 chooses x_0 (closed walks only, by trim)
        try:
            return cls(transitions, bonds[0].T, 0, True, local_states)
        except EmptySectorError as err:
            raise EmptySectorError(f"{err}{_nearest_lengths_hint(bonds, n_sites)}") from None

    @classmethod
    def open_chain(
        cls, bonds, start: int, end: int | None, length: int | None = None, *, local_states=None
    ):
        r"""Label-encoded open chain: :math:`x_0 = ` ``start`` fixed, tokens :math:`x_1 \dots x_L`.

        Args:
            bonds: ``(n, n)`` with ``length``, or ``(L, n, n)``; ``bonds[i]`` allows
                :math:`x_i \to x_{i+1}`.
            start: label :math:`x_0` (not a token).
            end: required last label :math:`x_L` (the last token is then forced), or ``None``.
        """
        bonds = _bond_stack(bonds, length)
        n = bonds.shape[1]
        if end is not None and not 0 <= int(end) < n:
            raise NQSError(f"end={end} is not a label index in [0, {n - 1}].")
        transitions = np.where(bonds, np.arange(n)[None, None, :], -1)
        accept = np.ones((1, n), bool) if end is None else (np.arange(n) == end)[None, :]
        return cls(transitions, accept, start, False, local_states)

    # -- sizes -------------------------------------------------------------------------------
    @property
    def n_sites(self) -> int:
        return len(self.transitions)

    @property
    def n_nodes(self) -> int:
        return len(self.transitions[0])

    @property
    def local_size(self) -> int:
        return len(self.transitions[0][0])

    def sector_size(self) -> int:
        """Number of accepted strings, exact (Python integer): :math:`C_0(\\text{init})`."""
        return int(self._tables["counts"][0][0, self.start])

    def completions(self, i: int) -> np.ndarray:
        """Exact counts ``[first, node, value]`` of accepted completions after token ``i`` takes
        ``value`` from state ``(first, node)`` (0 where forbidden); object array of ints."""
        return self._tables["successors"][i]

    def __hash__(self):
        return self._tables["hash"]

    # -- automaton ---------------------------------------------------------------------------
    # Jitted with the (hashable) automaton static: one compilation per batch shape instead of
    # one per primitive when called eagerly (enumeration, closure checks); inlined under jit.
    def init(self, batch):
        state = jnp.zeros((batch, 2), dtype=jnp.int32)
        return state.at[:, 1].set(self.start)

    @partial(jax.jit, static_argnums=0)
    def allowed(self, state, i):
        return jnp.asarray(self._tables["allowed"])[i, state[:, 0], state[:, 1]]

    @partial(jax.jit, static_argnums=0)
    def update(self, state, i, value):
        node = jnp.asarray(self._tables["next"])[i, state[:, 1], value]
        first = jnp.where(i == 0, node, state[:, 0]) if self.periodic else state[:, 0]
        return jnp.stack([first, node], axis=1)

    def hilbert_constraint(self):
        return TransferMembership(self, self.local_states)

    @partial(jax.jit, static_argnums=0)
    def uniform_logits(self, state, i):
        r"""Logits :math:`\log C_{i+1}(\mathrm{next}_i(s, v))` of the exact uniform state.

        ``softmax`` of these (forbidden values get ``MASK_LOGIT``) are the conditionals
        :math:`C_{i+1}(\mathrm{next})/C_i(s)` whose product is :math:`1/|\text{sector}|` for every
        string (constraints.md §1.2); uniform conditionals over the allowed values are *not*
        uniform on the sector in general (e.g. Dyck paths).
        """
        return jnp.asarray(self._tables["log_successors"])[i, state[:, 0], state[:, 1]]

    def __repr__(self):
        kind = "periodic" if self.periodic else f"open, start={self.start}"
        return (
            f"WalkAutomaton({kind}, n_sites={self.n_sites}, n_nodes={self.n_nodes}, "
            f"local_size={self.local_size}, sector_size={self.sector_size()})"
        )


def _bond_stack(bonds, length) -> np.ndarray:
    bonds = np.asarray(bonds).astype(bool)
    if bonds.ndim == 2:
        if length is None or int(length) < 1:
            raise NQSError("A single bond matrix needs length= (the number of sites), >= 1.")
        bonds = np.broadcast_to(bonds, (int(length), *bonds.shape))
    elif length is not None and int(length) != bonds.shape[0]:
        raise NQSError(f"length={length} but {bonds.shape[0]} bond matrices were given.")
    if bonds.ndim != 3 or bonds.shape[1] != bonds.shape[2]:
        raise NQSError(
            f"bonds must be square matrices, shape (n, n) or (L, n, n); got {bonds.shape}."
        )
    return np.array(bonds)


def _nearest_lengths_hint(bonds: np.ndarray, n_sites: int) -> str:
    """For a homogeneous ring, the nearest lengths whose sector is not empty."""
    if not (bonds == bonds[0]).all():
        return ""
    a = bonds[0].astype(object)
    ok = [
        n
        for n in range(max(1, n_sites - 3), n_sites + 4)
        if n != n_sites and np.trace(np.linalg.matrix_power(a, n)) > 0
    ]
    return f" Nearest non-empty lengths: {ok}." if ok else ""


def _count_completions(table: np.ndarray, accept: np.ndarray, periodic: bool) -> dict:
    """Backward dynamic programming of exact completion counts (Python integers).

    ``counts[i][f, p]`` is the number of accepted strings of tokens ``i..n-1`` from the state
    ``(first=f, node=p)``; ``successors[i][f, p, v]`` the count after token ``i`` takes ``v``.
    """
    n_tokens = table.shape[0]
    n_first = accept.shape[0]
    counts = [None] * (n_tokens + 1)
    successors = [None] * n_tokens
    counts[n_tokens] = accept.astype(object)
    for i in range(n_tokens - 1, -1, -1):
        valid = table[i] >= 0
        nxt = np.where(valid, table[i], 0)[None].repeat(n_first, axis=0)  # (F, P, V)
        first = nxt if (periodic and i == 0) else np.arange(n_first)[:, None, None] + 0 * nxt
        succ = counts[i + 1][first, nxt] * valid[None]
        successors[i] = succ
        counts[i] = succ.sum(axis=-1)
    allowed = np.stack([s > 0 for s in successors]).astype(bool)
    log_succ = np.stack(
        [
            np.vectorize(lambda c: math.log(c) if c > 0 else MASK_LOGIT, otypes=[float])(s)
            for s in successors
        ]
    )
    nxt_table = np.where(table >= 0, table, 0).astype(np.int32)  # forbidden: any node (never used)
    return {
        "counts": counts,
        "successors": successors,
        "allowed": allowed,
        "log_successors": log_succ,
        "next": nxt_table,
    }
