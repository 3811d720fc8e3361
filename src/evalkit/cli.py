"""``evalkit`` / ``python run_all.py``: a thin command line over :func:`evalkit.batch.run_batch`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .batch import BatchOptions, ConfigError, run_batch
from .years import fiscal_year

__all__ = ["main", "build_parser"]


def _year(text: str) -> int:
    try:
        return fiscal_year(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Regenerate the administrative-evaluation report cards (行政評価「通知表」): "
        "every cycle in --params × every program it selects, skipping cards whose inputs did not change.",
        epilog="Exit status: 0 all cards rendered, 1 some programs failed, 2 usage or configuration error.",
    )
    parser.add_argument("--data", type=Path, default=Path("data"), help="folder holding programs/<id>.yaml (default: data/)")
    parser.add_argument("--params", type=Path, default=Path("params"), help="folder of cycle files <year>.yaml (default: params/)")
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="where cards and indexes are written (default: outputs/)")
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"), help="report_card.ipynb and per-program notebooks (default: notebooks/)")
    parser.add_argument("--year", type=_year, action="append", default=[], metavar="Y", help="only this evaluation year (2023, R5, ...); repeatable")
    parser.add_argument("--program", action="append", default=[], metavar="ID", help="only this program id; repeatable")
    parser.add_argument("--jobs", type=_positive, default=os.cpu_count() or 1, metavar="N", help="worker processes (default: CPU count)")
    parser.add_argument("--force", action="store_true", help="re-render even when nothing changed (ignore the cache)")
    parser.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS", help="stop a notebook that runs longer than this")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="start every kernel as a new interpreter instead of forking it from one that has "
                        "the notebooks' imports loaded (slower; for notebooks that must import in the kernel)")
    parser.add_argument("--quiet", action="store_true", help="print only failures and the final line")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = BatchOptions(
        data_dir=args.data, params_dir=args.params, out_dir=args.out, notebooks_dir=args.notebooks,
        years=args.year, programs=args.program, jobs=args.jobs, force=args.force, timeout=args.timeout,
        fork_kernels=not args.fresh_kernels,
    )
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="card", desc="evalkit", file=sys.stderr, dynamic_ncols=True)

    def start(total: int) -> None:
        if bar is not None:
            bar.reset(total=total)

    def progress(key: str) -> None:
        if bar is not None:
            bar.set_postfix_str(key, refresh=False)
            bar.update(1)

    try:
        summary = run_batch(options, progress=progress, on_start=start)
    except ConfigError as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evalkit: interrupted; finished cards were kept, no half-written file was left", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    for key, message in summary.failures:
        print(f"FAILED {key}: {message}", file=sys.stderr)
    print(summary.line())
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
