"""Exact autoregressive sampler: samples in the sector, distributed as |psi|^2, chunking,
log-probabilities, clear errors, and NetKet sharding over two CPU devices."""

import os
import subprocess
import sys
import textwrap

import jax
import netket as nk
import numpy as np
import pytest
import scipy.stats

import nqs
import samplers
from nqs.errors import ConstraintMismatchError, NQSError, SampleCountError


def _sample(sampler, model, params, n, seed=0, **kw):
    state = sampler.init_state(model, params, seed=seed)
    return sampler.sample(model, params, state=state, chain_length=n // sampler.n_chains, **kw)[0]


@pytest.fixture(scope="module")
def setup(chain6, small_model):
    params = small_model.init(jax.random.PRNGKey(3), chain6.hilbert.all_states()[:2])
    return chain6.hilbert, small_model, params


def test_every_sample_lies_in_the_sector(setup):
    hi, model, params = setup
    x = _sample(samplers.ARDirectSampler(hi), model, params, 512).reshape(-1, hi.size)
    assert bool(hi.constraint(x).all())
    assert np.all(np.asarray(x).sum(axis=1) == 0)


def test_chi_squared_against_exact_probabilities(setup):
    # 20 states of the 6-site S^z = 0 sector; under H0 the statistic is chi^2 with 19 dof.
    hi, model, params = setup
    p = np.exp(2 * np.asarray(model.apply(params, hi.all_states())).real)
    n = 40_000
    x = _sample(samplers.ARDirectSampler(hi, chunk_size=5000), model, params, n, seed=7)
    counts = np.bincount(np.asarray(hi.states_to_numbers(x.reshape(-1, hi.size))), minlength=20)
    chi2 = np.sum((counts - n * p) ** 2 / (n * p))
    p_value = scipy.stats.chi2.sf(chi2, df=len(p) - 1)
    assert p_value > 1e-3, (chi2, p_value)


def test_log_probabilities_are_log_psi_squared(setup):
    hi, model, params = setup
    sampler = samplers.ARDirectSampler(hi)
    state = sampler.init_state(model, params, seed=1)
    (x, log_p), _ = sampler.sample(
        model, params, state=state, chain_length=64, return_log_probabilities=True
    )
    exact = 2 * np.asarray(model.apply(params, x.reshape(-1, hi.size))).real
    np.testing.assert_allclose(np.asarray(log_p).reshape(-1), exact, atol=1e-10)


def test_chunk_size_must_divide_the_samples(setup):
    hi, model, params = setup
    with pytest.raises(SampleCountError, match="chunk_size"):
        _sample(samplers.ARDirectSampler(hi, chunk_size=7), model, params, 64)
    with pytest.raises(NQSError, match="chunk_size"):
        samplers.ARDirectSampler(hi, chunk_size=0)


def test_model_without_the_constraint_is_refused(chain6):
    netket_model = nk.models.ARNNDense(hilbert=chain6.hilbert, layers=1, features=2)
    with pytest.raises(ConstraintMismatchError, match="does not enforce"):
        nk.vqs.MCState(samplers.ARDirectSampler(chain6.hilbert), netket_model, n_samples=8)
    unconstrained = nqs.ARTransformer(hilbert=nk.hilbert.Spin(0.5, 6), n_layers=1, d_model=4)
    with pytest.raises(ConstraintMismatchError):
        nk.vqs.MCState(samplers.ARDirectSampler(chain6.hilbert), unconstrained, n_samples=8)


def test_netket_models_sample_on_unconstrained_spaces():
    hi = nk.hilbert.Spin(0.5, 5)
    model = nk.models.ARNNDense(hilbert=hi, layers=1, features=2)
    vs = nk.vqs.MCState(samplers.ARDirectSampler(hi), model, n_samples=16, seed=0)
    assert vs.samples.shape[-1] == 5


SHARDED = textwrap.dedent(
    """
    import jax, netket as nk, numpy as np
    import hamiltonians, nqs, samplers, solvers
    from nqs.errors import SampleCountError
    assert jax.device_count() == 2
    system = hamiltonians.heisenberg_chain(6)
    model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
    for chunk in (None, 8):
        vs = nk.vqs.MCState(samplers.ARDirectSampler(system.hilbert, chunk_size=chunk), model,
                            n_samples=64, seed=0)
        x = vs.samples
        assert x.sharding.spec[0] == "S", x.sharding
        assert bool(system.hilbert.constraint(x.reshape(-1, 6)).all())
    result = solvers.ground_state(system, model, n_samples=64, n_steps=2, exact=False)
    assert np.isfinite(result.energy)
    try:
        solvers.ground_state(system, model, n_samples=33, n_steps=2)
    except SampleCountError as err:
        assert "divisible" in str(err)
    else:
        raise AssertionError("n_samples=33 on 2 devices was accepted")
    print("OK")
    """
)


def test_sharded_over_two_cpu_devices():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    out = subprocess.run(
        [sys.executable, "-c", SHARDED], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]
