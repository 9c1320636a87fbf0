"""Real-time evolution: second order of the trapezoid step against exact evolution (exact sums),
energy conservation within Monte Carlo error, saves exactly on the grid, no recompilation, exact
resume from HDF5 checkpoints, and bad input refused before any work."""

import dataclasses

import netket as nk
import numpy as np
import pytest
from jax import monitoring

import hamiltonians
import nqs
import samplers
from hamiltonians.exact_dynamics import crank_nicolson_evolution, exact_evolution
from nqs.errors import NQSError
from nqs.initial_states import x_polarised
from nqs.io import read_run
from nqs.tabular_ar import TabularAR
from solvers.evolve import evolve
from solvers.evolve_options import TDVPOptions, TrapezoidOptions


@pytest.fixture(scope="module")
def tfim4():
    """Ising chain, 4 sites, h = 1 (16 states); the quench starts from |+>^4, E0 = -h N = -4."""
    return hamiltonians.tfim_chain(4, h=1.0)


@pytest.fixture(scope="module")
def fast(tfim4):
    """Options shared by most tests, so that the compiled step (which depends only on the
    model, the solver and the sample count) and the measurements are compiled once."""
    observables = {"magnetization_x": tfim4.observables["magnetization_x"]}
    return dict(n_samples=128, progress=False, observables=observables)


@pytest.fixture(scope="module")
def model4(tfim4):
    return nqs.ARTransformer(hilbert=tfim4.hilbert, n_layers=1, d_model=8, n_heads=2)


def _assert_same_series(a: dict, b: dict) -> None:
    """Every series of two run files agrees row by row (wall-clock times excepted)."""
    assert sorted(a["series"]) == sorted(b["series"])
    for name, columns in a["series"].items():
        for column, values in columns.items():
            if name != "wall_time":
                np.testing.assert_allclose(b["series"][name][column], values, rtol=1e-12,
                                           equal_nan=True, err_msg=f"{name}/{column}")


def _compile_counter():
    compiles = []

    def listener(name, *_, **__):
        if name == "/jax/core/compile/backend_compile_duration":
            compiles.append(name)

    return compiles, listener


def test_trapezoid_is_second_order_in_dt():
    # Two sites: the transformer represents any state of the sector, and exact sums replace the
    # samples, so the variational step reproduces the exact Crank–Nicolson map (checked to 1e-9)
    # and the only error left is the integrator's, c dt^2 (1 + O((||H - E0|| dt)^2)). With
    # ||H - E0|| <= 4.3 and dt <= 0.1 the correction to the log-log slope is below 0.1.
    system = hamiltonians.tfim_chain(2, h=1.0)
    model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
    t_final, dts, errors = 0.4, (0.1, 0.05, 0.025), []
    options = TrapezoidOptions(max_iterations=40, tol=1e-24)
    plus = np.full(4, 0.5)
    exact = exact_evolution(system, plus, [t_final])["magnetization_x"][0]
    for dt in dts:
        result = evolve(system, model, initial_state="x_polarised", t_final=t_final, dt=dt,
                        save_every=t_final, full_sum=True, options=options, progress=False)
        value = result.observable("magnetization_x")[-1]
        cn = crank_nicolson_evolution(system, plus, dt, round(t_final / dt), energy_shift=-2.0)
        assert value == pytest.approx(cn["magnetization_x"][-1], abs=1e-9)
        assert result.exact["magnetization_x"][-1] == pytest.approx(exact, abs=1e-12)
        errors.append(abs(value - exact))
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert slope == pytest.approx(2, abs=0.1), errors


def test_trapezoid_with_an_amplitude_table_is_the_exact_crank_nicolson_map(tfim4):
    # The wave-function table represents every nodeless state of the 16, so with exact sums the
    # fitted steps can only differ from the exact Crank-Nicolson map by the inner tolerance.
    model = TabularAR(hilbert=tfim4.hilbert, machine_pow=2)
    result = evolve(tfim4, model, initial_state="x_polarised", t_final=0.4, dt=0.1,
                    save_every=0.1, full_sum=True, progress=False,
                    options=TrapezoidOptions(max_iterations=40, tol=1e-24))
    cn = crank_nicolson_evolution(tfim4, np.full(16, 0.25), 0.1, 4, energy_shift=-4.0)
    np.testing.assert_allclose(result.observable("magnetization_x"), cn["magnetization_x"],
                               rtol=0, atol=1e-9)


