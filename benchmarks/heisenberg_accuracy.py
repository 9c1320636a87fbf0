"""Accuracy within a wall-clock budget: 20-site periodic Heisenberg chain, S^z = 0 sector.

Target (issue 2): relative energy error <= 1e-3 within 10 minutes on 2 CPU cores. The run stops
at the budget; the final energy is estimated with fresh samples and compared with the exact
sector ground-state energy (Lanczos, not counted in the budget).

    python benchmarks/heisenberg_accuracy.py [--budget 600] [--n 20] [--out heis20.h5]
"""

from __future__ import annotations

import argparse
import time

import jax.numpy as jnp
from _common import machine

import hamiltonians
import nqs
import solvers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds")
    parser.add_argument("--n-samples", type=int, default=1024)
    parser.add_argument("--n-steps", type=int, default=3000)
    parser.add_argument("--d-model", type=int, default=16)
    parser.add_argument("--n-layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--diag-shift", type=float, default=1e-4)
    parser.add_argument("--float32", action="store_true")
    parser.add_argument("--marshall", action="store_true", help="Marshall-rotated basis")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    system = hamiltonians.heisenberg_chain(args.n, marshall_sign=args.marshall)
    t0 = time.perf_counter()
    e0 = system.exact_energy()
    print(f"# {system}; {machine()}")
    print(f"exact E0 = {e0:.10f} (Lanczos in the sector, {time.perf_counter() - t0:.0f} s)")

    model = nqs.ARTransformer(
        hilbert=system.hilbert,
        n_layers=args.n_layers,
        d_model=args.d_model,
        n_heads=4,
        param_dtype=jnp.float32 if args.float32 else jnp.float64,
    )
    start = time.perf_counter()
    reached = {}

    def stop_at_budget(step, row, driver):
        err = abs((float(row["energy"].mean.real) - e0) / e0)
        for level in (1e-2, 1e-3, 3e-4):
            if err <= level and level not in reached:
                reached[level] = (step, time.perf_counter() - start)
        return time.perf_counter() - start > args.budget

    result = solvers.ground_state(
        system,
        model,
        n_samples=args.n_samples,
        n_steps=args.n_steps,
        learning_rate=args.lr,
        diag_shift=args.diag_shift,
        chunk_size=64,
        n_samples_final=8192,
        exact=False,
        callback=stop_at_budget,
        out=args.out,
        overwrite=args.out is not None,
    )
    total = time.perf_counter() - start
    rel = abs((result.energy - e0) / e0)
    print(result)
    for level, (step, t) in sorted(reached.items(), reverse=True):
        print(f"per-step estimate first within {level:.0e}: step {step}, {t:.0f} s")
    print(
        f"final: E = {result.energy:.6f} ± {result.energy_error:.1g}, exact {e0:.6f}, "
        f"relative error {rel:.2e} after {result.n_steps} steps, {total:.0f} s "
        f"(target <= 1e-3 within 600 s)"
    )


if __name__ == "__main__":
    main()
