"""Benchmark: run_all against the naive papermill + nbconvert loop, a scripted loop and the kernel floor.

    python benchmarks/bench_run_all.py --programs 24

``--programs N`` is the number of program × cycle reports; they are spread over
three cycles of synthetic programs (both directions, missing years, zero and
negative values).  Every variant runs in this process's machine in the same
run, so the ratios compare like with like.  The table is printed and written
to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CYCLES = (2021, 2022, 2023)


def synthetic_program(index: int, rng: random.Random) -> str:
    """A realistic program: 1–3 indicators over H30–R5 with gaps, targets to R8, a full sheet per cycle."""
    lines = [f"id: bench-{index:04d}", f"name: ベンチマーク事業{index}", f"organization: 部{index % 5}", f"section: 課{index % 7}",
             "background: |", "  合成データによるベンチマーク用の事業です。", "purpose:", "  final_outcome: 目標とする状態",
             "  intermediate_outcomes: [中間アウトカム1, 中間アウトカム2]", "  activities: 活動", "work_items: [事務事業A]", "indicators:"]
    for k in range(rng.randint(1, 3)):
        direction = rng.choice(["up", "down"])
        base = rng.choice([0, rng.uniform(5, 500), -rng.uniform(5, 50)])
        lines += [f"  - id: ind{k}", f"    name: 指標{k}", "    unit: 件", f"    direction: {direction}", "    observations:"]
        for year in range(2018, 2024):
            if rng.random() < 0.2:
                lines.append(f"      {year}: {{actual: '-'}}")
                continue
            value = base + (year - 2018) * rng.uniform(-3, 8) * (1 if direction == "up" else -1)
            lines.append(f"      {year}: {{actual: {value:.2f}}}")
        lines.append(f"      R8: {{target: {base + rng.uniform(10, 60) * (1 if direction == 'up' else -1):.2f}}}")
    lines.append("sheets:")
    for year in CYCLES:
        lines += [f"  {year}:", "    staff: [{role: 担当, count: 2}]", "    costs: {business_cost: 1000, personnel_cost: 2000}",
                  "    episodes: [エピソード]", "    status_comment: 順調です。", "    improvement_points: [改善点]",
                  "    mandala: {center: 中心, cells: [a, b, c, d, e, f, g, h]}",
                  "    directions: [{work_item: 事務事業A, program: 継続, cost: 維持}]",
                  "    plan: [計画]", "    questions: [質問]"]
    return "\n".join(lines) + "\n"


def make_project(folder: Path, reports: int, seed: int = 7) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    (folder / "data/programs").mkdir(parents=True)
    (folder / "params").mkdir()
    shutil.copy(ROOT / "notebooks/report_card.ipynb", folder / "report_card.ipynb")
    (folder / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks/report_card.ipynb", folder / "notebooks/report_card.ipynb")
    programs = math.ceil(reports / len(CYCLES))
    jobs = []
    for i in range(programs):
        (folder / f"data/programs/bench-{i:04d}.yaml").write_text(synthetic_program(i, rng), encoding="utf-8")
    for year in CYCLES:
        (folder / f"params/{year}.yaml").write_text(f"fiscal_year: {year}\ntitle: ベンチマーク {year}\n", encoding="utf-8")
    for i in range(programs):
        for year in CYCLES:
            if len(jobs) < reports:
                jobs.append((year, f"bench-{i:04d}"))
    # cycles list their programs, so exactly `reports` cards are produced
    for year in CYCLES:
        ids = [p for y, p in jobs if y == year]
        cycle = f"fiscal_year: {year}\ntitle: ベンチマーク {year}\nprograms: {json.dumps(ids)}\n"
        (folder / f"params/{year}.yaml").write_text(cycle, encoding="utf-8")
    return jobs


class PeakRSS:
    """Peak resident memory of a process tree, sampled from /proc every 50 ms."""

    def __init__(self, root_pid: int):
        self.root, self.peak, self._stop = root_pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        page = os.sysconf("SC_PAGE_SIZE")
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(proc.name))
                rss[int(proc.name)] = int(fields[21]) * page
            except (OSError, IndexError, ValueError):
                continue
        total, stack = 0, [self.root]
        while stack:
            pid = stack.pop()
            total += rss.get(pid, 0)
            stack.extend(children.get(pid, []))
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            time.sleep(0.05)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(command: list[str], cwd: Path) -> tuple[float, int]:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with PeakRSS(process.pid) as memory:
        code = process.wait()
    if code not in (0,):
        raise SystemExit(f"{' '.join(command)} exited {code}")
    return time.perf_counter() - started, memory.peak


def naive(folder: Path, jobs: list[tuple[int, str]]) -> tuple[float, int]:
    """What a newcomer scripts: papermill CLI then jupyter nbconvert CLI, one after the other."""
    bindir = Path(sys.executable).parent
    script = ["set -e", "mkdir -p naive"]
    for year, program in jobs:
        out = f"naive/{year}-{program}.ipynb"
        script.append(f"{bindir}/papermill notebooks/report_card.ipynb {out} -p program_id {program} -p fiscal_year {year} "
                      f"-p data_dir {folder / 'data'} --cwd notebooks --no-progress-bar --log-level ERROR")
        script.append(f"{bindir}/jupyter nbconvert --to html --no-input --log-level ERROR {out}")
    (folder / "naive.sh").write_text("\n".join(script) + "\n")
    return timed(["bash", "naive.sh"], folder)


SCRIPTED = """
import sys, papermill
from pathlib import Path
from nbconvert import HTMLExporter
folder = Path(sys.argv[1]); exporter = HTMLExporter(exclude_input=True)
(folder / "scripted").mkdir(exist_ok=True)
for item in sys.argv[2:]:
    year, program = item.split(":")
    nb = papermill.execute_notebook(str(folder / "notebooks/report_card.ipynb"), None, progress_bar=False,
        parameters={"program_id": program, "fiscal_year": int(year), "data_dir": str(folder / "data")}, cwd=str(folder / "notebooks"))
    body, _ = exporter.from_notebook_node(nb)
    (folder / "scripted" / f"{year}-{program}.html").write_text(body, encoding="utf-8")
