"""Rényi-2 swap estimator on a constrained (fusion-path) autoregressive model against the exact
Rényi-2 of the same normalised state, and central-charge fits on synthetic data."""

import jax
import numpy as np
import pytest

import nqs
from hamiltonians.anyons import golden_chain
from nqs.entanglement import exact_renyi2, fit_central_charge, renyi2, swap_ratios
from nqs.errors import NQSError

L = 8  # golden chain: 47 fusion paths in 2^8 label strings


@pytest.fixture(scope="module")
def golden_model():
    """A random complex ARTransformer on the golden chain sector, its sector states and psi."""
    system = golden_chain(L)
    model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
    x = np.asarray(system.hilbert.all_states())
    params = jax.jit(model.init)(jax.random.PRNGKey(0), x[:2])
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda p: np.asarray(p) + 0.5 * rng.normal(size=p.shape), params)
    log_psi = jax.jit(model.apply)
    return (lambda s: log_psi(params, s)), x, np.exp(np.asarray(log_psi(params, x)))


def all_labels():
    return (np.arange(2**L)[:, None] >> np.arange(L)[::-1]) & 1


def test_masked_model_vanishes_on_invalid_fusion_paths(golden_model):
    log_psi, _, psi = golden_model
    strings = all_labels()
    valid = ~((strings == 0) & (np.roll(strings, 1, axis=1) == 0)).any(axis=1)
    amplitudes = np.exp(np.asarray(log_psi(strings)))
    assert valid.sum() == 47 and (amplitudes[~valid] == 0).all()  # exactly 0.0, not small
    assert np.sum(np.abs(psi) ** 2) == pytest.approx(1, abs=1e-10)


def test_exact_renyi2_agrees_with_a_dense_embedding(golden_model):
    # Reference for the reference: embed psi in all 2^8 strings, reshape sites (1,2,3 | rest).
    log_psi, x, psi = golden_model
    strings = all_labels()
    dense = np.exp(np.asarray(log_psi(strings)))
    order = [1, 2, 3, 0, 4, 5, 6, 7]
    m = dense.reshape((2,) * L).transpose(order).reshape(8, 32)
    expected = -np.log(np.sum(np.abs(m @ m.conj().T) ** 2))
    assert exact_renyi2(x, psi, [1, 2, 3]) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "block, shared", [([1, 2, 3], ()), ([2, 3, 4, 5], ()), ([1, 2, 3], (0, 4))]
)
def test_swap_estimator_is_exact_in_expectation(golden_model, block, shared):
    # sum_{x,y} p(x) p(y) r(x, y) = Tr rho_A^2 exactly (up to rounding), although most swapped
    # strings are invalid fusion paths: the masked model gives them amplitude exactly 0.
    log_psi, x, psi = golden_model
    p = np.abs(psi) ** 2
    i, j = np.meshgrid(np.arange(len(x)), np.arange(len(x)), indexing="ij")
    r = np.asarray(swap_ratios(log_psi, x[i.ravel()], x[j.ravel()], block, shared_sites=shared))
    purity = np.sum(np.outer(p, p).ravel() * r)
    assert abs(purity.imag) < 1e-12
    assert -np.log(purity.real) == pytest.approx(
        exact_renyi2(x, psi, block, shared_sites=shared), abs=1e-10
    )


@pytest.mark.parametrize("error", ["delta", "jackknife"])
def test_sampled_estimate_is_within_its_error_bar(golden_model, error):
    # Independent exact samples from |psi|^2; the estimate must lie within 4 sigma of the exact
    # value (a 4-sigma miss has probability 6e-5), and sigma must be a sensible size.
    log_psi, x, psi = golden_model
    rng = np.random.default_rng(7)
    p = np.abs(psi) ** 2
    xs, ys = (x[rng.choice(len(x), size=4000, p=p / p.sum())] for _ in range(2))
    # Block of 4 labels between the shared boundary labels x_1, x_6: exact S2 = 0.706 here.
    estimate = renyi2(log_psi, xs, ys, [2, 3, 4, 5], shared_sites=(1, 6), error=error)
    exact = exact_renyi2(x, psi, [2, 3, 4, 5], shared_sites=(1, 6))
    assert 1e-3 < estimate.error < 0.1
    assert abs(estimate.entropy - exact) < 4 * estimate.error


@pytest.mark.parametrize("parity", ["separate", "correction"])
def test_central_charge_fit_recovers_synthetic_data(parity):
    # S_2(l) = (c/4) ln[(L/pi) sin(pi l/L)] + b + a (-1)^l with c = 0.7: both parity treatments
    # are exact for this model; the naive fit is biased by the oscillation.
    L_ring, c, b, a = 40, 0.7, 0.3, 0.08
    ell = np.arange(2, 21)
    s2 = c / 4 * np.log(L_ring / np.pi * np.sin(np.pi * ell / L_ring)) + b + a * (-1.0) ** ell
    fit = fit_central_charge(L_ring, ell, s2, parity, renyi_index=2)
    assert fit.c == pytest.approx(c, abs=1e-10)
    naive = fit_central_charge(L_ring, ell, s2, "none", renyi_index=2)
    assert abs(naive.c - c) > 10 * abs(fit.c - c) and naive.c_error > 0


def test_central_charge_error_bars_follow_the_data_errors():
    # Noise sigma = 0.01 on 19 points: the fitted c must be within 4 sigma of the truth, sigma
    # between 0.01 and 0.5 (a slope over a log-range ~2.5 with coefficient c/3).
    L_ring, ell = 40, np.arange(2, 21)
    rng = np.random.default_rng(3)
    chord = np.log(L_ring / np.pi * np.sin(np.pi * ell / L_ring))
    s = chord / 3 + rng.normal(0, 0.01, ell.size)
    fit = fit_central_charge(L_ring, ell, s, "none", S_err=np.full(ell.size, 0.01))
    assert 0.01 < fit.c_error < 0.5 and abs(fit.c - 1.0) < 4 * fit.c_error


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda f, x: renyi2(f, x[:3], x[:4], [0]), "same shape"),
        (lambda f, x: renyi2(f, x[:3], x[:3], [9]), "site indices"),
        (lambda f, x: fit_central_charge(8, [1, 2], [0.1, 0.2], "none"), "cannot fit"),
        (lambda f, x: fit_central_charge(8, [1, 9], [0.1, 0.2], "none"), "0 < ell < L"),
        (lambda f, x: fit_central_charge(8, [1, 2, 3], [0.1, 0.2, 0.3], "odd"), "parity"),
    ],
)
def test_bad_input_is_refused(golden_model, call, match):
    log_psi, x, _ = golden_model
    with pytest.raises(NQSError, match=match):
        call(log_psi, x)
