"""Variational steady states (solvers.steady_state): the single spin against its closed form, two
independent spins with exact sums, an unbiased gradient of ||L P||_1, exact resume, the HDF5
file, no recompilation and bad input; the N = 4 dissipative Ising ring against references.md §9
(slow).

Closed form (povm.md §10, models.md §11): H = (g/2) sx, L = sqrt(gamma) s-, so
<sx> = 0, <sy> = 2 g gamma / (gamma^2 + 2 g^2), <sz> = -gamma^2 / (gamma^2 + 2 g^2);
g = gamma = 1 gives (0, 2/3, -1/3). With V = 0 the sites decouple, so N = 2 has the product
state: <sy sy>_nn = 4/9, <sz sz>_nn = 1/9."""

import jax
import numpy as np
import optax
import pytest
from _openblas_threads import single_threaded_openblas
from jax import monitoring
from jax.flatten_util import ravel_pytree

import hamiltonians.open_systems as hos
import nqs.povm_model as pm
from nqs.errors import CheckpointError, NQSError
from nqs.io import read_run
from solvers.povm_ensemble import Ensemble
from solvers.povm_losses import lindblad_l1
from solvers.povm_setup import initial_variables
from solvers.steady_state import steady_state

QUIET = dict(progress=False)
# The single-spin runs share sample counts, so they share their compiled steps.
SAMPLES = dict(n_samples=1000, n_samples_final=40000)
SPIN = {"sigma_x": 0.0, "sigma_y": 2 / 3, "sigma_z": -1 / 3}


@pytest.fixture(autouse=True, scope="module")
def _fast_blas():
    with single_threaded_openblas():
        yield


@pytest.fixture(scope="module")
def spin():
    return hos.dissipative_ising_chain(1, V=0.0, g=1.0, gamma=1.0)


@pytest.fixture(scope="module")
def spin_model():
    return pm.probability_transformer(1, n_layers=1, d_model=4, n_heads=1)


def test_single_spin_reaches_the_closed_form_within_the_monte_carlo_error(spin, spin_model):
    # 1000 samples per step, learning rate 1e-2 -> 1e-3; the kept state is judged on 4000
    # samples, the final observables on 40000 (sigma ~ 0.01). ||L P||_1 reaches ~1e-4, whose
    # bias on the observables is ~1e-3, so |dev| < 4 sigma + 5e-3.
    result = steady_state(
        spin,
        spin_model,
        n_steps=300,
        eval_from=100,
        learning_rate=optax.exponential_decay(1e-2, 300, 0.1),
        **SAMPLES,
        **QUIET,
    )
    assert result.exact == pytest.approx(SPIN, abs=1e-10)  # the generator's null vector
    assert result.loss < 2e-3
    for name, value in SPIN.items():
        mean, error = result.observables[name]
        assert 0 < error < 0.02
        assert abs(mean - value) < 4 * error + 5e-3, result
    assert "sigma_y" in repr(result) and "kept step" in repr(result)


def test_two_independent_spins_with_exact_sums(spin_model):
    # Transformer on N = 2 with V = 0 and exact sums over the 16 strings: no Monte Carlo noise,
    # so only the optimisation error remains (observed ~2e-4).
    system = hos.dissipative_ising_chain(2, V=0.0, g=1.0, gamma=1.0, pbc=False)
    model = pm.probability_transformer(2, n_layers=1, d_model=8, n_heads=1)
    result = steady_state(
        system,
        model,
        n_samples="exact",
        n_steps=400,
        learning_rate=optax.exponential_decay(1e-2, 400, 0.01),
        **QUIET,
    )
    expected = {**SPIN, "yy_nearest": 4 / 9, "zz_nearest": 1 / 9, "xx_nearest": 0.0}
    for name, value in expected.items():
        mean, error = result.observables[name]
        assert error == 0 and abs(mean - value) < 2e-3, result


def test_l1_cost_gradient_is_unbiased(spin, spin_model):
    # povm.md §7: mean_s grad |L P|(a_s) / P(a_s) (P detached) = grad sum_a |(L P)(a)|, checked
    # against enumeration of the 4 outcomes within 5 standard errors of 30 estimates.
    params = initial_variables(spin_model, spin, "random", 2, random_ok=True)["params"]

    def gradient(ensemble, key):
        x = ensemble.draw({"params": params}, key)
        grad = jax.grad(lambda p: lindblad_l1(ensemble, spin.generator, p, x)[0])(params)
        return ravel_pytree(grad)[0]

    exact = gradient(Ensemble.build(spin_model, spin.hilbert, "exact"), None)
    sampled = Ensemble.build(spin_model, spin.hilbert, 200)
    estimates = jax.jit(jax.vmap(lambda k: gradient(sampled, k)))(
        jax.random.split(jax.random.PRNGKey(0), 30)
    )
    error = estimates.std(0, ddof=1) / np.sqrt(estimates.shape[0])
    relevant = error > 1e-12
    z = np.abs(estimates.mean(0) - exact)[relevant] / error[relevant]
    assert relevant.sum() >= 4 and z.max() < 5, np.sort(z)[-5:]


