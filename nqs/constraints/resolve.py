"""Match automata with NetKet Hilbert spaces, and models with the spaces they are sampled on."""

from __future__ import annotations

import numpy as np
from netket.hilbert.constraint import SumConstraint

from nqs.constraints.base import AbstractConstraint, AutomatonMembership, Unconstrained
from nqs.constraints.u1 import U1
from nqs.errors import ConstraintMismatchError


def constraint_of(hilbert) -> AbstractConstraint:
    """The automaton generating exactly the sector of a NetKet homogeneous Hilbert space.

    * no constraint -> :class:`Unconstrained`;
    * ``SumConstraint`` (e.g. ``Spin(0.5, N, total_sz=0)``) -> :class:`U1`;
    * :class:`AutomatonMembership` -> the automaton it wraps.
    """
    c = hilbert.constraint
    if c is None:
        return Unconstrained(hilbert.size, hilbert.local_size)
    if isinstance(c, SumConstraint):
        return U1.from_hilbert(hilbert)
    if isinstance(c, AutomatonMembership):
        return c.automaton
    raise ConstraintMismatchError(
        f"No autoregressive mask is known for the Hilbert-space constraint {c!r}. Build the "
        "Hilbert space from a constraint of nqs.constraints (constraint=automaton."
        "hilbert_constraint()), or pass the matching automaton to the model as constraint=."
    )


def _describe(constraint) -> str:
    return "no constraint" if constraint is None else repr(constraint)


def check_model_matches_hilbert(model, hilbert) -> AbstractConstraint:
    """Raise :class:`ConstraintMismatchError` unless ``model`` masks exactly ``hilbert``'s sector.

    Models without a ``constraint`` attribute (e.g. NetKet's ARNNs) are accepted only on
    unconstrained spaces: they are normalised over the full space, so sampling them on a sector
    would silently draw configurations outside it.

    Returns:
        The automaton the model enforces.
    """
    if getattr(model, "hilbert", None) is not None and model.hilbert.size != hilbert.size:
        raise ConstraintMismatchError(
            f"The model is built for {model.hilbert.size} sites but the Hilbert space has "
            f"{hilbert.size}; build the model with hilbert=system.hilbert."
        )
    if hasattr(model, "resolved_constraint"):
        automaton = model.resolved_constraint
    elif hilbert.constraint is None:
        return Unconstrained(hilbert.size, hilbert.local_size)
    else:
        raise ConstraintMismatchError(
            f"{type(model).__name__} does not enforce the Hilbert-space constraint "
            f"{hilbert.constraint!r}, so its samples would leave the sector. Use a constrained "
            "model such as nqs.ARTransformer(hilbert=system.hilbert), or sample on the "
            "unconstrained space."
        )
    if automaton.hilbert_constraint() != hilbert.constraint or automaton.local_size != (
        hilbert.local_size
    ):
        raise ConstraintMismatchError(
            f"The model masks with {automaton!r} (sector: "
            f"{_describe(automaton.hilbert_constraint())}) but the Hilbert space has "
            f"{_describe(hilbert.constraint)}; build the model with hilbert=system.hilbert "
            "and no explicit constraint, or with constraint=system.constraint."
        )
    if isinstance(automaton, U1) and tuple(automaton.local_states) != tuple(
        np.asarray(hilbert.local_states).tolist()
    ):
        raise ConstraintMismatchError(
            f"The model's U1 constraint uses local states {automaton.local_states} but the "
            f"Hilbert space has {tuple(hilbert.local_states)}; build it with U1.from_hilbert."
        )
    return automaton
