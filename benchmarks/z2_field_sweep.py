r"""Z2 lattice gauge theory on the L×L torus versus the electric field h: variational vs exact.

.. math:: H(h) = -\sum_p B_p - h \sum_l \sigma^x_l,\qquad B_p = \prod_{l\in\partial p}\sigma^z_l,

electric basis, Gauss law :math:`A_v = +1` imposed exactly, zero-winding sector (where the ground
state lies; models.md §7). Per link, :math:`e(h) = E_0/N_\text{links}`, :math:`N_\text{links} =
2L^2`, and by Hellmann–Feynman

.. math:: \frac{de}{dh} = -\langle\sigma^x\rangle,\qquad
          -\frac{d^2 e}{dh^2} = \frac{d\langle\sigma^x\rangle}{dh},

so the crossover from the deconfined (:math:`\langle B_p\rangle \to 1`) to the confined
(:math:`\langle\sigma^x\rangle \to 1`) regime shows as a peak of the curvature. Target: the peak
near :math:`h \approx 0.38` at L = 3 (models.md §7), drifting with L to the thermodynamic
:math:`h_c = 1/\Gamma_c \approx 0.3285`, :math:`\Gamma_c = 3.04438(2)` of the dual 2D
transverse-field Ising model (Wegner duality; Blöte & Deng, PRE 66, 066110 (2002)). Reference
energies: references.md §5; the model: Luo et al., PRR 5, 013216 (2023).

Exact: dense diagonalisation of the sector (256 states at L = 3) on a fine h grid, with
:math:`H(h)` assembled from the plaquette and field matrices built once. Variational: one MinSR
run per grid point, each warm-started from the previous point's parameters (the sweep goes up in
h); two decoder layers, since near the crossover one layer plateaus at a larger energy variance
(``gauge_accuracy.py``). The variational peak comes from finite differences of
:math:`\langle\sigma^x\rangle(h)` (first differences of a measured observable: far less noisy
than second differences of the energy, which are printed too) refined by a parabola; its error
bar by resampling :math:`\langle\sigma^x\rangle` within its error bars. The exact curve
sampled on the same grid separates the grid's resolution from the variational error.

    python benchmarks/z2_field_sweep.py [--L 3] [--h 0 0.1 ...]
        [--n-steps 300] [--n-steps-warm 100] [--n-layers 2] [--plot z2_field_sweep.png]
        [--out-dir runs/]
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
from _studies import load_average, positive_model, quadratic_peak, variational_run

import hamiltonians

H_GRID = (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.8, 1.0)
GAMMA_C = 3.04438  # Blöte & Deng (2002): critical field of the 2D TFIM, h_c = 1 / Gamma_c


def exact_sweep(L: int, h_values):
    """Exact ``e = E0/N_links``, ``<sigma^x>``, ``<B_p>`` on ``h_values`` (zero-winding sector)."""
    system = hamiltonians.z2_gauge_theory(L, 0.0, winding=(0, 0))
    n_links, n_plaquettes = 2 * L * L, L * L
    plaquette = system.observables["plaquette"].to_sparse().toarray().real  # mean B_p
    field = system.observables["electric_field"].to_sparse().toarray().real  # mean sigma^x
    out = {"e": [], "sigma_x": [], "plaquette": []}
    for h in h_values:
        _, vectors = np.linalg.eigh(-n_plaquettes * plaquette - h * n_links * field)
        v = vectors[:, 0]
        sx, bp = v @ field @ v, v @ plaquette @ v
        out["e"].append(-(bp * n_plaquettes + h * n_links * sx) / n_links)
        out["sigma_x"].append(sx)
        out["plaquette"].append(bp)
    return {k: np.asarray(v) for k, v in out.items()}


def curvature_from_sigma_x(h, sigma_x):
    r""":math:`d\langle\sigma^x\rangle/dh = -d^2e/dh^2` by second-order finite differences."""
    return np.gradient(np.asarray(sigma_x), np.asarray(h))


def curvature_from_energy(h, e):
    """:math:`-d^2e/dh^2` by finite differences of the energy per link (noisier)."""
    return -np.gradient(np.gradient(np.asarray(e), np.asarray(h)), np.asarray(h))


def bootstrap_peak(h, sigma_x, sigma_x_err, n: int = 2000, seed: int = 0):
    """Peak location of the curvature and its spread when ``sigma_x`` is redrawn within errors."""
    rng = np.random.default_rng(seed)
    draws = sigma_x + sigma_x_err * rng.normal(size=(n, len(h)))
    peaks = [quadratic_peak(h, curvature_from_sigma_x(h, d)) for d in draws]
    return quadratic_peak(h, curvature_from_sigma_x(h, sigma_x)), float(np.std(peaks))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=3)
    parser.add_argument("--h", type=float, nargs="+", default=list(H_GRID))
    parser.add_argument("--n-samples", type=int, default=512)
    parser.add_argument("--n-steps", type=int, default=300, help="steps at the first h")
    parser.add_argument("--n-steps-warm", type=int, default=100, help="steps at later h")
    parser.add_argument("--n-samples-final", type=int, default=16384)
    parser.add_argument("--d-model", type=int, default=16)
    parser.add_argument("--n-layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--plot", default="z2_field_sweep.png")
    parser.add_argument("--out-dir", default=None, help="one HDF5 file per h")
    args = parser.parse_args()
    h = np.sort(np.asarray(args.h, dtype=float))
    n_links = 2 * args.L**2
    print(f"# {machine()}; {load_average()}")

    t0 = time.perf_counter()
    fine_h = np.linspace(0.0, 1.0, 401)
    fine = exact_sweep(args.L, fine_h)
    grid = exact_sweep(args.L, h)
    fine_curvature = curvature_from_sigma_x(fine_h, fine["sigma_x"])
    peak_fine = quadratic_peak(fine_h, fine_curvature)
    print(
        f"exact (ED, {time.perf_counter() - t0:.1f} s): curvature peak at h = {peak_fine:.4f} "
        f"(fine grid; {quadratic_peak(fine_h, curvature_from_energy(fine_h, fine['e'])):.4f} from "
        f"E0 itself); on the sweep grid {bootstrap_peak(h, grid['sigma_x'], 0)[0]:.4f}; "
        f"target near 0.38 at L=3; thermodynamic h_c = 1/{GAMMA_C} = {1 / GAMMA_C:.4f}"
    )

    state, rows = None, []
    for k, hk in enumerate(h):
        system = hamiltonians.z2_gauge_theory(args.L, float(hk), winding=(0, 0))
        model = (
            state
            if state is not None
            else positive_model(system, d_model=args.d_model, n_layers=args.n_layers)
        )
        out = None if args.out_dir is None else os.path.join(args.out_dir, f"z2_h{hk:.3f}.h5")
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
        sx, sx_err = result.observables["electric_field"]
        bp, bp_err = result.observables["plaquette"]
        e, e_err = result.energy / n_links, result.energy_error / n_links
        rows.append((e, e_err, sx, sx_err, bp, bp_err))
        print(
            f"h = {hk:.3f}: E/N_links = {rows[-1][0]:.6f} ± {rows[-1][1]:.1g} (exact "
            f"{grid['e'][k]:.6f}, rel. error {result.relative_error:.1e}); <sigma^x> = "
            f"{np.real(sx):.4f} ± {sx_err:.4f} (exact {grid['sigma_x'][k]:.4f}); <B_p> = "
            f"{np.real(bp):.4f} ± {bp_err:.4f} (exact {grid['plaquette'][k]:.4f}); {wall:.0f} s",
            flush=True,
        )
    e, e_err, sx, sx_err, bp, bp_err = (np.real(np.asarray(c)) for c in zip(*rows, strict=True))

    peak, peak_err = bootstrap_peak(h, sx, sx_err)
    peak_e = quadratic_peak(h, curvature_from_energy(h, e))
    print(
        f"variational curvature peak: h = {peak:.3f} ± {peak_err:.3f} (from d<sigma^x>/dh), "
        f"{peak_e:.3f} (from second differences of E0/N_links); exact on the same grid "
        f"{bootstrap_peak(h, grid['sigma_x'], 0)[0]:.3f}, exact fine grid {peak_fine:.4f} "
        f"(target near 0.38 at L=3); {time.perf_counter() - t0:.0f} s in all, {load_average()}"
    )

    fig, axes = plt.subplots(3, 1, figsize=(6, 9), sharex=True)
    axes[0].plot(fine_h, fine["e"], "k-", lw=1, label="exact")
    axes[0].errorbar(h, e, e_err, fmt="o", ms=4, label="transformer (MinSR)")
    axes[0].set_ylabel(r"$E_0/N_\mathrm{links}$")
    for name, values, errs, color in (
        (r"$\langle\sigma^x\rangle$", sx, sx_err, "C0"),
        (r"$\langle B_p\rangle$", bp, bp_err, "C1"),
    ):
        key = "sigma_x" if "sigma" in name else "plaquette"
        axes[1].plot(fine_h, fine[key], "-", color=color, lw=1)
        axes[1].errorbar(h, values, errs, fmt="o", ms=4, color=color, label=name)
    axes[2].plot(fine_h, fine_curvature, "k-", lw=1, label="exact")
    axes[2].plot(
        h, curvature_from_sigma_x(h, sx), "o-", ms=4, label=r"$d\langle\sigma^x\rangle/dh$"
    )
    axes[2].axvline(1 / GAMMA_C, color="gray", ls=":", label=r"$h_c$ (2D, $L\to\infty$)")
    axes[2].set_ylabel(r"$-d^2(E_0/N_\mathrm{links})/dh^2$")
    axes[2].set_xlabel("h")
    for ax in axes:
        ax.legend(fontsize=8)
    axes[0].set_title(f"Z2 gauge theory, L={args.L} torus, zero-winding sector")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
