"""Where a traced run_all's time went: reads the events of ``probe/sitecustomize.py`` and splits the run.

Used by ``bench_run_all.py --profile``; ``python benchmarks/breakdown.py TRACE_DIR START END``
prints the tables of an existing trace (START/END: the run's CLOCK_BOOTTIME wall bounds).

The split is exact on each worker's timeline, so the rows add up to the run:

    wall = before the pool (start-up, planning, main's imports)
         + worker start-up (spawn, interpreter, imports) + warm-up
         + Σ cards (run_job) + Σ hand-offs between cards
         + tail (last card's end -> pool shut down) + after the pool (cache, indexes, exit)

and ``run_all s/card/worker = wall × workers / cards`` is the sum over workers
of those segments divided by the number of cards.  Each card's ``run_job`` is
split further by the wrapped calls inside it (papermill, jupyter_client,
nbclient, the kernel's own cell execution, export, writes).
"""

from __future__ import annotations

import bisect
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Event:
    pid: int
    role: str
    name: str
    t0: float
    t1: float
    extra: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0


def load(folder: Path) -> list[Event]:
    events = []
    for path in folder.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue  # a process killed mid-line
            pid, role, name, t0, t1 = (raw.pop(k) for k in ("pid", "role", "name", "t0", "t1"))
            events.append(Event(pid, role, name, t0, t1, raw))
    return sorted(events, key=lambda e: e.t0)


#: the parts of one card's run_job, in the order they happen: (label, what it sums)
CARD_PARTS = [
    ("parameter check + papermill load/parameterize", ["execute.check_parameters", "papermill.load_notebook_node", "papermill._infer_parameters",
                                                       "papermill.parameterize_notebook", "papermill.prepare_notebook_metadata",
                                                       "papermill.remove_error_markers"]),
    ("kernel manager set-up (kernelspec, ports, connection file)", ["nbclient.create_kernel_manager", "km.pre_start_kernel", "km.post_start_kernel"]),
    ("zygote fork (request -> pid)", ["zygote.fork", "zygote.fork_cells"]),
    ("cells in a forked child without a kernel (default: shell start, cells, answers)", ["@engine-minus-fork"]),
    ("kernel start -> ready (wait_for_ready)", ["nbclient.start_new_kernel_client"]),
    ("cells: kernel's own execution (Σ do_execute)", ["@kernel.do_execute"]),
    ("cells: messaging, nbclient/papermill per-cell work", ["@cells-minus-kernel"]),
    ("kernel shutdown (shutdown_request, wait for exit, cleanup)", ["nbclient._cleanup_kernel"]),
    ("papermill: error check + final write of the .ipynb", ["papermill.raise_for_execution_errors", "papermill.write_ipynb"]),
    ("scrapbook: read the scraps back", ["scraps.from_node"]),
    ("nbconvert: HTML export", ["export.notebook_to_html"]),
    ("scrub paths in the page", ["@scrub-html"]),
    ("executed .ipynb for publishing (nbformat.writes + scrub)", ["execute._publishable"]),
    ("atomic writes (.html + .ipynb)", ["execute.write_atomic_many"]),
    ("stray-process check (/proc scan)", ["processes.stop_strays", "zygote.kept_children"]),
]


def _inside(events: list[Event], outer: Event) -> list[Event]:
    """The events of ``events`` (one process's, sorted by start) that ran within ``outer``."""
    starts = _STARTS.get(id(events))
    if starts is None or len(starts) != len(events):
        starts = [e.t0 for e in events]
    lo, hi = bisect.bisect_left(starts, outer.t0), bisect.bisect_right(starts, outer.t1)
    return [e for e in events[lo:hi] if e.t1 <= outer.t1 and e is not outer]


_STARTS: dict[int, list[float]] = {}  # id of a process's event list -> its start times (set by analyse, for the lists it holds)


@dataclass
class Card:
    worker: int
    job: Event
    first: bool
    parts: dict[str, float]
    kernel: dict[str, float]


