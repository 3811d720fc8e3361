"""Benchmark-only: what the ``preload`` experiment adds to the zygote's preload list (see sitecustomize.py).

Imported once by each zygote, before it forks kernels: the modules a forked kernel
otherwise imports for every card, and the caches it otherwise fills for every
card (the card's Jinja templates compiled, one small chart drawn with the
card's font and style).  Nothing here runs a cell: a kernel forked afterwards
is as fresh as before, minus that work.
"""

import contextlib
import importlib
import io

for name in ("ipykernel.debugger", "psutil", "pdb", "sqlite3", "IPython.core.oinspect", "IPython.core.completerlib",
             "IPython.extensions.storemagic", "matplotlib.backends.backend_agg", "pyarrow.parquet", "evalkit.scraps",
             "evalkit.opendata", "PIL.PngImagePlugin"):
    with contextlib.suppress(Exception):
        importlib.import_module(name)

with contextlib.suppress(Exception):  # the section templates, compiled into the cached environment
    from importlib.resources import files

    from evalkit import sections

    environment = sections._environment()
    for entry in files("evalkit").joinpath("templates/card").iterdir():
        if entry.name.endswith(".j2"):
            environment.get_template(entry.name)

with contextlib.suppress(Exception):  # fonts, text layout and the PNG writer, as the card's charts use them
    from matplotlib.figure import Figure

    from evalkit import charts

    with charts._style():
        figure = Figure(figsize=(4, 2), layout="constrained")
        axes = figure.subplots()
        axes.plot([2020, 2021, 2022], [1.0, 2.0, 1.5], marker="o", label="実績")
        axes.set_title("指標（単位）")
        axes.legend()
        figure.savefig(io.BytesIO(), format="png")
