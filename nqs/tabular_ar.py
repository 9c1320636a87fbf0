r"""An exact autoregressive *table*: every distribution on a tiny system, for tests and calibration.

.. math::

    P(a) = \prod_{i=1}^{N} p_i(a_i\mid a_{<i}),\qquad
    p_i(\cdot\mid a_{<i}) = \mathrm{softmax}\big(z[\,r_i(a_{<i})\,]\big),

with one row of :math:`d` free logits :math:`z` per prefix :math:`a_{<i}` (row
:math:`r_i = (d^i-1)/(d-1) + \sum_{j<i} a_j d^{\,i-1-j}`), i.e. :math:`(d^N-1)/(d-1)` rows. Any
normalised distribution with no zero is represented exactly, so errors of a solver run with it
are the solver's own (``physics/povm.md`` §5 calibration: "tabular AR"). The parameter count grows
as :math:`d^N`: use it for tiny systems (:math:`d^N` up to a few thousand; with Monte Carlo
samples, each row is learned only from the samples that visit its prefix).

It is a NetKet :class:`~netket.models.AbstractARNN`, so the exact samplers draw from it like from
any autoregressive model. With ``machine_pow = 1`` (default) its output is :math:`\log P`; with
``machine_pow = 2`` it is a wave function with a second table of phases :math:`\varphi`,

.. math::

    \log\psi_i(a_i\mid a_{<i}) = \tfrac12\log\mathrm{softmax}\big(z[r_i]\big)_{a_i}
    + \mathrm{i}\,\varphi[r_i]_{a_i},

which represents every nodeless state exactly: real-time runs with it measure the error of the
solver alone, without the ansatz (``benchmarks/dynamics_tfim.py --model table``). Zero parameters
(the initialisation) give the uniform state, :math:`|{+}\rangle^{\otimes N}` for spins.

``amplitudes="cartesian"`` stores instead one complex vector :math:`c[r] = u[r] + \mathrm{i}\,v[r]`
per prefix, normalised on use,

.. math::

    \psi_i(a_i\mid a_{<i}) = c[r_i]_{a_i} / \lVert c[r_i] \rVert ,

so that an amplitude crossing zero is a smooth path of :math:`c` through 0. In the polar form the
same crossing needs :math:`z \to -\infty` and a phase jump of :math:`\pi`, which a time
integrator (TDVP) cannot follow: it carries the amplitude back out of the node with the old sign.
The exact TFIM quench from :math:`|{+}\rangle^{\otimes N}` to h = 1 has such exact zeros (the
Néel amplitudes at t = 0.425 for N = 4 and t = 0.555 for N = 10). The initialisation
(:math:`u = 1`, :math:`v = 0`) is the uniform state.
"""

from __future__ import annotations

from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from netket.models import AbstractARNN

from nqs.errors import NQSError, check_choice

#: Largest table (number of rows) accepted.
MAX_ROWS = 2_000_000


