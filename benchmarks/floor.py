"""The in-process floor: every card of a project rendered in one Python process, no kernel, no papermill.

    python benchmarks/floor.py PROJECT [--mode inproc|fork] [--limit N] [--json OUT]

PROJECT is a folder with ``data/``, ``params/`` and ``notebooks/report_card.ipynb``
(as ``bench_run_all.py`` generates).  The cards and their parameters are
planned by evalkit itself (:func:`evalkit.batch.plan_batch`), so each card gets
exactly the parameters papermill injects in a batch run.  Imports are done
before any timing.  Then, per card:

1. the notebook's code cells run as they are written (the ``parameters``
   cell, then the batch's parameters, then each cell): ``load_card``, every
   ``sections.*`` call (the charts are drawn inside ``sections.indicators`` and
   ``sections.cost_history``) and ``scraps.record``.  A cell's last expression
   becomes an ``execute_result`` and ``display()`` calls become
   ``display_data``, formatted by IPython's ``DisplayFormatter`` as a kernel
   formats them, so the notebook node is the one a kernel run produces;
2. the scraps are read back and the node is exported with
   :func:`evalkit.export.notebook_to_html` (the same exporter, title and
   template as the batch), and the page is written to ``<PROJECT>/floor-out/``.

The executed notebook (``.ipynb``) that a batch also publishes is serialised
and timed separately (``ipynb``), outside the floor.

``--mode fork`` runs step 1 of each card in a child forked from this process
(which only imported, as the batch's zygote does) and exports in the parent:
a kernel's fresh-process costs (cold caches) without any Jupyter machinery.

Prints (or writes with ``--json``) one JSON object: the mode, the import
time and, per card, its seconds and their split.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import pickle
import resource
import sys
import time
import warnings
from pathlib import Path

started_imports = time.perf_counter()
import IPython.display  # noqa: E402
import nbformat  # noqa: E402
import scrapbook  # noqa: E402, F401
from IPython.core.formatters import DisplayFormatter  # noqa: E402

import evalkit  # noqa: E402
import evalkit.charts  # noqa: E402
import evalkit.gap  # noqa: E402
import evalkit.sections  # noqa: E402, F401
from evalkit import scraps  # noqa: E402
from evalkit.batch import BatchOptions, plan_batch  # noqa: E402
from evalkit.cache import Cache  # noqa: E402
from evalkit.export import html_exporter, notebook_to_html  # noqa: E402
from evalkit.iorw import write_atomic  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - started_imports
FORMATTER = DisplayFormatter()
_outputs: list = []


def _display(*objs, metadata=None, raw=False, **kwargs) -> None:
    """``IPython.display.display`` as a kernel's display publisher records it (scrapbook's glue uses raw bundles)."""
    for obj in objs:
        if raw:
            data, md = obj, metadata or {}
        else:
            data, md = FORMATTER.format(obj)
            md = {**md, **(metadata or {})}
        _outputs.append(nbformat.v4.new_output("display_data", data=data, metadata=md))


IPython.display.display = _display
warnings.filterwarnings("ignore", message="No kernel detected")  # scrapbook's glue outside a kernel: it still records


def declared(source: str) -> set[str]:
    """Names the parameters cell assigns (what papermill would accept)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def run_cell(source: str, namespace: dict, count: int) -> list:
    """Run one cell like IPython (``last_expr``): its outputs as nbformat outputs."""
    _outputs.clear()
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102 - the project's own notebook
    if last is not None:
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)  # noqa: S307
        if value is not None:
            data, md = FORMATTER.format(value)
            _outputs.append(nbformat.v4.new_output("execute_result", data=data, metadata=md, execution_count=count))
    return list(_outputs)


def execute_cells(template: nbformat.NotebookNode, parameters: dict) -> tuple[dict, dict]:
    """Every code cell of the template with the batch's parameters: (outputs by cell index, seconds by step)."""
    namespace: dict = {"__name__": "__main__"}
    outputs: dict[int, list] = {}
    seconds: dict[str, float] = {}
    count = 0
    for index, cell in enumerate(template.cells):
        if cell.cell_type != "code":
            continue
        count += 1
        t0 = time.perf_counter()
        if "parameters" in cell.metadata.get("tags", []):
            run_cell(cell.source, namespace, count)
            namespace.update({k: v for k, v in parameters.items() if k in declared(cell.source)})
            label = "parameters"
        else:
            outputs[index] = run_cell(cell.source, namespace, count)
            label = _label(cell.source)
        seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t0
    return outputs, seconds


