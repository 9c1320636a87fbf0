"""``nqs run`` with open-system kinds (``steady_state``, ``evolve_open``): their own schema is
checked key by key, and a tiny job runs end to end, is summarised and plotted."""

import pytest

from nqs.io import read_run

STEADY_JOB = """
[system]
model = "dissipative_ising_chain"
n = 3
g = 1.0
[model]
type = "probability_transformer"
n_layers = 1
d_model = 8
n_heads = 2
[sampler]
n_samples = 64
[solver]
kind = "steady_state"
n_steps = 3
"""


@pytest.mark.parametrize(
    "line, replacement, match",
    [
        ("n_steps = 3", "t_final = 1.0", "unknown key solver.t_final for steady_state"),
        ("n_steps = 3", "n_step = 3", "did you mean 'n_steps'"),
        ("n_steps = 3", "learning_rate = -1.0", "solver.learning_rate must be positive"),
        ("g = 1.0", "gg = 1.0", "unknown key system.gg .*did you mean 'g'"),
    ],
)
def test_open_job_files_are_validated(tmp_path, line, replacement, match):
    from nqs.cli.config import load_config
    from nqs.errors import ConfigError

    path = tmp_path / "job.toml"
    path.write_text(STEADY_JOB.replace(line, replacement))
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_an_open_job_needs_an_open_system(tmp_path):
    from nqs.cli.config import load_config
    from nqs.errors import ConfigError

    path = tmp_path / "job.toml"
    path.write_text(STEADY_JOB.replace("dissipative_ising_chain", "dissipative_ising"))
    with pytest.raises(ConfigError, match="did you mean 'dissipative_ising_chain'"):
        load_config(path)


def test_nqs_run_steady_state_job(tmp_path, capsys):
    from nqs.cli.main import main

    job = tmp_path / "job.toml"
    job.write_text(STEADY_JOB)
    out = tmp_path / "run.h5"
    assert main(["run", str(job), "--out", str(out), "--no-progress"]) == 0
    assert "SteadyStateResult" in capsys.readouterr().out
    run = read_run(out)
    assert run["attrs"]["kind"] == "steady_state"
    assert len(run["series"]["loss"]["step"]) == 3  # one loss per step
    assert set(run["exact"]) >= {"sigma_x", "sigma_y", "sigma_z"}
    assert main(["info", str(out)]) == 0
    assert "steady_state" in capsys.readouterr().out
    assert main(["plot", str(out), "-o", str(tmp_path / "steady.png")]) == 0
    assert (tmp_path / "steady.png").stat().st_size > 0
