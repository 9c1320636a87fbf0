"""Real-time evolution with TDVP (NetKet's TDVPSchmitt): adaptive steps land exactly on the save
grid, no recompilation after the first step, and exact resume from the driver checkpoint."""

import numpy as np
import pytest
from jax import monitoring

import hamiltonians
import nqs
from nqs.io import read_run
from solvers.evolve import evolve


def compile_counter():
    compiles = []

    def listener(name, *_, **__):
        if name == "/jax/core/compile/backend_compile_duration":
            compiles.append(name)

    return compiles, listener


def assert_same_series(a: dict, b: dict) -> None:
    """Every series of two run files agrees row by row (wall-clock times excepted)."""
    assert sorted(a["series"]) == sorted(b["series"])
    for name, columns in a["series"].items():
        for column, values in columns.items():
            if name != "wall_time":
                np.testing.assert_allclose(b["series"][name][column], values, rtol=1e-12,
                                           equal_nan=True, err_msg=f"{name}/{column}")


@pytest.fixture(scope="module")
def tfim4():
    """Ising chain, 4 sites, h = 1 (16 states), quenched from |+>^4."""
    return hamiltonians.tfim_chain(4, h=1.0)


@pytest.fixture(scope="module")
def small4(tfim4):
    """A small transformer (~300 parameters): TDVP costs an n_p x n_p eigensolve per stage."""
    return nqs.ARTransformer(hilbert=tfim4.hilbert, n_layers=1, d_model=4, n_heads=1)


@pytest.fixture(scope="module")
def fast(tfim4):
    observables = {"magnetization_x": tfim4.observables["magnetization_x"]}
    return dict(n_samples=128, progress=False, observables=observables, method="tdvp",
                initial_state="x_polarised")


def test_adaptive_steps_end_exactly_on_the_save_times(tfim4, small4, fast):
    # RK23 from dt = 0.03 with saves every 0.05: without clipping the second step would end at
    # 0.06 (NetKet's adaptive integrators overshoot without tstops, netket_facts.md §5).
    result = evolve(tfim4, small4, t_final=0.1, dt=0.03, save_every=0.05,
                    options={"integrator": "rk23"}, **fast)
    assert result.times.tolist() == [0.0, 0.05, 0.1]
    ends = result.diagnostics["time"]
    for t in (0.05, 0.1):
        assert np.min(np.abs(ends - t)) < 1e-12
    assert ends.max() <= 0.1 + 1e-12
    assert np.all(result.diagnostics["residual"] < 1e-3)  # the regularised solve is consistent
    # |+>^4 conserves <H> = -4 exactly; the estimates agree within 4 standard errors.
    assert np.all(np.abs(result.energies + 4.0) < 4 * result.energy_errors), result


def test_no_recompilation_after_the_first_step(tfim4, small4, fast):
    compiles, listener = compile_counter()
    counts = {}

    def callback(t, row, state):
        counts[round(t, 9)] = len(compiles)

    monitoring.register_event_duration_secs_listener(listener)
    try:
        evolve(tfim4, small4, t_final=0.15, dt=0.05, callback=callback, **fast)
    finally:
        monitoring.unregister_event_duration_listener(listener)
    assert counts[0.15] == counts[0.05], counts  # steps 2 and 3 compiled nothing


def test_resume_continues_exactly(tmp_path, tfim4, small4, fast):
    # The checkpoint holds the whole driver: parameters, integrator time and step, sampler key.
    kwargs = dict(dt=0.05, save_every=0.1, checkpoint_every=1, **fast)
    straight, interrupted = tmp_path / "straight.h5", tmp_path / "interrupted.h5"
    evolve(tfim4, small4, t_final=0.2, out=straight, **kwargs)
    evolve(tfim4, small4, t_final=0.1, out=interrupted, **kwargs)
    resumed = evolve(tfim4, small4, t_final=0.2, out=interrupted, resume=True, **kwargs)
    assert resumed.times.tolist() == [0.0, 0.1, 0.2]
    run = read_run(interrupted)
    assert_same_series(read_run(straight), run)
    assert run["metadata"]["config"]["solver"]["method"] == "tdvp"
    np.testing.assert_allclose(run["series"]["residual"]["time"], 0.05 * np.arange(1, 5),
                               atol=1e-12)
