"""``.. md-table::``: a Markdown pipe table written as is inside a reStructuredText page.

The measured tables come out of the benchmark scripts as Markdown; this directive
lets the pages quote them verbatim instead of retyping them as grid tables. The
first row is the header; the ``|---|`` separator row is skipped; ```code``` and
``**bold**`` in cells become their reStructuredText forms.
"""

from __future__ import annotations

import re

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList

_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def _cell(text: str) -> str:
    text = text.strip()
    text = _CODE.sub(r"``\1``", text)
    return text or " "


def _rows(lines: list[str]) -> list[list[str]]:
    rows = []
    for line in lines:
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [part for part in line.strip("|").split("|")]
        if all(re.fullmatch(r"\s*:?-{3,}:?\s*", cell) for cell in cells):
            continue
        rows.append([_cell(cell) for cell in cells])
    return rows


class MarkdownTable(Directive):
    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = {"widths": directives.unchanged, "class": directives.class_option}

    def run(self):
        rows = _rows(list(self.content))
        if not rows:
            raise self.error("md-table: no table rows in the content")
        width = max(len(row) for row in rows)
        rst = [f".. list-table:: {self.arguments[0] if self.arguments else ''}".rstrip(), "   :header-rows: 1", ""]
        for row in rows:
            row = row + [" "] * (width - len(row))
            rst.append(f"   * - {row[0]}")
            rst.extend(f"     - {cell}" for cell in row[1:])
        container = nodes.container()
        self.state.nested_parse(StringList(rst, source=self.content.source(0)), self.content_offset, container)
        return container.children


def setup(app):
    app.add_directive("md-table", MarkdownTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
