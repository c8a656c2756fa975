"""A register as the page shows it: the rows found, a click on a row offers its case(s), and 导出 Excel of
exactly these rows (the same values, dates as dates)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from flows.documents.spreadsheet import xlsx
from flows.service import registers
from ui.components.downloads import XLSX
from ui.components.text import plain_label


def register_table(key: str, title: str, found: registers.Register, columns: Sequence[tuple[str, str]],
                   styler: Callable | None = None) -> None:
    rows = found.rows
    st.caption(f"共 {len(rows)} 条（台账共 {found.total} 条，按 {found.today} 计算）")
    if not rows:
        st.caption("没有符合条件的记录")
        return
    import pandas as pd

    labels = [label for _, label in columns]
    frame = pd.DataFrame(registers.table(rows, columns), columns=labels)
    for k, label in columns:  # dates as the office writes them, "—" where unknown (the grid would say None)
        if any(hasattr(r.get(k), "isoformat") for r in rows):
            frame[label] = [d.isoformat() if hasattr(d, "isoformat") else "—" for d in frame[label]]
    picked = st.dataframe(styler(frame) if styler else frame, hide_index=True, on_select="rerun",
                          selection_mode=["single-row", "single-cell"], key=f"{key}-table", width="stretch")
    selection = picked.selection if picked else None
    chosen = [*(selection.rows if selection else []), *(cell[0] for cell in (selection.cells if selection else []))]
    if chosen and chosen[0] < len(rows):
        row = rows[chosen[0]]
        if not row.get("case_ids"):
            st.caption("该记录没有对应的案件（手工登记）")
        for case_id in row.get("case_ids", ()):
            st.page_link("pages/case.py", label=plain_label(f"打开案件 {case_id}"), query_params={"id": case_id},
                         icon=":material/description:")
    else:
        st.caption("点击一行显示其案件")
    book = xlsx([registers.sheet(title, rows, columns, caption=f"{title}（{found.today} 导出，共 {len(rows)} 条）")])
    st.download_button("导出 Excel", data=book, file_name=f"{title}-{found.today}.xlsx", mime=XLSX,
                       key=f"{key}-export", icon=":material/download:")
