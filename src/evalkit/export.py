"""Executed notebook -> self-contained HTML with nbconvert (in-process).

The exporter is built once per process (template discovery is the slow part)
and uses evalkit's own template: no code, no prompts, no parameter cells, no
script or stylesheet fetched from anywhere.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from traitlets.config import Config

__all__ = ["TEMPLATE_DIR", "REMOVED_TAGS", "html_exporter", "notebook_to_html"]

TEMPLATE_DIR = Path(__file__).parent / "templates" / "nbconvert"
#: cells that never reach the reader: papermill's parameters and anything tagged for analysts only
REMOVED_TAGS = ("parameters", "injected-parameters", "remove-cell", "papermill-error-cell-tag")


@lru_cache(maxsize=2)
def html_exporter(show_code: bool = False) -> HTMLExporter:
    """The card exporter; ``show_code`` keeps the inputs (for the page that shows a failing cell)."""
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = set(REMOVED_TAGS)
    exporter = HTMLExporter(
        config=config,
        template_name="evalkit",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        language_code="ja",
    )
    return exporter


def notebook_to_html(notebook: nbformat.NotebookNode | str | Path, title: str | None = None, show_code: bool = False) -> str:
    """Render an executed notebook (node or path) as the evaluator's HTML page."""
    if not isinstance(notebook, nbformat.NotebookNode):
        notebook = nbformat.read(str(notebook), as_version=4)
    if title:
        notebook.metadata["title"] = title
    body, _ = html_exporter(show_code).from_notebook_node(notebook)
    return body
