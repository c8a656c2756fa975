"""What every page of one browser session shares: the process's service for the data directory."""
from __future__ import annotations

import os

import streamlit as st

from flows.orchestration.dispatch import is_orchestrated, service_for


@st.cache_resource
def service():
    return service_for(os.environ.get("WORKFLOW_DATA_DIR"))


def status_line(svc) -> str:
    mode = "由 Prefect 执行案件处理与定时任务" if is_orchestrated(svc) else "未连接 Prefect：案件处理在本进程内执行"
    return f"{mode}｜数据目录 {os.environ.get('WORKFLOW_DATA_DIR', './data')}"