def analyse(events: list[Event], start: float, end: float) -> dict:
    by_pid: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        by_pid[e.pid].append(e)
    _STARTS.clear()
    _STARTS.update({id(es): [e.t0 for e in es] for es in by_pid.values()})
    role = {pid: es[0].role for pid, es in by_pid.items()}
    main = next(pid for pid, r in role.items() if r == "main")
    workers = sorted(pid for pid, r in role.items() if r == "worker" and any(e.name == "execute.run_job" for e in by_pid[pid]))
    parent = {pid: next((e.extra.get("ppid") for e in es if e.name == "process"), None) for pid, es in by_pid.items()}
    zygote_of = {pid: w for pid, w in parent.items() if role.get(pid) == "zygote"}
    kernels = defaultdict(list)  # worker -> [(fork time, kernel pid)]
    for pid, es in by_pid.items():
        if role[pid] == "kernel":
            forked = next(e for e in es if e.name == "kernel.forked")
            kernels[zygote_of.get(forked.extra.get("parent"))].append((forked.t0, pid))

    def first(pid: int, name: str) -> Event | None:
        return next((e for e in by_pid[pid] if e.name == name), None)

    cards: list[Card] = []
    for w in workers:
        jobs = [e for e in by_pid[w] if e.name == "execute.run_job"]
        for i, job in enumerate(jobs):
            inner = _inside(by_pid[w], job)
            total = defaultdict(float)
            for e in inner:
                total[e.name] += e.seconds
            publish = [e for e in inner if e.name == "execute._publishable"]
            scrub_html = sum(e.seconds for e in inner if e.name == "execute.scrub_paths" and not any(p.t0 <= e.t0 <= p.t1 for p in publish))
            kpid = next((pid for t, pid in kernels[w] if job.t0 <= t <= job.t1), None)
            kernel: dict[str, float] = {}
            if kpid:
                kes = by_pid[kpid]
                forked = first(kpid, "kernel.forked")
                info = first(kpid, "ipykernel.kernel_info_request")
                kernel = {
                    "do_execute": sum(e.seconds for e in kes if e.name == "ipykernel.do_execute"),
                    "do_execute_cpu": sum(e.extra.get("cpu", 0.0) for e in kes if e.name == "ipykernel.do_execute"),
                    "initialize": sum(e.seconds for e in kes if e.name == "ipykernel.initialize"),
                    "fork_to_kernel_info": (info.t0 - forked.t1) if info else 0.0,
                    "imports": sum(e.seconds for e in kes if e.name.startswith("import ")),
                    "imports_in_cells": sum(e.seconds for e in kes if e.name.startswith("import ")
                                            and any(c.name == "ipykernel.do_execute" and c.t0 <= e.t0 <= c.t1 for c in kes)),
                }
                exits = first(kpid, "kernel.exit")
                shutdown = first(kpid, "ipykernel.shutdown_request")
                kernel["shutdown_to_exit"] = (exits.t0 - shutdown.t0) if exits and shutdown else 0.0
                for e in kes:
                    if e.name.startswith("import "):
                        kernel["import:" + e.name[7:]] = kernel.get("import:" + e.name[7:], 0.0) + e.seconds
            parts = {}
            for label, names in CARD_PARTS:
                seconds = 0.0
                for name in names:
                    if name == "@kernel.do_execute":
                        seconds += kernel.get("do_execute", 0.0)
                    elif name == "@cells-minus-kernel":
                        seconds += total.get("nbclient.execute_cells", 0.0) - kernel.get("do_execute", 0.0)
                    elif name == "@engine-minus-fork":
                        seconds += total.get("engine.execute_cells", 0.0) - total.get("zygote.fork_cells", 0.0)
                    elif name == "@scrub-html":
                        seconds += scrub_html
                    else:
                        seconds += total.get(name, 0.0)
                parts[label] = seconds
            parts["other (papermill/nbclient glue)"] = job.seconds - sum(parts.values())
            parts["= run_job"] = job.seconds
            extra = {
                "kc.wait_for_ready": total.get("kc.wait_for_ready", 0.0),
                "kc.start_channels": total.get("kc.start_channels", 0.0),
                "km.finish_shutdown": total.get("km.finish_shutdown", 0.0),
                "km.cleanup_resources": total.get("km.cleanup_resources", 0.0),
                "kc.stop_channels": total.get("kc.stop_channels", 0.0),
                "nbformat.validate": total.get("nbformat.validate", 0.0),
                "nbformat.writes": total.get("nbformat.writes", 0.0),
                "kernelspec": total.get("kernelspec.get_kernel_spec", 0.0),
                "nbconvert.preprocess": total.get("nbconvert.preprocess", 0.0),
                "cells": total.get("nbclient.execute_cells", 0.0),
                "n_cells": sum(1 for e in inner if e.name == "nbclient.execute_cell"),
            }
            cards.append(Card(w, job, i == 0, {**parts, **{f"·{k}": v for k, v in extra.items()}}, kernel))

    n = len(cards)
    nw = len(workers)
    pool = first(main, "batch._run_pool")
    execute = first(main, "batch.execute")
    run_batch = first(main, "batch.run_batch")
    main_start = first(main, "process").t0
    save = first(main, "cache.save")
    indexes = first(main, "batch.write_indexes")
    prints = first(main, "batch._publish_prints")
    steps = {  # run_all's own timeline (also for runs with nothing to execute)
        "start-up (interpreter, imports)": run_batch.t0 - main_start,
        "planning (cache, plan, withdraw, fingerprints, decide)": (execute.t0 if execute else run_batch.t1) - run_batch.t0,
        "execute (pool, cards)": execute.seconds if execute else 0.0,
        "cache save": save.seconds if save else 0.0,
        "index pages": indexes.seconds if indexes else 0.0,
        "exit": end - run_batch.t1,
    }
    if not cards or pool is None:
        return {"cards": [], "workers": [], "steps": steps, "wall": end - start, "n": 0, "nw": 0}
    records = [e for e in by_pid[main] if e.name == "batch._record"]
    last_record = records[-1].t1 if records else execute.t1
    per_worker = []
    for w in workers:
        jobs = [e for e in by_pid[w] if e.name == "execute.run_job"]
        warm = first(w, "worker.warm_up")
        cli = first(w, "import evalkit.cli") or first(w, "import __mp_main__")
        per_worker.append({
            "spawn": warm.t0 - pool.t0,
            "spawn_imports": cli.seconds if cli else 0.0,
            "warm": jobs[0].t0 - warm.t0,
            "gaps": sum(b.t0 - a.t1 for a, b in zip(jobs, jobs[1:], strict=False)),
            "tail_wait": max(0.0, last_record - jobs[-1].t1),
            "tail_shutdown": execute.t1 - max(last_record, jobs[-1].t1),
            "cards": len(jobs),
        })
    wall = end - start
    pre = {
        "harness -> run_all process created": main_start - start,
        "run_all interpreter start + imports (evalkit.cli)": run_batch.t0 - main_start,
        "planning (cache, plan, withdraw, fingerprints, decide)": execute.t0 - run_batch.t0,
        "main imports nbformat/nbconvert (RunSettings) before the pool": pool.t0 - execute.t0,
    }
    post = {
        "--pdf step (nothing to print without --pdf)": prints.seconds if prints else 0.0,
        "cache save": save.seconds if save else 0.0,
        "index pages (incl. importing matplotlib/seaborn)": indexes.seconds if indexes else 0.0,
    }
    post["run_all exit (interpreter teardown)"] = (end - execute.t1) - sum(post.values())
    index_parts: dict[str, float] = defaultdict(float)
    if indexes:
        for e in _inside(by_pid[main], indexes):
            if e.name.startswith("import ") and any(o.name.startswith("import ") and o.t0 < e.t0 and e.t1 <= o.t1
                                                    for o in _inside(by_pid[main], indexes)):
                continue  # nested import: counted in the outer one
            index_parts[e.name] += e.seconds
    return {"cards": cards, "workers": per_worker, "pre": pre, "post": post, "wall": wall, "n": n, "nw": nw,
            "index_parts": dict(index_parts), "steps": steps}


