r"""Product states written directly into the parameters of an :class:`~nqs.ARTransformer`.

The transformer's conditionals are :math:`p_i = \mathrm{softmax}(W h_i + b)` masked to the sector,
and its phases :math:`\phi_i = W' h_i + b'` (``logits_head`` and ``phase_head``). Zeroing the two
kernels makes every conditional independent of the prefix: the state becomes a product of
identical single-site states (up to the sector mask), whatever the other layers hold.

* **x-polarised** :math:`|{+}\rangle^{\otimes N}`: kernels and biases zero, so
  :math:`p_i = 1/d` and :math:`\phi_i = 0`; :math:`\psi(x) = d^{-N/2}` exactly (unconstrained
  spaces only: inside a sector the uniform conditionals are not a product state).
* **computational-basis state** :math:`|s, s, \dots, s\rangle`: the logits bias favours the
  local value :math:`s` by a gap :math:`\Delta`. At every site where the mask leaves a choice,
  :math:`p_i(s) = 1/(1 + m_i e^{-\Delta})` with :math:`m_i < d` the other allowed values, so

  .. math:: |\langle s\dots s|\psi\rangle|^2 = \prod_i p_i(s) \ge 1 - N(d-1)e^{-\Delta}.

  The default :math:`\Delta = 40` gives :math:`e^{-40} \approx 4\times10^{-18} < 2^{-53}`: the
  fidelity is 1.0 in double precision for :math:`N(d-1) < 26` and above :math:`1 - 10^{-12}` up
  to :math:`N(d-1) \approx 2\times10^5`; the norm is exactly 1 by construction (masked softmax).
  The other amplitudes are :math:`\le e^{-\Delta/2} \approx 2\times10^{-9}` but *not* zero, on
  purpose (DESIGN.md §3): with exactly one-hot conditionals (a gap :math:`\gtrsim 1500`, where
  :math:`e^{-\Delta/2}` underflows) every derivative :math:`\partial\psi(y)/\partial\theta =
  \psi(y)\,\partial\log\psi(y)/\partial\theta` off the basis state vanishes and no variational
  time step can leave the state.

Example:
    >>> import jax, netket as nk, nqs
    >>> hi = nk.hilbert.Spin(0.5, 4)
    >>> model = nqs.ARTransformer(hilbert=hi, n_layers=1, d_model=8, n_heads=2)
    >>> variables = x_polarised(model, model.init(jax.random.PRNGKey(0), hi.all_states()))
    >>> float(abs(jax.numpy.exp(model.apply(variables, hi.all_states()))[0]) ** 2)
    0.0625
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nqs.errors import NQSError, positive_float
from nqs.tabular_ar import TabularAR

#: Default logit gap :math:`\Delta` of basis states (see the module docstring).
DEFAULT_LOGIT_GAP = 40.0


def _heads(model, variables) -> dict:
    params = variables.get("params", {}) if hasattr(variables, "get") else {}
    if "logits_head" not in params:
        raise NQSError(
            f"Product states are built in the output heads of nqs.ARTransformer; "
            f"{type(model).__name__} has no 'logits_head'. Use an nqs.ARTransformer, or set "
            "the parameters yourself."
        )
    return dict(params)


def _with_heads(model, variables, logits_bias) -> dict:
    params = _heads(model, variables)
    head = params["logits_head"]
    params["logits_head"] = {"kernel": jnp.zeros_like(head["kernel"]), "bias": logits_bias}
    if "phase_head" in params:
        phase = params["phase_head"]
        params["phase_head"] = {
            "kernel": jnp.zeros_like(phase["kernel"]),
            "bias": jnp.zeros_like(phase["bias"]),
        }
    return {**variables, "params": params}


def x_polarised(model, variables) -> dict:
    r"""Variables of :math:`|{+}\rangle^{\otimes N}` (uniform conditionals, zero phase).

    Args:
        model: an :class:`~nqs.ARTransformer` or a wave-function
            :class:`~nqs.tabular_ar.TabularAR` (``machine_pow=2``) on an unconstrained Hilbert
            space.
        variables: its variables (``model.init(...)``); only the two output heads of a
            transformer change; a table is reset to its initialisation, the uniform state
            (polar: logits and phases 0; Cartesian: real parts 1, imaginary parts 0).
    """
    if model.hilbert.constrained:
        raise NQSError(
            f"The x-polarised state |+...+> lies outside the sector of {model.hilbert}; "
            "use a basis state inside the sector (e.g. the bare vacuum of the quantum link "
            "model), or an unconstrained Hilbert space."
        )
    if isinstance(model, TabularAR):
        if model.machine_pow != 2:
            raise NQSError("|+...+> is a wave function: use TabularAR(..., machine_pow=2).")
        # The table's initialisation (deterministic, key-independent) is the uniform state.
        fresh = model.init(jax.random.PRNGKey(0), model.hilbert.all_states()[:1])
        return {**variables, "params": fresh["params"]}
    bias = _heads(model, variables)["logits_head"]["bias"]
    return _with_heads(model, variables, jnp.zeros_like(bias))


def basis_state(model, variables, value, *, logit_gap: float = DEFAULT_LOGIT_GAP) -> dict:
    r"""Variables of the computational-basis state with every site in the local state ``value``.

    Args:
        model: an :class:`~nqs.ARTransformer`.
        variables: its variables; only the two output heads change.
        value: a local state of the Hilbert space (e.g. ``1`` for all up with NetKet's spins,
            whose local states are ``[1, -1]``). The configuration ``(value, ..., value)`` must
            lie in the model's sector.
        logit_gap: :math:`\Delta` (module docstring). The fidelity with the basis state is at
            least :math:`1 - N(d-1)e^{-\Delta}`.
    """
    logit_gap = positive_float("logit_gap", logit_gap)
    hilbert = model.hilbert
    local_states = np.asarray(hilbert.local_states).tolist()
    if value not in local_states:
        raise NQSError(
            f"value={value!r} is not a local state of {hilbert}; choose one of {local_states}."
        )
    config = jnp.full((1, hilbert.size), value, dtype=np.asarray(hilbert.local_states).dtype)
    if hilbert.constrained and not bool(hilbert.constraint(config)[0]):
        raise NQSError(
            f"The configuration with every site equal to {value!r} is not in the sector of "
            f"{hilbert}; choose a basis state inside the sector."
        )
    index = local_states.index(value)
    bias = _heads(model, variables)["logits_head"]["bias"]
    return _with_heads(model, variables, jnp.zeros_like(bias).at[index].set(logit_gap))


def all_up(model, variables, *, logit_gap: float = DEFAULT_LOGIT_GAP) -> dict:
    r"""All spins up, :math:`|\uparrow\cdots\uparrow\rangle` (:math:`\sigma^z = +1`)."""
    return basis_state(model, variables, 1, logit_gap=logit_gap)


def all_down(model, variables, *, logit_gap: float = DEFAULT_LOGIT_GAP) -> dict:
    r"""All spins down, :math:`|\downarrow\cdots\downarrow\rangle` (:math:`\sigma^z = -1`)."""
    return basis_state(model, variables, -1, logit_gap=logit_gap)
