r"""1D U(1) quantum link model: spin-½ links, staggered fermions, periodic ring (models.md §8).

.. math::

    H = -w \sum_{j} \big(\psi_j^\dagger U_{j,j+1} \psi_{j+1} + \text{h.c.}\big)
        + m \sum_j (-1)^j \psi_j^\dagger \psi_j,
    \qquad U = S^+,\ E_{j,j+1} = S^z \in \{-\tfrac12, +\tfrac12\},

with Gauss's law :math:`E_{j,j+1} - E_{j-1,j} = n_j - s_j`, :math:`s_j = j \bmod 2`
(Chandrasekharan & Wiese, Nucl. Phys. B 492, 455 (1997); the spin-½ QLM as studied in
Surace et al., PRX 10, 021041 (2020)). An occupied even site is a particle, an empty odd site an
antiparticle; the charge is :math:`q_j = n_j - s_j`.

**Link-only representation** (constraints.md §5). With :math:`e_j = E_{j,j+1} + \tfrac12` the
matter is fixed by the links, :math:`n_j = e_j - e_{j-1} + s_j`, and must lie in :math:`\{0,1\}`:
the sector is the ring walk with :math:`T_j(a,b) = [b - a + s_j \in \{0, 1\}]` (Lucas-many states,
47, 322, 2207 for N = 8, 12, 16). Site ``j`` of the NetKet space ``Spin(0.5, N)`` holds link
:math:`(j, j+1)` with value :math:`2E_{j,j+1} = \pm 1`. The hopping term flips link :math:`j`
whenever the flipped configuration obeys Gauss's law (one pair created or annihilated, or a
charge hopping), i.e. :math:`H = -w\sum_j P X_j P + m\sum_j (-1)^j n_j`, the PXP form.

**Sign convention.** Jordan–Wigner gives :math:`+1` for every bulk hop and
:math:`(-1)^{N/2-1}` for the hop across the boundary bond :math:`(N-1, 0)` (Gauss's law fixes
:math:`N/2` fermions). The diagonal unitary :math:`2S^z_{N-1,0}` flips the sign of exactly that
term, so we drop it: all off-diagonal elements are :math:`-w`. Spectra and all diagonal
observables are unchanged; a state vector differs by the sign :math:`(2E_{N-1,0})` on the
components when :math:`N/2` is even (tests compare against the fermionic definition).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
from jax.tree_util import register_pytree_node_class
from netket.operator import DiscreteJaxOperator
from netket.utils import HashablePartial

from hamiltonians.operators import DiagonalOperator
from hamiltonians.system import System
from nqs.constraints.transfer import WalkAutomaton
from nqs.errors import NQSError, positive_float, positive_int


def _links_and_matter(x):
    """Links :math:`e_j \\in \\{0,1\\}` and matter :math:`n_j` from the values ``2E = ±1``."""
    e = (jnp.asarray(x, jnp.result_type(float)) + 1) / 2
    s = jnp.arange(x.shape[-1]) % 2
    return e, e - jnp.roll(e, 1, axis=-1) + s


@register_pytree_node_class
class QuantumLinkHamiltonian(DiscreteJaxOperator):
    r"""Link-only :math:`H = -w\sum_j PX_jP + m\sum_j(-1)^j n_j` (jittable; ``w``, ``m`` leaves).

    ``get_conn_padded`` returns the diagonal element, then one entry per link: the flipped
    configuration with element :math:`-w` if the flip obeys Gauss's law, else the unchanged
    configuration with element 0 (so every connected state stays in the sector).
    """

    def __init__(self, hilbert, w=1.0, m=0.0):
        super().__init__(hilbert)
        self._w, self._m = w, m

    @property
    def dtype(self):
        return jnp.float64

    @property
    def is_hermitian(self) -> bool:
        return True

    @property
    def max_conn_size(self) -> int:
        return 1 + self.hilbert.size

    def get_conn_padded(self, x):
        return _get_conn_padded(self, jnp.asarray(x))

    def _get_conn_padded(self, x):
        n_links = x.shape[-1]
        e, n = _links_and_matter(x)
        sign = (-1.0) ** jnp.arange(n_links)
        diagonal = self._m * jnp.sum(sign * n, axis=-1)
        # Flipping e_j by d changes n_j by +d and n_{j+1} by -d (Gauss's law).
        d = 1 - 2 * e
        n_here, n_next = n + d, jnp.roll(n, -1, axis=-1) - d
        legal = (n_here >= 0) & (n_here <= 1) & (n_next >= 0) & (n_next <= 1)
        flip = jnp.eye(n_links, dtype=bool) & legal[..., :, None]  # (..., link, site)
        xp = jnp.where(flip, -x[..., None, :], x[..., None, :])
        mels = jnp.where(legal, -self._w, 0.0)
        return (
            jnp.concatenate([x[..., None, :], xp], axis=-2),
            jnp.concatenate([diagonal[..., None], mels], axis=-1),
        )

    def tree_flatten(self):
        return (self._w, self._m), (self.hilbert,)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(aux[0], *children)

    def __repr__(self):
        return f"QuantumLinkHamiltonian(w={self._w}, m={self._m}, hilbert={self.hilbert})"


@jax.jit
def _get_conn_padded(operator, x):
    # One compilation per input shape also for eager callers (to_sparse, closure checks).
    return operator._get_conn_padded(x)


def _pair_density(x):
    _, n = _links_and_matter(x)
    s = jnp.arange(x.shape[-1]) % 2
    return jnp.mean(jnp.abs(n - s), axis=-1)


def _electric_field(x):
    return jnp.mean(jnp.asarray(x, jnp.result_type(float)), axis=-1) / 2


def gauss_law_automaton(n: int) -> WalkAutomaton:
    r"""The link-only Gauss-law walk on a ring of ``n`` links, in ``Spin(0.5)`` local indices.

    :math:`T_j(e_{j-1}, e_j) = [e_j - e_{j-1} + s_j \in \{0,1\}]`; token 0 chooses :math:`e_0`
    and the ring closes with :math:`T_0(e_{N-1}, e_0)`. Local index 0 is :math:`2E = +1`.
    """
    local_states = (1, -1)
    e_of_index = (np.asarray(local_states) + 1) // 2
    a, b = np.meshgrid(e_of_index, e_of_index, indexing="ij")
    bonds = [((b - a + j % 2) >= 0) & ((b - a + j % 2) <= 1) for j in range(n)]
    return WalkAutomaton.periodic_chain(np.stack(bonds), local_states=local_states)


def quantum_link_model(n: int, m: float = 0.0, w: float = 1.0) -> System:
    r"""Spin-½ U(1) quantum link model on a ring of ``n`` matter sites and ``n`` links.

    Args:
        n: number of matter sites = links (even, ``>= 4``: staggering needs even ``n``).
        m: staggered mass (``m > 0`` favours the charge-free vacua; the Ising transition is at
            :math:`m_c \approx 0.655\,w`).
        w: hopping (units of energy).

    Observables: ``pair_density`` :math:`\nu = N^{-1}\sum_j\langle|q_j|\rangle` and
    ``electric_field`` :math:`\bar E = N^{-1}\sum_j\langle E_{j,j+1}\rangle` (both diagonal).

    Example:
        >>> from hamiltonians.quantum_link import quantum_link_model
        >>> round(quantum_link_model(12).exact_energy(), 8)  # references.md §6
        -7.24294055
    """
    n = positive_int("n", n)
    if n % 2 or n < 4:
        raise NQSError(
            f"The staggered quantum link model needs an even number n >= 4 of sites, got n={n}; "
            f"use n={max(4, n + n % 2)}."
        )
    positive_float("w", w)
    automaton = gauss_law_automaton(n)
    hilbert = nk.hilbert.Spin(0.5, n, constraint=automaton.hilbert_constraint())
    if tuple(np.asarray(hilbert.local_states).tolist()) != automaton.local_states:
        raise NQSError("NetKet's Spin(0.5) local states changed order; update gauss_law_automaton.")
    observables = {
        "pair_density": DiagonalOperator(hilbert, HashablePartial(_pair_density), "pair density"),
        "electric_field": DiagonalOperator(
            hilbert, HashablePartial(_electric_field), "mean electric field"
        ),
    }
    return System(
        name="quantum_link_model",
        hilbert=hilbert,
        hamiltonian=QuantumLinkHamiltonian(hilbert, float(w), float(m)),
        constraint=automaton,
        observables=observables,
        parameters={"n": n, "m": float(m), "w": float(w), "pbc": True},
        energy_units="w=1",
    )


def bare_vacuum(system: System, electric_field: float = -0.5) -> jax.Array:
    r"""The bare vacuum: no charges, every :math:`E_{j,j+1}` equal to ``electric_field`` (±½).

    Even sites empty and odd sites filled; :math:`\nu = 0`, :math:`\bar E = -\tfrac12` and
    :math:`\langle H\rangle = -mN/2` for the default (models.md §8). Returns the configuration
    ``(N,)`` in the system's local values (:math:`2E`).
    """
    if electric_field not in (-0.5, 0.5):
        raise NQSError(f"electric_field must be -0.5 or +0.5, got {electric_field!r}.")
    return jnp.full((system.n_sites,), 2 * electric_field)


def bare_vacuum_parameters(model, params, *, electric_field: float = -0.5, logit_gap: float = 80.0):
    r"""ARTransformer parameters whose state is the bare vacuum to double precision.

    Every conditional gets the same logits: the output heads' kernels are zeroed and the logits
    bias favours the vacuum value by ``logit_gap`` (the phase head, if any, is zeroed too). After
    :math:`e_0 = 0` the look-ahead mask forces every odd link (:math:`e_{2i+1} \le e_{2i}`, and
    the closure for the last one) but leaves the :math:`N/2` even links free, so the mask alone
    cannot pin the state; the bias does. With gap :math:`\Delta`:

    * :math:`|\psi(\text{vac})|^2 = (1 + e^{-\Delta})^{-N/2}` is exactly 1.0 in float64 for
      :math:`\Delta \gtrsim 37` (the log-softmax of the favoured value rounds to 0);
    * every other sector state has :math:`|\psi(x)/\psi(\text{vac})| \le e^{-\Delta/2}`, below
      :math:`2^{-53}` for :math:`\Delta \ge 74`. So local energies, overlaps and observables
      equal the vacuum's to double precision, but the state is not exactly a product state: with
      the default :math:`\Delta = 80`, :math:`E_\mathrm{loc}(\text{vac}) + mN/2 =
      -\tfrac{wN}{2}e^{-40}` and :math:`\langle H\rangle + mN/2 = -wN e^{-40}`
      (:math:`-2.5\times10^{-17}` and :math:`-5.1\times10^{-17}` for N = 12).
    * A gap of order :math:`10^{30}` (like the mask's ``MASK_LOGIT``) makes every other
      amplitude exactly 0.0: an exact product state, still with finite logarithms. Either way the
      softmax is saturated, so derivatives of :math:`\log\psi` with respect to the heads are
      :math:`O(e^{-\Delta})` (DESIGN.md §3): a variational evolution that must leave the vacuum
      should start from a smaller gap or a perturbed state.

    Args:
        model: an :class:`nqs.ARTransformer` on ``system.hilbert``.
        params: its variables (``model.init(...)``), used for shapes and the other layers.
        electric_field: which bare vacuum, :math:`E = -\tfrac12` (default) or :math:`+\tfrac12`.
        logit_gap: :math:`\Delta > 0`.
    """
    positive_float("logit_gap", logit_gap)
    value = 2 * electric_field
    if value not in (-1, 1):
        raise NQSError(f"electric_field must be -0.5 or +0.5, got {electric_field!r}.")
    index = int(np.asarray(model.hilbert.states_to_local_indices(jnp.asarray([value])))[0])
    inner = dict(params["params"])

    def zeroed(head, bias):
        return {"kernel": jnp.zeros_like(head["kernel"]), "bias": bias}

    logits = inner["logits_head"]
    inner["logits_head"] = zeroed(logits, jnp.zeros_like(logits["bias"]).at[index].set(logit_gap))
    if "phase_head" in inner:
        phase = inner["phase_head"]
        inner["phase_head"] = zeroed(phase, jnp.zeros_like(phase["bias"]))
    return {**params, "params": inner}