def test_energy_is_conserved_within_monte_carlo_error(tfim4, model4, fast):
    # The exact flow conserves <H> = -4 (|+>^4: <sigma^z sigma^z> = 0). Every save is an
    # independent estimate with standard error sigma_k (128 samples: sigma ~ 0.18), so
    # |E(t_k) + 4| < 4 sigma_k for all 5 saves unless the fit drifts (false alarm
    # probability 5 x 6e-5 for Gaussian errors).
    result = evolve(tfim4, model4, initial_state="x_polarised", t_final=0.2, dt=0.05, **fast)
    assert result.status == "completed"
    np.testing.assert_allclose(result.exact["energy"], -4.0, atol=1e-12)
    assert np.all(np.abs(result.energies + 4.0) < 4 * result.energy_errors), result
    # The observable follows the exact curve within Monte Carlo error as well.
    mean, error = result.observables["magnetization_x"]
    deviation = np.abs(mean - result.exact["magnetization_x"])
    assert np.all(deviation[1:] < 4 * error[1:] + 2e-3), result
    assert "energy drift" in repr(result) and "per unit of physical time" in repr(result)


def test_saves_land_exactly_on_the_grid(tmp_path, tfim4, model4, fast):
    # Fixed steps: dt = 0.02 divides save_every = 0.06.
    path = tmp_path / "grid.h5"
    result = evolve(tfim4, model4, initial_state="x_polarised", t_final=0.12, dt=0.02,
                    save_every=0.06, out=path, **fast)
    assert result.times.tolist() == [0.0, 0.06, 0.12]
    assert read_run(path)["series"]["energy"]["time"].tolist() == [0.0, 0.06, 0.12]
    np.testing.assert_allclose(result.diagnostics["time"], 0.02 * np.arange(1, 7), atol=1e-15)


def test_no_recompilation_after_the_first_step(tfim4, model4, fast):
    compiles, listener = _compile_counter()
    counts = {}

    def callback(t, row, state):
        counts[round(t, 9)] = len(compiles)

    monitoring.register_event_duration_secs_listener(listener)
    try:
        evolve(tfim4, model4, initial_state="x_polarised", t_final=0.2, dt=0.05,
               callback=callback, **fast)
    finally:
        monitoring.unregister_event_duration_listener(listener)
    assert counts[0.2] == counts[0.05], counts  # steps 2..4 and their measurements: nothing


def test_resume_continues_exactly(tmp_path, tfim4, model4, fast):
    # Same seeds: 0 -> 0.1, then resume to 0.3, must reproduce the uninterrupted 0 -> 0.3 run
    # row by row (parameters, sampler keys and step counter are all in the checkpoint).
    kwargs = dict(initial_state="x_polarised", dt=0.05, save_every=0.1, checkpoint_every=1,
                  **fast)
    straight = tmp_path / "straight.h5"
    evolve(tfim4, model4, t_final=0.3, out=straight, **kwargs)
    interrupted = tmp_path / "interrupted.h5"
    evolve(tfim4, model4, t_final=0.1, out=interrupted, **kwargs)
    resumed = evolve(tfim4, model4, t_final=0.3, out=interrupted, resume=True, **kwargs)
    _assert_same_series(read_run(straight), read_run(interrupted))
    assert resumed.times.tolist() == [0.0, 0.1, 0.2, 0.3]
    a, b = read_run(straight), read_run(interrupted)
    np.testing.assert_allclose(resumed.energies, a["series"]["energy"]["mean"], rtol=1e-12)
    # The file layout of an evolution (docs/hdf5.md).
    assert b["attrs"]["kind"] == "evolve" and b["attrs"]["status"] == "completed"
    assert b["metadata"]["config"]["solver"]["method"] == "trapezoid"
    assert b["series"]["energy_drift"]["value"][0] == 0.0
    np.testing.assert_allclose(b["series"]["loss"]["time"], 0.05 * np.arange(1, 7), atol=1e-12)
    assert b["series"]["n_iterations"]["value"].dtype.kind == "i"
    np.testing.assert_allclose(b["exact"]["magnetization_x"][0], 1.0)
    assert b["exact"]["energy"] == pytest.approx(-4.0, abs=1e-12)  # conserved: one number
    assert b["checkpoint_step"] == 6


