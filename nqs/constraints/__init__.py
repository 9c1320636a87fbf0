"""Exact symmetry constraints as finite automata over the autoregressive order.

See :mod:`nqs.constraints.base` for the interface and the normalisation argument.
"""

from nqs.constraints.base import (
    MASK_LOGIT,
    AbstractConstraint,
    AutomatonMembership,
    Unconstrained,
)
from nqs.constraints.linear_code import LinearCode
from nqs.constraints.resolve import check_model_matches_hilbert, constraint_of
from nqs.constraints.transfer import WalkAutomaton
from nqs.constraints.u1 import U1

__all__ = [
    "MASK_LOGIT",
    "U1",
    "AbstractConstraint",
    "AutomatonMembership",
    "LinearCode",
    "Unconstrained",
    "WalkAutomaton",
    "check_model_matches_hilbert",
    "constraint_of",
]
