"""The case page's diagram: DOT drawn to SVG by Graphviz on the server, its labels kept as text."""
from __future__ import annotations

import shutil

import pytest

from flows.service.config import load_config
from tests.orchestration.orch_helpers import ROOT
from ui.components import diagram

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (Debian graphviz) is installed by make setup")


def test_the_accident_diagram_is_drawn_with_its_three_investigations_side_by_side():
    wf = load_config(ROOT / "configs").workflows["accident"]
    case = {"status": "open", "active": [b.start for s in wf.splits for b in s.branches], "entered": [wf.states[0].name]}
    image = diagram.svg(diagram.dot(wf, case, []))
    assert image.lstrip().startswith("<?xml") and "<svg" in image
    for split in wf.splits:
        for branch in split.branches:
            assert branch.label in image                      # each investigation's box, labelled in Chinese
    assert image.count(diagram.CURRENT) >= 3                  # the three current states highlighted
    assert diagram.svg(diagram.dot(wf, case, [])) is image    # drawn once, then cached by its DOT


def test_a_label_with_markup_stays_text_in_the_svg():
    wf = load_config(ROOT / "configs").workflows["drill"]
    first = wf.states[0]
    hostile = wf.model_copy(update={"states": [first.model_copy(update={"label": "<script>alert(1)</script>"}),
                                               *wf.states[1:]]})
    image = diagram.svg(diagram.dot(hostile))
    assert "<script>" not in image and "&lt;script&gt;" in image
