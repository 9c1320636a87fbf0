r"""Ground-state accuracy on constrained sectors: Z2 gauge theory, golden chain, QLM, singlets.

Target (issue 3): relative energy error :math:`|E - E_0|/|E_0| \le 10^{-3}` for

==========================  ===============================================  ===============
system                      Hamiltonian (models.md)                          exact E0
==========================  ===============================================  ===============
Z2 gauge theory L=3, h=0.2  :math:`-\sum_p B_p - h\sum_l\sigma^x_l` (§7)      -9.2104956382
Z2 gauge theory L=3, h=0.5  idem                                             -11.3418905884
golden chain L=12 (AFM)     :math:`-\sum_i P^{(0)}_i` (§9)                    -9.2231573333
QLM N=12, m=0               :math:`-w\sum_j PX_jP + m\sum_j(-1)^jn_j` (§8)    -7.2429405547
SU(2) singlets N=16 (OBC)   :math:`\sum_i S_i\cdot S_{i+1}` (§10)             -6.9117371456
==========================  ===============================================  ===============

(references.md §5–§8; Luo et al., PRR 5, 013216 (2023) for the gauge-invariant autoregressive
transformer; Feiguin et al., PRL 98, 160409 (2007) for the golden chain). The Z2 runs use the
zero-winding Gauss-law sector (256 states), where the ground state lies (models.md §7);
``--all-windings`` uses the full Gauss-law sector (1024 states) instead.

Every Hamiltonian is stoquastic in its basis, so the model has positive amplitudes
(``_studies.positive_model``). MinSR, cosine-decayed step size; the final energy comes from
``--n-samples-final`` fresh exact samples, its error bar is the standard error of the mean.
Wall times include compilation, not exact diagonalisation.

    python benchmarks/gauge_accuracy.py [--only z2_h0.2 golden ...]
        [--n-steps 300] [--n-samples 512] [--d-model 16] [--n-layers 1] [--lr 0.02]
        [--out-dir runs/]

Defaults are per case (``DEFAULTS`` and the overrides in :func:`cases`); a command-line value
overrides every case.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # dense ED: see benchmarks/_studies.py

import argparse

from _common import machine
from _studies import load_average, positive_model, relative_error, variational_run

import hamiltonians

TARGET = 1e-3


#: Hyper-parameters of every case unless a case or the command line overrides them.
DEFAULTS = {"n_samples": 512, "n_steps": 300, "d_model": 16, "n_layers": 1, "lr": 0.02}


def cases(all_windings: bool):
    """``{key: (label, system factory, reference E0 (references.md), overrides)}``.

    The Z2 gauge theory at h = 0.5 (near the crossover, the most entangled of these states)
    plateaus at an energy variance ~0.04 with one layer; a second layer reaches ~0.01.
    """
    winding = None if all_windings else (0, 0)
    two_layers = {"n_layers": 2}
    return {
        "z2_h0.2": (
            "Z2 gauge theory L=3, h=0.2",
            lambda: hamiltonians.z2_gauge_theory(3, 0.2, winding=winding),
            -9.2104956382,
            two_layers,
        ),
        "z2_h0.5": (
            "Z2 gauge theory L=3, h=0.5",
            lambda: hamiltonians.z2_gauge_theory(3, 0.5, winding=winding),
            -11.3418905884,
            two_layers,
        ),
        "golden": (
            "golden chain L=12 (AFM)",
            lambda: hamiltonians.golden_chain(12),
            -9.2231573333,
            {},
        ),
        "qlm": (
            "quantum link model N=12, m=0",
            lambda: hamiltonians.quantum_link_model(12),
            -7.2429405547,
            {},
        ),
        "singlet": (
            "SU(2) singlet chain N=16 (OBC)",
            lambda: hamiltonians.su2_singlet_chain(16),
            -6.9117371456,
            {},
        ),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="subset of the case keys")
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--n-steps", type=int, default=None)
    parser.add_argument("--n-samples-final", type=int, default=16384)
    parser.add_argument("--d-model", type=int, default=None)
    parser.add_argument("--n-layers", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--diag-shift", type=float, default=1e-4)
    parser.add_argument("--budget", type=float, default=None, help="seconds per case")
    parser.add_argument("--all-windings", action="store_true", help="Z2: full Gauss-law sector")
    parser.add_argument("--out-dir", default=None, help="write one HDF5 file per case here")
    args = parser.parse_args()

    table = cases(args.all_windings)
    keys = args.only or list(table)
    unknown = sorted(set(keys) - set(table))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {sorted(table)}")
    print(f"# {machine()}; {load_average()}")
    print(
        "# ARTransformer(phase=False), MinSR, step size cosine-decayed to a tenth, diag_shift "
        f"{args.diag_shift}, final estimate from {args.n_samples_final} samples"
    )
    rows = []
    for key in keys:
        label, factory, reference, overrides = table[key]
        hp = {
            k: getattr(args, k) if getattr(args, k) is not None else overrides.get(k, v)
            for k, v in DEFAULTS.items()
        }
        system = factory()
        e0 = system.exact_energy()
        print(
            f"\n## {label}: sector {system.hilbert.n_states} states, E0 = {e0:.10f} (ED), "
            f"references.md {reference:.10f}; {hp}"
        )
        out = None if args.out_dir is None else os.path.join(args.out_dir, f"{key}.h5")
        if out is not None:
            os.makedirs(args.out_dir, exist_ok=True)
        model = positive_model(system, d_model=hp["d_model"], n_layers=hp["n_layers"])
        result, milestones, wall = variational_run(
            system,
            model,
            n_samples=hp["n_samples"],
            n_steps=hp["n_steps"],
            learning_rate=hp["lr"],
            diag_shift=args.diag_shift,
            n_samples_final=args.n_samples_final,
            budget=args.budget,
            out=out,
        )
        rel, rel_err = relative_error(result)
        print(result)
        print(f"per-step estimate first within: {milestones.summary() or 'none'}")
        print(
            f"{label}: E = {result.energy:.6f} ± {result.energy_error:.1g}, relative error "
            f"{rel:.2e} ± {rel_err:.1e} (target <= {TARGET:.0e}: "
            f"{'met' if rel <= TARGET else 'NOT met'}), {wall:.0f} s, {load_average()}"
        )
        rows.append((label, rel, rel_err, wall))
    print("\n# summary (relative error ± 1 sigma, wall time incl. compilation)")
    for label, rel, rel_err, wall in rows:
        print(f"{label:34s} {rel:.2e} ± {rel_err:.1e}   {wall:6.0f} s   target <= {TARGET:.0e}")


if __name__ == "__main__":
    main()
