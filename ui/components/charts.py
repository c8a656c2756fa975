"""Charts of the 统计 page: an Altair chart (Streamlit bundles Vega: nothing from a CDN), the table of
its figures, the figures as Excel, and a link to the cases behind the figure one picks.

    figure_block(key, name, chart, table, sheet, links)

`name` is the Excel file's name, `table` what the page shows under the chart (Chinese headers → values), `sheet` the same as a
`flows.documents.spreadsheet.Sheet` (made only when 下载 Excel is pressed), `links` (label, CaseQuery)
pairs: a "查看案件" choice and its link to 全部案件 with the query's parameters.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import altair as alt
import streamlit as st

from flows.documents.spreadsheet import Sheet, xlsx
from flows.service.case_query import CaseQuery
from ui.components.downloads import XLSX
from ui.components.text import plain_label

HEIGHT_PER_BAR = 22


def bars(rows: Sequence[dict], category: str, value: str, *, color: str | None = None, offset: str | None = None,
         category_title: str = "", value_title: str = "", horizontal: bool = True, sort: Sequence[str] | None = None,
         tooltip: Sequence[str] = (), height: int | None = None, legend: str | None = None) -> alt.Chart:
    """A bar chart of `rows` (dicts): one bar per `category` (stacked by `color`, side by side by
    `offset`), horizontal unless told. Categories keep the given order (`sort`, else the rows')."""
    order = list(sort) if sort is not None else list(dict.fromkeys(r[category] for r in rows))
    cat = alt.X if not horizontal else alt.Y
    val = alt.Y if not horizontal else alt.X
    enc: dict[str, Any] = {
        "x" if not horizontal else "y": cat(f"{category}:N", title=category_title or None, sort=order,
                                            axis=alt.Axis(labelLimit=260) if horizontal else alt.Axis(labelAngle=-30)),
        "x" if horizontal else "y": val(f"{value}:Q", title=value_title or None),
        "tooltip": [_typed(rows, t) for t in (tooltip or (category, value))],
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=legend, legend=alt.Legend(orient="bottom"))
    if offset:
        enc["yOffset" if horizontal else "xOffset"] = alt.XOffset(f"{offset}:N") if not horizontal \
            else alt.YOffset(f"{offset}:N")
    if height is None:  # horizontal: a step per bar (a fixed height squeezed the bars to a line in Streamlit)
        size = alt.Step(HEIGHT_PER_BAR * (2 if offset else 1)) if horizontal else 260
    else:
        size = height
    return alt.Chart(alt.Data(values=list(rows))).mark_bar().encode(**enc).properties(height=size)


def _typed(rows: Sequence[dict], name: str) -> str:
    """A field with its Vega-Lite type (Q for numbers, N else): Altair cannot infer it from plain values."""
    numeric = all(isinstance(r.get(name), (int, float)) and not isinstance(r.get(name), bool) for r in rows)
    return f"{name}:{'Q' if numeric and rows else 'N'}"


def figure_block(key: str, name: str, chart: alt.Chart | None, table: Sequence[dict], sheet: Callable[[], Sheet],
                 links: Sequence[tuple[str, CaseQuery]] = (), note: str | None = None) -> None:
    """The chart, the table of its figures, 下载 Excel, and 查看案件 → 全部案件 for the row one picks."""
    if not table:
        st.caption("暂无数据")
        return
    if chart is not None:
        st.altair_chart(chart, width="stretch", key=f"{key}-chart")
    if note:
        st.caption(note)
    # drawn only while open (the expander reruns the page when opened): four grids mounted under
    # closed expanders cost the dashboard 0.4 s in the browser
    tables = st.expander("数据表", expanded=False, key=f"{key}-table-open", on_change="rerun")
    if tables.open:
        tables.dataframe(list(table), hide_index=True, width="stretch", key=f"{key}-table")
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    with left:
        st.download_button("下载 Excel", data=lambda: xlsx([sheet()]), file_name=f"{name}.xlsx",
                           mime=XLSX, key=f"{key}-xlsx", icon=":material/download:", on_click="ignore")
    if links:
        with right:
            labels = [label for label, _ in links]
            pick = st.selectbox("查看案件", range(len(links)), format_func=lambda i: labels[i], key=f"{key}-pick")
            label, query = links[pick if pick is not None else 0]
            st.page_link("pages/cases.py", label=plain_label(f"打开全部案件：{label}"), icon=":material/open_in_new:",
                         query_params=query.to_params())

