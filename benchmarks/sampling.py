"""Sampling speed: 4096 exact samples of a 64-site chain.

Compares, in one process, the ARTransformer with its key/value cache against the same model
without the cache (a full forward pass per site, as NetKet's default ``conditional`` does), and
against NetKet's ``ARNNDense`` with a similar number of parameters.

Target (issue 2): cached >= 10x faster than uncached.

    python benchmarks/sampling.py [--n-sites 64] [--n-samples 4096]
"""

from __future__ import annotations

import argparse

import jax
import netket as nk
from _common import best_of, machine

import hamiltonians
import nqs
import samplers


def sample_time(sampler, model, n_samples, repeats):
    params = model.init(jax.random.PRNGKey(0), jax.numpy.zeros((1, sampler.hilbert.size)))
    state = sampler.init_state(model, params, seed=0)
    chain = n_samples // sampler.n_chains

    def draw():
        nonlocal state
        x, state = sampler.sample(model, params, state=state, chain_length=chain)
        return x

    n_params = sum(p.size for p in jax.tree.leaves(params["params"]))
    return best_of(draw, repeats), n_params


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sites", type=int, default=64)
    parser.add_argument("--n-samples", type=int, default=4096)
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    system = hamiltonians.heisenberg_chain(args.n_sites)  # S^z = 0 sector
    cached = nqs.ARTransformer(
        hilbert=system.hilbert, n_layers=2, d_model=args.d_model, n_heads=4
    )
    uncached = cached.clone(use_cache=False)
    free = nk.hilbert.Spin(0.5, args.n_sites)
    dense = nk.models.ARNNDense(hilbert=free, layers=2, features=2)

    print(f"# sampling {args.n_samples} configurations, {args.n_sites} sites; {machine()}")
    rows = [
        ("ARTransformer, cached", samplers.ARDirectSampler(system.hilbert), cached),
        ("ARTransformer, uncached", samplers.ARDirectSampler(system.hilbert), uncached),
        ("NetKet ARNNDense", nk.sampler.ARDirectSampler(free), dense),
    ]
    times = {}
    for name, sampler, model in rows:
        repeats = 1 if "uncached" in name else args.repeats
        t, n_params = sample_time(sampler, model, args.n_samples, repeats)
        times[name] = t
        print(f"{name:26s} {n_params:8d} params   {t * 1e3:10.1f} ms")
    ratio = times["ARTransformer, uncached"] / times["ARTransformer, cached"]
    print(f"cache speed-up (uncached / cached): {ratio:.1f}x   (target >= 10x)")
    print(
        "cached transformer / ARNNDense time: "
        f"{times['ARTransformer, cached'] / times['NetKet ARNNDense']:.2f}"
    )


if __name__ == "__main__":
    main()
