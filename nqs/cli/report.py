"""``nqs info`` and ``nqs plot``: read a run file back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nqs.errors import NQSError
from nqs.io import read_run


def _read(path) -> dict:
    if not Path(path).exists():
        raise NQSError(f"{path} does not exist")
    try:
        return read_run(path)
    except OSError as err:
        raise NQSError(f"{path} is not a readable HDF5 run file ({err})") from None


def info(path) -> str:
    """A readable summary of a run file."""
    run = _read(path)
    attrs, meta = run["attrs"], run.get("metadata", {})
    config = meta.get("config", {})
    lines = [
        f"{path}",
        f"  kind            {attrs.get('kind')}   (schema {attrs.get('schema_version')})",
        f"  status          {attrs.get('status')}",
        f"  created         {attrs.get('created')}",
    ]
    system = config.get("system", {})
    if system:
        params = ", ".join(f"{k}={v}" for k, v in system.items() if k != "name")
        lines.append(f"  system          {system.get('name')}({params})")
    model = config.get("model", {})
    if model:
        keys = ("n_layers", "d_model", "n_heads", "attention", "param_dtype")
        lines.append(
            f"  model           {model.get('type')}("
            + ", ".join(f"{k}={model[k]}" for k in keys if k in model)
            + ")"
        )
    solver = config.get("solver", {})
    if solver:
        keys = ("method", "n_samples", "n_steps", "learning_rate", "diag_shift", "seed")
        described = ", ".join(f"{k}={solver[k]}" for k in keys if k in solver)
        lines.append(f"  solver          {described}")
    energy = run["series"].get("energy")
    if energy is not None and len(energy["step"]):
        lines.append(f"  steps written   {len(energy['step'])} (last step {energy['step'][-1]})")
    if "checkpoint_step" in run:
        lines.append(f"  checkpoint      after step {run['checkpoint_step']}")
    exact = run.get("exact", {}).get("energy")
    final = run.get("final", {}).get("energy")
    if final is not None:
        e, err = float(np.real(final["mean"])), float(final["error"])
        lines.append(f"  final energy    {e:.8g} ± {err:.2g}")
        if exact is not None:
            lines.append(f"  exact energy    {exact:.10g}")
            lines.append(f"  relative error  {abs((e - exact) / exact):.3e}")
    elif exact is not None:
        lines.append(f"  exact energy    {exact:.10g}")
    others = sorted(set(run["series"]) - {"energy", "wall_time"})
    if others:
        lines.append("  observables     " + ", ".join(others))
    versions = meta.get("versions", {})
    if versions:
        keys = ("nqs-solver", "netket", "jax")
        lines.append("  versions        " + ", ".join(f"{k} {versions.get(k)}" for k in keys))
    return "\n".join(lines)


def plot(path, output=None) -> Path:
    """Energy convergence (and relative error against the exact energy) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = _read(path)
    energy = run["series"].get("energy")
    if energy is None:
        return _plot_observables(run, path, output, plt)
    if not len(energy["step"]):
        raise NQSError(f"{path} has no energy series to plot")
    exact = run.get("exact", {}).get("energy")
    step, mean, err = energy["step"], np.real(energy["mean"]), energy["error"]
    n_panels = 2 if exact is not None else 1
    fig, axes = plt.subplots(n_panels, 1, figsize=(6, 3 * n_panels), sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.plot(step, mean, lw=1, label="variational")
    ax.fill_between(step, mean - err, mean + err, alpha=0.3, lw=0)
    if exact is not None:
        ax.axhline(exact, color="k", ls="--", lw=1, label=f"exact {exact:.6f}")
        lo = exact - 0.05 * abs(exact)
        ax.set_ylim(max(lo, float(np.nanmin(mean - err))) - 1e-3 * abs(exact), None)
        axes[1, 0].semilogy(step, np.abs((mean - exact) / exact), lw=1)
        axes[1, 0].set_ylabel("relative error")
    ax.set_ylabel("energy")
    ax.legend()
    axes[-1, 0].set_xlabel("step")
    system = run.get("metadata", {}).get("config", {}).get("system", {})
    fig.suptitle(system.get("name", Path(path).stem))
    fig.tight_layout()
    output = Path(output) if output else Path(path).with_suffix(".png")
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output


#: Series shown for runs without an energy (open systems), in this order.
_OPEN_SERIES = ("loss", "sigma_x", "sigma_y", "sigma_z")


def _plot_observables(run, path, output, plt) -> Path:
    """Open-system runs: loss and one-site Pauli expectations against step or time, with the
    exact values (constant lines for a steady state, curves for an evolution)."""
    names = [n for n in _OPEN_SERIES if n in run["series"] and len(run["series"][n]["step"])]
    if not names:
        raise NQSError(f"{path} has no energy or observable series to plot")
    exact = run.get("exact", {})
    fig, axes = plt.subplots(len(names), 1, figsize=(6, 2.2 * len(names)), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        series = run["series"][name]
        x = series["time"] if "time" in series else series["step"]
        mean, err = np.real(series["mean"]), series["error"]
        ax.plot(x, mean, lw=1, label="variational")
        ax.fill_between(x, mean - err, mean + err, alpha=0.3, lw=0)
        reference = exact.get(name)
        if reference is not None and np.ndim(reference) == 0:
            ax.axhline(float(reference), color="k", ls="--", lw=1, label="exact")
        elif reference is not None and "time" in exact:
            ax.plot(exact["time"], reference, "k--", lw=1, label="exact")
        if name == "loss":
            ax.set_yscale("log")
        ax.set_ylabel(name)
    axes[0, 0].legend()
    axes[-1, 0].set_xlabel("time" if "time" in run["series"][names[0]] else "step")
    fig.suptitle(run.get("attrs", {}).get("kind", Path(path).stem))
    fig.tight_layout()
    output = Path(output) if output else Path(path).with_suffix(".png")
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output
