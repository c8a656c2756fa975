"""The office's app: the entry that builds the navigation; each page is a file of ui/pages/.

Run by `python -m flows up` (or `streamlit run ui/app.py` with WORKFLOW_DATA_DIR set). Pages call
`flows` only (never `storage`), and reusable pieces live in ui/components/. A click commits and
returns: when PREFECT_API_URL is set the effects (documents...) are carried out by Prefect and
appear on the next refresh.
"""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ui.session import service, status_line  # noqa: E402

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="安全生产流程平台", page_icon="📋", layout="wide")

page = st.navigation([
    st.Page(PAGES / "cases.py", title="流程与案件", icon=":material/folder_open:", default=True),
    st.Page(PAGES / "messages.py", title="消息", icon=":material/mail:"),
    st.Page(PAGES / "reports.py", title="计划与统计报表", icon=":material/bar_chart:"),
])
st.title("县交通运输局安全生产流程平台")
st.caption(status_line(service()))
page.run()
