"""The ``nqs`` command: help, config validation (one-line errors, exit status 2, no traceback),
a tiny end-to-end run, info and plot."""

import subprocess
import sys

import pytest

from nqs.cli.config import default_config, load_config
from nqs.cli.main import main
from nqs.errors import ConfigError

TINY = """
[system]
model = "heisenberg_chain"
n = 4
[model]
n_layers = 1
d_model = 8
n_heads = 2
[sampler]
n_samples = 64
chunk_size = 32
[solver]
n_steps = 3
observe_every = 1
"""


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "nqs.cli.main", *args],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )


def test_help_lists_the_commands():
    out = _cli("--help")
    assert out.returncode == 0
    for command in ("run", "info", "plot"):
        assert command in out.stdout


@pytest.mark.parametrize(
    "text, match",
    [
        ("[solver]\nn_step = 10\n", "unknown key solver.n_step (did you mean 'n_steps'?)"),
        ("[solver]\nn_steps = -1\n", "solver.n_steps must be positive"),
        ("[solver]\nmethod = 'minsrr'\n", "did you mean 'minsr'"),
        ("[sytem]\nn = 4\n", "unknown section [sytem] (did you mean 'system'?)"),
        ("[system]\nnn = 4\n", "unknown key system.nn"),
        ("[system]\nmodel = 'heisenberg'\n", "did you mean 'heisenberg_chain'"),
        ("[model]\nd_model = 'big'\n", "model.d_model must be an integer"),
        ("[system]\nmodel = 'tfim_chain'\n", "system.n is required"),
        ("[solver\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, match):
    path = tmp_path / "job.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert match in str(err.value)


def test_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path):
    path = tmp_path / "job.toml"
    path.write_text("[solver]\nlearning_rat = 0.1\n")
    out = _cli("run", str(path))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert "did you mean 'learning_rate'" in out.stderr


def test_default_config_is_valid_and_odd_chain_is_refused(tmp_path):
    assert load_config(None)["system"] == default_config()["system"]
    path = tmp_path / "odd.toml"
    path.write_text("[system]\nn = 7\n")
    assert main(["run", str(path), "--out", str(tmp_path / "o.h5")]) == 2


def test_run_info_plot_end_to_end(tmp_path, capsys):
    job = tmp_path / "job.toml"
    job.write_text(TINY)
    out = tmp_path / "run.h5"
    assert main(["run", str(job), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Final energy" in printed and "relative error" in printed
    assert main(["run", str(job), "--out", str(out)]) == 2  # exists: refuse
    assert "already exists" in capsys.readouterr().err
    assert main(["info", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "heisenberg_chain" in summary and "final energy" in summary
    png = tmp_path / "conv.png"
    assert main(["plot", str(out), "-o", str(png)]) == 0
    assert png.stat().st_size > 1000
    assert main(["info", str(tmp_path / "nothing.h5")]) == 2
