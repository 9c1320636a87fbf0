"""String states (povm.md §8): normalisation, exact symmetry under the group generating the
orderings, the exact mixture sampler (chi^2 against the enumerated P), and use in MCState.

Normalisation and invariance are algebraic (a logsumexp over permuted copies), so 1e-12; the
sampler is tested statistically, with a p-value threshold of 1e-3."""

import functools

import jax
import netket as nk
import numpy as np
import pytest
import scipy.stats

import nqs.povm_model as pm
import samplers.strings as ss
from hamiltonians.open_systems import povm_observable
from hamiltonians.povm import PAULI
from nqs.errors import NQSError
from nqs.string_states import (
    StringMixture,
    chain_orderings,
    square_point_group,
    square_snake_orderings,
)


def _noisy_params(model, n_sites, seed=0):
    @jax.jit
    def noisy(key):
        params = model.init(key, np.zeros((1, n_sites)))
        leaves, tree = jax.tree.flatten(params)
        keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
        noise = [0.5 * jax.random.normal(k, w.shape) for w, k in zip(leaves, keys, strict=True)]
        return tree.unflatten([w + dw for w, dw in zip(leaves, noise, strict=True)])

    return noisy(jax.random.PRNGKey(seed))


@pytest.fixture(scope="module")
def chain3():
    """Mixture over the 6 dihedral orderings of a 3-site ring, with a generic shared model."""
    inner = pm.probability_transformer(3, n_layers=1, d_model=8, n_heads=2)
    mixture = StringMixture(inner, chain_orderings(3))
    return mixture, _noisy_params(mixture, 3)


@functools.cache
def _jitted_apply(mixture):
    return jax.jit(mixture.apply)


def _log_p(mixture, params, x):
    return np.asarray(_jitted_apply(mixture)(params, np.asarray(x)))


def _assert_invariant(mixture, params, x, group):
    """log P(x[:, g]) == log P(x) for every g, evaluated in one batch."""
    x = np.asarray(x)
    permuted = np.concatenate([x[:, list(g)] for g in group])
    log_p = _log_p(mixture, params, np.concatenate([x, permuted]))
    np.testing.assert_allclose(
        log_p[len(x) :].reshape(len(group), -1) - log_p[: len(x)], 0, atol=1e-12
    )
    return log_p[: len(x)]


def test_orderings():
    assert chain_orderings(4, reflection=False) == (
        (0, 1, 2, 3),
        (1, 2, 3, 0),
        (2, 3, 0, 1),
        (3, 0, 1, 2),
    )
    assert len(chain_orderings(5)) == 10  # dihedral group D5
    assert len(square_point_group(3)) == 8
    # Snake: row 0 left to right, row 1 right to left; 8 distinct D4 images, 8 L^2 with shifts.
    snakes = square_snake_orderings(3)
    assert snakes[0] == (0, 1, 2, 5, 4, 3, 6, 7, 8) and len(snakes) == 8
    assert len(square_snake_orderings(3, translations=True)) == 72


def test_mixture_is_normalised_and_averages_probabilities(chain3):
    mixture, params = chain3
    x = mixture.hilbert.all_states()
    p = np.exp(_log_p(mixture, params, x))
    assert abs(p.sum() - 1) < 1e-12
    # Average of probabilities (not of amplitudes): P = mean_s P_AR(x[:, pi_s]).
    inner = {"params": params["params"]["model"]}
    permuted = np.concatenate([np.asarray(x)[:, list(s)] for s in mixture.orderings])
    p_ar = np.exp(np.asarray(jax.jit(mixture.model.apply)(inner, permuted)))
    np.testing.assert_allclose(p, p_ar.reshape(mixture.n_strings, -1).mean(axis=0), rtol=1e-12)


def test_chain_mixture_is_invariant_under_the_dihedral_group(chain3):
    # The orderings are the group D3 itself, so P(g.a) = P(a) for every g, on all 64 strings.
    mixture, params = chain3
    _assert_invariant(mixture, params, mixture.hilbert.all_states(), mixture.orderings)


@pytest.mark.parametrize("L, translations, n_strings", [(2, False, None), (3, True, 16)])
def test_square_snake_mixture_is_invariant_under_the_lattice_group(L, translations, n_strings):
    # Orderings {g o snake : g in G}: invariance under G = D4 (L = 2: all 256 strings), and under
    # D4 x translations (L = 3, 72 strings: 16 random configurations).
    inner = pm.probability_transformer(L * L, n_layers=1, d_model=8, n_heads=2)
    mixture = StringMixture(inner, square_snake_orderings(L, translations=translations))
    params = _noisy_params(mixture, L * L, seed=2)
    hi = inner.hilbert
    x = np.asarray(
        hi.all_states() if n_strings is None else hi.random_state(jax.random.PRNGKey(3), n_strings)
    )
    group = list(square_point_group(L))
    if translations:
        r, c = np.divmod(np.arange(L * L), L)
        group += [((r + 1) % L) * L + c, r * L + (c + 1) % L]  # with D4, generators of G
    log_p = _assert_invariant(mixture, params, x, group)
    if n_strings is None:
        assert abs(np.exp(log_p).sum() - 1) < 1e-12


def test_sampler_chi_squared_against_the_exact_mixture(chain3):
    # 64 outcome strings; under H0 the statistic is chi^2 with 63 degrees of freedom.
    mixture, params = chain3
    hi = mixture.hilbert
    p = np.exp(_log_p(mixture, params, hi.all_states()))
    n = 20_000
    sampler = ss.StringSampler(hi, chunk_size=5_000)
    state = sampler.init_state(mixture, params, seed=11)
    (x, log_p), _ = sampler.sample(
        mixture, params, state=state, chain_length=n, return_log_probabilities=True
    )
    x = np.asarray(x).reshape(-1, 3)
    counts = np.bincount(np.asarray(hi.states_to_numbers(x)), minlength=64)
    chi2 = np.sum((counts - n * p) ** 2 / (n * p))
    p_value = scipy.stats.chi2.sf(chi2, df=63)
    assert p_value > 1e-3, (chi2, p_value)
    # The returned log-probabilities are those of the full mixture.
    np.testing.assert_allclose(
        np.asarray(log_p).reshape(-1), _log_p(mixture, params, x), atol=1e-12
    )


def test_works_in_netket_mcstate(chain3):
    # <sigma^z> of the POVM distribution: MC mean within 5 error bars of sum_a P(a) O(a).
    mixture, params = chain3
    hi = mixture.hilbert
    vs = nk.vqs.MCState(ss.StringSampler(hi), mixture, n_samples=4096, seed=0, variables=params)
    op = povm_observable(hi, "sic", [((i,), PAULI["z"], 1 / 3) for i in range(3)], "mean sz")
    p = np.exp(_log_p(mixture, params, hi.all_states()))
    exact = p @ np.asarray(op.get_conn_padded(hi.all_states())[1][:, 0])
    stats = vs.expect(op)
    assert abs(stats.mean.real - exact) < 5 * stats.error_of_mean + 1e-12, (stats, exact)


def test_bad_input_is_refused():
    inner = pm.probability_transformer(3, n_layers=1, d_model=8, n_heads=2)
    with pytest.raises(NQSError, match="not a permutation"):
        StringMixture(inner, ((0, 1, 1),))
    with pytest.raises(NQSError, match="machine_pow=1"):
        StringMixture(inner.clone(machine_pow=2), chain_orderings(3))
    with pytest.raises(NQSError, match="StringMixture"):
        ss.StringSampler(inner.hilbert).init_state(inner, {}, seed=0)