def test_resume_continues_exactly(tmp_path, spin, spin_model):
    run = dict(eval_every=2, checkpoint_every=3, **SAMPLES, **QUIET)
    straight = steady_state(spin, spin_model, n_steps=8, **run)
    path = tmp_path / "ss.h5"
    steady_state(spin, spin_model, n_steps=4, out=path, **run)
    resumed = steady_state(spin, spin_model, n_steps=8, out=path, resume=True, **run)
    series = read_run(path)["series"]
    assert series["loss"]["step"].tolist() == list(range(8))
    np.testing.assert_array_equal(series["loss"]["mean"], straight.history["loss"])
    np.testing.assert_array_equal(series["loss_eval"]["mean"], straight.history["eval_loss"])
    assert resumed.best_step == straight.best_step
    assert resumed.loss == straight.loss and resumed.observables == straight.observables
    with pytest.raises(CheckpointError, match="learning_rate"):
        steady_state(spin, spin_model, n_steps=9, out=path, resume=True, learning_rate=0.1, **run)


def test_hdf5_file_holds_loss_evaluations_observables_exact_and_final(tmp_path, spin, spin_model):
    path = tmp_path / "ss.h5"
    result = steady_state(spin, spin_model, n_steps=6, eval_every=3, out=path, **SAMPLES, **QUIET)
    run = read_run(path)
    assert run["attrs"]["kind"] == "steady_state" and run["attrs"]["status"] == "completed"
    assert run["metadata"]["config"]["solver"]["n_samples_eval"] == 4000
    assert run["series"]["loss"]["step"].tolist() == list(range(6))
    assert run["series"]["loss_eval"]["step"].tolist() == [0, 3, 6]
    assert run["series"]["sigma_y"]["step"].tolist() == [0, 3, 6]
    assert np.all(run["series"]["sigma_y"]["error"] > 0)
    assert run["exact"]["sigma_y"] == pytest.approx(2 / 3, abs=1e-10)
    assert run["final"]["sigma_y"]["mean"] == pytest.approx(result.observables["sigma_y"][0])
    assert run["final"]["loss"]["mean"] == pytest.approx(result.loss)
    assert run["checkpoint_step"] == 6


def test_no_recompilation_after_the_first_step(spin, spin_model):
    compiles, counts = [], {}

    def listener(name, *_, **__):
        if name == "/jax/core/compile/backend_compile_duration":
            compiles.append(name)

    monitoring.register_event_duration_secs_listener(listener)
    try:
        steady_state(
            spin,
            spin_model,
            n_steps=8,
            eval_every=2,
            learning_rate=optax.exponential_decay(1e-2, 8, 0.5),  # a new value every step
            callback=lambda step, row: counts.__setitem__(step, len(compiles)),
            **SAMPLES,
            **QUIET,
        )
    finally:
        monitoring.unregister_event_duration_listener(listener)
    assert counts[7] == counts[2], counts  # steps 3..7 and evaluations 4, 6 compiled nothing


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_steps=0), "n_steps"),
        (dict(n_samples=-5), "n_samples"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(b2=1.0), "b2"),
        (dict(eval_every=0), "eval_every"),
        (dict(initial_state=np.diag([0.0, 1.0])), "zero probability"),
        (dict(initial_state="randm"), "initial_state"),
        (dict(overwrite=True), "output file"),
    ],
)
def test_bad_input_is_refused_before_any_work(spin, spin_model, kwargs, match):
    with pytest.raises(NQSError, match=match):
        steady_state(spin, spin_model, **{"n_samples": 64, "n_steps": 5, **QUIET, **kwargs})


@pytest.mark.slow
@pytest.mark.parametrize(
    "g, expected",
    [
        (0.5, (0.23706759, 0.06619058, -0.96690471)),
        (1.0, (0.43978125, 0.18718612, -0.81281388)),
        (2.0, (0.24508459, 0.37826156, -0.24347688)),
    ],
)
def test_dissipative_ising_ring_of_four(g, expected):
    # references.md §9 (V = 2, gamma = 1, PBC): within 3 sigma + 1e-2 (povm.md §10).
    system = hos.dissipative_ising_chain(4, g=g)
    model = pm.probability_transformer(4, n_layers=1, d_model=16, n_heads=2)
    result = steady_state(
        system,
        model,
        n_samples=2000,
        n_steps=1500,
        learning_rate=optax.exponential_decay(1e-2, 1500, 0.1),
        eval_from=500,
        n_samples_final=100_000,
        **QUIET,
    )
    for name, value in zip(("sigma_x", "sigma_y", "sigma_z"), expected, strict=True):
        mean, error = result.observables[name]
        assert abs(mean - value) < 3 * error + 1e-2, result
