"""A message that outlives the rerun a button asks for: set before `st.rerun()`, shown at the top of
the page's next run (a Streamlit message drawn just before a rerun would vanish with it)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from flows.core.errors import FlowError

KEY = "designer-flash"


def flash(kind: str, text: str) -> None:
    st.session_state[KEY] = (kind, text)


def show_flash() -> None:
    if found := st.session_state.pop(KEY, None):
        (st.success if found[0] == "success" else st.error)(found[1])


def attempt(change: Callable[[], Any], done: str | Callable[[Any], str] | None) -> None:
    """Carry out what a button asked for, then run the page again: the service's refusal, or `done`
    (a text, or made from what `change` returned; None: say nothing), is shown at its top."""
    try:
        result = change()
    except FlowError as exc:
        flash("error", str(exc))
    else:
        if done is not None:
            flash("success", done(result) if callable(done) else done)
    st.rerun()
