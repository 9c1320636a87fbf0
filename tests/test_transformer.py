"""ARTransformer: exact normalisation on the sector, causality, cache consistency, and drop-in
use inside NetKet's own MCState / VMC_SR."""

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest

import nqs
from nqs.constraints import U1
from nqs.errors import ConstraintMismatchError, NQSError

HI = nk.hilbert.Spin(0.5, 8, total_sz=0)  # 70 states


def _random_params(model, seed=0, scale=0.5):
    """Initial parameters plus noise, so that factored attention and zero biases are exercised."""
    params = model.init(jax.random.PRNGKey(seed), HI.all_states()[:2])
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
    noisy = [
        x + scale * jax.random.normal(k, x.shape, x.dtype)
        for x, k in zip(leaves, keys, strict=True)
    ]
    return jax.tree.unflatten(tree, noisy)


VARIANTS = [
    dict(attention="standard"),
    dict(attention="factored"),
    dict(attention="standard", phase=False),
    dict(attention="factored", n_layers=3, n_heads=1),
]


@pytest.mark.parametrize("options", VARIANTS)
def test_normalised_on_the_sector(options):
    # Masked, renormalised conditionals: sum over the sector of |psi|^2 is 1 to rounding.
    model = nqs.ARTransformer(hilbert=HI, **{"n_layers": 2, "d_model": 8, "n_heads": 2, **options})
    log_psi = model.apply(_random_params(model), HI.all_states())
    assert abs(np.sum(np.exp(2 * log_psi.real)) - 1) < 1e-10
    assert jnp.iscomplexobj(log_psi) == options.get("phase", True)


def test_outside_the_sector_the_amplitude_vanishes():
    model = nqs.ARTransformer(hilbert=HI, n_layers=1, d_model=8, n_heads=2)
    params = _random_params(model)
    outside = jnp.ones((1, 8))  # all up: S^z = 4
    assert np.exp(2 * model.apply(params, outside).real)[0] == 0.0


@pytest.mark.parametrize("attention", ["standard", "factored"])
def test_causal(attention):
    # Conditional i must not change when sites >= i change.
    model = nqs.ARTransformer(hilbert=HI, n_layers=2, d_model=8, n_heads=2, attention=attention)
    params = _random_params(model)
    x = HI.all_states()[:1]
    base = model.apply(params, x, method=model.conditionals_log_psi)
    for i in range(1, 8):
        y = x.at[:, i:].set(-x[:, i:])
        other = model.apply(params, y, method=model.conditionals_log_psi)
        # The masks depend on the prefix only too, so conditionals up to i agree exactly.
        np.testing.assert_allclose(other[:, : i + 1], base[:, : i + 1], atol=1e-12)


@pytest.mark.parametrize("attention", ["standard", "factored"])
def test_cached_conditionals_equal_the_full_pass(attention):
    model = nqs.ARTransformer(hilbert=HI, n_layers=2, d_model=8, n_heads=2, attention=attention)
    params = _random_params(model)
    x = HI.all_states()
    full = model.apply(params, x, method=model.conditionals)
    cache = model.init(jax.random.PRNGKey(0), x, 0, method=model.conditional)["cache"]
    for i in range(HI.size):
        p, mutated = model.apply(
            {**params, "cache": cache}, x, i, method=model.conditional, mutable=["cache"]
        )
        cache = mutated["cache"]
        np.testing.assert_allclose(p, full[:, i], atol=1e-12)


def test_uncached_model_gives_the_same_conditionals():
    cached = nqs.ARTransformer(hilbert=HI, n_layers=1, d_model=8, n_heads=2)
    uncached = cached.clone(use_cache=False)
    params = _random_params(cached)
    x = HI.all_states()[:5]
    np.testing.assert_allclose(
        uncached.apply(params, x, 3, method=uncached.conditional),
        cached.apply(params, x, method=cached.conditionals)[:, 3],
        atol=1e-14,
    )


def test_works_unchanged_in_netket_mcstate_and_vmc_sr():
    # NetKet's own sampler refuses constrained spaces, so use the unconstrained chain here.
    hi = nk.hilbert.Spin(0.5, 6)
    hamiltonian = nk.operator.Ising(hi, nk.graph.Chain(6), h=1.0, J=-1.0)
    model = nqs.ARTransformer(hilbert=hi, n_layers=1, d_model=8, n_heads=2)
    vs = nk.vqs.MCState(nk.sampler.ARDirectSampler(hi), model, n_samples=64, seed=0)
    full = nk.vqs.FullSumState(hi, model, variables=vs.variables)
    assert abs(float(jnp.sum(jnp.abs(full.to_array()) ** 2)) - 1) < 1e-10
    before = vs.parameters
    driver = nk.driver.VMC_SR(
        hamiltonian, optax.sgd(0.05), diag_shift=1e-3, variational_state=vs, use_ntk=True,
        on_the_fly=True,
    )
    driver.run(3, out=None, show_progress=False)
    assert np.isfinite(driver._loss_stats.mean)
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), before, vs.parameters)
    assert max(jax.tree.leaves(moved)) > 0


def test_explicit_constraint_must_match_the_hilbert_space():
    with pytest.raises(ConstraintMismatchError, match="hilbert"):
        nqs.ARTransformer(hilbert=nk.hilbert.Spin(0.5, 8), constraint=U1(8, (1, -1), 0))
    model = nqs.ARTransformer(hilbert=HI, constraint=U1.from_hilbert(HI))
    assert model.resolved_constraint == U1.from_hilbert(HI)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(d_model=10, n_heads=4), "divisible"),
        (dict(n_layers=0), "n_layers"),
        (dict(attention="linear"), "attention"),
        (dict(param_dtype=jnp.complex128), "real"),
    ],
)
def test_bad_options_are_refused(options, match):
    with pytest.raises(NQSError, match=match):
        nqs.ARTransformer(hilbert=HI, **options)
