"""The service the Prefect flows of this process use, and the small helpers every flow shares."""
from __future__ import annotations

import logging
from datetime import datetime

from prefect import get_run_logger

from flows.orchestration import dispatch
from flows.service import Service

log = logging.getLogger("flows.orchestration")

_override: Service | None = None


def use_service(svc: Service | None) -> None:
    """Make the flows of this process use `svc` (tests, the bench); None restores the default."""
    global _override
    _override = svc


def get_service() -> Service:
    """The data directory comes from WORKFLOW_DATA_DIR: a worker on another host sets its own."""
    return _override or dispatch.service_for()


def moment(now: str | datetime | None, svc: Service) -> datetime:
    """A flow's `now` parameter (ISO text, so a run records it), or the service's clock."""
    if now is None:
        return svc.clock()
    return now if isinstance(now, datetime) else datetime.fromisoformat(now)


def run_logger():
    try:
        return get_run_logger()
    except Exception:  # noqa: BLE001 - called outside a run (.fn() in tests)
        return log
