"""The parts of a case's page: header, data by step, documents with their effect status, history."""
from __future__ import annotations

import streamlit as st

from flows.core.deadlines import nearest_due
from flows.orchestration.dispatch import is_orchestrated
from flows.service import desk
from ui.components.downloads import download
from ui.components.text import plain

EFFECT_STATUS = {"pending": "处理中", "running": "处理中", "done": "已完成", "failed": "失败"}


def header(svc, wf, case: dict) -> None:
    st.markdown(f"### {plain(case['id'])}　{plain(case['title'])}")
    today = svc.clock().date()
    due = nearest_due(case)
    days = desk.days_left(svc, due, today)
    if due:
        deadline = f"{due[:10]}（{f'已超期 {-days} 个工作日' if days < 0 else f'剩 {days} 个工作日'}）"
        colour = "red" if days < 0 else ("orange" if days <= 3 else "gray")
        deadline = f":{colour}[{deadline}]"
    else:
        deadline = "—"
    facts = [("流程", plain(wf.title)), ("当前环节", plain(desk.state_labels(wf, case))), ("办理期限", deadline),
             ("状态", "已结案" if case["status"] == "closed" else "办理中")]
    for column, (label, value) in zip(st.columns([2, 3, 3, 1]), facts, strict=True):
        column.caption(label)
        column.markdown(value)
    for warning in desk.deadline_warnings(svc, case):
        st.warning(warning)
    steps: dict[str, list[str]] = {}  # 待办人：计划：经办人、安委办 (one step once, however many hold it)
    for h in desk.holders(svc, case):
        steps.setdefault(h["label"], []).append(h["who"])
    if steps:
        st.caption("待办人：" + "；".join(plain(f"{step}：{'、'.join(dict.fromkeys(who))}") for step, who in steps.items()))
    for link in case.get("links", []):
        st.page_link("pages/case.py", label=f"关联案件 {link['case_id']}（{link.get('relation', '')}）",
                     query_params={"id": link["case_id"]}, icon=":material/link:")


def _table(rows: list[dict]) -> None:
    """st.table renders Markdown in its cells: what people typed is escaped to show as typed."""
    st.table([{plain(k): plain(v) for k, v in row.items()} for row in rows] or [{}])


def data_section(svc, user: str, case: dict) -> None:
    with st.expander("案件信息", expanded=True):
        groups = desk.data_by_step(svc, case)
        known = desk.fields_of(svc.definition_of(case))
        if not groups:
            st.caption("暂无")

        def label(f: dict) -> str:  # with its unit, as the form asked for it: 直接经济损失（万元）
            field = known.get(f["key"], (None, ""))[0]
            return f["label"] + (f"（{field.suffix}）" if field is not None and field.suffix else "")
        for group in groups:
            st.markdown(f"**{plain(group['step'])}**")
            simple = [f for f in group["fields"] if "rows" not in f]
            if simple:
                _table([{"项目": label(f), "内容": f["value"]} for f in simple])
            for f in group["fields"]:
                if "rows" in f:
                    st.markdown(plain(f["label"]))
                    _table(f["rows"])
                for i, item in enumerate(f.get("files", [])):
                    path, name = desk.attachment(svc, user, case["id"], item["ref"])
                    download(f"下载附件：{name}", path, name, key=f"att-{case['id']}-{f['key']}-{i}")


def _pending(case: dict) -> bool:
    return any(e["status"] not in ("done", "failed") and e["type"] != "notify" for e in case.get("effects", []))


def documents_section(svc, case_id: str, show_runs: bool = False) -> None:
    """The documents issued and the effects still being carried out. While one is pending the section
    is redrawn every 2 s (处理中 becomes 已完成 by itself), then once the whole page; else it is drawn once.
    `show_runs`: a link to the case's runs in Prefect's own (English, technical) pages, for admins.
    Always a fragment, polling or not: the page keeps one shape, so a click re-renders no more of it."""
    live = _pending(svc.case(case_id))
    st.fragment(_documents_fragment, run_every=2 if live else None)(svc, case_id, show_runs, live)


def _documents_fragment(svc, case_id: str, show_runs: bool, live: bool) -> None:
    if not _pending(_documents(svc, case_id, show_runs)) and live:
        st.rerun()  # all carried out: the whole page again (the case may have moved), no more polling


def _documents(svc, case_id: str, show_runs: bool) -> dict:
    case = svc.case(case_id)
    with st.expander("文书", expanded=True):
        docs = case.get("documents", [])
        for i, doc in enumerate(docs):
            name = f"{doc.get('title') or doc['template']}{('（' + doc['number'] + '）') if doc.get('number') else ''}.docx"
            download(f"下载 {name}", svc.document_file(doc["file"]), name, key=f"doc-{case_id}-{i}")
        if not docs:
            st.caption("暂无文书")
        for effect in case.get("effects", []):
            if effect["status"] == "done" or effect["type"] == "notify":
                continue
            what = effect.get("template") or effect.get("workflow") or effect.get("table") or effect["type"]
            if effect["type"] == "document":
                what = svc.config.documents.spec(effect["template"]).title.replace("{", "").replace("}", "")
            line = f"{what}：{EFFECT_STATUS.get(effect['status'], effect['status'])}"
            if effect.get("error"):
                line += f"（第 {effect.get('attempts', 0)} 次失败：{effect['error']}）"
            st.write(plain(line))
            if effect["status"] == "failed" and st.button("重试", key=f"retry-{case_id}-{effect['id']}"):
                svc.retry_effect(case_id, effect["id"])
                st.rerun()
        if show_runs and is_orchestrated(svc):
            import os

            ui = os.environ.get("PREFECT_UI_URL") or os.environ.get("PREFECT_API_URL", "").removesuffix("/api")
            if ui:
                st.link_button("在 Prefect 中查看本案的运行", f"{ui}/runs?tag=case:{case_id}")
    return case


def history_section(svc, case: dict) -> None:
    with st.expander("办理记录", expanded=False):
        rows = desk.history_rows(svc, case)  # a static table: long reasons wrap instead of being cut off
        _table([{"时间": r["at"], "办理人": r["who"], "操作": r["what"], "进入环节": r["to"],
                 "意见": r["comment"], "填写内容": r["changes"]} for r in rows])
