"""``nqs run`` with ``[solver] kind = "evolve"``: job files are validated key by key (kind,
method and inner solver), and a tiny evolution runs end to end and writes its HDF5 file."""

import pytest

from nqs.io import read_run

EVOLVE_JOB = """
[system]
model = "tfim_chain"
n = 4
[model]
n_layers = 1
d_model = 8
n_heads = 2
[sampler]
n_samples = 128
chunk_size = 64
[solver]
kind = "evolve"
t_final = 0.1
dt = 0.05
save_every = 0.05
initial_state = "x_polarised"
"""


@pytest.mark.parametrize(
    "extra, match",
    [
        ("n_steps = 3\n", "solver.n_steps applies to kind = 'ground_state'"),
        ("method = 'minsr'\n", "not a method of kind = 'evolve'"),
        ("integrator = 'rk4'\n", "applies to method = 'tdvp'"),
        ("optimizer = 'adam'\nstep_size = 0.5\n", "applies to optimizer"),
        ("initial_system = { h = 2.0 }\n", "initial_state = \"ground_state\""),
        ("initial_system = { hh = 2.0 }\n", "did you mean 'h'"),
        ("dt = -0.1\n", "solver.dt must be positive"),
    ],
)
def test_evolve_job_files_are_validated(tmp_path, extra, match):
    from nqs.cli.config import load_config
    from nqs.errors import ConfigError

    base = EVOLVE_JOB.split("t_final")[0]  # [solver] with kind = "evolve" only
    if "initial_system" in extra and "hh" in extra:
        extra = "initial_state = 'ground_state'\n" + extra
    path = tmp_path / "job.toml"
    path.write_text(base + extra)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_nqs_run_evolve_job(tmp_path, capsys):
    from nqs.cli.config import load_config
    from nqs.cli.main import main

    job = tmp_path / "job.toml"
    job.write_text(EVOLVE_JOB)
    solver = load_config(job)["solver"]
    assert solver["method"] == "trapezoid" and "n_steps" not in solver  # evolve defaults only
    out = tmp_path / "run.h5"
    assert main(["run", str(job), "--out", str(out), "--no-progress"]) == 0
    assert "EvolutionResult" in capsys.readouterr().out
    run = read_run(out)
    assert run["attrs"]["kind"] == "evolve"
    assert run["series"]["magnetization_x"]["time"].tolist() == [0.0, 0.05, 0.1]
    assert main(["info", str(out)]) == 0
    assert "evolve" in capsys.readouterr().out
    assert main(["plot", str(out), "-o", str(tmp_path / "energy.png")]) == 0
