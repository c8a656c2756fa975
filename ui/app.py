"""First page of the office's app: the workflows, their cases with states and documents, the reports.

Run by `python -m flows up` (or `streamlit run ui/app.py` with WORKFLOW_DATA_DIR set). Everything goes
through `flows` (the service and the report list); the UI never touches storage. A click commits and
returns: when PREFECT_API_URL is set the effects (documents...) are carried out by Prefect and
appear on the next refresh.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flows.orchestration.dispatch import is_orchestrated, service_for  # noqa: E402
from flows.service import reports  # noqa: E402

EFFECT_STATUS = {"pending": "处理中", "done": "已完成", "failed": "失败"}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

st.set_page_config(page_title="安全生产流程平台", page_icon="📋", layout="wide")


@st.cache_resource
def service():
    return service_for(os.environ.get("WORKFLOW_DATA_DIR"))


def state_labels(svc, case: dict) -> str:
    wf = svc.definition_of(case)
    labels = {s.name: s.label for s in wf.states}
    return "、".join(labels.get(a, a) for a in case["active"])


def effect_summary(case: dict) -> str:
    effects = case.get("effects", [])
    pending = sum(e["status"] == "pending" for e in effects)
    failed = sum(e["status"] == "failed" for e in effects)
    parts = ([f"{pending} 项处理中"] if pending else []) + ([f"{failed} 项失败"] if failed else [])
    return "，".join(parts) or "—"


def download(label: str, path: Path, name: str, key: str) -> None:
    if not path.exists():
        st.caption(f"{label}（文件缺失）")
        return
    mime = XLSX if name.endswith(".xlsx") else DOCX
    st.download_button(label, data=path.read_bytes(), file_name=name, mime=mime, key=key)


def case_detail(svc, case: dict) -> None:
    st.markdown(f"**{case['id']}　{case['title']}**　当前环节：{state_labels(svc, case)}"
                f"　（{'已结案' if case['status'] == 'closed' else '办理中'}）")
    docs = case.get("documents", [])
    if docs:
        st.markdown("文书：")
        for i, doc in enumerate(docs):
            name = f"{doc.get('title') or doc['template']}{('（' + doc['number'] + '）') if doc.get('number') else ''}.docx"
            download(f"下载 {name}", svc.document_file(doc["file"]), name, key=f"doc-{case['id']}-{i}")
    else:
        st.caption("暂无文书")
    for effect in case.get("effects", []):
        if effect["status"] == "done":
            continue
        what = effect.get("template") or effect.get("workflow") or effect.get("table") or effect["type"]
        line = f"处理「{what}」：{EFFECT_STATUS.get(effect['status'], effect['status'])}"
        if effect.get("error"):
            line += f"（第 {effect.get('attempts', 0)} 次失败：{effect['error']}）"
        st.write(line)
        if effect["status"] == "failed" and st.button("重试", key=f"retry-{case['id']}-{effect['id']}"):
            svc.retry_effect(case["id"], effect["id"])
            st.rerun()
    with st.expander("办理记录"):
        for event in svc.history(case["id"]):
            who = (event.get("actor") or {}).get("name", "")
            st.write(f"{event.get('at', '')[:16].replace('T', ' ')}　{who}　{event.get('label') or event['type']}"
                     f"{('：' + event['comment']) if event.get('comment') else ''}")


def cases_tab(svc) -> None:
    show_closed = st.checkbox("同时显示已结案件", value=False)
    for name, wf in sorted(svc.config.workflows.items()):
        cases = svc.cases(workflow=name, status=None if show_closed else "open")
        cases.sort(key=lambda c: c.get("updated_at", ""), reverse=True)
        st.subheader(f"{wf.title}（{len(cases)} 件{'' if show_closed else '办理中'}）")
        if wf.description:
            st.caption(wf.description)
        if not cases:
            st.caption("暂无案件")
            continue
        st.dataframe([{"编号": c["id"], "标题": c["title"], "当前环节": state_labels(svc, c),
                       "状态": "已结案" if c["status"] == "closed" else "办理中",
                       "更新时间": c.get("updated_at", "")[:16].replace("T", " "),
                       "文书": len(c.get("documents", [])), "处理": effect_summary(c)} for c in cases],
                     hide_index=True)
        chosen = st.selectbox("查看案件", [""] + [c["id"] for c in cases], key=f"pick-{name}",
                              format_func=lambda cid: "请选择…" if not cid else cid)
        if chosen:
            case_detail(svc, svc.case(chosen))


def run_job(svc, key: str, params: dict):
    """Run a job: through Prefect when it is there (the result shows on a later refresh), else here."""
    from flows.core.errors import FlowError

    if is_orchestrated(svc):
        from flows.orchestration.job_flows import submit_job

        try:
            submit_job(key, params)
        except Exception as exc:  # noqa: BLE001 - Prefect down: say so, nothing was started
            st.error(f"无法交给 Prefect 执行（{type(exc).__name__}: {exc}），请稍后重试或联系管理员。")
            return None
        st.success("已交给 Prefect 执行，稍后刷新本页查看结果。")
        return None
    from flows.orchestration import job_flows, runtime

    runtime.use_service(svc)
    try:
        result = job_flows.jobs()[key][0].fn(**params)
    except FlowError as exc:
        st.error(str(exc))
        return None
    st.success("已完成。")
    return result


def drill_plan_section(svc, year: int) -> None:
    """Publishing the year's plan starts its drills as cases; leaders see, per plan and period, due and done."""
    from flows.jobs import drill_plan, drill_publish

    record = reports.get_report(svc, drill_plan.plan_key(year))
    if record is None:
        st.caption(f"{year} 年度应急演练计划尚未生成")
        return
    if st.button("发布计划并发起演练案件" if not record.get("published_at") else "补发未发起的演练案件",
                 key="drill-publish"):
        result = run_job(svc, "drill-publish", {"year": year})
        if result:
            st.write(f"新发起 {len(result['started'])} 个演练案件")
            for row in result["failed"]:
                st.warning(f"第 {row['seq']} 项「{row['drill_name']}」未能发起：{row['error']}")
        record = reports.get_report(svc, drill_plan.plan_key(year))
    if record.get("published_at"):
        st.caption(f"{year} 年度计划已于 {record['published_at'][:10]} 发布，已发起 {record.get('published_cases', 0)} 个演练案件")
    rows = drill_publish.coverage(svc, year)
    if rows and record.get("published_at"):
        st.dataframe([{"预案": r["plan_name"], "周期": r["period"], "应演练": r["due"], "已实施": r["done"],
                       "案件": "、".join(r["cases"])} for r in rows], hide_index=True)