"""

FLOOR = """
import sys, time
from jupyter_client.manager import start_new_kernel
rounds = int(sys.argv[1])
started = time.perf_counter()
for _ in range(rounds):
    km, kc = start_new_kernel(kernel_name="python3")
    kc.execute_interactive("import evalkit\\nfrom evalkit import sections, charts", timeout=120)
    kc.stop_channels(); km.shutdown_kernel(now=False)
print((time.perf_counter() - started) / rounds)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=int, default=24, help="program × cycle reports to render (default 24)")
    parser.add_argument("--cache-scale", type=int, default=1000, help="jobs for the cache-path-only measurement (default 1000)")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the slow naive CLI loop")
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    rows: list[tuple[str, float, int | None]] = []
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-") as tmp:
        folder = Path(tmp)
        jobs = make_project(folder, args.programs)
        n = len(jobs)
        run_all = [sys.executable, str(ROOT / "run_all.py"), "--quiet", "--data", "data", "--params", "params", "--out", "outputs",
                   "--notebooks", "notebooks", "--workers", str(cpus)]

        floor = float(subprocess.run([sys.executable, "-c", FLOOR, "3"], capture_output=True, text=True, check=True).stdout.strip())
        if not args.skip_naive:
            rows.append(("naive (papermill CLI + nbconvert CLI)", *naive(folder, jobs)))
        rows.append(("scripted (one process, papermill API + HTMLExporter)",
                     *timed([sys.executable, "-c", SCRIPTED, str(folder)] + [f"{y}:{p}" for y, p in jobs], folder)))
        rows.append((f"run_all cold (--workers {cpus})", *timed(run_all, folder)))
        rows.append(("run_all warm (nothing changed)", *timed(run_all, folder)))
        program = folder / f"data/programs/{jobs[0][1]}.yaml"
        program.write_text(program.read_text(encoding="utf-8") + "notes: changed\n", encoding="utf-8")
        rows.append(("run_all one program changed", *timed(run_all, folder)))
        cache_seconds = cache_path_at_scale(args.cache_scale)

    by_name = {name: (seconds, peak) for name, seconds, peak in rows}
    cold = by_name[f"run_all cold (--workers {cpus})"][0]
    floor_total = floor * n / cpus
    lines = [
        f"# evalkit benchmark ({n} program × cycle reports)",
        "",
        f"Machine: {platform.machine()}, {cpus} CPUs, Python {platform.python_version()}, {platform.platform()}; "
        f"run {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        "| variant | wall time (s) | reports/min | peak RSS (MiB) |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds, peak in rows:
        rate = n / seconds * 60 if "warm" not in name and "changed" not in name else float("nan")
        lines.append(f"| {name} | {seconds:.1f} | {'' if math.isnan(rate) else f'{rate:.1f}'} | {peak / 2**20:.0f} |")
    lines.append(f"| floor: one fresh kernel + imports, per report | {floor:.2f} | | |")
    lines.append(f"| cache path alone, {args.cache_scale} jobs (nothing changed) | {cache_seconds:.2f} | | |")
    lines += ["", "Ratios (higher is better for speed-ups):", ""]
    if "naive (papermill CLI + nbconvert CLI)" in by_name:
        lines.append(f"- naive / run_all cold: **{by_name['naive (papermill CLI + nbconvert CLI)'][0] / cold:.2f}×**")
    lines.append(f"- scripted / run_all cold: **{by_name['scripted (one process, papermill API + HTMLExporter)'][0] / cold:.2f}×**")
    lines.append(f"- run_all cold per report / (floor per report ÷ {cpus} workers): **{(cold / n) / (floor / cpus):.2f}×** "
                 f"(floor × N ÷ workers = {floor_total:.1f} s)")
    lines.append(f"- run_all warm: {by_name['run_all warm (nothing changed)'][0]:.2f} s for {n} reports; "
                 f"cache path at {args.cache_scale} jobs: {cache_seconds:.2f} s")
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "benchmarks/results.md").write_text(text, encoding="utf-8")


