"""The ``nqs`` command: run jobs from TOML files, inspect and plot their HDF5 output.

Heavy imports (JAX, NetKet) happen inside the subcommands so that ``nqs --help`` is instant, and
so that ``jax.distributed.initialize()`` can run before NetKet is imported on a cluster.
"""

from __future__ import annotations

import argparse
import os
import sys

EXIT_BAD_INPUT = 2

_DESCRIPTION = """\
Symmetry-constrained autoregressive neural quantum states.

  nqs run                  run the default job (Heisenberg chain ground state)
  nqs run job.toml         run a job file (reference: docs/config.md)
  nqs info run.h5          summarise a run file
  nqs plot run.h5          plot its energy convergence against the exact value
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nqs", description=_DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a job from a TOML file (default job without one)")
    run.add_argument("config", nargs="?", help="job file (TOML); omit for the default job")
    run.add_argument("--out", help="HDF5 output file (overrides [output] file)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue from the file's checkpoint")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    run.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="show a progress bar (default: only on a terminal)",
    )
    run.add_argument("--print-config", action="store_true", help="print the merged config and exit")

    info = sub.add_parser("info", help="summarise a run file")
    info.add_argument("file", help="HDF5 run file")

    plot = sub.add_parser("plot", help="plot energy convergence against the exact energy")
    plot.add_argument("file", help="HDF5 run file")
    plot.add_argument("-o", "--output", help="PNG file (default: FILE with .png suffix)")
    return parser


def _maybe_init_distributed() -> None:
    """Multi-process runs (SLURM with several tasks): initialise JAX before NetKet is imported."""
    if int(os.environ.get("SLURM_NTASKS", "1")) > 1 and "NQS_NO_DISTRIBUTED" not in os.environ:
        import jax

        jax.distributed.initialize()


def _run(args) -> int:
    _maybe_init_distributed()
    from nqs.cli.config import load_config

    config = load_config(args.config)
    if args.print_config:
        import json

        print(json.dumps(config, indent=2))
        return 0
    from nqs.cli.jobs import run_job

    out = args.out or config["output"]["file"]
    label = args.config or "default job"
    system = ", ".join(f"{k}={v}" for k, v in config["system"].items())
    print(f"nqs run: {label}\n  system: {system}\n  output: {out}", flush=True)
    result = run_job(
        config, out=out, resume=args.resume, overwrite=args.overwrite, progress=args.progress
    )
    print(result)
    if not hasattr(result, "energy"):
        return 0  # open systems: the summary above compares with the exact values
    line = f"Final energy: {result.energy:.8f} ± {result.energy_error:.2g}"
    if result.exact_energy is not None:
        line += f"   exact: {result.exact_energy:.8f}   relative error: {result.relative_error:.2e}"
    print(line)
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        from nqs import __version__

        print(f"nqs {__version__}")
        return 0
    if args.command is None:
        _parser().print_help()
        return 0
    from nqs.errors import NQSError

    try:
        if args.command == "run":
            return _run(args)
        if args.command == "info":
            from nqs.cli.report import info

            print(info(args.file))
            return 0
        if args.command == "plot":
            from nqs.cli.report import plot

            print(f"wrote {plot(args.file, args.output)}")
            return 0
    except NQSError as err:
        print(f"nqs: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("nqs: interrupted; the output file keeps every flushed step and the last "
              "checkpoint (continue with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