def reports_tab(svc) -> None:
    col1, col2 = st.columns(2)
    with col1:
        year = st.number_input("年度", min_value=2020, max_value=2100, value=svc.clock().year, step=1)
        if st.button("生成年度应急演练计划"):
            made = run_job(svc, "drill-plan", {"year": int(year)})
            if made and made.get("published_at"):
                st.info("该年度计划已发布（演练已立案），不再重新生成。")
        drill_plan_section(svc, int(year))
    with col2:
        period = st.text_input("统计期（如 2025-03、2025-Q1、2025）", value=f"{svc.clock().year - 1}")
        if st.button("生成事故统计报告"):
            run_job(svc, "statistics", {"period": period.strip()})
    rows = reports.list_reports(svc)
    if not rows:
        st.caption("暂无报表")
    for report in rows:
        st.markdown(f"**{report.get('title', report['key'])}**　{report.get('number') or ''}"
                    f"　生成于 {report.get('generated_at', '')[:16].replace('T', ' ')}")
        for i, f in enumerate(report.get("files", [])):
            download(f"下载 {f['name']}", svc.document_file(f["file"]), f["name"], key=f"rep-{report['key']}-{i}")


def messages_tab(svc) -> None:
    """Each person's 待办提醒 and 催办 (until sign-in exists, whose list is chosen here)."""
    users = {u.id: f"{u.name}（{u.unit}）" for u in svc.config.org.users}
    user = st.selectbox("人员", list(users), format_func=users.get, key="msg-user")
    rows = svc.messages(user, limit=100)
    unread = [m for m in rows if not m["read"]]
    st.caption(f"共 {len(rows)} 条，未读 {len(unread)} 条")
    if unread and st.button("全部标为已读", key="msg-read"):
        svc.mark_read(user, [m["_key"] for m in unread])
        st.rerun()
    kinds = {"task": "待办提醒", "escalation": "催办"}
    for m in rows:
        mark = "" if m["read"] else ":red[未读]　"
        st.write(f"{mark}{m['at'][:16].replace('T', ' ')}　【{kinds.get(m['kind'], m['kind'])}】{m['text']}"
                 f"　（案件 {m['case_id']}）")


def main() -> None:
    svc = service()
    st.title("县交通运输局安全生产流程平台")
    mode = "由 Prefect 执行案件处理与定时任务" if is_orchestrated(svc) else "未连接 Prefect：案件处理在本进程内执行"
    st.caption(f"{mode}｜数据目录 {os.environ.get('WORKFLOW_DATA_DIR', './data')}")
    st.button("刷新")
    tab_cases, tab_messages, tab_reports = st.tabs(["流程与案件", "消息", "计划与统计报表"])
    with tab_cases:
        cases_tab(svc)
    with tab_messages:
        messages_tab(svc)
    with tab_reports:
        reports_tab(svc)


main()
