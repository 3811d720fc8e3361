"""Benchmark: run_all against the in-process floor and the naive papermill + nbconvert loop, where its time goes, and scaling.

    .venv/bin/python benchmarks/bench_run_all.py                 # ≈ 15 min on 2 idle cores
    .venv/bin/python benchmarks/bench_run_all.py --large         # also 1,000 cards (≈ 20–30 min more)
    .venv/bin/python benchmarks/bench_run_all.py --quick         # 1 round, no naive loop, no scaling

What it measures, in one run on this machine (so the ratios compare like with like):

1. **Cold comparisons** at ``--cards`` (default 10 and 24 program × cycle cards), in
   ``--rounds`` interleaved rounds (default 2; the order rotates each round, so
   load from other work on the machine falls on every variant alike):

   - *floor*: ``floor.py`` — one process, imports done before timing, then per card
     ``load_card`` + every cell of ``notebooks/report_card.ipynb`` (sections, charts,
     scraps) + HTML export with evalkit's exporter; no kernel, no papermill;
   - *fork floor*: the same with each card's cells in a child forked from a process
     that only imported (a kernel's fresh-process costs without Jupyter; diagnostic);
   - *run_all cold* (``--workers``, default the CPU count) into a fresh output folder;
   - *naive*: papermill CLI then ``jupyter nbconvert --to html`` per card.  Every card is
     timed alone and the cards are shared out over the rounds, so the naive total of
     a card set is the sum of its cards' times.

   Reported: floor s/card; run_all s/card/worker = wall × workers ÷ cards and its
   ratio to the floor; naive total ÷ run_all wall; and whether the targets of
   issue #15 are met (24 cards: ≤ 2× the floor and ≥ 8× faster than naive;
   10 cards: ≥ 5× faster than naive).
2. **Profile** (``--no-profile`` to skip): one run_all at the largest card count
   with ``probe/sitecustomize.py`` tracing every process of the tree (run_all,
   workers, zygotes, kernels); ``breakdown.py`` splits the run exactly into per-run
   and per-card parts.  ``--cprofile`` adds a second traced run under cProfile and
   writes the top functions of workers and kernels to ``profile-*.txt``.
3. **Scaling** at ``--scale`` cards (default 100; ``--large`` adds 1,000): cold
   s/card, peak memory (RSS of run_all and all its descendants, sampled every 0.1 s),
   a no-change (warm) run and a run after one program file changed.

The cards are copies of ``examples/sample-city`` (15 programs × 3 cycles, with its
plan): copy *k* of program *p* is ``<p>-<k>`` with its name numbered, and each cycle
file lists exactly the copies that make up the card count.

Every measurement also records the CPU that *other* processes used meanwhile
(machine busy time from ``/proc/stat`` minus this benchmark's own tree), shown as
"other load" in cores: on a shared 2-core machine it says how far to trust a row.

The generated part of ``--results`` (default ``benchmarks/results.md``) is
replaced; anything below the line ``<!-- analysis -->`` is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
SAMPLE = ROOT / "examples/sample-city"
ANALYSIS_MARKER = "<!-- analysis -->"

sys.path.insert(0, str(BENCH))
import breakdown  # noqa: E402

# -- the generated project ---------------------------------------------------------------------------

def cycle_years() -> list[int]:
    return sorted(int(p.stem) for p in (SAMPLE / "params").glob("*.yaml"))


def make_project(folder: Path, cards: int) -> list[tuple[int, str]]:
    """A project of exactly ``cards`` cards: copies of the sample city's programs, each in every cycle, copy-major."""
    templates = sorted((SAMPLE / "data/programs").glob("*.yaml"))
    years = cycle_years()
    (folder / "data/programs").mkdir(parents=True)
    (folder / "params").mkdir()
    (folder / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks/report_card.ipynb", folder / "notebooks/report_card.ipynb")
    if (SAMPLE / "data/plan.yaml").exists():
        shutil.copy(SAMPLE / "data/plan.yaml", folder / "data/plan.yaml")
    jobs: list[tuple[int, str]] = []
    for k in range(math.ceil(cards / len(years))):
        source = templates[k % len(templates)]
        program_id = f"{source.stem}-{k:04d}"
        text = re.sub(r"^id: .*$", f"id: {program_id}", source.read_text(encoding="utf-8"), count=1, flags=re.M)
        text = re.sub(r"^name: (.*)$", rf"name: \1（{k}）", text, count=1, flags=re.M)
        (folder / f"data/programs/{program_id}.yaml").write_text(text, encoding="utf-8")
        jobs += [(year, program_id) for year in years]
    jobs = jobs[:cards]
    for year in years:
        ids = [p for y, p in jobs if y == year]
        text = (SAMPLE / f"params/{year}.yaml").read_text(encoding="utf-8")
        (folder / f"params/{year}.yaml").write_text(text.rstrip("\n") + f"\nprograms: {json.dumps(ids)}\n", encoding="utf-8")
    return jobs


def cycle_title(folder: Path, year: int) -> str:
    match = re.search(r"^title: (.*)$", (folder / f"params/{year}.yaml").read_text(encoding="utf-8"), flags=re.M)
    return match.group(1).strip() if match else ""


# -- measuring a command -------------------------------------------------------------------------------

def _machine_busy() -> float:
    """Seconds of CPU the whole machine has spent busy since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    children, me = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime + me.ru_utime + me.ru_stime


class TreeSampler:
    """Peak resident memory of a process and all its descendants, sampled from /proc every ``interval`` s."""

    def __init__(self, root_pid: int, interval: float = 0.1):
        self.root, self.interval, self.peak = root_pid, interval, 0
        self._stop = threading.Event()
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
            except (OSError, IndexError):
                continue
            children.setdefault(int(fields[1]), []).append(int(proc.name))
            rss[int(proc.name)] = int(fields[21]) * page
        total, stack = 0, [self.root]
        while stack:
            pid = stack.pop()
            total += rss.get(pid, 0)
            stack.extend(children.get(pid, []))
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measurement:
    seconds: float
    peak_rss: int = 0
    other_cores: float = 0.0  # CPU used by processes outside this benchmark, in cores, while it ran
    cpu: float = 0.0  # CPU seconds of the command and all its descendants
    stdout: str = ""
    extra: dict = field(default_factory=dict)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALKIT_BENCH") and k != "PYTHONPATH"}
    return {**env, **extra}


def measure(command: list[str], cwd: Path, env: dict[str, str] | None = None, sample_memory: bool = False) -> Measurement:
    """Run ``command`` to its end; wall time, optionally the peak RSS of its tree, and the other processes' load."""
    busy, own = _machine_busy(), _own_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env or clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if sample_memory:
        with TreeSampler(process.pid) as sampler:
            out, err = process.communicate()
        peak = sampler.peak
    else:
        out, err = process.communicate()
        peak = 0
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} exited {process.returncode}:\n{out[-2000:]}\n{err[-4000:]}")
    used = _own_cpu() - own
    other = max(0.0, (_machine_busy() - busy) - used)
    return Measurement(seconds, peak, other / seconds, used, out)


