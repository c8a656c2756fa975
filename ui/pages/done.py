"""已办: the cases I acted on, newest first."""
from __future__ import annotations

import streamlit as st

from ui.components.lists import my_cases_page
from ui.session import service, user_or_stop

svc = service()
st.subheader("已办")
my_cases_page(svc, user_or_stop(svc), "done")
