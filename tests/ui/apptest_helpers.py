"""What the AppTest page tests share: a data directory opened as the app opens it (the first admin,
passwords for the people a test signs in as, the app's environment), and a signed-in AppTest."""
from __future__ import annotations

import streamlit as st
from streamlit.testing.v1 import AppTest

from flows.service import open_service
from tests.orchestration.orch_helpers import ROOT

PASSWORD = "Anquan#2026"
APP = str(ROOT / "ui" / "app.py")


def open_desk(data, config, monkeypatch, people: tuple[str, ...]) -> None:
    """Accounts for `people` (and the first admin) on `data`, with the real clock as the app's sessions
    are of today; the app reads `data` and runs without Prefect."""
    svc = open_service(data, config=config)
    try:
        svc.accounts.create_first_admin("admin", "系统管理员", "局办公室", PASSWORD)
        for person in people:
            svc.accounts.reset_password("admin", person, PASSWORD, must_change=False)
    finally:
        svc.close()
    monkeypatch.setenv("WORKFLOW_DATA_DIR", str(data))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    st.cache_resource.clear()


def token(office: dict, user: str) -> str:
    svc = open_service(office["data"], config=office["config"])
    try:
        return svc.accounts.sign_in(user, PASSWORD)
    finally:
        svc.close()


def signed_in(office: dict, user: str, script: str = APP) -> AppTest:
    at = AppTest.from_file(script, default_timeout=60)
    at.session_state["session_token"] = token(office, user)
    return at.run()
