"""One forward-backward trapezoid step: our JAX solver against the authors' PyTorch code.

Peer: the public code of Luo, Chen, Carrasquilla & Clark, PRL 128, 090501 (2022),
github.com/Rodin1000/POVM-Quantum-Simulation (``lindblad_2d_dynamics.py``'s inner loop, applied to
the 1D dissipative Ising ring with ``model.utils.reverse_samples_lindblad_pbc``). Both sides run
the same problem in the same process: N-site ring (V = 2, g = 1, gamma = 1, Pauli-4), a 1-layer
transformer with hidden size 32, 1 head, feed-forward 16, the same number of samples per inner
iteration and of Adam iterations per time step, float32. One "step" is a full time step
(``--iterations`` Adam iterations on fresh samples). Printed: seconds per step for each and the
ratio. Ours is timed twice: evaluating every sample's connected strings (the same work as the
peer, ``lookup=False``) and with the lookup shortcut for tiny systems (``lookup="auto"``).

Differences that remain (not equalised): the peer's "annotated" LayerNorm is the identity and its
blocks are post-norm with sinusoidal positions; ours are pre-LayerNorm with learned positions. The
peer sums all 16 connections per bond; our generator drops structural zeros (povm.md §3).

Set-up (nothing is installed or copied by this script):

    pip install torch==2.13.0          # CPU build
    git clone https://github.com/Rodin1000/POVM-Quantum-Simulation /path/to/checkout
    pip install tensorboardX tensorly  # imported by the peer's modules
    POVM_TORCH_REPO=/path/to/checkout python benchmarks/povm_vs_pytorch.py [--n 4] [--samples 100]

Without torch or ``POVM_TORCH_REPO`` the script explains this and exits with status 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

# Both sides in float32: NetKet would otherwise switch JAX to float64 on import.
os.environ.setdefault("NETKET_ENABLE_X64", "0")
os.environ.setdefault("JAX_ENABLE_X64", "0")

SETUP = """\
povm_vs_pytorch: skipped ({why}).
To compare against the authors' PyTorch code:
    pip install torch==2.13.0 tensorboardX tensorly
    git clone https://github.com/Rodin1000/POVM-Quantum-Simulation /path/to/checkout
    POVM_TORCH_REPO=/path/to/checkout python benchmarks/povm_vs_pytorch.py"""


def _missing() -> str | None:
    repo = os.environ.get("POVM_TORCH_REPO")
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    if not repo:
        return "POVM_TORCH_REPO is not set"
    if not os.path.isfile(os.path.join(repo, "model", "qc_model.py")):
        return f"POVM_TORCH_REPO={repo} is not a checkout of POVM-Quantum-Simulation"
    return None


def _peer_compatibility() -> None:
    """Run the peer's 2020-era code on today's stack, in this process only (its files are not
    touched): ``collections.Iterable`` moved to ``collections.abc`` (Python 3.10), and
    ``tensorly.decomposition.matrix_product_state`` (imported, not used here) is now
    ``tensor_train``."""
    import collections
    import collections.abc

    if not hasattr(collections, "Iterable"):
        collections.Iterable = collections.abc.Iterable
    try:
        import tensorly.decomposition as decomposition
    except ImportError:
        return
    if not hasattr(decomposition, "matrix_product_state"):
        decomposition.matrix_product_state = decomposition.tensor_train


def time_peer(n: int, n_samples: int, iterations: int, tau: float) -> tuple[float, int]:
    """Seconds for one time step of the peer's inner loop, and its parameter count."""
    import numpy as np
    import torch

    sys.path.insert(0, os.environ["POVM_TORCH_REPO"])
    _peer_compatibility()
    from model import QCModel
    from model import utils as peer
    from utils import POVM, QCModelConfig

    config = QCModelConfig(
        hidden_dim=32,
        nb_encoder_layers=1,
        num_attention_heads=1,
        intermediate_dim=16,
        positional_encoding_dropout=0.0,
        hidden_dropout_prob=0.0,
        attention_dropout_prob=0.0,
        layer_norm_type="annotated",
    )
    povm = POVM(POVM="4Pauli", Number_qubits=n, initial_state="0")
    bias = povm.get_initial_bias("0", as_torch_tensor=True)

    def build():
        return QCModel(
            config,
            bias,
            sampling_batch_size=n_samples,
            sample_batch=n_samples,
            nb_qbits=n,
            eval_nb_samples=n_samples,
        )

    model, frozen = build(), build()
    frozen.load_state_dict(model.state_dict())
    V, g, gamma = 2.0, 1.0, 1.0  # the peer's lindblad.py operator, same assignment to bonds
    operator = (
        V / 4 * povm.ZZ_com
        + g / 2 * povm.XI_com
        + gamma * povm.Minus_gate
        - gamma / 2 * povm.Plus_minus_anti
    )
    operator = torch.tensor(np.real(operator)).float()
    optim = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.98), eps=1e-9)

    def iteration():
        batch, log_p_samples = model(forward_type="sample")
        new = peer.reverse_samples_lindblad_pbc(batch, operator, 4, model, True)
        new = torch.exp(peer.sum_log_p(batch, model)) - tau * new
        old = peer.reverse_samples_lindblad_pbc(batch, operator, 4, frozen, False)
        old = torch.exp(frozen("logP", batch)) + tau * old
        loss = peer.forward_backward_trapozoid_L1(batch, log_p_samples, new, old)
        loss.backward()
        optim.step()
        optim.zero_grad()

    iteration()  # warm-up
    t0 = time.perf_counter()
    for _ in range(iterations):
        iteration()
    return time.perf_counter() - t0, model.count_params()


