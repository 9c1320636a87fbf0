r"""Open Heisenberg chain in the SU(2) singlet (fusion-path) basis: variational vs exact.

.. math:: H = \sum_{i=1}^{N-1} S_i\cdot S_{i+1} = \frac{N-1}{4} - \sum_{i=1}^{N-1} P^{(0)}_i,

in the basis of partial total spins :math:`x_i` (Dyck paths, Catalan :math:`C_{N/2}` states;
models.md §10, constraints.md §7). SU(2) symmetry is exact by construction: the model only ever
sees total-spin-0 states. The singlet spectrum is the :math:`S = 0` part of the spin-basis OBC
spectrum, so three numbers must agree: ED in the singlet basis, ED of the spin-basis OBC chain
(:math:`S^z = 0` sector, whose ground state is a singlet), and references.md §2/§8
(:math:`E_0(16) = -6.911737145575`, open-chain Bethe ansatz). Target: relative error
:math:`\le 10^{-3}`. Fusion-path autoregressive states: Luo et al., PRR 5, 013216 (2023).

The Hamiltonian is stoquastic in this basis (the off-diagonal elements of :math:`-P^{(0)}` are
:math:`-\sqrt{x(x+1)}/(2x+1) < 0`), so the model has positive amplitudes.

    python benchmarks/singlet_chain.py [--n 8 12 16] [--n-steps 300]
        [--n-samples 512] [--out-dir runs/]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # dense ED: see benchmarks/_studies.py

import argparse
import time

import numpy as np
from _common import machine
from _studies import load_average, positive_model, relative_error, variational_run

import hamiltonians

REFERENCE = {
    8: -3.3749325987,
    10: -4.2580352073,
    12: -5.1420906328,
    14: -6.0267246619,
    16: -6.9117371456,
}  # references.md §8 (N = 16 also §2: -6.911737145575)
TARGET = 1e-3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[16])
    parser.add_argument("--n-samples", type=int, default=512)
    parser.add_argument("--n-steps", type=int, default=300)
    parser.add_argument("--n-samples-final", type=int, default=16384)
    parser.add_argument("--d-model", type=int, default=16)
    parser.add_argument("--n-layers", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args()
    print(f"# {machine()}; {load_average()}")
    for n in args.n:
        t0 = time.perf_counter()
        system = hamiltonians.su2_singlet_chain(n)
        e0 = system.exact_energy()
        spin = hamiltonians.heisenberg_chain(n, pbc=False, total_sz=0).exact_energy()
        ref = REFERENCE.get(n)
        print(
            f"\n## N={n}: singlet sector {system.hilbert.n_states} states, E0 = {e0:.10f}; "
            f"spin basis (S^z=0, OBC) {spin:.10f}; references.md "
            f"{'-' if ref is None else f'{ref:.10f}'}; |singlet - spin| = {abs(e0 - spin):.1e} "
            f"(ED {time.perf_counter() - t0:.0f} s)"
        )
        out = None if args.out_dir is None else os.path.join(args.out_dir, f"singlet_{n}.h5")
        if out is not None:
            os.makedirs(args.out_dir, exist_ok=True)
        model = positive_model(system, d_model=args.d_model, n_layers=args.n_layers)
        result, milestones, wall = variational_run(
            system,
            model,
            n_samples=args.n_samples,
            n_steps=args.n_steps,
            learning_rate=args.lr,
            n_samples_final=args.n_samples_final,
            out=out,
        )
        rel, rel_err = relative_error(result)
        (x_mean, x_err), x_exact = (
            result.observables["mean_partial_spin"],
            system.exact_observables()["mean_partial_spin"],
        )
        print(result)
        print(f"per-step estimate first within: {milestones.summary() or 'none'}")
        print(
            f"N={n}: E = {result.energy:.6f} ± {result.energy_error:.1g} vs exact {e0:.6f} "
            f"(spin basis {spin:.6f}): relative error {rel:.2e} ± {rel_err:.1e} (target <= "
            f"{TARGET:.0e}: {'met' if rel <= TARGET else 'NOT met'}); mean partial spin "
            f"{np.real(x_mean):.4f} ± {x_err:.4f} (exact {x_exact:.4f}); {wall:.0f} s, "
            f"{load_average()}"
        )


if __name__ == "__main__":
    main()
