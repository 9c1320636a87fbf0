r"""U(1) constraint: a fixed sum of the local values (e.g. total magnetisation).

For integer-valued local states :math:`v \in \{v_\min, \dots, v_\max\}` (NetKet stores spin-S
values as :math:`2m`, so spin-½ is :math:`\pm 1`) and a target :math:`T = \sum_i v_i`, token
:math:`i` (0-based, :math:`N` tokens) may take value :math:`v` after a prefix sum :math:`s` iff
the remainder is reachable by the :math:`N-i-1` tokens still to come:

.. math::

    (N-i-1)\,v_\min \le T - s - v \le (N-i-1)\,v_\max .

This *look-ahead* mask never dead-ends (constraints.md §2; Hibat-Allah et al., PRR 2, 023358
(2020)). For spin-½ and zero magnetisation the sector has :math:`\binom{N}{N/2}` states.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from netket.hilbert.constraint import SumConstraint

from nqs.constraints.base import AbstractConstraint
from nqs.errors import EmptySectorError


@dataclass(frozen=True)
class U1(AbstractConstraint):
    """Fixed total of the local values, :math:`\\sum_i v_i = \\text{total}`.

    Args:
        n_sites: number of tokens :math:`N`.
        local_states: the physical local values in NetKet's order (``hilbert.local_states``);
            they must be integers.
        total: the target sum. For ``nk.hilbert.Spin(0.5, N, total_sz=M)`` this is ``2 M``.

    Example:
        >>> import netket as nk
        >>> from nqs.constraints import U1
        >>> hi = nk.hilbert.Spin(0.5, 6, total_sz=0)
        >>> c = U1.from_hilbert(hi)
        >>> c.hilbert_constraint() == hi.constraint
        True
    """

    n_sites: int
    local_states: tuple[int, ...]
    total: int

    def __post_init__(self):
        values = np.asarray(self.local_states)
        if not np.all(values == np.round(values)):
            raise ValueError(f"U1 needs integer local states, got {self.local_states}.")
        object.__setattr__(self, "local_states", tuple(int(v) for v in values))
        object.__setattr__(self, "n_sites", int(self.n_sites))
        if self.total != round(self.total):
            raise ValueError(f"U1 total must be an integer, got {self.total}.")
        object.__setattr__(self, "total", round(self.total))
        lo, hi = self.n_sites * min(self.local_states), self.n_sites * max(self.local_states)
        step = np.gcd.reduce(np.diff(sorted(self.local_states))) if len(values) > 1 else 1
        if not lo <= self.total <= hi or (self.total - lo) % step:
            raise EmptySectorError(
                f"No configuration of {self.n_sites} sites with local values "
                f"{self.local_states} sums to {self.total}; for spin-1/2 with zero "
                "magnetization the number of sites must be even."
            )

    @property
    def local_size(self) -> int:
        return len(self.local_states)

    @classmethod
    def from_hilbert(cls, hilbert, total: int | None = None) -> U1:
        """Build from a NetKet homogeneous Hilbert space (``total``: its ``SumConstraint``)."""
        if total is None:
            if not isinstance(hilbert.constraint, SumConstraint):
                raise ValueError(f"{hilbert} has no SumConstraint; pass total= explicitly.")
            total = hilbert.constraint.sum_value
        return cls(hilbert.size, tuple(np.asarray(hilbert.local_states).tolist()), total)

    # -- automaton ---------------------------------------------------------------------------
    def _values(self):
        return jnp.asarray(self.local_states, dtype=jnp.int32)

    def _reachable(self, remainder, i):
        """Whether ``remainder`` can be produced by the tokens after ``i``."""
        left = self.n_sites - 1 - i
        return (remainder >= left * min(self.local_states)) & (
            remainder <= left * max(self.local_states)
        )

    def init(self, batch):
        return jnp.zeros((batch,), dtype=jnp.int32)  # prefix sum

    def allowed(self, state, i):
        return self._reachable(self.total - state[:, None] - self._values()[None, :], i)

    def update(self, state, i, value):
        return state + self._values()[value]

    def masks(self, idx):
        values = self._values()[idx]
        prefix = jnp.cumsum(values, axis=1) - values
        i = jnp.arange(self.n_sites)[None, :, None]
        return self._reachable(self.total - prefix[..., None] - self._values(), i)

    def hilbert_constraint(self):
        # NetKet's own constraint, so that the Hilbert space keeps its fast combinatorial indexing.
        return SumConstraint(self.total)