def time_ours(n: int, n_samples: int, iterations: int, tau: float, lookup) -> tuple[float, int]:
    """Seconds for one of our trapezoid steps (same sizes), and the parameter count."""
    import jax
    import jax.numpy as jnp

    import hamiltonians.open_systems as hos
    import nqs.povm_model as pm
    from solvers.povm_ensemble import Ensemble
    from solvers.povm_setup import initial_variables, n_parameters
    from solvers.povm_trapezoid import OpenTrapezoidOptions, TrapezoidStepper

    system = hos.dissipative_ising_chain(n, V=2.0, g=1.0, gamma=1.0, povm="pauli4")
    model = pm.probability_transformer(
        n, n_layers=1, d_model=32, n_heads=1, d_ff=16, param_dtype=jnp.float32
    )
    variables = initial_variables(model, system, None, 0)
    ensemble = Ensemble.build(
        model,
        system.hilbert,
        n_samples,
        lookup=lookup,
        n_connections=system.generator.max_conn_size,
    )
    options = OpenTrapezoidOptions(learning_rates=(1e-2,), iterations=(iterations,))
    stepper = TrapezoidStepper(ensemble, 2 * tau, options)
    params, key = variables["params"], jax.random.PRNGKey(0)
    dt = 2 * tau
    jax.block_until_ready(stepper.advance(system.generator, params, key, 0.0, dt)[0])  # compile
    t0 = time.perf_counter()
    out = stepper.advance(system.generator, params, jax.random.PRNGKey(1), 0.0, dt)
    jax.block_until_ready(out[0])
    return time.perf_counter() - t0, n_parameters(variables)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4, help="sites of the ring")
    parser.add_argument("--samples", type=int, default=100, help="samples per inner iteration")
    parser.add_argument("--iterations", type=int, default=120, help="Adam iterations per step")
    parser.add_argument("--tau", type=float, default=0.008, help="tau (physical step 2 tau)")
    args = parser.parse_args(argv)
    why = _missing()
    if why:
        print(SETUP.format(why=why))
        return 0
    from _common import machine

    print(f"machine: {machine()}")
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    size = (args.n, args.samples, args.iterations, args.tau)
    print(f"N = {args.n} ring, {args.samples} samples/iteration, {args.iterations} Adam "
          f"iterations per step, tau = {args.tau} (dt = {2 * args.tau})")  # fmt: skip
    peer_s, peer_p = time_peer(*size)
    ours_s, ours_p = time_ours(*size, lookup=False)
    lookup_s, _ = time_ours(*size, lookup="auto")
    print(f"  peer (PyTorch, float32, {peer_p} parameters):      {peer_s:8.3f} s per step")
    print(f"  ours (JAX, float32, {ours_p} parameters), same work: {ours_s:8.3f} s per step"
          f"   ratio peer/ours = {peer_s / ours_s:.2f}")  # fmt: skip
    print(f"  ours with lookup evaluation (tiny N):          {lookup_s:8.3f} s per step"
          f"   ratio peer/ours = {peer_s / lookup_s:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
