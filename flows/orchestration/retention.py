"""Prefect's own run records are not the platform's history (each case's history is): finished flow
runs older than N days are deleted with their task runs and logs, so the server's database stays small."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from prefect import flow

from flows.orchestration.runtime import run_logger

RETENTION_DAYS = float(os.environ.get("WORKFLOW_PREFECT_RETENTION_DAYS", "30"))

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")


@flow(name="prefect-retention", description="清理 Prefect 自身的运行记录（案件历史才是长期记录）")
def trim_prefect_runs(older_than_days: float = RETENTION_DAYS, now: str | None = None, batch: int = 50) -> int:
    """Delete finished flow runs (with their task runs and logs) that ended more than N days ago."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterEndTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )

    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.astimezone()
    cutoff = moment - timedelta(days=older_than_days)
    filt = FlowRunFilter(end_time=FlowRunFilterEndTime(before_=cutoff),
                         state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(TERMINAL))))
    deleted = 0
    with get_client(sync_client=True) as client:
        for _ in range(100_000):
            response = client.request("POST", "/flow_runs/bulk_delete",
                                      json={"flow_runs": filt.model_dump(mode="json", exclude_none=True),
                                            "limit": batch})
            response.raise_for_status()
            ids = response.json().get("deleted", [])
            deleted += len(ids)
            if not ids:  # a batch may come back short while more remain: stop only on an empty one
                break
    run_logger().info("清理 Prefect 运行记录：删除 %d 个早于 %s 结束的运行", deleted, cutoff.isoformat(timespec="seconds"))
    return deleted
