"""Every relative link in the docs reaches a file, and its `#anchor` a heading of that file.

Headings get renamed as results change (a "60 minutes" section did, and two links to its
old anchor were left pointing nowhere); GitHub shows such a link as a dead one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_documented_params import DOCUMENTS as DOCUMENTS_AND_CONF
from tests.test_documented_params import ROOT

DOCUMENTS = [document for document in DOCUMENTS_AND_CONF if document.suffix == ".md"]
FENCED_CODE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces → '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _prose(document: Path) -> str:
    return INLINE_CODE.sub("", FENCED_CODE.sub("", document.read_text()))


def _anchors(document: Path) -> set[str]:
    return {github_anchor(h) for h in HEADING.findall(FENCED_CODE.sub("", document.read_text()))}


def _relative_links() -> list[tuple[str, str]]:
    return [
        (str(document.relative_to(ROOT)), link)
        for document in DOCUMENTS
        for link in LINK.findall(_prose(document))
        if not re.match(r"[a-z]+:", link)  # http(s):, mailto: are not checked offline
    ]


def test_github_anchor_follows_githubs_rule():
    assert (
        github_anchor("Accuracy per wall budget (`benchmarks/budget_curves.py`)")
        == "accuracy-per-wall-budget-benchmarksbudget_curvespy"
    )
    assert github_anchor("60 minutes (two runs, 09:26 UTC)") == "60-minutes-two-runs-0926-utc"


@pytest.mark.parametrize(("document", "link"), _relative_links())
def test_a_relative_link_reaches_its_file_and_heading(document, link):
    path, _, anchor = link.partition("#")
    source = ROOT / document
    target = (source.parent / path).resolve() if path else source
    assert target.exists(), f"{document}: the link {link!r} names a missing file"
    if anchor and target.suffix == ".md":
        assert anchor in _anchors(target), f"{document}: no heading in {target.name} for #{anchor}"
