"""A NetKet callback that records a run: history in memory, rows and checkpoints in HDF5, a
progress bar, and a clean stop on NaN/Inf. Shared by the solvers built on NetKet drivers."""

from __future__ import annotations

import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from netket.callbacks import AbstractCallback, StopRun
from netket.utils import struct

from nqs.io import state_to_flat


def _finite(tree) -> bool:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return bool(jnp.all(jnp.stack(leaves))) if leaves else True


def _scalar(x) -> float | complex:
    x = complex(np.asarray(x))
    return x.real if x.imag == 0 else x


def progress_enabled(progress: bool | None) -> bool:
    """Progress bars show on process 0 only, and by default only on a terminal."""
    if jax.process_index() != 0:
        return False
    return sys.stderr.isatty() if progress is None else bool(progress)


class NonFiniteStop(StopRun):
    """Raised from the callback when a step produced NaN or Inf."""


class RunRecorder(AbstractCallback, mutable=True):
    """Records loss and observables of every step; checkpoints; stops on NaN.

    Args:
        loss_name: key of the loss in the history and the file (e.g. ``"energy"``).
        observables: ``{name: operator}`` estimated every ``observe_every`` steps on the
            samples of the step (before the parameter update).
        run_file: a :class:`nqs.io.RunFile` or ``None``.
        checkpoint_every: steps between checkpoints (and at the end of the run).
        n_steps: the final step (for the progress bar).
        reference: exact loss value, shown in the progress bar as a relative error.
        progress: show a progress bar (``None``: only on a terminal).
        user_callback: optional ``f(step, row, driver)``; return ``True`` to stop the run.
        real_loss: store the real part of the loss (an expectation of a Hermitian operator).
    """

    loss_name: str = struct.field(pytree_node=False)
    observables: dict = struct.field(pytree_node=False)
    observe_every: int = struct.field(pytree_node=False)
    run_file: object = struct.field(pytree_node=False)
    checkpoint_every: int = struct.field(pytree_node=False)
    n_steps: int = struct.field(pytree_node=False)
    reference: float | None = struct.field(pytree_node=False)
    show_progress: bool = struct.field(pytree_node=False)
    user_callback: object = struct.field(pytree_node=False)
    history: dict = struct.field(pytree_node=False)
    stop_reason: str | None = struct.field(pytree_node=False)
    _bar: object = struct.field(pytree_node=False)
    _row: dict = struct.field(pytree_node=False)
    _t0: float = struct.field(pytree_node=False)
    real_loss: bool = struct.field(pytree_node=False)

    def __init__(
        self,
        *,
        loss_name: str,
        observables: dict,
        observe_every: int,
        run_file,
        checkpoint_every: int,
        n_steps: int,
        reference: float | None = None,
        progress: bool | None = None,
        user_callback=None,
        real_loss: bool = True,
    ):
        self.loss_name = loss_name
        self.observables = dict(observables)
        self.observe_every = observe_every
        self.run_file = run_file
        self.checkpoint_every = checkpoint_every
        self.n_steps = n_steps
        self.reference = reference
        self.show_progress = progress_enabled(progress)
        self.user_callback = user_callback
        self.real_loss = real_loss
        self.history = {"step": [], self.loss_name: [], f"{loss_name}_error": []}
        self.history[f"{loss_name}_variance"] = []
        self.stop_reason = None
        self._bar = None
        self._row = {}
        self._t0 = time.perf_counter()

    def on_run_start(self, step, driver):
        if self.show_progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.n_steps, initial=step, unit="step", dynamic_ncols=True)
        self._t0 = time.perf_counter()

    def on_step_start(self, step, log_data, driver):
        # The state at the start of a step is "after `step` updates": a clean resume point.
        if self.run_file is not None and step > 0 and step % self.checkpoint_every == 0:
            self.checkpoint(driver)

    def on_compute_update_end(self, step, log_data, driver):
        stats = driver._loss_stats
        if not (math.isfinite(abs(complex(stats.mean))) and _finite(driver._dp)):
            self.stop_reason = (
                f"non-finite {self.loss_name} or update at step {step}; the parameters were "
                f"left at step {step} (last good state). Lower the learning rate or raise "
                "diag_shift."
            )
            raise NonFiniteStop(self.stop_reason)
        return False

    def before_parameter_update(self, step, log_data, driver):
        stats = driver._loss_stats
        if self.real_loss:
            # <H> of a Hermitian H is real; the imaginary part of the estimate is pure noise.
            stats = stats.replace(mean=stats.mean.real)
        row = {self.loss_name: stats}
        if self.observables and (step % self.observe_every == 0 or step == self.n_steps - 1):
            row.update(driver.estimate(self.observables))
        self._row = row

    def on_step_end(self, step, log_data, driver):
        row = self._row
        stats = row[self.loss_name]
        mean = _scalar(stats.mean)
        self.history["step"].append(step)
        self.history[self.loss_name].append(mean)
        self.history[f"{self.loss_name}_error"].append(float(stats.error_of_mean))
        self.history[f"{self.loss_name}_variance"].append(float(stats.variance))
        for name, value in row.items():
            if name != self.loss_name:
                self.history.setdefault(name, []).append((step, _scalar(value.mean)))
        if self.run_file is not None:
            row = dict(row)
            row["wall_time"] = time.perf_counter() - self._t0
            self.run_file.append(step, row)
        if self._bar is not None:
            text = f"{self.loss_name}={mean.real:.6g} ± {float(stats.error_of_mean):.2g}"
            if self.reference:
                text += f", rel.err={abs((mean.real - self.reference) / self.reference):.2e}"
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.update(1)
        if self.user_callback is not None and self.user_callback(step, row, driver):
            self.stop_reason = f"stopped by the callback at step {step}"
            raise StopRun(self.stop_reason)

    def checkpoint(self, driver):
        self.run_file.save_checkpoint(driver.step_count, state_to_flat(driver))

    def on_run_end(self, step, driver):
        if self.run_file is not None:
            self.checkpoint(driver)
        self._close_bar()

    def on_run_error(self, step, error, driver):
        # Keep everything written so far; the last checkpoint stays valid.
        if self.run_file is not None:
            self.run_file.close(status=f"failed at step {step}: {type(error).__name__}")
        self._close_bar()

    def _close_bar(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
