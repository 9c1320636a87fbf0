"""Ground-state solver: convergence against exact diagonalisation, exact resume from checkpoints,
HDF5 content, clean stop on NaN, no recompilation, and bad input refused before any work."""

import dataclasses

import h5py
import numpy as np
import pytest
from jax import monitoring

import hamiltonians
import nqs
import solvers
from hamiltonians.operators import squared_sum
from nqs.errors import CheckpointError, NQSError, OutputExistsError
from nqs.io import SCHEMA_VERSION, read_run

FAST = dict(n_samples=128, exact=False, progress=False, observe_every=2)


def test_converges_to_the_exact_energy(chain6, small_model):
    # 6-site ring, S^z = 0 (20 states). Variational principle: E >= E0 up to Monte Carlo noise,
    # so the estimate must lie above E0 - 5 sigma; and the optimised state must be within 1%.
    result = solvers.ground_state(chain6, small_model, n_samples=256, n_steps=150, progress=False)
    e0 = chain6.exact_energy()
    assert result.exact_energy == pytest.approx(e0)
    assert result.energy > e0 - 5 * result.energy_error
    assert result.relative_error < 1e-2, result
    assert result.history["energy"].shape == (150,)
    assert "energy" in repr(result) and "relative error" in repr(result)


def test_hdf5_file_holds_metadata_series_exact_final_and_checkpoint(tmp_path, chain6, small_model):
    path = tmp_path / "run.h5"
    result = solvers.ground_state(
        chain6, small_model, n_steps=4, out=path, checkpoint_every=2, **{**FAST, "exact": True}
    )
    run = read_run(path)
    assert run["attrs"]["schema_version"] == SCHEMA_VERSION
    assert run["attrs"]["status"] == "completed"
    assert run["metadata"]["config"]["system"] == {"name": "heisenberg_chain", **chain6.parameters}
    assert run["metadata"]["config"]["solver"]["method"] == "minsr"
    assert run["metadata"]["versions"]["netket"]
    energy = run["series"]["energy"]
    assert energy["step"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(energy["mean"], result.history["energy"])
    assert energy["mean"].dtype == np.float64 and energy["error"].shape == (4,)
    assert run["series"]["structure_factor"]["step"].tolist() == [0, 2, 3]
    assert run["exact"]["energy"] == pytest.approx(chain6.exact_energy())
    assert run["final"]["energy"]["mean"] == pytest.approx(result.energy)
    assert run["checkpoint_step"] == 4


def test_resume_continues_exactly(tmp_path, chain6, small_model):
    # Same seeds: 2 steps + resume to 4 must reproduce the uninterrupted 4-step trajectory.
    straight = solvers.ground_state(chain6, small_model, n_steps=4, **FAST)
    path = tmp_path / "run.h5"
    solvers.ground_state(chain6, small_model, n_steps=2, out=path, **FAST)
    resumed = solvers.ground_state(chain6, small_model, n_steps=4, out=path, resume=True, **FAST)
    assert resumed.n_steps == 4
    series = read_run(path)["series"]["energy"]
    assert series["step"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(series["mean"], straight.history["energy"], rtol=1e-12)
    assert resumed.energy == pytest.approx(straight.energy, rel=1e-12)


def test_resume_with_another_configuration_is_refused(tmp_path, chain6, small_model):
    path = tmp_path / "run.h5"
    solvers.ground_state(chain6, small_model, n_steps=1, out=path, **FAST)
    with pytest.raises(CheckpointError, match="learning_rate"):
        solvers.ground_state(
            chain6, small_model, n_steps=2, out=path, resume=True, learning_rate=0.5, **FAST
        )


def test_existing_output_is_never_overwritten_silently(tmp_path, chain6, small_model):
    path = tmp_path / "run.h5"
    solvers.ground_state(chain6, small_model, n_steps=1, out=path, **FAST)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="overwrite"):
        solvers.ground_state(chain6, small_model, n_steps=1, out=path, **FAST)
    assert path.read_bytes() == before
    solvers.ground_state(chain6, small_model, n_steps=1, out=path, overwrite=True, **FAST)


def test_nan_stops_cleanly_and_keeps_the_file(tmp_path, chain6, small_model):
    nan_energy = squared_sum(chain6.hilbert, [np.nan] * 6, 1.0, "NaN")
    broken = dataclasses.replace(chain6, hamiltonian=nan_energy, _cache={})
    path = tmp_path / "nan.h5"
    result = solvers.ground_state(broken, small_model, n_steps=5, out=path, **FAST)
    assert result.status.startswith("stopped") and "non-finite" in result.status
    assert result.n_steps == 0
    with h5py.File(path) as f:  # still readable, with a valid checkpoint of the last good state
        assert f["checkpoint"].attrs["step"] == 0
        assert "stopped" in f.attrs["status"]


def test_no_recompilation_after_the_first_step(chain6, small_model):
    compiles = []
    counts = {}

    def listener(name, *_, **__):
        if name == "/jax/core/compile/backend_compile_duration":
            compiles.append(name)

    def callback(step, row, driver):
        counts[step] = len(compiles)

    monitoring.register_event_duration_secs_listener(listener)
    try:
        solvers.ground_state(
            chain6, small_model, n_steps=6, callback=callback, **{**FAST, "observe_every": 1}
        )
    finally:
        monitoring.unregister_event_duration_listener(listener)
    assert counts[5] == counts[1], counts  # steps 2..5 compiled nothing


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_steps=0), "n_steps"),
        (dict(n_samples=-4), "n_samples"),
        (dict(method="lbfgs"), "method"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(resume=True), "output file"),
    ],
)
def test_bad_input_is_refused_before_any_work(chain6, small_model, kwargs, match):
    with pytest.raises(NQSError, match=match):
        solvers.ground_state(chain6, small_model, **{**FAST, **kwargs})


def test_model_for_another_sector_is_refused(chain6):
    other = nqs.ARTransformer(hilbert=hamiltonians.heisenberg_chain(6, total_sz=1).hilbert)
    with pytest.raises(NQSError, match=r"sector|SumConstraint"):
        solvers.ground_state(chain6, other, **FAST)


@pytest.mark.parametrize("method", ["sr", "adam"])
def test_other_methods_lower_the_energy(chain6, small_model, method):
    result = solvers.ground_state(chain6, small_model, n_steps=30, method=method, **FAST)
    first, last = result.history["energy"][:5].mean(), result.history["energy"][-5:].mean()
    assert last < first


@pytest.mark.slow
def test_heisenberg_ring_10_reaches_1e3_relative_error():
    # references.md §2: E0 = -4.515446354492 (N = 10, PBC, S^z = 0). The default job's settings.
    system = hamiltonians.heisenberg_chain(10)
    model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=2, d_model=16, n_heads=4)
    result = solvers.ground_state(system, model, n_samples=512, n_steps=300, chunk_size=64)
    assert result.exact_energy == pytest.approx(-4.515446354492, abs=1e-9)
    assert result.energy > result.exact_energy - 5 * result.energy_error
    assert result.relative_error < 1e-3, result
