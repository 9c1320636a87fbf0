"""Steady state of the 1D dissipative Ising ring (Luo et al., PRL 128, 090501 (2022)) against exact.

Part 1 (the acceptance check): N = 4, V = 2, gamma = 1, PBC, Pauli-4, g in {0.5, 1, 2};
site-averaged <sigma^x,y,z> of the kept state within 1e-2 of the exact null vector
(references.md §9).
Part 2 (``--sweep``): a sweep over g for several N against the exact steady state (sparse POVM
generator, N <= 8), plotted to ``open_steady_state_sweep.png``.

Run:  python benchmarks/open_steady_state.py [--quick] [--sweep[-only] --sizes 4 6 --g 0.5 1 2 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see tests/_openblas_threads.py

import argparse
import sys
import time

import jax
import numpy as np
import optax
from _common import machine
from _open_exact import povm_steady_state

import hamiltonians.open_systems as hos
import nqs.povm_model as pm
from solvers.steady_state import steady_state

jax.config.update("jax_enable_x64", True)

REFERENCE = {  # references.md §9: (<sx>, <sy>, <sz>)
    0.5: (0.23706759, 0.06619058, -0.96690471),
    1.0: (0.43978125, 0.18718612, -0.81281388),
    2.0: (0.24508459, 0.37826156, -0.24347688),
}
KEYS = ("sigma_x", "sigma_y", "sigma_z")


def solve(n, g, *, n_samples, n_steps, n_final, seed=0):
    system = hos.dissipative_ising_chain(n, V=2.0, g=g, gamma=1.0)
    model = pm.probability_transformer(n, n_layers=1, d_model=32, n_heads=2, d_ff=64)
    t0 = time.perf_counter()
    result = steady_state(
        system,
        model,
        n_samples=n_samples,
        n_steps=n_steps,
        learning_rate=optax.exponential_decay(1e-2, n_steps, 0.1),
        eval_from=n_steps // 3,
        n_samples_final=n_final,
        exact=False,
        seed=seed,
        progress=False,
    )
    return result, time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (smoke test)")
    parser.add_argument("--sweep", action="store_true", help="also sweep g for --sizes")
    parser.add_argument("--sweep-only", action="store_true", help="skip the N = 4 check")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 6])
    parser.add_argument("--g", type=float, nargs="+", default=[0.3, 0.6, 1.0, 1.4, 2.0, 2.8, 4.0])
    args = parser.parse_args(argv)
    n_samples, n_steps, n_final = (500, 200, 20_000) if args.quick else (2000, 4000, 200_000)
    print(f"machine: {machine()}")
    print(f"N = 4 ring, V = 2, gamma = 1; {n_samples} samples/step, {n_steps} Adam steps, "
          f"{n_final} final samples")  # fmt: skip
    ok = True
    for g, expected in {} if args.sweep_only else REFERENCE.items():
        result, seconds = solve(4, g, n_samples=n_samples, n_steps=n_steps, n_final=n_final)
        devs = []
        for key, value in zip(KEYS, expected, strict=True):
            mean, err = result.observables[key]
            devs.append(abs(mean - value))
            print(f"  g={g:<4} {key}: {mean:+.5f} ± {err:.5f}  exact {value:+.5f}  "
                  f"|dev| {abs(mean - value):.1e}")  # fmt: skip
        passed = max(devs) < 1e-2
        ok &= passed
        verdict = "PASS" if passed else "FAIL"
        print(f"  g={g:<4} ||LP||_1 = {result.loss:.2e}, kept step {result.best_step}, "
              f"{seconds:.0f} s, max |dev| {max(devs):.1e} -> {verdict}")  # fmt: skip
    if args.sweep or args.sweep_only:
        sweep(args.sizes, args.g, n_samples=n_samples, n_steps=n_steps, n_final=n_final)
    return 0 if ok else 1


def sweep(sizes, gs, **run):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), sharex=True)
    for n in sizes:
        exact = {key: [] for key in KEYS}
        fine = np.linspace(min(gs), max(gs), 25)
        for g in fine:
            values = povm_steady_state(hos.dissipative_ising_chain(n, V=2.0, g=g, gamma=1.0))
            for key in KEYS:
                exact[key].append(values[key])
        points = {key: [] for key in KEYS}
        for g in gs:
            result, seconds = solve(n, g, **run)
            reference = povm_steady_state(hos.dissipative_ising_chain(n, V=2.0, g=g, gamma=1.0))
            line = [f"N={n} g={g:<4}"]
            for key in KEYS:
                mean, err = result.observables[key]
                points[key].append((mean, err))
                line.append(f"{key} {mean:+.4f}±{err:.4f} (exact {reference[key]:+.4f})")
            print("  " + "  ".join(line) + f"  {seconds:.0f} s")
        for ax, key in zip(axes, KEYS, strict=True):
            (line,) = ax.plot(fine, exact[key], lw=1, label=f"exact N={n}")
            mean, err = np.asarray(points[key]).T
            ax.errorbar(gs, mean, err, fmt="o", ms=3, color=line.get_color(), label=f"NQS N={n}")
    for ax, key in zip(axes, KEYS, strict=True):
        ax.set_xlabel("g")
        ax.set_ylabel(f"<{key.replace('sigma_', 'σ^')}>")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig("open_steady_state_sweep.png", dpi=150)
    print("wrote open_steady_state_sweep.png")


if __name__ == "__main__":
    sys.exit(main())
