"""A Markdown text file that kedro-viz previews as rendered HTML.

``text.TextDataset`` saves and loads the reproduction reports fine but has no ``preview``, so
kedro-viz shows nothing for them. This subclass adds one: the Markdown rendered to HTML with
the ``markdown`` package (tables included), which kedro-viz's metadata panel displays.
"""

import markdown
from kedro_datasets._typing import HTMLPreview
from kedro_datasets.text import TextDataset


class MarkdownDataset(TextDataset):
    """``text.TextDataset`` for ``.md`` files, with an HTML preview for kedro-viz.

    Example catalog entry::

        "reproduction.{paper}_page":
          type: cifar100_kedro.datasets.MarkdownDataset
          filepath: data/08_reporting/reproduction/{paper}.md
    """

    def preview(self) -> HTMLPreview:
        """The file rendered as HTML (tables and fenced code kept)."""
        return HTMLPreview(markdown.markdown(self.load(), extensions=["tables", "fenced_code"]))