def test_accepts_an_mcstate_or_a_model_and_variables(tfim4, model4, fast):
    # ground_state(...).state is an MCState: its model, parameters and sample count are used.
    vstate = nk.vqs.MCState(samplers.ARDirectSampler(tfim4.hilbert), model4, n_samples=128, seed=0)
    vstate.variables = x_polarised(model4, vstate.variables)
    observables = fast["observables"]
    from_state = evolve(tfim4, vstate, t_final=0.05, dt=0.05, progress=False,
                        observables=observables)
    from_pair = evolve(tfim4, (model4, vstate.variables), t_final=0.05, dt=0.05, **fast)
    np.testing.assert_allclose(from_state.energies, from_pair.energies, rtol=1e-12)


def test_nan_stops_cleanly(tmp_path, tfim4, model4, fast):
    # Same operator structure with a NaN field: the compiled step is reused.
    nan_field = nk.operator.Ising(tfim4.hilbert, tfim4.graph, h=float("nan"), J=-1.0)
    broken = dataclasses.replace(tfim4, hamiltonian=nan_field, _cache={})
    path = tmp_path / "nan.h5"
    result = evolve(broken, model4, initial_state="x_polarised", t_final=0.1, dt=0.05, out=path,
                    exact=False, **fast)
    assert result.status.startswith("stopped") and "non-finite" in result.status
    assert result.times.tolist() == [0.0]
    assert "stopped" in read_run(path)["attrs"]["status"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dt=0.0), "dt must be a positive"),
        (dict(dt=-0.1), "dt must be a positive"),
        (dict(t_final=0), "t_final must be a positive"),
        (dict(dt=0.03, save_every=0.1), "does not divide save_every"),
        (dict(save_every=0.2), "not a multiple of save_every"),
        (dict(method="euler"), "method"),
        (dict(options={"optimiser": "adam"}), "did you mean 'optimizer'"),
        (dict(options=TDVPOptions()), "belongs to method='tdvp'"),
        (dict(method="tdvp", options={"rtol": 1e-3}), "adaptive"),
        (dict(options={"optimizer": "adam", "diag_shift": 1e-3}), "diag_shift applies"),
        (dict(method="tdvp", full_sum=True), "full_sum"),
        (dict(method="tdvp", options={"diag_shift": -1e-4}), "diag_shift must be a finite"),
        (dict(resume=True), "output file"),
        (dict(n_samples=-8), "n_samples"),
        (dict(initial_state="bare_vacuum"), "quantum link"),
    ],
)
def test_bad_input_is_refused_before_any_work(tmp_path, tfim4, model4, kwargs, match, fast):
    args = dict(initial_state="x_polarised", t_final=0.3, dt=0.05, **fast)
    with pytest.raises(NQSError, match=match):
        evolve(tfim4, model4, **{**args, **kwargs})
    assert not list(tmp_path.iterdir())


def test_state_on_another_hilbert_space_is_refused(tfim4, fast):
    other = nqs.ARTransformer(hilbert=hamiltonians.tfim_chain(5).hilbert)
    with pytest.raises(NQSError, match=r"hilbert=system\.hilbert"):
        evolve(tfim4, other, t_final=0.1, dt=0.05, **fast)
    positive = nqs.ARTransformer(hilbert=tfim4.hilbert, phase=False)
    with pytest.raises(NQSError, match="phase=True"):
        evolve(tfim4, positive, t_final=0.1, dt=0.05, **fast)

