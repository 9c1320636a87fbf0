"""HDF5 writer: schema, complex values kept complex, buffered flushing, truncation on resume,
atomic checkpoints, and files that stay readable after a failure."""

import h5py
import numpy as np
import pytest
from netket.stats import Stats

from nqs.errors import CheckpointError, OutputExistsError
from nqs.io import SCHEMA_VERSION, RunFile, read_run, read_series


def test_series_rows_with_stats_and_complex_values(tmp_path):
    f = RunFile(tmp_path / "a.h5", kind="demo")
    f.append(0, {"energy": Stats(mean=-1.0, error_of_mean=0.1, variance=2.0), "w": 0.5})
    f.append(1, {"energy": Stats(mean=-1.5, error_of_mean=0.1, variance=1.0)})
    f.append(1, {"corr": Stats(mean=0.5 + 0.25j, error_of_mean=0.01, variance=0.1)})
    f.close(status="completed")
    series = read_series(tmp_path / "a.h5")
    assert series["energy"]["step"].tolist() == [0, 1]
    assert series["energy"]["mean"].tolist() == [-1.0, -1.5]
    assert series["w"]["value"].tolist() == [0.5]
    assert series["corr"]["mean"].dtype == np.complex128  # never truncated to its real part
    assert series["corr"]["mean"][0] == 0.5 + 0.25j
    with h5py.File(tmp_path / "a.h5") as h:
        assert h.attrs["schema_version"] == SCHEMA_VERSION
        assert h.attrs["status"] == "completed"


def test_a_column_that_turns_complex_keeps_its_rows(tmp_path):
    f = RunFile(tmp_path / "b.h5", kind="demo", flush_every=0)
    f.append(0, {"x": 1.0})
    f.append(1, {"x": 2.0 + 1.0j})
    assert read_series(tmp_path / "b.h5")["x"]["value"].tolist() == [1.0, 2.0 + 1.0j]


def test_existing_file_is_refused_and_kept(tmp_path):
    path = tmp_path / "c.h5"
    RunFile(path, kind="demo").close()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        RunFile(path, kind="demo")
    RunFile(path, kind="demo", mode="overwrite").close()


def test_checkpoint_roundtrip_and_truncation(tmp_path):
    path = tmp_path / "d.h5"
    f = RunFile(path, kind="demo")
    for step in range(6):
        f.append(step, {"loss": float(step)})
    state = {"params/w": np.arange(3.0), "step": 4, "opt": None, "empty": "__empty__"}
    f.save_checkpoint(4, state)
    f.save_checkpoint(4, state)  # replacing a checkpoint keeps exactly one
    f.close()
    resumed = RunFile(path, kind="demo", mode="resume")
    step, loaded, _ = resumed.load_checkpoint()
    assert step == 4
    np.testing.assert_array_equal(loaded["params/w"], np.arange(3.0))
    assert loaded["opt"] is None and loaded["empty"] == "__empty__"
    resumed.truncate(step)
    assert read_series(path)["loss"]["step"].tolist() == [0, 1, 2, 3]
    with h5py.File(path) as h:
        assert set(h) == {"series", "checkpoint"}


def test_resume_needs_a_checkpoint_of_the_same_kind(tmp_path):
    path = tmp_path / "e.h5"
    RunFile(path, kind="demo").close()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        RunFile(path, kind="demo", mode="resume")
    with pytest.raises(CheckpointError, match=r"kind|'demo'"):
        RunFile(path, kind="other", mode="resume")
    with pytest.raises(CheckpointError, match="does not exist"):
        RunFile(tmp_path / "missing.h5", kind="demo", mode="resume")


def test_interrupted_checkpoint_leaves_the_previous_one(tmp_path):
    # Simulate a crash after the new checkpoint group was created but before it was complete.
    path = tmp_path / "f.h5"
    f = RunFile(path, kind="demo")
    f.save_checkpoint(2, {"w": np.ones(2)})
    with h5py.File(path, "a") as h:
        h.create_group("checkpoint_new").create_dataset("w", data=np.zeros(2))
    step, state, _ = RunFile(path, kind="demo", mode="resume").load_checkpoint()
    assert step == 2 and state["w"].tolist() == [1.0, 1.0]
    assert read_run(path)["checkpoint_step"] == 2


def test_dynamics_rows_carry_the_physical_time(tmp_path):
    f = RunFile(tmp_path / "g.h5", kind="demo")
    for k in range(3):
        f.append(k, {"sx": Stats(mean=0.1 * k, error_of_mean=0.01, variance=1.0)}, time=0.05 * k)
    f.close()
    sx = read_series(tmp_path / "g.h5")["sx"]
    np.testing.assert_allclose(sx["time"], [0.0, 0.05, 0.1])
    assert sx["step"].tolist() == [0, 1, 2]
