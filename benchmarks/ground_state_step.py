"""Cost of one ground-state step: 32-site Heisenberg chain, 1024 samples, MinSR (VMC_SR).

Each model runs in its own subprocess so that peak memory (max RSS) is attributable. Peers:
NetKet's ARNNDense with ``VMC_SR`` on the unconstrained space (NetKet's sampler cannot sample
the S^z = 0 sector), and our transformer with and without chunking.

    python benchmarks/ground_state_step.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

CASES = {
    "ARTransformer (d=32, 2 layers), chunk 64": dict(model="transformer", chunk=64),
    "ARTransformer (d=32, 2 layers), no chunk": dict(model="transformer", chunk=None),
    "NetKet ARNNDense (2 layers, 2 features)": dict(model="dense", features=2, chunk=None),
    "NetKet ARNNDense (2 layers, 8 features)": dict(model="dense", features=8, chunk=None),
}

WORKER = r"""
import json, sys, time
import jax, netket as nk, optax
sys.path.insert(0, "benchmarks")
import hamiltonians, nqs, samplers
from _common import peak_rss_mb
case = json.loads(sys.argv[1])
n = 32
if case["model"] == "transformer":
    system = hamiltonians.heisenberg_chain(n)
    hilbert, hamiltonian = system.hilbert, system.hamiltonian
    model = nqs.ARTransformer(hilbert=hilbert, n_layers=2, d_model=32, n_heads=4)
    sampler = samplers.ARDirectSampler(hilbert)
else:
    hilbert = nk.hilbert.Spin(0.5, n)
    hamiltonian = 0.25 * nk.operator.Heisenberg(hilbert, nk.graph.Chain(n), sign_rule=False)
    model = nk.models.ARNNDense(hilbert=hilbert, layers=2, features=case["features"])
    sampler = nk.sampler.ARDirectSampler(hilbert)
vs = nk.vqs.MCState(sampler, model, n_samples=1024, seed=0, chunk_size=case["chunk"])
driver = nk.driver.VMC_SR(hamiltonian, optax.sgd(0.01), diag_shift=1e-4, variational_state=vs,
                          use_ntk=True, on_the_fly=True)
t0 = time.perf_counter(); driver.run(1, out=None, show_progress=False)
jax.block_until_ready(vs.parameters); first = time.perf_counter() - t0
times = []
for _ in range(3):
    t0 = time.perf_counter(); driver.run(1, out=None, show_progress=False)
    jax.block_until_ready(vs.parameters); times.append(time.perf_counter() - t0)
print(json.dumps(dict(first=first, step=min(times), rss=peak_rss_mb(), n_params=vs.n_parameters)))
"""


def main():
    sys.path.insert(0, "benchmarks")
    import netket  # noqa: F401  (JAX's x64 setting as in the workers, for the header line)
    from _common import machine

    print(f"# one VMC_SR (MinSR) step, 32-site Heisenberg chain, 1024 samples; {machine()}")
    results = {}
    for name, case in CASES.items():
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", WORKER, json.dumps(case)], capture_output=True, text=True
        )
        if out.returncode:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results[name] = r
        print(
            f"{name:42s} {r['n_params']:7d} params  step {r['step']:.3f} s  "
            f"(first step incl. compile {r['first']:.1f} s)  peak RSS {r['rss']:.0f} MiB  "
            f"[{time.perf_counter() - t0:.0f} s]"
        )
    ours = results.get("ARTransformer (d=32, 2 layers), chunk 64")
    for features in (2, 8):
        peer = results.get(f"NetKet ARNNDense (2 layers, {features} features)")
        if ours and peer:
            print(
                f"transformer (chunk 64) / ARNNDense ({features} features, {peer['n_params']} "
                f"params): step time {ours['step'] / peer['step']:.1f}x, "
                f"peak memory {ours['rss'] / peer['rss']:.2f}x"
            )


if __name__ == "__main__":
    main()
