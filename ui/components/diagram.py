"""The workflow's diagram as Graphviz DOT: current states highlighted, states passed shaded, the path
taken drawn bold, each parallel branch of a split (一案三查) in a box of its own, side by side.

`show` lays it out on the server with Graphviz's own `dot` (Debian's graphviz, in the Makefile's
packages) and puts the SVG on the page as an image, cached by its DOT. Streamlit's st.graphviz_chart
lays the graph out again in the browser (WebAssembly) and animates it on every change: 0.7–1.3 s of
each click on this machine. Without `dot` the page falls back to st.graphviz_chart.
"""
from __future__ import annotations

import functools
import json
import shutil
import subprocess

import streamlit as st

from flows.core.spec import Workflow

CURRENT = "#fbbf24"
PASSED = "#e5e7eb"
TAKEN = "#b45309"


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a DOT string with quotes and backslashes escaped


def dot(wf: Workflow, case: dict | None = None, history: list[dict] | None = None) -> str:
    active = set(case["active"]) if case and case["status"] == "open" else set()
    passed = set(case["entered"]) if case else set()
    taken = set()
    for event in history or []:
        for source in event.get("from") or []:
            for target in event.get("to") or []:
                taken.add((source, target))
    lines = ["digraph G {", 'rankdir=TB; bgcolor="transparent"; nodesep=0.35; ranksep=0.35;',
             'node [shape=box style="rounded,filled" fillcolor=white fontname="Noto Sans CJK SC" fontsize=11];',
             'edge [fontname="Noto Sans CJK SC" fontsize=9 color="#9ca3af"];']
    in_branch = {}
    for split in wf.splits:
        for branch in split.branches:
            in_branch[branch.start] = in_branch[branch.end] = (split.name, branch)

    def node(state) -> str:
        fill = CURRENT if state.name in active else (PASSED if state.name in passed else "white")
        shape = "doublecircle" if state.final else "box"
        extra = " penwidth=2" if state.name in active else ""
        return f"{_q(state.name)} [label={_q(state.label)} fillcolor={_q(fill)} shape={shape}{extra}];"

    drawn = set()
    for split in wf.splits:
        lines.append(f"{_q('split:' + split.name)} [label={_q(split.label)} shape=diamond fillcolor=\"#f3f4f6\"];")
        for i, branch in enumerate(split.branches):
            members = [s for s in wf.states if s.name in (branch.start, branch.end)]
            lines.append(f"subgraph {_q('cluster_' + split.name + str(i))} {{ label={_q(branch.label)}; "
                         'style="rounded,dashed"; color="#9ca3af"; fontsize=10;')
            lines += ["  " + node(s) for s in members]
            lines.append("}")
            drawn.update(s.name for s in members)
            lines.append(f"{_q('split:' + split.name)} -> {_q(branch.start)};")
    for state in wf.states:
        if state.name not in drawn:
            lines.append(node(state))
    for join in wf.joins:
        split = next((s for s in wf.splits if s.name == join.split), None)
        for branch in split.branches if split else []:
            style = f" color={_q(TAKEN)} penwidth=2" if branch.end in passed and join.to in passed else ""
            lines.append(f"{_q(branch.end)} -> {_q(join.to)} [label=\"汇合\"{style}];")
    split_names = {s.name for s in wf.splits}
    for t in wf.transitions:
        target = t.target
        for source in t.sources:
            if target is None:
                continue
            to = f"split:{target}" if target in split_names else target
            was_taken = (source, target) in taken or any(
                (source, b.start) in taken for s in wf.splits if s.name == target for b in s.branches)
            style = f" color={_q(TAKEN)} penwidth=2" if was_taken else ""
            dashed = " style=dashed" if t.kind in ("return", "reject") else ""
            lines.append(f"{_q(source)} -> {_q(to)} [label={_q(t.label)}{style}{dashed}];")
    lines.append("}")
    return "\n".join(lines)


def show(wf: Workflow, case: dict | None = None, history: list[dict] | None = None) -> None:
    text = dot(wf, case, history)
    image = svg(text)
    if image is None:
        st.graphviz_chart(text, width="stretch")
    else:
        st.image(image, width="stretch", alt=f"{wf.title}流程图")


def svg(text: str) -> str | None:
    """The SVG `dot` draws for the DOT text, or None when Graphviz is not installed or fails."""
    if shutil.which("dot") is None:
        return None
    return _render(text)


@functools.lru_cache(maxsize=512)  # a case's diagram changes only when the case moves
def _render(text: str) -> str | None:
    try:
        done = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode()
