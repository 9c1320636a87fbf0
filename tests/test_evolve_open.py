"""Open-system dynamics (solvers.evolve_open): both steppers against exp(L t) P0 with exact sums,
an unbiased L1 gradient, sampled runs within their Monte Carlo error, no recompilation, exact
resume, the HDF5 file, and bad input refused before any work.

Exact references come from expm_multiply on the sparse POVM generator (hamiltonians.open_systems,
itself checked against a direct master-equation integration in test_lindblad.py). With exact sums
the remaining errors are the steppers' own; tolerances follow povm.md §10 (TDVP with a flexible
model 1e-3, trapezoid 1e-2)."""

import dataclasses
from functools import partial

import h5py
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest
from _openblas_threads import single_threaded_openblas
from jax import monitoring
from jax.flatten_util import ravel_pytree

import hamiltonians.open_systems as hos
import nqs
import nqs.povm_model as pm
import solvers.povm_ensemble as pe
from nqs.errors import CheckpointError, NQSError, OutputExistsError, SampleCountError
from nqs.io import SCHEMA_VERSION, read_run
from nqs.string_states import StringMixture, chain_orderings
from nqs.tabular_ar import TabularAR
from solvers.evolve_open import evolve_open
from solvers.povm_ensemble import Ensemble
from solvers.povm_losses import trapezoid_l1
from solvers.povm_setup import initial_variables

KEYS = ("sigma_x", "sigma_y", "sigma_z", "zz_nearest")
QUIET = dict(progress=False)
# The runs on `pair` share one ensemble (model, 1000 samples) and two-stage trapezoid schedules,
# so their compiled steps are shared (the ensemble is a static, hashable argument).
SAMPLES = 1000


@pytest.fixture(autouse=True, scope="module")
def _fast_eigh():
    # TDVP diagonalises the Fisher matrix at every right-hand side (see _openblas_threads).
    with single_threaded_openblas():
        yield


@pytest.fixture(scope="module")
def ring3():
    """Dissipative Ising ring, N = 3 (64 strings), V = 2, g = 1, gamma = 1, Pauli-4."""
    return hos.dissipative_ising_chain(3, g=1.0)


@pytest.fixture(scope="module")
def pair():
    """Open 2-site dissipative Ising chain (16 strings)."""
    return hos.dissipative_ising_chain(2, g=1.0, pbc=False)


@pytest.fixture(scope="module")
def tiny_transformer(pair):
    return pm.probability_transformer(pair.n_sites, n_layers=1, d_model=4, n_heads=1)


def _max_error(result):
    return max(np.max(np.abs(result.observables[k][0] - result.exact[k])) for k in KEYS)


def test_trapezoid_with_exact_sums_follows_the_exact_evolution(ring3):
    # Tabular AR (represents every distribution) + exact sums: only the Crank-Nicolson
    # discretisation (~ dt^2, 1e-4 here) and Adam's per-step floor remain. povm.md §10: 1e-2.
    model = TabularAR(hilbert=ring3.hilbert)
    result = evolve_open(
        ring3, model, t_final=0.5, dt=0.05, method="trapezoid", n_samples="exact", **QUIET
    )
    assert result.times.tolist() == pytest.approx(np.arange(11) * 0.05)
    assert _max_error(result) < 1e-2, result
    assert np.all(result.observables["sigma_z"][1] == 0)  # exact sums: no error bar
    # The optimiser reduces the residual far below that of the unmoved state.
    assert np.all(result.diagnostics["residual"] < 0.05 * result.diagnostics["residual_initial"])
    assert result.diagnostics["iterations"].tolist() == [200] * 10


def test_tdvp_with_exact_sums_follows_the_exact_evolution(ring3):
    # Exact Fisher matrix and force: the projection is exact for the tabular model
    # (tdvp_error ~ 1e-15); the adaptive Heun error per step is tol = 1e-9 in the Fisher metric.
    model = TabularAR(hilbert=ring3.hilbert)
    result = evolve_open(
        ring3,
        model,
        t_final=1.0,
        dt=0.01,
        save_every=0.25,
        method="tdvp",
        n_samples="exact",
        options=dict(tol=1e-9, pinv_tol=0.0, pinv_cutoff=1e-6),
        **QUIET,
    )
    assert result.times.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]  # save times hit exactly
    assert _max_error(result) < 1e-3, result
    assert result.diagnostics["tdvp_error"].max() < 1e-8
    assert result.diagnostics["dt"].max() > 0.01  # the adaptive step grew


