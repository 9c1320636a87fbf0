r"""Steady states of open systems: minimise :math:`\lVert\mathcal LP_\theta\rVert_1` over a POVM
probability model (``physics/povm.md`` §7; Luo, Chen, Carrasquilla & Clark, PRL 128, 090501
(2022)).

.. math::

    C_\mathrm{ss}(\theta) = \sum_a|(\mathcal LP_\theta)(a)| = \mathbb E_{a\sim P_\theta}
        \big[|L_\mathrm{loc}(a)|\big],\qquad
    \hat C_\mathrm{ss} = \frac1{N_s}\sum_s\frac{|(\mathcal LP_\theta)(a_s)|}{P_\theta(a_s)},

with exact samples :math:`a_s\sim P_\theta` and :math:`P_\theta(a_s)` in the denominator detached,
which makes :math:`\nabla\hat C_\mathrm{ss}` an unbiased estimator of :math:`\nabla C_\mathrm{ss}`
(:func:`solvers.povm_losses.lindblad_l1`). Parameters are updated with Adam (Kingma & Ba 2015).
Every ``eval_every`` steps (from ``eval_from``) the loss is re-estimated on the larger
``n_samples_eval`` and the parameters with the lowest estimate are kept (the public code's
"accurate loss" checkpointing); the final observables come from ``n_samples_final`` samples of
the kept state.

:math:`\lVert\mathcal LP\rVert_1` is **not** an accuracy certificate: slow Liouvillian modes
amplify small residuals (povm.md §7). Validate observables against exact references, which are
added automatically for :math:`N \le 6`.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import numpy as np
import optax

from nqs.errors import CheckpointError, NQSError, positive_float, positive_int
from nqs.io import RunFile, flat_to_state, state_to_flat
from solvers._checks import check_output_flags
from solvers._recorder import progress_enabled
from solvers.open_results import SteadyStateResult
from solvers.povm_ensemble import Ensemble, check_sample_count
from solvers.povm_losses import lindblad_l1
from solvers.povm_setup import (
    Stats,
    check_probability_model,
    check_same_config,
    check_system,
    describe_initial,
    estimate_observables,
    initial_variables,
    open_system_config,
    probability_model_config,
    resolve_observables,
    want_exact,
)

# Configuration keys that may change when a run is resumed.
_RESUMABLE_KEYS = {"n_steps", "progress", "out"}


def steady_state(
    system,
    model,
    *,
    n_samples: int | str = 1000,
    n_steps: int = 500,
    learning_rate: float = 1e-2,
    b1: float = 0.9,
    b2: float = 0.999,
    n_samples_eval: int | str | None = None,
    eval_every: int = 5,
    eval_from: int = 0,
    n_samples_final: int | str | None = None,
    observables: bool | dict = True,
    exact: bool | str = "auto",
    initial_state=None,
    seed: int = 0,
    chunk_size: int | None = None,
    lookup: bool | str = "auto",
    out=None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 50,
    progress: bool | None = None,
    callback=None,
) -> SteadyStateResult:
    r"""Find the steady state :math:`\mathcal LP = 0` variationally.

    Args:
        system: a :class:`hamiltonians.open_systems.OpenSystem`.
        model: a probability model on ``Fock(3, N)`` (e.g.
            ``nqs.povm_model.probability_transformer``).
        n_samples: exact samples per step (divisible by the device count), or ``"exact"``.
        n_steps: Adam steps (a resumed run continues up to it).
        learning_rate: Adam's step size, or an optax schedule ``f(step)``.
        b1, b2: Adam's moment decay rates.
        n_samples_eval: samples of the loss estimates that select the kept state (default
            ``4 * n_samples``).
        eval_every, eval_from: evaluate every ``eval_every`` steps from step ``eval_from`` (and
            at the end); each evaluation also records the observables.
        n_samples_final: samples of the final estimate of the kept state (default
            ``10 * n_samples``).
        observables: ``True`` (the system's), ``False`` or ``{name: diagonal POVM operator}``.
        exact: add the exact steady state (``"auto"``: when :math:`N\le6`).
        initial_state: ``None`` (the system's product state, exact parameters: povm.md §7 starts
            every run there), a 2×2 density matrix, ``"random"`` (the network's initialisation)
            or model variables.
        seed: seeds the network (``seed``) and the samples (``seed + 1``).
        chunk_size: samples drawn at once per device.
        lookup: evaluate the network on all :math:`4^N` strings and gather
            (:mod:`solvers.povm_ensemble`).
        out, resume, overwrite, checkpoint_every, progress: HDF5 output
            (``kind="steady_state"``), exact resume, progress bar, as in
            :func:`solvers.evolve_open`.
        callback: ``f(step, row) -> bool`` after every step, ``row = {"loss": ..., "loss_error":
            ...}``; returning ``True`` stops the run.

    Returns:
        A :class:`~solvers.open_results.SteadyStateResult`.

    Example:
        >>> import hamiltonians.open_systems as hos, nqs.povm_model as pm, solvers
        >>> system = hos.dissipative_ising_chain(1, V=0.0, g=1.0)
        >>> model = pm.probability_transformer(1, n_layers=1, d_model=8, n_heads=2)
        >>> result = solvers.steady_state(system, model, n_samples=256, n_steps=10,
        ...                               progress=False)
        >>> result.best_step <= 10
        True
    """
    # -- validation ---------------------------------------------------------------------------
    system = check_system(system)
    n_samples = check_sample_count("n_samples", n_samples)
    n_steps = positive_int("n_steps", n_steps)
    if not callable(learning_rate):
        learning_rate = positive_float("learning_rate", learning_rate)
    for name, value in (("b1", b1), ("b2", b2)):
        if not 0 <= value < 1:
            raise NQSError(f"{name} must lie in [0, 1), got {value!r}.")
    default = "exact" if n_samples == "exact" else None
    n_samples_eval = check_sample_count(
        "n_samples_eval", n_samples_eval or default or 4 * n_samples
    )
    n_samples_final = check_sample_count(
        "n_samples_final", n_samples_final or default or 10 * n_samples
    )
    eval_every = positive_int("eval_every", eval_every)
    if isinstance(eval_from, bool) or not isinstance(eval_from, int) or eval_from < 0:
        raise NQSError(f"eval_from must be a non-negative integer, got {eval_from!r}.")
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    check_output_flags(out, resume, overwrite)
    check_probability_model(model, system)
    observables = resolve_observables(system, observables)
    with_exact = want_exact(exact, system)
    variables = initial_variables(model, system, initial_state, seed, random_ok=True)

    config = {
        "system": open_system_config(system),
        "model": probability_model_config(model),
        "sampler": {"chunk_size": chunk_size, "lookup": lookup},
        "solver": {
            "kind": "steady_state",
            "n_samples": n_samples,
            "n_steps": n_steps,
            "learning_rate": learning_rate if not callable(learning_rate) else repr(learning_rate),
            "b1": b1,
            "b2": b2,
            "n_samples_eval": n_samples_eval,
            "eval_every": eval_every,
            "eval_from": eval_from,
            "n_samples_final": n_samples_final,
            "seed": seed,
            "observables": sorted(observables),
            "initial_state": describe_initial(initial_state),
            "checkpoint_every": checkpoint_every,
        },
    }
    run_file = None
    if out is not None:
        mode = "resume" if resume else ("overwrite" if overwrite else "create")
        run_file = RunFile(out, kind="steady_state", mode=mode)

    # -- compiled pieces ------------------------------------------------------------------------
    def ensemble(n):
        return Ensemble.build(
            model,
            system.hilbert,
            n,
            chunk_size=chunk_size,
            lookup=lookup,
            n_connections=system.generator.max_conn_size,
        )

    generator = system.generator
    adam = {"b1": jax.numpy.asarray(float(b1)), "b2": jax.numpy.asarray(float(b2))}
    train = partial(_train, ensemble(n_samples), generator)
    evaluate = partial(_evaluate, ensemble(n_samples_eval), generator, observables=observables)
    final_estimate = partial(
        _evaluate, ensemble(n_samples_final), generator, observables=observables
    )
    params = variables["params"]
    state = {
        "params": params,
        "opt_state": optax.scale_by_adam().init(params),
        "key": jax.random.PRNGKey(seed + 1),
        "step": 0,
        "best": {"params": params, "loss": np.inf, "step": -1},
    }
    if run_file is not None and resume:
        check_same_config(run_file.read_config(), config, _RESUMABLE_KEYS)
        step, flat, _ = run_file.load_checkpoint()
        state = flat_to_state(state, flat)
        if step > n_steps:
            raise CheckpointError(
                f"Cannot resume: the checkpoint is at step {step} > n_steps = {n_steps}; "
                "resume with a larger n_steps."
            )
        run_file.truncate(step)
    elif run_file is not None:
        run_file.write_metadata(config=config, system=open_system_config(system), seed=seed)

    exact_values = None
    if with_exact:
        exact_values = system.exact_observables(system.exact_steady_state())
        exact_values = {k: v for k, v in exact_values.items() if k in observables}
        if run_file is not None:
            run_file.write_exact(exact_values)

    # -- run ------------------------------------------------------------------------------------
    history = {"step": [], "loss": [], "loss_error": []}
    history.update({"eval_step": [], "eval_loss": [], "eval_loss_error": []})
    history.update({name: ([], []) for name in observables})
    bar = _bar(progress, n_steps, state["step"])
    start, status, t0 = state["step"], "completed", time.perf_counter()
    params, opt_state, key, best = (state[k] for k in ("params", "opt_state", "key", "best"))
    step = start
    for step in range(start, n_steps + 1):
        # Also at step 0, so that every file holds a valid checkpoint.
        due = step % checkpoint_every == 0 or step == n_steps
        if run_file is not None and due and not (resume and step == start):
            flat = {"params": params, "opt_state": opt_state, "key": key, "step": step}
            run_file.save_checkpoint(step, state_to_flat({**flat, "best": best}))
        if (step >= eval_from and step % eval_every == 0) or step == n_steps:
            key, sub = jax.random.split(key)
            loss, error, values = jax.device_get(evaluate(params, sub))
            if np.isfinite(loss) and loss < best["loss"]:
                best = {"params": params, "loss": float(loss), "step": step}
            rows = {"loss_eval": Stats(loss, error)}
            rows.update({name: Stats(*v) for name, v in values.items()})
            if run_file is not None:
                run_file.append(step, rows)
            history["eval_step"].append(step)
            history["eval_loss"].append(float(loss))
            history["eval_loss_error"].append(float(error))
            for name, v in values.items():
                history[name][0].append(step)
                history[name][1].append(float(v[0]))
        if step == n_steps:
            break
        key, sub = jax.random.split(key)
        lr = learning_rate(step) if callable(learning_rate) else learning_rate
        new_params, new_opt_state, loss, error = train(
            params, opt_state, sub, jax.numpy.asarray(float(lr)), adam
        )
        loss, error = float(loss), float(error)
        if not (np.isfinite(loss) and _finite(new_params)):
            status = (
                f"stopped: non-finite loss or parameters at step {step}; kept the best state "
                f"(step {best['step']}). Lower the learning rate or raise n_samples"
            )
            print(f"steady_state {status}")
            break
        if run_file is not None:
            run_file.append(step, {"loss": Stats(loss, error)})
        history["step"].append(step)
        history["loss"].append(loss)
        history["loss_error"].append(error)
        if bar is not None:
            bar.set_postfix_str(f"|LP|_1={loss:.4g} ± {error:.2g}", refresh=False)
            bar.update(1)
        params, opt_state = new_params, new_opt_state
        if callback is not None and callback(step, {"loss": loss, "loss_error": error}):
            status = f"stopped by the callback after step {step}"
            step += 1
            break
    if bar is not None:
        bar.close()
    wall_time = time.perf_counter() - t0

    # -- final estimate of the kept state with fresh samples -------------------------------------
    if best["step"] < 0:  # stopped before any evaluation: keep the last good parameters
        best = {"params": params, "loss": np.inf, "step": step}
    key, sub = jax.random.split(key)
    loss, error, values = jax.device_get(final_estimate(best["params"], sub))
    if run_file is not None:
        final = {"loss": Stats(loss, error), **{k: Stats(*v) for k, v in values.items()}}
        run_file.write_final(final)
        run_file.close(status=status)
    history = {
        k: (np.asarray(v[0]), np.asarray(v[1])) if isinstance(v, tuple) else np.asarray(v)
        for k, v in history.items()
    }
    return SteadyStateResult(
        loss=float(loss),
        loss_error=float(error),
        observables={k: (float(v[0]), float(v[1])) for k, v in values.items()},
        exact=exact_values,
        best_step=int(best["step"]),
        history=history,
        variables={"params": best["params"]},
        n_steps=step,
        status=status,
        wall_time=wall_time,
        path=None if out is None else str(out),
        system_name=system.name,
    )


def _train_step(ensemble, generator, params, opt_state, key, learning_rate, adam):
    """One Adam step on the unbiased gradient of the L1 cost: ``(params, opt_state, loss, err)``."""
    x = ensemble.draw({"params": params}, key)
    (loss, (error, _)), grads = jax.value_and_grad(
        lambda p: lindblad_l1(ensemble, generator, p, x), has_aux=True
    )(params)
    transform = optax.scale_by_adam(b1=adam["b1"], b2=adam["b2"])
    updates, opt_state = transform.update(grads, opt_state, params)
    params = jax.tree.map(lambda p, u: (p - learning_rate * u).astype(p.dtype), params, updates)
    return params, opt_state, loss, error


def _evaluation(ensemble, generator, params, key, observables):
    """The loss and the observables on the same fresh samples: ``(loss, err, {name: ...})``."""
    x = ensemble.draw({"params": params}, key)
    loss, (error, _) = lindblad_l1(ensemble, generator, params, x)
    return loss, error, estimate_observables(ensemble, params, key, observables)


# Compiled once per ensemble and parameter structure (numeric options are traced).
_train = jax.jit(_train_step, static_argnums=0)
_evaluate = jax.jit(_evaluation, static_argnums=0)


def _finite(tree) -> bool:
    return bool(all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(tree)))


def _bar(progress, n_steps, start):
    if not progress_enabled(progress):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n_steps, initial=start, unit="step", dynamic_ncols=True)