# -- the variants --------------------------------------------------------------------------------------

def run_all_command(out: str, workers: int, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "run_all.py"), "--quiet", "--data", "data", "--params", "params", "--out", out,
            "--notebooks", "notebooks", "--workers", str(workers), *extra]


def run_all_cold(project: Path, label: str, workers: int, sample_memory: bool = False, env: dict[str, str] | None = None,
                 extra: tuple[str, ...] = ()) -> Measurement:
    """run_all into an output folder (and state) of its own, so nothing is cached."""
    shutil.rmtree(project / label, ignore_errors=True)
    shutil.rmtree(project / ".evalkit" / label, ignore_errors=True)
    m = measure(run_all_command(label, workers, *extra), project, env=env, sample_memory=sample_memory)
    if " 0 failed" not in m.stdout:
        raise SystemExit(f"run_all reported failures: {m.stdout}")
    return m


def floor(project: Path, mode: str, limit: int | None = None) -> tuple[Measurement, dict]:
    out = project / f"floor-{mode}.json"
    command = [sys.executable, str(BENCH / "floor.py"), str(project), "--mode", mode, "--json", str(out)]
    if limit:
        command += ["--limit", str(limit)]
    m = measure(command, project)
    return m, json.loads(out.read_text(encoding="utf-8"))