def _label(source: str) -> str:
    text = source.strip().splitlines()[-1]
    if "load_card" in source:
        return "load_card"
    if text.startswith("sections."):
        return text.split("(")[0]
    if "scraps.record" in text:
        return "scraps.record"
    return text[:40]


def build_node(template: nbformat.NotebookNode, parameters: dict, outputs: dict) -> nbformat.NotebookNode:
    """The executed notebook: the template, papermill's injected-parameters cell, every cell's outputs."""
    node = copy.deepcopy(template)
    count = 0
    for index, cell in enumerate(node.cells):
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            cell.outputs = outputs.get(index, [])
    where = next(i for i, c in enumerate(node.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items()))
    injected.metadata["tags"] = ["injected-parameters"]
    node.cells.insert(where + 1, injected)
    return node


def export(node: nbformat.NotebookNode, job, out: Path) -> dict[str, float]:
    """What run_job does after the kernel: read the scraps, export, write the page (floor); serialise the .ipynb (not floor)."""
    t0 = time.perf_counter()
    recorded = scraps.from_node(node)
    t1 = time.perf_counter()
    html = notebook_to_html(node, title=f"{recorded['program']['name']} — {job.fiscal_year}年度 通知表")
    t2 = time.perf_counter()
    write_atomic(out / f"{job.fiscal_year}-{job.program_id}.html", html)
    t3 = time.perf_counter()
    nbformat.writes(node)
    t4 = time.perf_counter()
    return {"scraps.from_node": t1 - t0, "notebook_to_html": t2 - t1, "write html": t3 - t2, "ipynb": t4 - t3}


def in_child(template: nbformat.NotebookNode, parameters: dict) -> tuple[dict, dict]:
    """Run the cells in a forked child (cold caches, as a kernel forked from the zygote); outputs come back pickled."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            payload = pickle.dumps(execute_cells(template, parameters))
        except BaseException as exc:  # noqa: BLE001
            payload = pickle.dumps(exc)
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        result = pickle.loads(pipe.read())  # noqa: S301 - our own child
    os.waitpid(pid, 0)
    if isinstance(result, BaseException):
        raise result
    return result


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (the fork mode's card runs in a child)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--mode", choices=("inproc", "fork"), default="inproc")
    parser.add_argument("--limit", type=int, default=None, help="only the first N planned cards")
    parser.add_argument("--json", type=Path, default=None, help="write the result here instead of printing it")
    args = parser.parse_args()
    project = args.project.resolve()
    options = BatchOptions(data_dir=project / "data", params_dir=project / "params", out_dir=project / "floor-out",
                           notebooks_dir=project / "notebooks", state_dir=project / ".floor-state")
    jobs = plan_batch(options, Cache())
    jobs = jobs.selected[: args.limit] if args.limit else jobs.selected
    template = nbformat.read(str(project / "notebooks/report_card.ipynb"), as_version=4)
    html_exporter()  # built once, as a batch worker does in its warm-up
    out = project / "floor-out"
    out.mkdir(exist_ok=True)
    os.chdir(project / "notebooks")  # papermill runs the notebook in its folder: the relative data_dir
    cards = []
    for job in jobs:
        t0, c0 = time.perf_counter(), _cpu()
        outputs, steps = (in_child if args.mode == "fork" else execute_cells)(template, job.parameters)
        t1, c1 = time.perf_counter(), _cpu()
        node = build_node(template, job.parameters, outputs)
        after = export(node, job, out)
        t2 = time.perf_counter()
        floor = t2 - t0 - after["ipynb"]
        cards.append({"key": job.key, "seconds": floor, "cpu": _cpu() - c0, "cells": t1 - t0, "cells_cpu": c1 - c0,
                      "steps": {**steps, **after}})
    result = {"mode": args.mode, "import_seconds": IMPORT_SECONDS, "cards": cards}
    text = json.dumps(result, ensure_ascii=False)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    sys.exit(main())
