"""The single HDF5 writer used by every solver (schema: ``docs/hdf5.md``).

Design choices that keep what was written safe:

* the file is opened only while a batch of rows is flushed, and closed again, so a killed job
  leaves a closed, readable file and loses at most the rows since the last flush;
* a new checkpoint is written completely to ``checkpoint_new`` and only then swapped in for the
  old one, so a crash mid-checkpoint leaves the previous checkpoint intact;
* only JAX process 0 writes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic

import h5py
import jax
import numpy as np

from nqs.errors import CheckpointError, OutputExistsError

#: Version of the file layout; bump the major number on incompatible changes.
SCHEMA_VERSION = "1.0"


def _is_writer() -> bool:
    return jax.process_index() == 0


def _json(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def package_versions() -> dict[str, str]:
    """Versions of the packages a run depends on (recorded in every file)."""
    import importlib.metadata as md
    import platform

    versions = {"python": platform.python_version()}
    for name in ("nqs-solver", "netket", "jax", "jaxlib", "flax", "optax", "numpy", "h5py"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _stats_row(value) -> dict[str, np.ndarray]:
    """Split a NetKet ``Stats`` (or a plain number) into mean / error / variance."""
    if hasattr(value, "mean") and hasattr(value, "error_of_mean"):
        mean = np.asarray(value.mean)
        return {
            "mean": mean if np.iscomplexobj(mean) and np.any(mean.imag) else mean.real,
            "error": np.asarray(value.error_of_mean).real,
            "variance": np.asarray(value.variance).real,
        }
    return {"value": np.asarray(value)}


class RunFile:
    """Append-only writer of one run's HDF5 file.

    Args:
        path: file path.
        kind: what produced the run (``"ground_state"``, ``"evolve"``, ...).
        mode: ``"create"`` (refuse an existing file), ``"overwrite"`` or ``"resume"``.
        flush_every: seconds between flushes of buffered rows.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
        >>> f = RunFile(path, kind="demo")
        >>> f.append(0, {"energy": 1.5})
        >>> f.close()
        >>> read_series(path)["energy"]["value"].tolist()
        [1.5]
    """

    def __init__(self, path, *, kind: str, mode: str = "create", flush_every: float = 10.0):
        self.path = Path(path)
        self.kind = kind
        self.flush_every = float(flush_every)
        self._buffer: dict[str, list[tuple[int, dict]]] = {}
        self._last_flush = monotonic()
        if mode == "resume":
            self._check_resumable()
        elif mode in ("create", "overwrite"):
            if self.path.exists() and mode == "create":
                raise OutputExistsError(
                    f"{self.path} already exists; resume it (--resume, resume=True), replace "
                    "it (--overwrite, overwrite=True) or choose another output file."
                )
            if _is_writer():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_name(self.path.name + ".tmp")
                with h5py.File(tmp, "w") as f:
                    f.attrs["schema_version"] = SCHEMA_VERSION
                    f.attrs["kind"] = kind
                    f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
                    f.attrs["status"] = "running"
                    f.create_group("series")
                os.replace(tmp, self.path)  # never leave a half-created file behind
        else:
            raise ValueError(f"mode must be 'create', 'overwrite' or 'resume', got {mode!r}")

    def _check_resumable(self):
        if not self.path.exists():
            raise CheckpointError(f"Cannot resume: {self.path} does not exist.")
        with h5py.File(self.path, "r") as f:
            version = str(f.attrs.get("schema_version", "?"))
            if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
                raise CheckpointError(
                    f"{self.path} has schema {version}, this version writes {SCHEMA_VERSION}."
                )
            if f.attrs.get("kind") != self.kind:
                raise CheckpointError(
                    f"{self.path} holds a {f.attrs.get('kind')!r} run, not {self.kind!r}."
                )
            if "checkpoint" not in f and "checkpoint_new" not in f:
                raise CheckpointError(f"{self.path} has no checkpoint to resume from.")

    def _open(self, mode="a"):
        return h5py.File(self.path, mode)

    # -- metadata and references ---------------------------------------------------------------
    def write_metadata(self, *, config: Mapping, system: Mapping, seed: int) -> None:
        """Store the full configuration, system parameters, seed and package versions."""
        if not _is_writer():
            return
        with self._open() as f:
            g = f.require_group("metadata")
            g.attrs["config"] = _json(config)
            g.attrs["system"] = _json(system)
            g.attrs["seed"] = int(seed)
            g.attrs["versions"] = _json(package_versions())

    def write_exact(self, values: Mapping[str, float]) -> None:
        """Store exact reference values (e.g. the exact ground-state energy)."""
        self._write_group("exact", values)

    def write_final(self, values: Mapping) -> None:
        """Store the final estimates (NetKet ``Stats`` or numbers) under ``/final``."""
        if not _is_writer():
            return
        with self._open() as f:
            if "final" in f:
                del f["final"]
            g = f.create_group("final")
            for name, value in values.items():
                sub = g.create_group(name)
                for key, arr in _stats_row(value).items():
                    sub.create_dataset(key, data=arr)

    def _write_group(self, group: str, values: Mapping) -> None:
        if not _is_writer():
            return
        with self._open() as f:
            g = f.require_group(group)
            for name, value in values.items():
                if name in g:
                    del g[name]
                g.create_dataset(name, data=np.asarray(value))

    def set_status(self, status: str) -> None:
        if _is_writer():
            with self._open() as f:
                f.attrs["status"] = status

    # -- series ------------------------------------------------------------------------------
    def append(self, step: int, values: Mapping, *, time: float | None = None) -> None:
        """Buffer one row per quantity at ``step`` (and physical ``time`` for dynamics).

        Rows are flushed every ``flush_every`` seconds, at checkpoints and on close.
        """
        for name, value in values.items():
            row = _stats_row(value)
            if time is not None:
                row["time"] = np.asarray(time, dtype=np.float64)
            self._buffer.setdefault(name, []).append((int(step), row))
        if monotonic() - self._last_flush >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write buffered rows to disk and close the file."""
        self._last_flush = monotonic()
        if not self._buffer or not _is_writer():
            self._buffer.clear()
            return
        with self._open() as f:
            series = f.require_group("series")
            for name, rows in self._buffer.items():
                g = series.require_group(name)
                columns = {"step": np.array([s for s, _ in rows], dtype=np.int64)}
                for key in rows[0][1]:
                    columns[key] = np.stack([r[key] for _, r in rows])
                for key, data in columns.items():
                    _append_rows(g, key, data)
        self._buffer.clear()

    def truncate(self, step: int) -> None:
        """Drop every series row at or after ``step`` (used when resuming a checkpoint)."""
        if not _is_writer():
            return
        with self._open() as f:
            for g in f.get("series", {}).values():
                keep = int(np.sum(g["step"][()] < step))
                for ds in g.values():
                    ds.resize(keep, axis=0)

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, step: int, state: Mapping[str, np.ndarray], **attrs) -> None:
        """Atomically replace the checkpoint by a flat ``{path: array}`` state at ``step``."""
        self.flush()
        if not _is_writer():
            return
        with self._open() as f:
            if "checkpoint_new" in f:
                del f["checkpoint_new"]
            g = f.create_group("checkpoint_new")
            for key, value in state.items():
                if value is None:
                    g.attrs[f"none:{key}"] = True
                elif isinstance(value, str):
                    g.attrs[f"str:{key}"] = value
                else:
                    g.create_dataset(key, data=np.asarray(value))
            for key, value in attrs.items():
                g.attrs[key] = value
            g.attrs["step"] = int(step)
            g.attrs["complete"] = True
            f.flush()
            if "checkpoint" in f:
                del f["checkpoint"]
            f.move("checkpoint_new", "checkpoint")

    def load_checkpoint(self) -> tuple[int, dict[str, np.ndarray], dict]:
        """The last complete checkpoint: ``(step, flat state, attributes)``."""
        with h5py.File(self.path, "r") as f:
            candidates = [f[n] for n in ("checkpoint", "checkpoint_new") if n in f]
            complete = [g for g in candidates if g.attrs.get("complete", False)]
            if not complete:
                raise CheckpointError(f"{self.path} has no complete checkpoint.")
            g = complete[0]
            state = {}
            g.visititems(
                lambda k, v: state.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None
            )
            attrs = dict(g.attrs)
            for key in [k for k in attrs if k.startswith(("none:", "str:"))]:
                kind, name = key.split(":", 1)
                state[name] = None if kind == "none" else str(attrs[key])
                del attrs[key]
            return int(attrs.pop("step")), state, attrs

    def read_config(self) -> dict:
        with h5py.File(self.path, "r") as f:
            return json.loads(f["metadata"].attrs["config"])

    def close(self, status: str | None = None) -> None:
        self.flush()
        if status is not None:
            self.set_status(status)


