"""The outbox's redelivery: pending effects older than a while that no flow run is carrying are
submitted again (their process died before submitting, or Prefect was down), and so are running ones
whose claim went stale (their process died while running them; the new run takes the claim over).
Better late than twice: when Prefect cannot be asked, nothing is resubmitted, and a resubmitted effect
is claimed before it runs, so it still runs once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flows.orchestration import dispatch
from flows.orchestration.runtime import run_logger
from flows.service import EffectRunner, Service

RESUBMIT_AFTER_S = 120          # a pending effect older than this with no run carrying it is submitted again
STUCK_RUN_S = 600               # a Running effects run older than this no longer counts as carrying it


def _carried_cases(case_ids: list[str], now_utc: datetime) -> set[str] | None:
    """Which of these cases have an effects run scheduled, pending or (recently) running; None when
    Prefect cannot be asked (then nothing is resubmitted: better late than twice)."""
    try:
        from prefect import get_client
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterName,
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
            FlowRunFilterTags,
        )
        from prefect.client.schemas.objects import StateType

        runs = []
        with get_client(sync_client=True) as client:
            for i in range(0, len(case_ids), 100):
                tags = [f"case:{cid}" for cid in case_ids[i:i + 100]]
                runs += client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        tags=FlowRunFilterTags(any_=tags),
                        state=FlowRunFilterState(type=FlowRunFilterStateType(
                            any_=[StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]))),
                    deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[dispatch.EFFECTS_DEPLOYMENT])))
    except Exception as exc:  # noqa: BLE001
        run_logger().warning("无法查询 Prefect 中的处理运行（%s），本次不补交", exc)
        return None
    carried = set()
    for run in runs:
        if run.state_type == StateType.RUNNING and run.start_time and \
                (now_utc - run.start_time).total_seconds() > STUCK_RUN_S:
            continue  # its process died (no heartbeat in the fast executor): do not wait for it forever
        carried |= {t[5:] for t in run.tags if t.startswith("case:")}
    return carried


def resubmit_stale(svc: Service, moment: datetime, after_s: float = RESUBMIT_AFTER_S) -> list[str]:
    """Submit again pending effects older than `after_s` that no run is carrying (the outbox's redelivery)."""
    if not dispatch.is_orchestrated(svc):
        return []
    cutoff = (moment - timedelta(seconds=after_s)).isoformat(timespec="seconds")
    runner = EffectRunner(svc)
    stale = {}
    for case in svc.store.open_cases():
        ids = [e["id"] for e in case.get("effects", [])
               if (e["status"] == "pending" and e.get("created_at", "") <= cutoff)
               or (e["status"] == "running" and runner.claimable(e, moment))]
        if ids:
            stale[case["id"]] = (case, ids)
    if not stale:
        return []
    carried = _carried_cases(sorted(stale), datetime.now(UTC))
    if carried is None:
        return []
    out = []
    for case_id, (case, ids) in sorted(stale.items()):
        if case_id in carried:
            continue
        svc.effects.submit(case, ids, {"type": "resubmit", "label": "补交处理", "actor": {"id": "system", "name": "系统"}})
        out.append(case_id)
    return out