def test_fixed_step_heun_converges_at_second_order(pair):
    # Halving dt divides the error at t = 0.4 by ~4 (Heun is second order).
    model = TabularAR(hilbert=pair.hilbert)
    exact = pair.exact_observables(pair.exact_evolution([0.4])[0])["sigma_z"]
    errors = []
    for dt in (0.1, 0.05, 0.025):
        result = evolve_open(
            pair,
            model,
            t_final=0.4,
            dt=dt,
            save_every=0.4,
            method="tdvp",
            n_samples="exact",
            options=dict(adaptive=False, pinv_tol=0.0, pinv_cutoff=1e-10),
            **QUIET,
        )
        errors.append(abs(result.observables["sigma_z"][0][-1] - exact))
    order = np.polyfit(np.log([0.1, 0.05, 0.025]), np.log(errors), 1)[0]
    assert 1.8 < order < 2.3, errors


def test_l1_gradient_estimator_is_unbiased(pair, tiny_transformer):
    # povm.md §5: with the sampling density detached, mean_s sign(r) grad r / P = grad sum_a |r|.
    # The exact gradient comes from enumerating all 16 strings; the sample average of 40
    # independent 500-sample estimates must agree within 5 standard errors, component-wise.
    model = tiny_transformer
    frozen = initial_variables(model, pair, None, 0)["params"]
    leaves, tree = jax.tree.flatten(frozen)
    keys = jax.random.split(jax.random.PRNGKey(3), len(leaves))
    moved = tree.unflatten(
        [w + 0.2 * jax.random.normal(k, w.shape) for w, k in zip(leaves, keys, strict=True)]
    )
    tau, generator = 0.05, pair.generator

    def gradient(ensemble, key):
        x = ensemble.draw({"params": moved}, key)
        grad = jax.grad(lambda p: trapezoid_l1(ensemble, generator, p, frozen, x, tau)[0])(moved)
        return ravel_pytree(grad)[0]

    exact = jax.jit(partial(gradient, Ensemble.build(model, pair.hilbert, "exact")))(None)
    one = jax.jit(partial(gradient, Ensemble.build(model, pair.hilbert, 500)))
    estimates = np.stack([one(k) for k in jax.random.split(jax.random.PRNGKey(4), 40)])
    mean = estimates.mean(0)
    error = estimates.std(0, ddof=1) / np.sqrt(estimates.shape[0])
    relevant = error > 1e-12  # parameters the loss does not depend on have zero gradient
    z = np.abs(mean - exact)[relevant] / error[relevant]
    assert relevant.sum() > 50 and z.max() < 5, (z.max(), np.sort(z)[-5:])
    assert np.mean(z**2) < 2  # chi^2 per component ~ 1 for an unbiased estimator


def test_lookup_evaluation_gives_the_same_loss(pair, tiny_transformer):
    # Gathering from all 4^N strings is an evaluation shortcut, not an approximation.
    params = initial_variables(tiny_transformer, pair, "random", 1, random_ok=True)["params"]
    x = jnp.asarray(pair.hilbert.all_states()[::3])
    loss = {}
    for lookup in (False, True):
        ensemble = Ensemble.build(tiny_transformer, pair.hilbert, x.shape[0], lookup=lookup)
        l1 = jax.jit(lambda p, e=ensemble: trapezoid_l1(e, pair.generator, p, p, x, 0.1)[0])
        loss[lookup] = l1(params)
    assert float(loss[True]) == pytest.approx(float(loss[False]), rel=1e-12)


@pytest.mark.parametrize("method", ["tdvp", "trapezoid"])
def test_sampled_runs_agree_with_exact_values_within_error_bars(pair, tiny_transformer, method):
    # 1000 samples per estimate, 20000 per observable: every saved observable lies within
    # 4 standard errors + the method's bias allowance of povm.md §10 (5e-3 TDVP, 1.5e-2
    # trapezoid). The error bars come from the per-sample POVM estimators (bond-summed for zz).
    if method == "tdvp":
        options = dict(tol=1e-4)
    else:
        options = dict(learning_rates=(1e-2, 1e-3), iterations=(60, 40))
    result = evolve_open(
        pair,
        tiny_transformer,
        t_final=0.4,
        dt=0.05,
        save_every=0.1,
        method=method,
        n_samples=SAMPLES,
        n_samples_obs=20 * SAMPLES,
        options=options,
        seed=1,
        **QUIET,
    )
    allowance = 5e-3 if method == "tdvp" else 1.5e-2
    for key in KEYS:
        mean, error = result.observables[key]
        assert np.all(error > 0)
        assert np.all(np.abs(mean - result.exact[key]) < 4 * error + allowance), (key, result)


def _compile_counter():
    compiles = []

    def listener(name, *_, **__):
        if name == "/jax/core/compile/backend_compile_duration":
            compiles.append(name)

    return compiles, listener