def naive_card(project: Path, year: int, program: str) -> Measurement:
    """What a newcomer scripts: the papermill CLI, then the jupyter nbconvert CLI, for one card."""
    bindir = Path(sys.executable).parent
    out = f"naive/{year}-{program}.ipynb"
    (project / "naive").mkdir(exist_ok=True)
    script = (f"set -e\n{bindir}/papermill notebooks/report_card.ipynb {out} -p program_id {program} -p fiscal_year {year} "
              f"-p title {shlex.quote(cycle_title(project, year))} --cwd notebooks --no-progress-bar --log-level ERROR\n"
              f"{bindir}/jupyter nbconvert --to html --no-input --log-level ERROR {out}\n")
    return measure(["bash", "-c", script], project)


# -- the cold comparison in interleaved rounds ---------------------------------------------------------

@dataclass
class Cold:
    counts: list[int]
    workers: int
    floor: dict[str, list[list[float]]] = field(default_factory=dict)  # mode -> per round, per-card seconds
    floor_cpu: dict[str, list[list[float]]] = field(default_factory=dict)  # mode -> per round, per-card CPU seconds
    floor_steps: dict[str, list[float]] = field(default_factory=dict)  # step -> per-card seconds (inproc, all rounds)
    run_all: dict[int, list[Measurement]] = field(default_factory=dict)
    kernels: list[Measurement] = field(default_factory=list)  # run_all --kernels at the largest count (forked Jupyter kernels)
    naive: dict[int, Measurement] = field(default_factory=dict)  # card index -> its naive time
    log: list[tuple[int, str, Measurement]] = field(default_factory=list)  # (round, variant, measurement)
    same_pages: tuple[int, int] = (0, 0)  # floor pages identical to run_all's (apart from the generation time), of those compared


def cold_rounds(project: Path, jobs: list[tuple[int, str]], counts: list[int], rounds: int, workers: int, naive: bool,
                say=print) -> Cold:
    cold = Cold(counts, workers)
    largest = max(counts)
    naive_share = [list(range(largest))[r::rounds] for r in range(rounds)]
    for r in range(rounds):
        steps = [("floor", "inproc"), ("floor", "fork")] + [("run_all", n) for n in counts] + [("kernels", largest)]
        steps += [("naive", None)] if naive else []
        steps = steps[r % len(steps):] + steps[:r % len(steps)]  # rotate: no variant always runs first
        for kind, arg in steps:
            if kind == "floor":
                m, result = floor(project, arg, largest)
                cold.floor.setdefault(arg, []).append([c["seconds"] for c in result["cards"]])
                cold.floor_cpu.setdefault(arg, []).append([c["cpu"] for c in result["cards"]])
                if arg == "inproc":
                    for c in result["cards"]:
                        cold.floor_steps.setdefault("cells", []).append(c["cells"])
                        cold.floor_steps.setdefault("cells_cpu", []).append(c["cells_cpu"])
                        for k, v in c["steps"].items():
                            cold.floor_steps.setdefault(k, []).append(v)
                label = f"floor {arg}"
            elif kind == "run_all":
                m = run_all_cold(project / f"set-{arg}", f"out-r{r}", workers)
                cold.run_all.setdefault(arg, []).append(m)
                label = f"run_all {arg} cards"
            elif kind == "kernels":
                m = run_all_cold(project / f"set-{arg}", f"out-k{r}", workers, extra=("--kernels",))
                cold.kernels.append(m)
                label = f"run_all --kernels {arg} cards"
            else:
                started = time.perf_counter()
                for index in naive_share[r]:
                    cold.naive[index] = naive_card(project, *jobs[index])
                m = Measurement(time.perf_counter() - started,
                                other_cores=statistics.fmean(cold.naive[i].other_cores for i in naive_share[r]),
                                cpu=sum(cold.naive[i].cpu for i in naive_share[r]))
                label = f"naive, {len(naive_share[r])} cards"
            cold.log.append((r, label, m))
            say(f"  round {r + 1}: {label}: {m.seconds:.1f} s (other load {m.other_cores:.2f} cores)")
    return cold


