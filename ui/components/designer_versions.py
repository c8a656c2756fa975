"""发布 and its versions: publish the draft (refused while a problem or a failing scenario remains),
the versions with who published them and the cases open on each, a diff of any two, rollback."""
from __future__ import annotations

import streamlit as st

from flows.service import designer
from ui.components.flash import attempt


def publish(svc, user: str, d: designer.Draft, problems: list, open_by: dict) -> None:
    note = st.text_input("版本说明", key=f"publish-note-{d.name}", placeholder="如：增加督办环节")
    if problems:
        st.warning(f"草稿还有 {len(problems)} 处问题，修正后才能发布。")
    if st.button("发布新版本", type="primary", key=f"publish-{d.name}", disabled=bool(problems),
                 icon=":material/publish:"):
        attempt(lambda: designer.publish(svc, user, d.name, note=note),
                lambda wf: f"已发布第 {wf.version} 版：新案件按此版本办理，办理中的案件仍按原版本。")
    rows = designer.versions(svc, d.name, open_by)
    if not rows:
        st.caption("尚未发布。")
        return
    st.dataframe([{"版本": r["version"], "发布人": _name(svc, r["by"]), "发布时间": (r["at"] or "")[:16].replace("T", " "),
                   "说明": r["note"], "当前": "✔" if r["live"] else "", "办理中案件": r["open"]} for r in rows],
                 hide_index=True, width="stretch", key=f"versions-{d.name}")
    numbers = [r["version"] for r in rows]
    if len(numbers) >= 2:
        left, right = st.columns(2)
        old = left.selectbox("比较：旧版本", numbers, index=len(numbers) - 2, key=f"diff-old-{d.name}")
        new = right.selectbox("新版本", numbers, index=len(numbers) - 1, key=f"diff-new-{d.name}")
        lines = designer.diff(svc, d.name, old, new)
        st.markdown("\n".join(f"- {line}" for line in lines) if lines else "两个版本内容相同。")
        left, right = st.columns([2, 1])
        back = left.selectbox("回滚到", numbers[:-1], index=None, placeholder="选择版本", key=f"rollback-{d.name}")
        if right.button("回滚（作为新版本发布）", key=f"rollback-go-{d.name}", disabled=back is None):
            attempt(lambda: designer.rollback(svc, user, d.name, back),
                    lambda wf: f"已把第 {back} 版的内容发布为第 {wf.version} 版")


def _name(svc, uid: str) -> str:
    user = svc.org.user(uid)
    return user.name if user else uid
