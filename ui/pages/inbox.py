"""待办: my open tasks, overdue first, then by deadline, with the working days left."""
from __future__ import annotations

import streamlit as st

from flows.service import desk
from ui.components.tables import case_table, pager, pager_buttons
from ui.session import service, user_or_stop

svc = service()
user = user_or_stop(svc)
st.subheader("待办")


def status(days: int | None) -> str:
    if days is None:
        return "无期限"
    if days < 0:
        return f"已超期 {-days} 个工作日"
    return "今日到期" if days == 0 else f"剩 {days} 个工作日"


def colour(frame):
    def row_style(row):
        days = row["剩余"]
        css = ""
        if days is not None and days == days:  # not NaN
            css = "background-color:#fee2e2;color:#991b1b" if days < 0 else (
                "background-color:#fef3c7;color:#92400e" if days <= 3 else "")
        return [css if col == "期限状态" else "" for col in row.index]
    return frame.style.apply(row_style, axis=1)


rows = pager("inbox", lambda page, size: desk.inbox_page(svc, user, page, size))
table = [{"案件编号": r["case_id"], "标题": r["title"], "流程": r["workflow_title"], "当前环节": r["state_label"],
          "办理期限": (r.get("due") or "")[:10], "期限状态": status(r["days_left"]), "剩余": r["days_left"]}
         for r in rows]
case_table("inbox-table", table, ["案件编号", "标题", "流程", "当前环节", "办理期限", "期限状态", "剩余"], styler=colour,
           hidden=("剩余",))
pager_buttons("inbox")