# -- profile -----------------------------------------------------------------------------------------

def traced(project: Path, command: list[str], name: str, cold: bool, cprofile: bool = False,
           sample_memory: bool = False) -> dict:
    """Run ``command`` with every process traced (probe/sitecustomize.py); its breakdown, with the measurement and trace folder."""
    trace = project / f"trace-{name}"
    shutil.rmtree(trace, ignore_errors=True)
    trace.mkdir()
    env = clean_env(PYTHONPATH=str(BENCH / "probe"), EVALKIT_BENCH_TRACE=str(trace),
                    **({"EVALKIT_BENCH_CPROFILE": "1"} if cprofile else {}))
    out = command[command.index("--out") + 1]
    if cold:
        shutil.rmtree(project / out, ignore_errors=True)
        shutil.rmtree(project / ".evalkit" / out, ignore_errors=True)
    start = time.clock_gettime(time.CLOCK_BOOTTIME)
    m = measure(command, project, env=env, sample_memory=sample_memory)
    end = time.clock_gettime(time.CLOCK_BOOTTIME)
    result = breakdown.analyse(breakdown.load(trace), start, end)
    result.update(measurement=m, trace=trace)
    return result


def traced_run(project: Path, workers: int, name: str = "base", cprofile: bool = False) -> dict:
    """One cold run_all of ``project``, traced."""
    return traced(project, run_all_command(f"out-{name}", workers), name, cold=True, cprofile=cprofile)


def part(prefix: str) -> str:
    return next(label for label, _ in breakdown.CARD_PARTS if label.startswith(prefix))


def cprofile_report(trace: Path, role: str, top: int = 40) -> str:
    import io
    import pstats

    files = sorted(trace.glob(f"{role}-*.prof"))
    if not files:
        return f"(no {role} profiles)"
    stream = io.StringIO()
    stats = pstats.Stats(str(files[0]), stream=stream)
    for f in files[1:]:
        stats.add(str(f))
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    body = "\n".join(line for line in stream.getvalue().splitlines() if not line.endswith(".prof"))  # not the file list
    return f"cProfile of {len(files)} {role} processes of one traced run_all (cards: see results.md)\n{body}\n"


# -- scaling -------------------------------------------------------------------------------------------

