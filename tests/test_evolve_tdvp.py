"""Real-time evolution with TDVP (NetKet's TDVPSchmitt): an exact amplitude table follows exact
evolution within Monte Carlo error, adaptive steps land exactly on the save grid, no
recompilation after the first step, and exact resume from the driver checkpoint."""

import numpy as np
import pytest
from jax import monitoring

import hamiltonians
import nqs
from nqs.errors import NQSError
from nqs.io import read_run
from nqs.tabular_ar import TabularAR
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


def test_an_amplitude_table_follows_exact_evolution(tfim4, fast):
    # The table (60 parameters) holds every nodeless state of the 16, so TDVP has no ansatz
    # error and, with 4096 samples over 16 configurations, little bias from unsampled rows. RK4 at
    # dt = 0.05 errs by < 1e-4 here (exact sums), so each save agrees with the exact <sigma^x>
    # within 4 of its standard errors. t <= 0.3 stays before the exact zero of the Neel
    # amplitudes at t = 0.425, which a log-amplitude table cannot pass (next test).
    table = TabularAR(hilbert=tfim4.hilbert, machine_pow=2)
    result = evolve(tfim4, table, t_final=0.3, dt=0.05, save_every=0.1,
                    **{**fast, "n_samples": 4096}, options={"diag_shift": 0.0})
    mean, error = result.observables["magnetization_x"]
    exact = result.exact["magnetization_x"]
    assert exact[-1] < 0.9  # the state has to move: a frozen state keeps <sigma^x> = 1
    assert np.all(np.abs(mean - exact)[1:] < 4 * error[1:]), (mean, error, exact)


def test_mixture_samples_carry_a_cartesian_table_through_exact_zeros(tfim4, fast):
    # The two Neel amplitudes of the exact state vanish at t = 0.425 and regrow with the
    # opposite sign (|psi|^2 16 = 0.17 at t = 0.7). Samples from |psi|^2 never see them near the
    # zero; mixed with the uniform distribution (mixing 0.3) they do, and the Cartesian table
    # moves through the zero smoothly: every save to t = 1 agrees with exact evolution within 4
    # standard errors (RK4 at dt 0.05, exact sums: 1e-4). Without the mixture the same run is off by
    # ~0.04 at t = 0.6-0.8 (5 standard errors), and so is the polar table with it.
    table = TabularAR(hilbert=tfim4.hilbert, machine_pow=2, amplitudes="cartesian")
    result = evolve(tfim4, table, t_final=1.0, dt=0.05, save_every=0.2,
                    **{**fast, "n_samples": 1024}, options={"diag_shift": 0.0, "mixing": 0.3})
    mean, error = result.observables["magnetization_x"]
    exact = result.exact["magnetization_x"]
    assert exact.min() < 0.3  # the state moves far from |+>^4
    assert np.all(np.abs(mean - exact)[1:] < 4 * error[1:]), (mean, error, exact)
    assert "mixing=0.3" in repr(result)


def test_mixing_needs_real_parameters(tfim4, fast):
    table = TabularAR(hilbert=tfim4.hilbert, machine_pow=2, param_dtype=np.complex128)
    with pytest.raises(NQSError, match="real parameters"):
        evolve(tfim4, table, t_final=0.1, dt=0.05, options={"mixing": 0.5}, **fast)
    with pytest.raises(NQSError, match=r"mixing must lie in \[0, 1\]"):
        evolve(tfim4, table, t_final=0.1, dt=0.05, options={"mixing": 1.5}, **fast)


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


@pytest.mark.parametrize("mixing", [0.0, 0.5])
def test_resume_continues_exactly(tmp_path, tfim4, small4, fast, mixing):
    # The checkpoint holds the whole driver: parameters, integrator time and step, sampler key
    # (with mixing > 0 the samples come from a key folded from the seed and the stage's time).
    kwargs = dict(dt=0.05, save_every=0.1, checkpoint_every=1, options={"mixing": mixing},
                  **fast)
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
