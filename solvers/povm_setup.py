r"""Shared set-up of the open-system solvers: model checks, the initial state, observables.

Everything here runs at the API boundary, before any expensive work, so bad input fails with a
clear :mod:`nqs.errors` message that names the fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import flax
import jax
import jax.numpy as jnp
import numpy as np

import nqs.povm_model as pm
from hamiltonians.open_systems import OpenSystem
from nqs.errors import CheckpointError, NQSError
from nqs.string_states import StringMixture
from nqs.tabular_ar import TabularAR, tabular_product_parameters
from nqs.transformer import ARTransformer
from solvers.ground_state import model_config
from solvers.povm_ensemble import MAX_EXACT_SITES, weighted_stats


def check_system(system) -> OpenSystem:
    if not isinstance(system, OpenSystem):
        raise NQSError(
            f"Open-system solvers need a hamiltonians.open_systems.OpenSystem, got "
            f"{type(system).__name__}; build one with e.g. dissipative_ising_chain(n)."
        )
    return system


def check_probability_model(model, system: OpenSystem):
    """Refuse models that do not output :math:`\\log P` over ``Fock(3, N)`` outcome strings."""
    inner = model.model if isinstance(model, StringMixture) else model
    hilbert = getattr(inner, "hilbert", None)
    fix = (
        f"build it with nqs.povm_model.probability_transformer({system.n_sites}, ...) "
        "(4 outcomes per site, machine_pow=1, phase=False)"
    )
    if hilbert is None:
        raise NQSError(f"The model {type(model).__name__} has no Hilbert space; {fix}.")
    if hilbert.local_size != 4:
        raise NQSError(
            f"The model has {hilbert.local_size} local states per site, but a POVM distribution "
            f"needs 4 outcomes per site (a = 0..3); {fix}."
        )
    if hilbert.size != system.n_sites:
        raise NQSError(
            f"The model is built for {hilbert.size} sites but the system has {system.n_sites}; "
            f"{fix}."
        )
    if getattr(hilbert, "constrained", False):
        raise NQSError(f"POVM distributions live on all 4^N strings; {hilbert} is constrained.")
    if getattr(inner, "machine_pow", 1) != 1 or getattr(inner, "phase", False):
        raise NQSError(f"The model must output log P (machine_pow=1, no phase); {fix}.")
    return model


def _product_variables(model, variables, p1):
    if isinstance(model, StringMixture):
        out = flax.core.unfreeze(variables)
        out["params"]["model"] = _product_variables(model.model, out["params"]["model"], p1)
        return out
    if isinstance(model, ARTransformer):
        return pm.product_state_parameters(model, variables, p1)
    if isinstance(model, TabularAR):
        return tabular_product_parameters(model, variables, p1)
    raise NQSError(
        f"Cannot set {type(model).__name__} to a product state automatically; pass "
        "initial_state=variables (a dict with 'params') prepared for your model."
    )


def initial_variables(model, system: OpenSystem, initial_state, seed: int, *, random_ok=False):
    r"""The model's variables for the initial state.

    Args:
        model: the probability model.
        system: the open system.
        initial_state: ``None`` (the system's product state :math:`\rho_1^{\otimes N}`,
            ``system.initial_site_state``, set *exactly* via
            :func:`nqs.povm_model.product_state_parameters`), a 2×2 single-site density matrix
            (its product state), ``"random"`` (the network's random initialisation; only where
            ``random_ok``), or the variables themselves (a mapping with ``"params"``).
        seed: seeds the network initialisation.

    Raises:
        NQSError: if a product state has a zero outcome probability (``povm.md`` §9), with the fix.
    """
    x0 = jnp.zeros((1, system.n_sites))
    if isinstance(initial_state, Mapping):
        variables = flax.core.unfreeze(initial_state)
        if "params" not in variables:
            raise NQSError("initial_state variables must be a mapping with a 'params' entry.")
        template = jax.eval_shape(model.init, jax.random.PRNGKey(0), x0)
        if jax.tree.structure(template["params"]) != jax.tree.structure(variables["params"]):
            raise NQSError(
                "initial_state does not match the model's parameters; pass the variables of "
                "this model (e.g. result.variables of an earlier run with the same model)."
            )
        return {"params": variables["params"]}
    variables = flax.core.unfreeze(model.init(jax.random.PRNGKey(seed), x0))
    variables = {"params": variables["params"]}
    if isinstance(initial_state, str):
        if initial_state != "random" or not random_ok:
            allowed = "None, a 2x2 density matrix, variables" + (", 'random'" if random_ok else "")
            raise NQSError(f"initial_state={initial_state!r} is not one of: {allowed}.")
        return variables
    rho1 = system.initial_site_state if initial_state is None else np.asarray(initial_state)
    p1 = pm.product_state_probabilities(system.povm, rho1)
    return flax.core.unfreeze(_product_variables(model, variables, p1))


def resolve_observables(system: OpenSystem, observables) -> dict:
    """``True``: the system's named observables; ``False``/``None``: none; or a dict."""
    if observables is True:
        return dict(system.observables)
    if observables is False or observables is None:
        return {}
    if not isinstance(observables, Mapping):
        raise NQSError("observables must be True, False or a {name: operator} dict.")
    return dict(observables)