def _append_rows(group: h5py.Group, key: str, data: np.ndarray) -> None:
    if key not in group:
        chunk_rows = max(1, min(1024, 262144 // max(data[0].nbytes, 1)))
        group.create_dataset(
            key,
            data=data,
            maxshape=(None, *data.shape[1:]),
            chunks=(chunk_rows, *data.shape[1:]),
        )
        return
    ds = group[key]
    if np.iscomplexobj(data) and not np.iscomplexobj(ds[()][:0]):
        # A quantity that became complex: widen the column, keeping its rows.
        old = ds[()]
        del group[key]
        _append_rows(group, key, old.astype(np.result_type(old, data)))
        ds = group[key]
    n = ds.shape[0]
    ds.resize(n + len(data), axis=0)
    ds[n:] = data


def read_series(path) -> dict[str, dict[str, np.ndarray]]:
    """All series of a run file: ``{name: {"step": ..., "mean": ..., ...}}``."""
    with h5py.File(path, "r") as f:
        return {
            name: {key: ds[()] for key, ds in g.items()} for name, g in f.get("series", {}).items()
        }


def read_run(path) -> dict:
    """Everything in a run file except checkpoints, as plain Python/NumPy objects."""
    with h5py.File(path, "r") as f:
        out = {"attrs": {k: _attr(v) for k, v in f.attrs.items()}}
        if "metadata" in f:
            meta = f["metadata"].attrs
            out["metadata"] = {
                k: json.loads(meta[k]) if k in ("config", "system", "versions") else _attr(meta[k])
                for k in meta
            }
        for group in ("exact",):
            if group in f:
                out[group] = {k: _attr(ds[()]) for k, ds in f[group].items()}
        if "final" in f:
            out["final"] = {
                k: {kk: _attr(d[()]) for kk, d in g.items()} for k, g in f["final"].items()
            }
        if "checkpoint" in f:
            out["checkpoint_step"] = int(f["checkpoint"].attrs["step"])
    out["series"] = read_series(path)
    return out


def _attr(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode()
    return v
