r"""1D U(1) quantum link model versus the staggered mass m: variational vs exact.

.. math:: H = -w\sum_j\big(\psi_j^\dagger S^+_{j,j+1}\psi_{j+1} + \text{h.c.}\big)
              + m\sum_j(-1)^j\psi_j^\dagger\psi_j,\qquad w = 1,

spin-½ links on a ring of N sites, Gauss's law imposed exactly (link-only PXP representation,
Lucas(N) states; models.md §8, constraints.md §5). Observables: energy per site and the pair
density :math:`\nu = N^{-1}\sum_j\langle|q_j|\rangle`. Since
:math:`\sum_j(-1)^j n_j = N\nu - N/2`, Hellmann–Feynman gives

.. math:: \nu(m) = \tfrac12 + \frac1N\frac{dE_0}{dm},

a check that ties the two observables together (printed from the exact curve). :math:`m \ll 0`:
charge crystal (:math:`\nu \to 1`); :math:`m \gg 0`: the two bare vacua (:math:`\nu \to 0`);
the Ising transition between them is at :math:`m_c \approx 0.655\,w` (N → ∞). Reference
:math:`E_0(m=0, N=12) = -7.2429405547` (references.md §6). Gauge-invariant autoregressive
transformers: Luo et al., PRR 5, 013216 (2023).

Exact: dense diagonalisation of :math:`H(m) = H(0) + m D` on a fine grid (D built once).
Variational: one MinSR run per mass, warm-started from the previous mass (the sweep goes up).

    python benchmarks/qlm_mass_sweep.py [--n 12] [--m -2 -1.5 ...]
        [--n-steps 300] [--n-steps-warm 150] [--plot qlm_mass_sweep.png] [--out-dir runs/]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # dense ED: see benchmarks/_studies.py

import argparse
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import machine
from _studies import load_average, positive_model, variational_run

import hamiltonians

M_C = 0.655  # Ising transition, models.md §8


def exact_sweep(n: int, masses):
    """Exact ``E0/N`` and pair density on ``masses`` (dense ED of the Lucas(n)-state sector)."""
    h0 = hamiltonians.quantum_link_model(n, m=0.0)
    h1 = hamiltonians.quantum_link_model(n, m=1.0)
    a0 = h0.hamiltonian.to_sparse().toarray()
    d = h1.hamiltonian.to_sparse().toarray() - a0  # sum_j (-1)^j n_j, diagonal
    nu_op = h0.observables["pair_density"].to_sparse().toarray()
    e, nu = [], []
    for m in masses:
        w, v = np.linalg.eigh(a0 + m * d)
        e.append(w[0] / n)
        nu.append(v[:, 0] @ nu_op @ v[:, 0])
    return np.asarray(e), np.asarray(nu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--m", type=float, nargs="+", default=list(np.linspace(-2, 2, 9)))
    parser.add_argument("--n-samples", type=int, default=512)
    parser.add_argument("--n-steps", type=int, default=300, help="steps at the first mass")
    parser.add_argument("--n-steps-warm", type=int, default=150, help="steps at later masses")
    parser.add_argument("--n-samples-final", type=int, default=16384)
    parser.add_argument("--d-model", type=int, default=16)
    parser.add_argument("--n-layers", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--plot", default="qlm_mass_sweep.png")
    parser.add_argument("--out-dir", default=None, help="one HDF5 file per mass")
    args = parser.parse_args()
    n, masses = args.n, np.sort(np.asarray(args.m, dtype=float))
    print(f"# {machine()}; {load_average()}")

    t0 = time.perf_counter()
    fine_m = np.linspace(masses[0], masses[-1], 401)
    fine_e, fine_nu = exact_sweep(n, fine_m)
    hf = 0.5 + np.gradient(fine_e, fine_m)  # Hellmann-Feynman: nu = 1/2 + (1/N) dE0/dm
    print(
        f"exact (ED, {time.perf_counter() - t0:.1f} s): max |nu - (1/2 + dE0/dm / N)| = "
        f"{np.max(np.abs(hf - fine_nu)[1:-1]):.1e} on the fine grid (finite differences)"
    )
    grid_e, grid_nu = exact_sweep(n, masses)

    state, rows = None, []
    for k, m in enumerate(masses):
        system = hamiltonians.quantum_link_model(n, m=float(m))
        model = (
            state
            if state is not None
            else positive_model(system, d_model=args.d_model, n_layers=args.n_layers)
        )
        out = None if args.out_dir is None else os.path.join(args.out_dir, f"qlm_m{m:+.2f}.h5")
        if out is not None:
            os.makedirs(args.out_dir, exist_ok=True)
        result, _, wall = variational_run(
            system,
            model,
            n_samples=args.n_samples,
            n_steps=args.n_steps if k == 0 else args.n_steps_warm,
            learning_rate=args.lr,
            n_samples_final=args.n_samples_final,
            out=out,
            seed=k,
        )
        state = result.state
        nu, nu_err = result.observables["pair_density"]
        rows.append((result.energy / n, result.energy_error / n, np.real(nu), nu_err))
        abs_err = abs(result.energy - result.exact_energy) / n
        print(
            f"m = {m:+.2f}: E0/N = {rows[-1][0]:.6f} ± {rows[-1][1]:.1g} (exact {grid_e[k]:.6f}, "
            f"|dE|/N = {abs_err:.1e}, rel. error {result.relative_error:.1e}); nu = "
            f"{np.real(nu):.4f} ± {nu_err:.4f} (exact {grid_nu[k]:.4f}); {wall:.0f} s",
            flush=True,
        )
    e, e_err, nu, nu_err = (np.asarray(c) for c in zip(*rows, strict=True))
    worst = np.max(np.abs(e - grid_e) * n / np.abs(grid_e * n))
    print(
        f"largest relative energy error over the sweep {worst:.1e}; largest |nu - exact| "
        f"{np.max(np.abs(nu - grid_nu)):.4f} (typical error bar {np.median(nu_err):.4f}); "
        f"{time.perf_counter() - t0:.0f} s in all, {load_average()}"
    )

    fig, (ax_e, ax_nu) = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
    ax_e.plot(fine_m, fine_e, "k-", lw=1, label="exact")
    ax_e.errorbar(masses, e, e_err, fmt="o", ms=4, label="transformer (MinSR)")
    ax_e.set_ylabel(r"$E_0/N$")
    ax_nu.plot(fine_m, fine_nu, "k-", lw=1, label="exact")
    ax_nu.errorbar(masses, nu, nu_err, fmt="o", ms=4, label="transformer")
    ax_nu.axvline(M_C, color="gray", ls=":", label=r"$m_c \approx 0.655$ ($N\to\infty$)")
    ax_nu.set_ylabel(r"pair density $\nu$")
    ax_nu.set_xlabel("m / w")
    for ax in (ax_e, ax_nu):
        ax.legend(fontsize=8)
    ax_e.set_title(f"U(1) quantum link model, N={n} ring")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