def row(result: dict, label: str) -> float:
    """A card part's contribution to run_all s/card/worker (Σ over the cards ÷ cards)."""
    cards = result["cards"]
    return sum(c.parts.get(label, 0.0) for c in cards) / len(cards) if cards else 0.0


def steady(result: dict, key: str, kernel: bool = False) -> float:
    """The mean of a card part (or of a kernel measure) over the cards that were not a worker's first."""
    cards = [c for c in result["cards"] if not c.first] or result["cards"]
    values = [(c.kernel if kernel else c.parts).get(key, 0.0) for c in cards]
    return statistics.fmean(values) if values else 0.0


def segment(result: dict, label: str) -> float:
    """A per-run segment's contribution to run_all s/card/worker."""
    n, nw = result["n"], result["nw"]
    if label in result.get("pre", {}):
        return result["pre"][label] * nw / n
    if label in result.get("post", {}):
        return result["post"][label] * nw / n
    return sum(w[label] for w in result["workers"]) / n


def tables(result: dict, floor_per_card: float | None = None, floor_steps: dict[str, float] | None = None) -> list[str]:
    """Markdown tables: per card (steady and first) and the per-worker accounting of the run."""
    cards: list[Card] = result["cards"]
    n, nw, wall = result["n"], result["nw"], result["wall"]
    steady = [c for c in cards if not c.first] or cards
    firsts = [c for c in cards if c.first]
    labels = list(cards[0].parts)

    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else 0.0

    lines = [
        f"Traced run: {n} cards, {nw} workers, wall {wall:.1f} s → run_all **{wall * nw / n:.3f} s/card/worker**"
        + (f" = {wall * nw / n / floor_per_card:.2f}× the floor ({floor_per_card:.3f} s/card)" if floor_per_card else "") + ".",
        "",
        "### Per card: where one card's `run_job` goes (worker side)",
        "",
        "| part of one card | steady card (s) | a worker's first card (s) | s/card/worker (Σ ÷ cards) |",
        "|---|---:|---:|---:|",
    ]
    for label in labels:
        if label.startswith("·"):
            continue
        s = mean([c.parts[label] for c in steady])
        f = mean([c.parts[label] for c in firsts])
        contribution = sum(c.parts[label] for c in cards) / n
        bold = "**" if label.startswith("=") else ""
        lines.append(f"| {bold}{label}{bold} | {s:.3f} | {f:.3f} | {contribution:.3f} |")
    lines += ["", "Details inside those parts (steady cards, mean s):", ""]
    details = [label for label in labels if label.startswith("·")]
    lines.append("- " + "; ".join(f"{d[1:]} {mean([c.parts[d] for c in steady]):.3f}" for d in details if d != "·n_cells")
                 + f"; cells per card {mean([c.parts['·n_cells'] for c in steady]):.0f}")
    kernel_keys = ["initialize", "fork_to_kernel_info", "do_execute", "do_execute_cpu", "imports", "imports_in_cells", "shutdown_to_exit"]
    lines.append("- in the kernel: " + "; ".join(f"{k} {mean([c.kernel.get(k, 0.0) for c in steady]):.3f}" for k in kernel_keys))
    imports = defaultdict(list)
    for c in steady:
        for k, v in c.kernel.items():
            if k.startswith("import:"):
                imports[k[7:]].append(v)
    top = sorted(imports.items(), key=lambda kv: -sum(kv[1]) / len(steady))[:8]
    lines.append("- imported in every kernel (not preloaded by the zygote): "
                 + ", ".join(f"{name} {sum(v) / len(steady):.3f}" for name, v in top))
    if floor_steps:
        lines.append(f"- the in-process floor spends {floor_steps.get('cells', 0):.3f} s/card running the cells "
                     f"(CPU {floor_steps.get('cells_cpu', 0):.3f} s), {floor_steps.get('notebook_to_html', 0):.3f} s exporting, "
                     f"{floor_steps.get('scraps.from_node', 0):.3f} s reading scraps")

    workers = result["workers"]
    lines += [
        "",
        "### The whole run, per worker (rows add up to the wall time × workers)",
        "",
        "| segment | s per run (mean per worker) | s/card/worker |",
        "|---|---:|---:|",
    ]
    rows = []
    for label, seconds in result["pre"].items():
        rows.append((label, seconds, seconds * nw / n))
    spawn = mean([w["spawn"] for w in workers])
    rows.append(("worker start-up: spawn, interpreter, re-import of run_all.py "
                 f"(of which evalkit.cli/pandas import {mean([w['spawn_imports'] for w in workers]):.2f} s)",
                 spawn, sum(w["spawn"] for w in workers) / n))
    rows.append(("worker warm-up: papermill, nbconvert, exporter, run's zygote joined (own one started with --kernels)",
                 mean([w["warm"] for w in workers]), sum(w["warm"] for w in workers) / n))
    total_cards = sum(c.job.seconds for c in cards)
    rows.append((f"cards (run_job), {n} of them; steady {mean([c.job.seconds for c in steady]):.3f} s, "
                 f"first {mean([c.job.seconds for c in firsts]):.3f} s", total_cards / nw, total_cards / n))
    rows.append(("hand-off between cards (result back, next card sent)", mean([w["gaps"] for w in workers]),
                 sum(w["gaps"] for w in workers) / n))
    rows.append(("tail: idle while the other workers finish their last card", mean([w["tail_wait"] for w in workers]),
                 sum(w["tail_wait"] for w in workers) / n))
    rows.append(("pool shut down (workers exit, zygotes and kernels stopped, strays checked)", mean([w["tail_shutdown"] for w in workers]),
                 sum(w["tail_shutdown"] for w in workers) / n))
    for label, seconds in result["post"].items():
        rows.append((label, seconds, seconds * nw / n))
    for label, seconds, per in rows:
        lines.append(f"| {label} | {seconds:.2f} | {per:.3f} |")
    lines.append(f"| **sum = run_all s/card/worker** | | **{sum(r[2] for r in rows):.3f}** |")
    parts = sorted(result.get("index_parts", {}).items(), key=lambda kv: -kv[1])
    if parts:
        lines += ["", "Index pages, by part (s per run): " + ", ".join(f"{k} {v:.2f}" for k, v in parts if v >= 0.01)]
    return lines


if __name__ == "__main__":
    folder, start, end = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    print("\n".join(tables(analyse(load(folder), start, end))))
