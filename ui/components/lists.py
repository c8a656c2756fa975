"""A person's own lists of cases (已办, 我发起的), paged."""
from __future__ import annotations

from flows.service import desk
from ui.components.tables import case_table, pager, pager_buttons


def my_cases_page(svc, user: str, kind: str) -> None:
    rows = pager(f"my-{kind}", lambda page, size: desk.my_cases(svc, user, kind, page, size))
    table = [{"案件编号": c["id"], "标题": c["title"], "流程": svc.definition_of(c).title,
              "当前环节": desk.state_labels(svc.definition_of(c), c), "更新时间": c.get("updated_at", "")[:16].replace("T", " ")}
             for c in rows]
    case_table(f"my-{kind}-table", table, ["案件编号", "标题", "流程", "当前环节", "更新时间"])
    pager_buttons(f"my-{kind}")
