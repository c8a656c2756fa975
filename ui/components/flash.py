"""A message that outlives the rerun a button asks for: set before `st.rerun()`, shown at the top of
the page's next run (a Streamlit message drawn just before a rerun would vanish with it)."""
from __future__ import annotations

import streamlit as st

KEY = "designer-flash"


def flash(kind: str, text: str) -> None:
    st.session_state[KEY] = (kind, text)


def show_flash() -> None:
    if found := st.session_state.pop(KEY, None):
        (st.success if found[0] == "success" else st.error)(found[1])
