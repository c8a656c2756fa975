"""Run a job from a button and say on the page what became of it.

Its input is checked first (flows refuses a wrong one before Prefect sees it). Where the app runs
without Prefect the job runs here and its result comes back at once. With Prefect it is handed over:
`job_progress` then shows its state (排队中, 运行中…) and asks Prefect every 2 s. When the job ends, the
page runs once more so that what it made shows, with 已完成 on top or the failure and its reason.
"""
from __future__ import annotations

import streamlit as st

from flows.core.errors import FlowError
from flows.orchestration.job_flows import job_state, run_or_submit

_RUNNING = "jobs-running"  # key → {"run": flow run id, "label": what the office asked for}
_ENDED = "jobs-ended"      # (kind, text, key) lines to show once, after the job ended


def run_job(svc, key: str, params: dict, label: str = "任务"):
    """The job's result when it ran here; None when it was refused or failed (the reason is on the page)
    or handed to Prefect (its progress shows in `job_progress`, its outcome when it ends)."""
    try:
        with st.spinner(f"{label}……"):
            outcome, result = run_or_submit(svc, key, params)
    except FlowError as exc:
        st.error(f"{label}未执行：{exc}")
        return None
    except Exception as exc:  # noqa: BLE001 - Prefect down: say so, nothing was started
        st.error(f"{label}无法交给 Prefect 执行（{type(exc).__name__}: {exc}），请稍后重试或联系管理员。")
        return None
    if outcome == "submitted":
        st.session_state.setdefault(_RUNNING, {})[key] = {"run": result, "label": label}
        st.rerun()  # the page again, with the progress of the job at its top
    return result


def job_progress() -> set[str]:
    """At the top of a page that starts jobs: the jobs handed to Prefect and still running, and what
    became of those that ended. One fragment always (the page keeps its shape), polling only while a
    job runs. Returns the keys of the jobs that ended since the page last ran (what the page shows
    of them, e.g. a table being edited, is to be read again)."""
    ended = st.session_state.pop(_ENDED, [])
    for kind, text, _ in ended:
        getattr(st, kind)(text)
    running = bool(st.session_state.get(_RUNNING))
    st.fragment(_progress, run_every=2 if running else None)(running)
    return {key for _, _, key in ended}


def _progress(was_running: bool) -> None:
    ended = []
    for key, job in list(st.session_state.get(_RUNNING, {}).items()):
        try:
            state = job_state(job["run"])
        except Exception as exc:  # noqa: BLE001 - Prefect unreachable for a moment: say so, ask again
            st.caption(f"{job['label']}：暂时无法读取 Prefect 中的状态（{type(exc).__name__}），稍后再试……")
            continue
        if not state.finished:
            st.info(f"{job['label']}：{state.label}……（由 Prefect 执行，本页自动更新）", icon=":material/hourglass_top:")
            continue
        del st.session_state[_RUNNING][key]
        if state.failed:
            ended.append(("error", f"{job['label']}{state.label}：{state.message or '原因见 Prefect 中该运行的日志'}", key))
        else:
            ended.append(("success", f"{job['label']}：已完成。", key))
    if ended:
        st.session_state.setdefault(_ENDED, []).extend(ended)
    if was_running and not st.session_state.get(_RUNNING):
        st.rerun()  # every job ended: the whole page, with what they made