def cache_path_at_scale(count: int) -> float:
    """Time a no-change run over ``count`` jobs whose cache entries and cards already exist (no kernels)."""
    from evalkit.batch import BatchOptions, card_fingerprints, plan_batch
    from evalkit.cache import Cache, CardEntry

    with tempfile.TemporaryDirectory(prefix="evalkit-cache-") as tmp:
        folder = Path(tmp)
        rng = random.Random(3)
        (folder / "data/programs").mkdir(parents=True)
        (folder / "params").mkdir()
        (folder / "notebooks").mkdir()
        shutil.copy(ROOT / "notebooks/report_card.ipynb", folder / "notebooks/report_card.ipynb")
        (folder / "params/2023.yaml").write_text("fiscal_year: 2023\n", encoding="utf-8")
        for i in range(count):
            (folder / f"data/programs/bench-{i:04d}.yaml").write_text(synthetic_program(i, rng), encoding="utf-8")
        out = folder / "outputs"
        # a first run records what it learnt of each program file; the cards are then marked as rendered
        subprocess.run([sys.executable, str(ROOT / "run_all.py"), "--quiet", "--out", str(out), "--program", "bench-0000"],
                       cwd=folder, capture_output=True, check=False)
        options = BatchOptions(data_dir=folder / "data", params_dir=folder / "params", out_dir=out, notebooks_dir=folder / "notebooks")
        cache = Cache.load(options.cache_file)
        plan = plan_batch(options, cache)
        for job, fingerprint in zip(plan.selected, card_fingerprints(options, plan).values(), strict=True):
            job.html.parent.mkdir(parents=True, exist_ok=True)
            job.html.write_text("card", encoding="utf-8")
            cache.cards[job.key] = CardEntry(fingerprint=fingerprint, ok=True)
        cache.save(options.cache_file)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(ROOT / "run_all.py"), "--quiet", "--out", str(out)], cwd=folder,
                                capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if not result.stdout.startswith(f"0 rendered, {count} skipped"):
            raise SystemExit(f"cache path did not skip every job: {result.stdout} {result.stderr}")
        return seconds


if __name__ == "__main__":
    main()
