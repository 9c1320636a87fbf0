r"""Named initial states of quenches, written into a model's parameters (:mod:`nqs.initial_states`).

=================  =====================================================================
``"x_polarised"``  :math:`|{+}\rangle^{\otimes N}` (unconstrained spin systems)
``"all_up"``       :math:`|\uparrow\cdots\uparrow\rangle`, :math:`\sigma^z = +1` everywhere
``"all_down"``     :math:`|\downarrow\cdots\downarrow\rangle`
``"bare_vacuum"``  quantum link model: no charges, every :math:`E_{j,j+1} = -\tfrac12`
                   (models.md §8); via ``hamiltonians.quantum_link.bare_vacuum_parameters``
=================  =====================================================================

Basis states use the logit gap of :data:`nqs.initial_states.DEFAULT_LOGIT_GAP` (fidelity 1 to
double precision, yet evolvable; see :mod:`nqs.initial_states`).
"""

from __future__ import annotations

from nqs import initial_states
from nqs.errors import NQSError, check_choice

INITIAL_STATES = ("x_polarised", "all_up", "all_down", "bare_vacuum")


def check_initial_state(system, name: str) -> None:
    """Refuse, before any work, a name that is unknown or meaningless for ``system``."""
    check_choice("initial_state", name, INITIAL_STATES)
    if name == "bare_vacuum" and system.name != "quantum_link_model":
        raise NQSError(
            f"initial_state='bare_vacuum' is the vacuum of the quantum link model, not of "
            f"{system.name}; use hamiltonians.quantum_link.quantum_link_model(n) or another "
            f"initial state ({', '.join(INITIAL_STATES[:3])})."
        )
    if name == "x_polarised" and system.hilbert.constrained:
        raise NQSError(
            f"initial_state='x_polarised' lies outside the sector of {system.name}; choose a "
            "basis state of the sector."
        )
    if name in ("all_up", "all_down"):
        values = [float(v) for v in system.hilbert.local_states]
        if sorted(values) != [-1.0, 1.0]:
            raise NQSError(
                f"initial_state={name!r} needs spin-1/2 local states (+1, -1), but "
                f"{system.name} has {values}."
            )


def initial_variables(system, model, variables, name: str) -> dict:
    """``variables`` with the output heads set to the named product state."""
    check_initial_state(system, name)
    if name == "x_polarised":
        return initial_states.x_polarised(model, variables)
    if name == "all_up":
        return initial_states.all_up(model, variables)
    if name == "all_down":
        return initial_states.all_down(model, variables)
    from hamiltonians.quantum_link import bare_vacuum_parameters

    return bare_vacuum_parameters(model, variables, logit_gap=initial_states.DEFAULT_LOGIT_GAP)
