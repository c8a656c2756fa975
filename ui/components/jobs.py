"""Run a job from a button and say on the page what became of it."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import FlowError
from flows.orchestration.job_flows import run_or_submit


def run_job(svc, key: str, params: dict):
    """The job's result when it ran here; None when Prefect took it (the result shows on a later refresh)
    or it failed (the reason is on the page)."""
    try:
        outcome, result = run_or_submit(svc, key, params)
    except FlowError as exc:
        st.error(str(exc))
        return None
    except Exception as exc:  # noqa: BLE001 - Prefect down: say so, nothing was started
        st.error(f"无法交给 Prefect 执行（{type(exc).__name__}: {exc}），请稍后重试或联系管理员。")
        return None
    if outcome == "submitted":
        st.success("已交给 Prefect 执行，稍后刷新本页查看结果。")
        return None
    st.success("已完成。")
    return result
