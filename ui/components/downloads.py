"""A download button for a file the platform issued (a case's document, a report's Word or Excel)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.components.text import plain, plain_label

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(label: str, path: Path, name: str, key: str) -> None:
    if not path.exists():
        st.caption(f"{plain(label)}（文件缺失）")
        return
    import mimetypes

    mime = XLSX if name.endswith(".xlsx") else DOCX if name.endswith(".docx") else \
        (mimetypes.guess_type(name)[0] or "application/octet-stream")
    # a label is Markdown: a title or a file name someone typed shows as typed
    st.download_button(plain_label(label), data=path.read_bytes(), file_name=name, mime=mime, key=key)
