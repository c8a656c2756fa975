"""One case as the first page shows it: state, documents with their downloads, effects, history."""
from __future__ import annotations

import streamlit as st

from ui.components.downloads import download
from ui.components.text import plain

EFFECT_STATUS = {"pending": "处理中", "running": "处理中", "done": "已完成", "failed": "失败"}


def state_labels(svc, case: dict) -> str:
    wf = svc.definition_of(case)
    labels = {s.name: s.label for s in wf.states}
    return "、".join(labels.get(a, a) for a in case["active"])


def effect_summary(case: dict) -> str:
    effects = case.get("effects", [])
    pending = sum(e["status"] in ("pending", "running") for e in effects)
    failed = sum(e["status"] == "failed" for e in effects)
    parts = ([f"{pending} 项处理中"] if pending else []) + ([f"{failed} 项失败"] if failed else [])
    return "，".join(parts) or "—"


def case_detail(svc, case: dict) -> None:
    st.markdown(f"**{plain(case['id'])}　{plain(case['title'])}**　当前环节：{plain(state_labels(svc, case))}"
                f"　（{'已结案' if case['status'] == 'closed' else '办理中'}）")
    st.page_link("pages/case.py", label="打开案件页", query_params={"id": case["id"]}, icon=":material/open_in_new:")
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
        st.write(plain(line))
        if effect["status"] == "failed" and st.button("重试", key=f"retry-{case['id']}-{effect['id']}"):
            svc.retry_effect(case["id"], effect["id"])
            st.rerun()
    with st.expander("办理记录"):
        for event in svc.history(case["id"]):
            who = (event.get("actor") or {}).get("name", "")
            st.write(plain(f"{event.get('at', '')[:16].replace('T', ' ')}　{who}　{event.get('label') or event['type']}"
                     f"{('：' + event['comment']) if event.get('comment') else ''}"))
