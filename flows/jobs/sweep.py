"""期限巡查: act on every passed deadline (fire its transition or 催办), idempotently."""
from __future__ import annotations

from datetime import datetime

from flows.service import Service


def sweep_all(svc: Service, now: datetime, rounds: int = 10) -> list[dict]:
    """Sweep until nothing more is due. A fired deadline can enter a state whose own deadline has
    passed already (公示期满 → 已列入, whose term ran from the decision date): the next round acts on it,
    so one sweep leaves nothing due and a second one changes nothing."""
    done: list[dict] = []
    for _ in range(rounds):
        acted = svc.sweep(now)
        if not acted:
            break
        done += acted
    return done
