"""预案定期评估: a published plan is re-assessed at least every 3 years (DOMAIN.md); when its
`next_assessment` date comes, a 修订 case starts, once per plan and due date (a claim per due date)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flows.core.org import SYSTEM
from flows.jobs.claims import claim
from flows.service import Service

CLAIMS = "reassessments"


def plan_reassessment(svc: Service, now: datetime) -> list[dict]:
    today = now.date().isoformat()
    started = []
    open_revisions = {c["data"].get("plan_name"): c["id"] for c in svc.store.cases(workflow="plan_revision",
                                                                                     status="open")}
    for row in sorted(svc.register("plans"), key=lambda r: r.get("next_assessment") or ""):
        due = str(row.get("next_assessment") or "")[:10]
        if not due or not row.get("published") or due > today:
            continue
        key = f"{row['key']}@{due}"
        held = svc.store.get(CLAIMS, key)
        if held is not None and held.get("case_id"):
            continue
        if held is None:
            existing = open_revisions.get(row.get("name"))
            if not claim(svc, CLAIMS, key, {"plan": row["key"], "due": due, "case_id": existing,
                                            "claimed_at": now.isoformat(timespec="seconds")}):
                continue  # another run claimed it just now
            if existing:  # a revision of this plan is already under way: that one is the assessment
                continue
        elif held.get("claimed_at", "") > (now - timedelta(hours=1)).isoformat(timespec="seconds"):
            continue  # claimed moments ago by a run that may still be starting the case
        data = {"plan_name": row.get("name") or row["key"], "plan_kind": row.get("kind"),
                "owner_unit": row.get("owner_unit"), "plan_version": row.get("version"),
                "revision_reason": "定期评估",
                "reason_detail": f"该预案于{row.get('published')}印发，按规定至少每3年评估一次，{due}到期。"}
        if row.get("scenario"):
            data["scenario"] = row["scenario"]
        case = svc.start("plan_revision", SYSTEM.id, {k: v for k, v in data.items() if v is not None},
                         unit=row.get("owner_unit"), now=now)
        svc.store.put(CLAIMS, key, {**(svc.store.get(CLAIMS, key) or {}), "case_id": case["id"]})
        started.append({"plan": row["key"], "due": due, "case_id": case["id"]})
    return started