@pytest.mark.parametrize("method", ["trapezoid", "tdvp"])
def test_no_recompilation_after_the_first_step(pair, tiny_transformer, method):
    compiles, listener = _compile_counter()
    counts = {}

    def callback(step, row):
        counts[step] = len(compiles)

    trapezoid = dict(learning_rates=(1e-2, 1e-3), iterations=(3, 2))
    options = trapezoid if method == "trapezoid" else dict(tol=1.0)
    monitoring.register_event_duration_secs_listener(listener)
    try:
        evolve_open(
            pair,
            tiny_transformer,
            t_final=0.6,
            dt=0.1,
            method=method,
            n_samples=SAMPLES,
            options=options,
            callback=callback,
            **QUIET,
        )
    finally:
        monitoring.unregister_event_duration_listener(listener)
    assert len(counts) >= 5
    last = max(counts)
    assert counts[last] == counts[1], counts  # steps 2.. (and their observables) compiled nothing


@pytest.mark.parametrize("method", ["trapezoid", "tdvp"])
def test_resume_continues_exactly(tmp_path, pair, tiny_transformer, method):
    # 0.2 + resume to 0.4 must reproduce the uninterrupted 0.4 run bit for bit (same key
    # stream; for TDVP also the adaptive step proposal, which grows 0.05 -> 0.1 -> 0.2 here).
    if method == "trapezoid":
        options = dict(learning_rates=(1e-2, 1e-3), iterations=(4, 3))
        run = dict(dt=0.1, options=options)
    else:
        run = dict(dt=0.05, save_every=0.2, options=dict(tol=1.0))
    run.update(method=method, n_samples=SAMPLES, checkpoint_every=1, **QUIET)
    straight = evolve_open(pair, tiny_transformer, t_final=0.4, **run)
    path = tmp_path / "run.h5"
    evolve_open(pair, tiny_transformer, t_final=0.2, out=path, **run)
    resumed = evolve_open(pair, tiny_transformer, t_final=0.4, out=path, resume=True, **run)
    assert resumed.times.tolist() == straight.times.tolist()
    for key in KEYS:
        np.testing.assert_array_equal(resumed.observables[key][0], straight.observables[key][0])
    for key, values in straight.diagnostics.items():
        if key != "wall_time":
            np.testing.assert_array_equal(resumed.diagnostics[key], values, err_msg=key)
    final = jax.tree.leaves(resumed.variables), jax.tree.leaves(straight.variables)
    assert all(np.array_equal(a, b) for a, b in zip(*final, strict=True))
    with pytest.raises(CheckpointError, match="n_samples"):
        evolve_open(pair, tiny_transformer, t_final=0.6, out=path, resume=True,
                    **{**run, "n_samples": 2 * SAMPLES})  # fmt: skip


def test_hdf5_file_holds_times_observables_exact_and_diagnostics(tmp_path, pair, tiny_transformer):
    path = tmp_path / "run.h5"
    result = evolve_open(
        pair,
        tiny_transformer,
        t_final=0.2,
        dt=0.05,
        save_every=0.1,
        method="trapezoid",
        n_samples=SAMPLES,
        options=dict(learning_rates=(1e-2, 1e-3), iterations=(1, 1)),
        out=path,
        **QUIET,
    )
    run = read_run(path)
    assert run["attrs"]["kind"] == "evolve_open" and run["attrs"]["status"] == "completed"
    assert run["attrs"]["schema_version"] == SCHEMA_VERSION
    solver = run["metadata"]["config"]["solver"]
    assert solver["method"] == "trapezoid" and solver["dt"] == 0.05
    assert "tau = dt / 2" in solver["dt_convention"]
    sz = run["series"]["sigma_z"]
    np.testing.assert_allclose(sz["time"], [0.0, 0.1, 0.2])
    assert sz["step"].tolist() == [0, 2, 4]
    np.testing.assert_allclose(sz["mean"], result.observables["sigma_z"][0])
    assert np.all(sz["error"] > 0) and np.all(sz["variance"] > 0)
    residual = run["series"]["residual"]
    np.testing.assert_allclose(residual["time"], [0.05, 0.1, 0.15, 0.2])
    assert run["series"]["iterations"]["value"].tolist() == [2, 2, 2, 2]
    np.testing.assert_allclose(run["exact"]["time"], [0.0, 0.1, 0.2])
    np.testing.assert_allclose(run["exact"]["sigma_z"], result.exact["sigma_z"])
    assert run["checkpoint_step"] == 4
    assert "sigma_z" in repr(result) and "residual" in repr(result)


