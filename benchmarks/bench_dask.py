"""Benchmark: run_all on a Dask cluster of 2 worker processes beside the local run with 2 workers, same cards, same run.

    .venv/bin/python benchmarks/bench_dask.py [--rounds N]

Starts a real ``dask scheduler`` and ``dask worker --nworkers 2 --nthreads 1`` on
this machine, renders the fictional city (15 programs × 3 cycles = 45 cards)
cold into a fresh output folder each way, alternating the order per round, and
prints the wall times and their ratio.  The cluster path pays for shipping the
inputs and the pages over the network and the workers' zygote start; the
comparison shows what that costs on one machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITY = ROOT / "examples/sample-city"
DASK = Path(sys.executable).with_name("dask")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def project(folder: Path) -> Path:
    for name in ("data", "params"):
        shutil.copytree(CITY / name, folder / name)
    shutil.copytree(ROOT / "notebooks", folder / "notebooks")
    return folder


def timed_run(folder: Path, *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "run_all.py"), "--quiet", *args], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"run_all failed ({' '.join(args)}):\n{result.stdout}{result.stderr}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-dask-") as tmp:
        scratch = Path(tmp)
        cluster = [
            subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
        ]
        time.sleep(2)
        cluster.append(subprocess.Popen([str(DASK), "worker", address, "--nworkers", "2", "--nthreads", "1",
                                         "--local-directory", str(scratch / "dask"), "--dashboard-address", ":0"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        try:
            timed_run(project(scratch / "warm"), "--scheduler", address, "--year", "2022", "--program", "sample-bosai")  # workers up
            times: dict[str, list[float]] = {"local (--workers 2)": [], "Dask (2 worker processes)": []}
            for round_ in range(args.rounds):
                order = list(times) if round_ % 2 == 0 else list(reversed(times))
                for variant in order:
                    folder = project(scratch / f"r{round_}-{len(times[variant])}-{variant[:5].strip()}")
                    extra = ["--workers", "2"] if variant.startswith("local") else ["--scheduler", address]
                    times[variant].append(timed_run(folder, *extra))
                    print(f"round {round_ + 1}: {variant}: {times[variant][-1]:.1f} s", flush=True)
        finally:
            for process in reversed(cluster):
                os.killpg(process.pid, signal.SIGTERM)
            for process in cluster:
                process.wait(timeout=30)
    local, dask = (statistics.median(values) for values in times.values())
    print(f"\n45 cards cold, median of {args.rounds}: local {local:.1f} s ({local * 2 / 45:.2f} s/card/worker), "
          f"Dask {dask:.1f} s ({dask * 2 / 45:.2f} s/card/worker); Dask ÷ local = {dask / local:.2f}×")


if __name__ == "__main__":
    main()