def scaling(folder: Path, cards: int, workers: int, say=print) -> dict:
    """Cold, no-change and one-program-changed runs of ``cards`` cards, traced (a few µs per wrapped call) for their split."""
    project = folder / f"scale-{cards}"
    shutil.rmtree(project, ignore_errors=True)
    jobs = make_project(project, cards)
    command = run_all_command("out", workers)
    cold = traced(project, command, "cold", cold=True, sample_memory=True)
    say(f"  {cards} cards cold: {cold['measurement'].seconds:.1f} s, peak {cold['measurement'].peak_rss / 2**20:.0f} MiB")
    warm = traced(project, command, "warm", cold=False, sample_memory=True)
    say(f"  {cards} cards warm: {warm['measurement'].seconds:.2f} s")
    program = project / f"data/programs/{jobs[0][1]}.yaml"
    program.write_text(program.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    changed = traced(project, command, "changed", cold=False, sample_memory=True)
    say(f"  {cards} cards, one program changed: {changed['measurement'].seconds:.2f} s ({changed['measurement'].stdout.strip()})")
    return {"cards": len(jobs), "cold": cold, "warm": warm, "changed": changed}


# -- the report --------------------------------------------------------------------------------------

def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(cold: Cold | None, profile: dict | None, scale: list[dict], args: argparse.Namespace,
           started: float) -> str:
    cpus = os.cpu_count() or 1
    load = os.getloadavg()
    lines = [
        "# evalkit benchmark: run_all against the in-process floor and the naive loop",
        "",
        f"Machine: {platform.machine()}, {cpus} CPUs, Python {platform.python_version()}; run {time.strftime('%Y-%m-%d %H:%M')} "
        f"({(time.time() - started) / 60:.0f} min; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}).",
        f"Command: `{' '.join(['python benchmarks/bench_run_all.py', *sys.argv[1:]])}`.  Cards: copies of examples/sample-city "
        "(15 programs × 3 cycles, with its plan).",
        "",
    ]
    if cold:
        w = cold.workers
        lines += [
            f"## Cold runs ({len(cold.floor.get('inproc', []))} interleaved rounds; medians)",
            "",
            "- floor: one process, imports done first, per card load_card + every notebook cell + HTML export, no kernel;",
            "- fork floor: the same, each card's cells in a child forked from a process that only imported (fresh-process costs, no Jupyter);",
            f"- run_all s/card/worker = wall × {w} workers ÷ cards; naive = papermill CLI + nbconvert CLI per card, timed card by card;",
            "- CPU s/card: CPU time of the whole process tree ÷ cards (run_all: every process, start-up included; floor: the cards "
            "only). It does not depend on how busy the machine is, and it leaves out waiting (polls, timeouts), which only the "
            "wall time shows.",
            "",
            "| cards | floor s/card | fork floor s/card | run_all wall (s) | run_all s/card/worker | ÷ floor | naive s/card | naive total (s) "
            "| naive ÷ run_all | targets | floor CPU s/card | run_all CPU s/card | CPU ÷ floor |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
        ]
        targets = {24: (2.0, 8.0), 10: (None, 5.0)}
        for n in cold.counts:
            floor_n = _median([statistics.fmean(r[:n]) for r in cold.floor.get("inproc", [])])
            fork_n = _median([statistics.fmean(r[:n]) for r in cold.floor.get("fork", [])])
            wall = _median([m.seconds for m in cold.run_all[n]])
            per = wall * w / n
            naive_cards = [cold.naive[i].seconds for i in range(n) if i in cold.naive]
            naive_total = sum(naive_cards) if len(naive_cards) == n else float("nan")
            speedup = naive_total / wall
            floor_ratio, naive_ratio = targets.get(n, (None, None))
            verdict = []
            if floor_ratio:
                verdict.append(f"≤ {floor_ratio:g}× floor: {'**met**' if per / floor_n <= floor_ratio else '**not met**'}")
            if naive_ratio and not math.isnan(speedup):
                verdict.append(f"≥ {naive_ratio:g}× naive: {'**met**' if speedup >= naive_ratio else '**not met**'}")
            floor_cpu = _median([statistics.fmean(r[:n]) for r in cold.floor_cpu.get("inproc", [])])
            run_all_cpu = _median([m.cpu / n for m in cold.run_all[n]])
            naive_cols = (f"{statistics.fmean(naive_cards):.2f} | {naive_total:.1f} | {speedup:.1f}×" if not math.isnan(speedup)
                          else "– | – | –")
            lines.append(f"| {n} | {floor_n:.3f} | {fork_n:.3f} | {wall:.1f} | {per:.3f} | {per / floor_n:.2f}× | {naive_cols} | "
                         f"{'; '.join(verdict)} | {floor_cpu:.3f} | {run_all_cpu:.3f} | {run_all_cpu / floor_cpu:.2f}× |")
        if cold.kernels:
            n = max(cold.counts)
            wall_k, wall = _median([m.seconds for m in cold.kernels]), _median([m.seconds for m in cold.run_all[n]])
            cpu_k = _median([m.cpu / n for m in cold.kernels])
            lines += ["", f"The same {n} cards with `run_all --kernels` (each card in a Jupyter kernel forked from the zygote, "
                      f"the default before the cells engine): wall {wall_k:.1f} s, {wall_k * w / n:.3f} s/card/worker, CPU "
                      f"{cpu_k:.3f} s/card; the default is {wall_k / wall:.2f}× faster."]
        steps = {k: statistics.fmean(v) for k, v in cold.floor_steps.items()}
        big = sorted(((k, v) for k, v in steps.items() if k not in ("cells", "cells_cpu") and v >= 0.005), key=lambda kv: -kv[1])
        lines += ["", "Floor per card (mean of all rounds): " + ", ".join(f"{k} {v:.3f} s" for k, v in big)
                  + "; `ipynb` (serialising the executed notebook, which run_all also publishes) is not counted in the floor. "
                  f"The floor's pages are run_all's byte for byte (apart from the generation time): "
                  f"{cold.same_pages[0]} of {cold.same_pages[1]}.", ""]
        lines += ["Every measurement (other load = CPU used by processes outside the benchmark, in cores of the "
                  f"{cpus}):", "", "| round | variant | wall (s) | CPU (s) | other load (cores) |", "|---:|---|---:|---:|---:|"]
        for r, label, m in cold.log:
            lines.append(f"| {r + 1} | {label} | {m.seconds:.1f} | {m.cpu:.1f} | {m.other_cores:.2f} |")
        lines.append("")
    if profile:
        m = profile["measurement"]
        floor_per_card = None
        floor_steps = None
        if cold:
            largest = max(cold.counts)
            floor_per_card = _median([statistics.fmean(r[:largest]) for r in cold.floor.get("inproc", [])])
            floor_steps = {k: statistics.fmean(v) for k, v in cold.floor_steps.items()}
        lines += [f"## Where run_all's time goes (one traced cold run, {profile['n']} cards, other load {m.other_cores:.2f} cores)", "",
                  "Tracing adds a few µs per wrapped call; the traced run's wall is comparable to the untraced ones above.", ""]
        lines += breakdown.tables(profile, floor_per_card, floor_steps)
        lines.append("")
    if scale:
        lines += ["## Scaling (traced runs: a few µs per wrapped call)", "",
                  "| cards | cold wall (s) | s/card | s/card/worker | steady card (s) | peak RSS, run_all + children (MiB) | "
                  "no-change run (s) | one program changed (s) | other load (cores, cold) |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for s in scale:
            c = s["cold"]["measurement"]
            steady_card = breakdown.steady(s["cold"], "= run_job")
            lines.append(f"| {s['cards']} | {c.seconds:.1f} | {c.seconds / s['cards']:.3f} | {c.seconds * args.workers / s['cards']:.3f} | "
                         f"{steady_card:.3f} | {c.peak_rss / 2**20:.0f} | {s['warm']['measurement'].seconds:.2f} | "
                         f"{s['changed']['measurement'].seconds:.2f} | {c.other_cores:.2f} |")
        lines += ["", "run_all's own timeline in those runs (s):", "",
                  "| cards | run | " + " | ".join(scale[0]["cold"]["steps"]) + " | peak RSS (MiB) |",
                  "|---:|---|" + "---:|" * (len(scale[0]["cold"]["steps"]) + 1)]
        for s in scale:
            for kind in ("cold", "warm", "changed"):
                r = s[kind]
                lines.append(f"| {s['cards']} | {kind} | " + " | ".join(f"{v:.2f}" for v in r["steps"].values())
                             + f" | {r['measurement'].peak_rss / 2**20:.0f} |")
        lines.append("")
    return "\n".join(lines)


def same_pages(floor_dir: Path, run_all_dir: Path) -> tuple[int, int]:
    """How many of the floor's pages are the run_all pages byte for byte, apart from the generation time."""
    stamp = re.compile(r"(<dt>作成</dt><dd>[^<]*?)\d{4}-\d\d-\d\d \d\d:\d\d [A-Z]+")
    same = total = 0
    for page in sorted(floor_dir.glob("*.html")):
        year, program = page.stem.split("-", 1)
        other = run_all_dir / year / f"{program}.html"
        if other.exists():
            total += 1
            same += stamp.sub(r"\1", page.read_text(encoding="utf-8")) == stamp.sub(r"\1", other.read_text(encoding="utf-8"))
    return same, total


def write_results(path: Path, generated: str) -> None:
    kept = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if ANALYSIS_MARKER in old:
            kept = old[old.index(ANALYSIS_MARKER):]
    path.write_text(generated.rstrip("\n") + "\n\n" + (kept or ANALYSIS_MARKER + "\n"), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", default="10,24", help="card counts of the cold comparison, comma-separated, or 'none' "
                        "(then no profile either; default 10,24)")
    parser.add_argument("--programs", type=int, default=None, metavar="N", help="the same as --cards N (the older option)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the cold comparison (default 2)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="run_all --workers (default: CPU count)")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive CLI loop (the slowest part)")
    parser.add_argument("--no-profile", action="store_true", help="leave out the traced run")
    parser.add_argument("--cprofile", action="store_true", help="also a cProfile'd traced run: benchmarks/profile-{worker,kernel}.txt")
    parser.add_argument("--scale", default="100", help="card counts of the scaling runs, comma-separated, or 'none' (default 100)")
    parser.add_argument("--large", action="store_true", help="add 1,000 cards to --scale (long)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, no naive loop, no scaling")
    parser.add_argument("--results", type=Path, default=BENCH / "results.md", help="where to write the report (default benchmarks/results.md)")
    parser.add_argument("--keep", type=Path, default=None, help="generate the projects here and keep them (default: a temporary folder)")
    args = parser.parse_args()
    if args.programs:
        args.cards = str(args.programs)
    if args.quick:
        args.rounds, args.skip_naive, args.scale = 1, True, "none"
    counts = [] if args.cards == "none" else sorted({int(x) for x in args.cards.split(",") if x.strip()})
    scales = [] if args.scale == "none" else sorted({int(x) for x in args.scale.split(",") if x.strip()})
    if args.large and 1000 not in scales:
        scales.append(1000)
    started = time.time()

    def say(line: str) -> None:
        print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="evalkit-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        cold, profile = None, None
        if counts:
            project = folder / "cold"
            shutil.rmtree(project, ignore_errors=True)
            jobs = make_project(project, max(counts))
            for n in counts:  # each card set is the first n cards of the largest: same programs, same cycles
                shutil.rmtree(project / f"set-{n}", ignore_errors=True)
                make_project(project / f"set-{n}", n)
            say(f"cold comparison: {counts} cards, {args.rounds} rounds, {args.workers} workers")
            cold = cold_rounds(project, jobs, counts, args.rounds, args.workers, not args.skip_naive, say)
            cold.same_pages = same_pages(project / "floor-out", project / f"set-{max(counts)}" / f"out-r{args.rounds - 1}")
            biggest = project / f"set-{max(counts)}"
        if counts and not args.no_profile:
            say("traced run")
            profile = traced_run(biggest, args.workers)
            if args.cprofile:
                say("cProfile'd traced run")
                trace = traced_run(biggest, args.workers, "cprofile", cprofile=True)["trace"]
                for role in ("worker", "kernel"):
                    (BENCH / f"profile-{role}.txt").write_text(cprofile_report(trace, role), encoding="utf-8")
        scale = []
        for n in scales:
            say(f"scaling: {n} cards")
            scale.append(scaling(folder, n, args.workers, say))
        text = report(cold, profile, scale, args, started)
    print(text)
    write_results(args.results, text)


if __name__ == "__main__":
    main()