def test_nan_stops_cleanly_and_keeps_the_file(tmp_path, pair, tiny_transformer):
    # The first step is non-finite: the run stops with the parameters of t = 0, and the file
    # stays readable with its t = 0 checkpoint.
    # NaN elements in the generator (same table shapes, so the compiled step is shared).
    broken = jax.tree.map(
        lambda a: a * np.nan if jnp.issubdtype(a.dtype, jnp.floating) else a, pair.generator
    )
    system = dataclasses.replace(pair, generator=broken, _cache={})
    path = tmp_path / "nan.h5"
    options = dict(learning_rates=(1e-2, 1e-3), iterations=(1, 1))
    result = evolve_open(system, tiny_transformer, t_final=0.2, dt=0.1, n_samples=SAMPLES,
                         options=options, out=path, exact=False, **QUIET)  # fmt: skip
    assert result.status.startswith("stopped") and "non-finite" in result.status
    assert result.n_steps == 0 and result.times.tolist() == [0.0]
    with h5py.File(path) as f:
        assert f["checkpoint"].attrs["step"] == 0 and "stopped" in f.attrs["status"]
        assert f["series/sigma_z/time"][()].tolist() == [0.0]


def test_string_mixture_starts_in_the_exact_product_state_and_is_sampled_exactly(pair):
    # The mixture of a product state over any orderings is the same product state; the solvers
    # sample mixtures with the StringSampler: 4000 draws match P within 5 sigma per string.
    inner = pm.probability_transformer(2, n_layers=1, d_model=4, n_heads=1)
    mixture = StringMixture(inner, chain_orderings(2))
    variables = initial_variables(mixture, pair, None, 0)
    strings = pair.hilbert.all_states()
    p = np.exp(np.asarray(mixture.apply(variables, strings)))
    np.testing.assert_allclose(p, pair.initial_probabilities(), atol=1e-12)
    ensemble = Ensemble.build(mixture, pair.hilbert, 4000)
    assert type(ensemble.sampler).__name__ == "StringSampler"
    x = jax.jit(ensemble.draw)(variables, jax.random.PRNGKey(0))
    counts = np.bincount(np.asarray(pair.hilbert.states_to_numbers(x)), minlength=16)
    sigma = np.sqrt(4000 * p * (1 - p))
    assert np.all(np.abs(counts - 4000 * p) < 5 * sigma + 1e-9), (counts, 4000 * p)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dt=0.0), "dt must be a positive"),
        (dict(dt=-0.1), "dt must be a positive"),
        (dict(t_final=0.0), "t_final must be a positive"),
        (dict(dt=0.03, save_every=0.1), "dt=0.03 does not divide save_every=0.1"),
        (dict(dt=0.05, save_every=0.15), "save_every=0.15 does not divide t_final=0.4"),
        (dict(method="rk4"), "method"),
        (dict(n_samples=0), "n_samples"),
        (dict(options=dict(tol=1e-3, iterashuns=3)), "did you mean 'iterations'"),
        (dict(method="tdvp", options={"iterations": (1,)}), "Unknown tdvp option 'iterations'"),
        (dict(initial_state=np.diag([0.0, 1.0])), r"zero probability for outcome\(s\) \[0\]"),
        (dict(resume=True), "output file"),
        (dict(n_samples="exact", lookup="sometimes"), "lookup"),
    ],
)
def test_bad_input_is_refused_before_any_work(pair, tiny_transformer, kwargs, match):
    run = dict(t_final=0.4, dt=0.1, n_samples=64, **QUIET)
    with pytest.raises(NQSError, match=match):
        evolve_open(pair, tiny_transformer, **{**run, **kwargs})


def test_models_that_are_not_povm_distributions_are_refused(pair):
    spin = nqs.ARTransformer(hilbert=nk.hilbert.Spin(0.5, 2), n_layers=1, d_model=8, n_heads=1)
    with pytest.raises(NQSError, match="4 outcomes per site"):
        evolve_open(pair, spin, t_final=0.1, dt=0.1, **QUIET)
    amplitude = nqs.ARTransformer(hilbert=nk.hilbert.Fock(3, 2), n_layers=1, d_model=8, n_heads=1)
    with pytest.raises(NQSError, match="machine_pow=1"):
        evolve_open(pair, amplitude, t_final=0.1, dt=0.1, **QUIET)
    other_size = pm.probability_transformer(3, n_layers=1, d_model=8, n_heads=1)
    with pytest.raises(NQSError, match="built for 3 sites"):
        evolve_open(pair, other_size, t_final=0.1, dt=0.1, **QUIET)


def test_sample_counts_must_divide_over_the_devices(pair, tiny_transformer, monkeypatch):
    monkeypatch.setattr(pe.jax, "device_count", lambda: 2)
    with pytest.raises(SampleCountError, match=r"not divisible by the 2 devices.*e\.g\. 66"):
        evolve_open(pair, tiny_transformer, t_final=0.1, dt=0.1, n_samples=65, **QUIET)


def test_existing_output_is_never_overwritten_silently(tmp_path, pair, tiny_transformer):
    path = tmp_path / "run.h5"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="overwrite"):
        evolve_open(pair, tiny_transformer, t_final=0.1, dt=0.1, n_samples=64, out=path, **QUIET)
    assert path.read_bytes() == b"precious"
