"""Paged tables: a page of rows at a time (nothing loads the whole archive), a row click opens its case."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st


def pager(key: str, fetch: Callable[[int, int], tuple[list[dict], bool]], size: int = 20) -> list[dict]:
    """The current page's rows of `fetch(page, size) -> (rows, more)`, with 上一页 / 下一页 under the table."""
    page = st.session_state.get(f"{key}-page", 0)
    rows, more = fetch(page, size)
    if page and not rows:  # the list shrank under us (cases closed meanwhile): back to the first page
        st.session_state[f"{key}-page"] = page = 0
        rows, more = fetch(0, size)
    st.session_state[f"{key}-more"] = more
    return rows


def pager_buttons(key: str) -> None:
    page = st.session_state.get(f"{key}-page", 0)
    left, middle, right = st.columns([1, 2, 1])
    if left.button("上一页", key=f"{key}-prev", disabled=page == 0):
        st.session_state[f"{key}-page"] = page - 1
        st.rerun()
    middle.caption(f"第 {page + 1} 页")
    if right.button("下一页", key=f"{key}-next", disabled=not st.session_state.get(f"{key}-more")):
        st.session_state[f"{key}-page"] = page + 1
        st.rerun()


def case_table(key: str, rows: list[dict], columns: list[str], id_column: str = "案件编号", styler=None,
               hidden: tuple[str, ...] = ()) -> None:
    """A table of cases; selecting a row opens that case's page."""
    if not rows:
        st.caption("暂无")
        return
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    shown = styler(frame) if styler else frame
    # a click on any cell opens its row's case (row selection alone needs the small box at the row's start)
    picked = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode=["single-row", "single-cell"],
                          key=key, width="stretch", column_order=[c for c in columns if c not in hidden])
    selection = picked.selection if picked else None
    selected = [*(selection.rows if selection else []), *(cell[0] for cell in (selection.cells if selection else []))]
    if selected:
        st.switch_page("pages/case.py", query_params={"id": frame.iloc[selected[0]][id_column]})
    st.caption("点击一行打开案件")