class TabularAR(AbstractARNN):
    """Autoregressive table of probabilities or amplitudes on a homogeneous Hilbert space.

    Attributes:
        hilbert: homogeneous, unconstrained Hilbert space.
        machine_pow: 1 (default): the output is :math:`\\log P(a)`; 2: the output is
            :math:`\\log\\psi(a)`, complex, with a learned phase table.
        amplitudes: wave functions only: ``"polar"`` (default; logits and phases) or
            ``"cartesian"`` (real and imaginary parts of unnormalised conditional amplitudes,
            for dynamics through exact zeros).
        param_dtype: dtype of the logits (and phases).

    Example:
        >>> import jax, netket as nk
        >>> from nqs.tabular_ar import TabularAR
        >>> model = TabularAR(hilbert=nk.hilbert.Fock(3, 2))
        >>> x = model.hilbert.all_states()
        >>> params = model.init(jax.random.PRNGKey(0), x)
        >>> round(float(jax.numpy.exp(model.apply(params, x)).sum()), 12)
        1.0
    """

    machine_pow: int = 1
    amplitudes: str = "polar"
    param_dtype: Any = jnp.float64

    def __post_init__(self):
        super().__post_init__()
        if self.machine_pow not in (1, 2):
            raise NQSError(
                f"TabularAR has machine_pow = 1 (probabilities) or 2 (wave functions), got "
                f"{self.machine_pow}."
            )
        check_choice("amplitudes", self.amplitudes, ("polar", "cartesian"))
        if self.amplitudes == "cartesian" and self.machine_pow != 2:
            raise NQSError(
                "amplitudes='cartesian' is a wave-function table: use TabularAR(..., "
                "machine_pow=2, amplitudes='cartesian')."
            )
        if self.hilbert.constrained:
            raise NQSError(f"TabularAR needs an unconstrained Hilbert space, got {self.hilbert}.")
        if self.n_rows > MAX_ROWS:
            raise NQSError(
                f"A table for {self.hilbert.size} sites with {self.hilbert.local_size} states "
                f"has {self.n_rows} rows (limit {MAX_ROWS}); use a smaller system or a network."
            )

    @property
    def n_rows(self) -> int:
        d, n = self.hilbert.local_size, self.hilbert.size
        return (d**n - 1) // (d - 1)

    @nn.compact
    def conditionals_log_psi(self, inputs: jax.Array) -> jax.Array:
        d, n = self.hilbert.local_size, self.hilbert.size
        idx = self.hilbert.states_to_local_indices(inputs).astype(jnp.int32)
        # prefix_i = sum_{j<i} a_j d^(i-1-j), built incrementally: prefix_{i+1} = d prefix_i + a_i.
        rows = []
        current = jnp.zeros_like(idx[:, 0])
        for i in range(n):
            rows.append((d**i - 1) // (d - 1) + current)
            current = d * current + idx[:, i]
        rows = jnp.stack(rows, axis=1)  # (B, N)
        shape = (self.n_rows, d)
        if self.amplitudes == "cartesian":
            u = self.param("real", nn.initializers.ones, shape, self.param_dtype)
            v = self.param("imag", nn.initializers.zeros, shape, self.param_dtype)
            c = (u + 1j * v)[rows]
            norm2 = jnp.sum(u**2 + v**2, axis=-1)[rows]
            return jnp.log(c) - 0.5 * jnp.log(norm2)[..., None]
        logits = self.param("logits", nn.initializers.zeros, shape, self.param_dtype)
        log_p = jax.nn.log_softmax(logits[rows], axis=-1)
        if self.machine_pow == 1:
            return log_p
        phases = self.param("phases", nn.initializers.zeros, (self.n_rows, d), self.param_dtype)
        return 0.5 * log_p + 1j * phases[rows]


def tabular_product_parameters(model: TabularAR, params, p1):
    r"""Parameters of ``model`` giving exactly :math:`\prod_i p_1(a_i)` (every row
    :math:`\log p_1`).

    Raises:
        NQSError: if :math:`p_1` has a zero (``log 0``; ``physics/povm.md`` §9) or is no
            distribution.
    """
    p1 = np.asarray(p1, dtype=float)
    d = model.hilbert.local_size
    if p1.shape != (d,) or np.any(p1 < 0) or abs(p1.sum() - 1) > 1e-10:
        raise NQSError(f"p1 must be {d} non-negative probabilities summing to 1, got {p1!r}.")
    zero = np.flatnonzero(p1 <= 0)
    if zero.size:
        raise NQSError(
            f"The product state has zero probability for outcome(s) {zero.tolist()}, so its "
            "logits would be log 0 = -inf; start from a state with no zero outcome probability "
            "(e.g. all up), or mix in a little of the maximally mixed state."
        )
    frozen = isinstance(params, flax.core.FrozenDict)
    out = flax.core.unfreeze(params)
    tree = out["params"] if "params" in out else out
    tree["logits"] = jnp.broadcast_to(jnp.log(jnp.asarray(p1)), tree["logits"].shape).astype(
        tree["logits"].dtype
    )
    return flax.core.freeze(out) if frozen else out
