"""我发起的: the cases I started, newest first."""
from __future__ import annotations

import streamlit as st

from ui.components.lists import my_cases_page
from ui.session import service, user_or_stop

svc = service()
st.subheader("我发起的")
my_cases_page(svc, user_or_stop(svc), "started")