def _estimate_observables(ensemble, params, key, observables: dict):
    x = ensemble.draw({"params": params}, key)
    log_p = ensemble.model.apply({"params": params}, x)
    w = ensemble.weights(log_p)
    names = sorted(observables)
    if not names:
        return {}
    values = jnp.stack([jnp.real(observables[k].get_conn_padded(x)[1][:, 0]) for k in names])
    mean, error, variance = weighted_stats(values, w, ensemble.exact)
    return {k: (mean[i], error[i], variance[i]) for i, k in enumerate(names)}


#: ``estimate_observables(ensemble, params, key, observables) -> {name: (mean, error, variance)}``
#: (compiled; ``ensemble`` static). Each observable is a POVM diagonal operator whose per-sample
#: value is :math:`O(a) = \sum_t c_t\,\mathrm{tr}(O_t Q^{a_{S_t}})` (site- or bond-averaged,
#: ``povm.md`` §1), so the error of a two-site correlator comes from the bond-summed per-sample
#: value.
estimate_observables = jax.jit(_estimate_observables, static_argnums=0)


class Stats:
    """Minimal NetKet-``Stats``-like record for :class:`nqs.io.RunFile` rows."""

    __slots__ = ("error_of_mean", "mean", "variance")

    def __init__(self, mean, error, variance=np.nan):
        self.mean = float(mean)
        self.error_of_mean = float(error)
        self.variance = float(variance)


def open_system_config(system: OpenSystem) -> dict:
    return {"name": system.name, **dict(system.parameters)}


def probability_model_config(model) -> dict:
    if isinstance(model, StringMixture):
        return {
            "type": "StringMixture",
            "orderings": [list(p) for p in model.orderings],
            "model": model_config(model.model),
        }
    return model_config(model)


def n_parameters(variables) -> int:
    return int(sum(np.size(x) for x in jax.tree.leaves(variables["params"])))


def want_exact(exact, system) -> bool:
    if exact == "auto":
        return system.n_sites <= MAX_EXACT_SITES
    if exact and system.n_sites > MAX_EXACT_SITES:
        raise NQSError(
            f"Exact references need N <= {MAX_EXACT_SITES} (got N = {system.n_sites}); "
            "pass exact=False or exact='auto'."
        )
    return bool(exact)


def describe_initial(initial_state):
    if initial_state is None:
        return "product state of system.initial_site_state"
    if isinstance(initial_state, Mapping):
        return "variables"
    return np.asarray(initial_state).tolist().__repr__()


def check_same_config(stored: dict, config: dict, resumable=()) -> None:
    """Refuse to resume a run with a different physical or numerical setup (keys in
    ``resumable`` may change)."""

    def norm(value):
        return json.loads(json.dumps(value, default=str))

    diffs = []
    for section, values in config.items():
        old = stored.get(section, {})
        for key in sorted(set(values) | set(old)):
            if key not in resumable and norm(values.get(key)) != norm(old.get(key)):
                diffs.append(f"{section}.{key}: {old.get(key)!r} -> {values.get(key)!r}")
    if diffs:
        raise CheckpointError(
            "Cannot resume: the configuration differs from the checkpointed run ("
            + "; ".join(diffs)
            + "). Resume with the original configuration, or start a new run with overwrite=True."
        )
