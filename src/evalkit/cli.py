"""``evalkit`` / ``python run_all.py``: a thin command line over :func:`evalkit.batch.run_batch`
and :func:`evalkit.check.check_paths`.

    evalkit [options]          regenerate the cards (see --help)
    evalkit check PATH...      validate data files, one line per problem
    evalkit check --cycle Y    the same for data/ and params/, then the diagnostics (点検) of cycle Y
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .iorw import printable
from .years import fiscal_year

__all__ = ["main", "build_parser", "build_check_parser"]


def _year(text: str) -> int:
    try:
        return fiscal_year(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


MAX_TIMEOUT = 7 * 24 * 3600  # a week: longer would overflow the libraries' clocks and means no limit in practice


def _bounded(maximum: float, what: str) -> Callable[[str], float]:
    """A parser of a number above 0 and at most ``maximum`` (``what`` names it in the message)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 < value <= maximum):
            raise argparse.ArgumentTypeError(f"expected {what} above 0 and at most {maximum:,.0f}, got {text!r}")
        return value

    return parse


_seconds = _bounded(MAX_TIMEOUT, "a number of seconds")
_megabytes = _bounded(10_000, "a size in MB")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Regenerate the administrative-evaluation report cards (行政評価「通知表」): "
        "every cycle in --params × every program it selects, skipping cards whose inputs did not change. "
        "`evalkit check PATH...` validates data files instead.",
        epilog="Exit status: 0 all cards rendered, 1 some programs failed, 2 usage or configuration error.",
    )
    parser.add_argument("--data", type=Path, default=Path("data"), help="folder holding programs/<id>.yaml (default: data/)")
    parser.add_argument("--params", type=Path, default=Path("params"), help="folder of cycle files <year>.yaml (default: params/)")
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="where cards and indexes are written (default: outputs/)")
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"), help="report_card.ipynb and per-program notebooks (default: notebooks/)")
    parser.add_argument("--state", type=Path, default=None, metavar="DIR",
                        help="where the cache and the last run's logs are kept (default: .evalkit/<out name> beside --out)")
    parser.add_argument("--year", type=_year, action="append", default=[], metavar="Y", help="only this evaluation year (2023, R5, ...); repeatable")
    parser.add_argument("--program", action="append", default=[], metavar="ID", help="only this program id; repeatable")
    parser.add_argument("--workers", "-j", type=_positive, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes running cards in parallel (default: CPU count)")
    parser.add_argument("--force", action="store_true", help="re-render even when nothing changed (ignore the cache)")
    parser.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS", help="stop a notebook that runs longer than this")
    parser.add_argument("--max-card-mb", type=_megabytes, default=20.0, metavar="MB",
                        help="fail a card whose page would be larger than this (a cell that printed far too much; default 20)")
    parser.add_argument("--kernels", action="store_true",
                        help="run each card's cells in a Jupyter kernel (forked from one that has the notebooks' imports "
                        "loaded) instead of a forked IPython shell without a kernel (slower; for notebooks that use "
                        "widgets or other kernel messaging)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="start every kernel as a new interpreter instead of forking it from one that has "
                        "the notebooks' imports loaded (slowest; for notebooks that must import in the kernel)")
    parser.add_argument("--pdf", action="store_true",
                        help="also print each card as <id>.pdf and each cycle as booklet.pdf with headless Chromium "
                        "(EVALKIT_CHROMIUM, or chromium on the PATH); only what changed is printed again")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run the cards on the workers of a running Dask scheduler, e.g. tcp://10.0.0.5:8786, instead of "
                        "--workers processes here (each worker needs evalkit installed; see docs/batch.md)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar: print only warnings, failures and the final line")
    return parser


def build_check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit check",
        description="Validate program and cycle files: one `file: key.path: message` line per problem, nothing for valid files.",
        epilog="Exit status: 0 every file is valid (diagnostics are listed but do not fail), 1 some problems were found.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="a program file, a cycle file, the plan, or a folder of them (default with --cycle: data params)")
    parser.add_argument("--cycle", type=_year, metavar="YEAR",
                        help="also list the diagnostics (点検) of every card of this cycle, one line each, for the office before it publishes")
    parser.add_argument("--data", type=Path, default=Path("data"), help="with --cycle: the data folder (default: data/)")
    parser.add_argument("--params", type=Path, default=Path("params"), help="with --cycle: the cycle files' folder (default: params/)")
    return parser


def check_main(argv: list[str]) -> int:
    from .check import check_paths, cycle_diagnostics
    from .errors import ProgramDataError

    parser = build_check_parser()
    args = parser.parse_args(argv)
    if not args.paths and args.cycle is None:
        parser.error("expected at least one PATH (or --cycle YEAR)")
    problems = check_paths(args.paths or [args.data, args.params])
    for line in problems:
        print(line)
    if args.cycle is not None:
        try:
            for line in cycle_diagnostics(args.data, args.params, args.cycle):
                print(line)
        except ProgramDataError as exc:
            print(exc)
            return 1
    return 1 if problems else 0


def _note(line: str) -> None:
    print(printable(f"evalkit: {line}"), file=sys.stderr)


def _terminate(signum: int, frame: object) -> None:
    from .batch import Terminated

    raise Terminated()


def run_main(argv: list[str]) -> int:
    # Imported here: a batch worker re-runs the command's own module when it starts, and needs none of the batch.
    from .batch import BatchOptions, ConfigError, Terminated, run_batch

    args = build_parser().parse_args(argv)
    options = BatchOptions(
        data_dir=args.data, params_dir=args.params, out_dir=args.out, notebooks_dir=args.notebooks, state_dir=args.state,
        years=args.year, programs=args.program, workers=args.workers, force=args.force, timeout=args.timeout,
        max_card_mb=args.max_card_mb, fork_kernels=not args.fresh_kernels, kernels=args.kernels, pdf=args.pdf, scheduler=args.scheduler,
    )
    signal.signal(signal.SIGTERM, _terminate)  # what timeout, CI cancellation and systemd send: stop as on Ctrl-C
    bars = []

    def start(total: int) -> None:
        if total and not args.quiet:
            from tqdm import tqdm

            bars.append(tqdm(total=total, unit="card", desc="evalkit", file=sys.stderr, dynamic_ncols=True))

    def progress(key: str) -> None:
        for bar in bars:
            bar.set_postfix_str(key, refresh=False)
            bar.update(1)

    try:
        summary = run_batch(options, progress=progress, on_start=start, notice=_note)
    except ConfigError as exc:
        _note(f"error: {exc}")
        return 2
    except KeyboardInterrupt as exc:
        _note(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}; finished cards were kept, no half-written file was left")
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        for bar in bars:
            bar.close()
    for key, message in summary.failures:
        print(printable(f"FAILED {key}: {message}"), file=sys.stderr)
    print(summary.line())
    return summary.exit_code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:
        return check_main(argv[1:])
    return run_main(argv)


def run(argv: list[str] | None = None) -> NoReturn:
    """The command's entry (``evalkit``, ``run_all.py``): :func:`main`, then an exit without the collector's last work.

    The interpreter's shut-down would otherwise walk every object that pandas, matplotlib and the rest created, a
    quarter of a second that nothing needs; frozen, they are left alone, while exit handlers (temporary folders,
    logging) still run.
    """
    code = main(argv)
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
