"""Documents that belong to no single case: the annual drill plan, the accident statistics.

A report is kept in the small table `reports` under a stable key (``drill-plan-2026``,
``accident-statistics-2025-Q1``) with its files (Word, Excel) saved under ``reports/<key>/`` in the
data directory, so the office downloads them like a case's documents. Regenerating a report (on
demand, or when late figures arrive) rewrites its files and keeps its 发文字号: a number is allocated
once per report, never twice.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flows.core import engine

if TYPE_CHECKING:
    from flows.service.cases import Service

TABLE = "reports"


def list_reports(svc: Service, kind: str | None = None) -> list[dict]:
    rows = [r for r in svc.store.all(TABLE) if kind is None or r.get("kind") == kind]
    return sorted(rows, key=lambda r: r.get("generated_at", ""), reverse=True)


def get_report(svc: Service, key: str) -> dict | None:
    return svc.store.get(TABLE, key)


def _safe(text: str) -> str:
    return re.sub(r"[^\w]", "", text or "")


def issue(svc: Service, *, key: str, kind: str, template: str, title_values: dict[str, Any], rows: list[dict],
          extra: dict[str, Any], moment: datetime, attachments: dict[str, bytes] | None = None,
          meta: dict[str, Any] | None = None) -> dict:
    """Render `template` with rows/extra (plus the document header from documents.yaml), save it with
    any `attachments` ({file name: bytes}), and record the report. Returns the stored record."""
    from flows.documents import filters, rendering
    from flows.documents.settings import fill

    spec = svc.config.documents.spec(template)
    old = svc.store.get(TABLE, key) or {}
    number = old.get("number")
    if number is None:
        number = ""
        if spec.number_prefix:
            seq = svc.store.next_sequence(f"docno:{spec.number_prefix}:{moment.year}")
            number = filters.format_doc_number(spec.number_prefix, moment.year, seq)
        # keep the number before rendering: a failed render must not burn a second one
        old = svc.store.put(TABLE, key, {**old, "key": key, "kind": kind, "number": number,
                                         "issued_at": engine.iso(moment)})
    issued = datetime.fromisoformat(old.get("issued_at") or engine.iso(moment))
    values = {**title_values, "year": title_values.get("year", moment.year)}
    title = fill(spec.title, values)
    context = {"case": {}, "rows": rows, "extra": extra,
               "doc": {"number": number, "issuer": spec.issuer, "banner": spec.minutes or spec.banner,
                       "date": filters.chinese_date(moment.date()), "title": title,
                       "addressee": fill(spec.addressee, values), "cc": spec.cc, "printed_by": spec.printed_by,
                       "printed_date": filters.chinese_date(moment.date())}}
    content = rendering.render(svc.config.templates_dir / f"{template}.docx", context)
    rel = f"reports/{key}/{template}-{_safe(number) or _safe(key)}.docx"
    svc.store.save_file(rel, content)
    files = [{"name": f"{title}.docx", "file": rel, "kind": "docx"}]
    for filename, data in (attachments or {}).items():
        rel = f"reports/{key}/{filename}"
        svc.store.save_file(rel, data)
        files.append({"name": filename, "file": rel, "kind": filename.rsplit(".", 1)[-1]})
    record = {**old, "key": key, "kind": kind, "template": template, "title": title, "number": number,
              "issued_at": engine.iso(issued), "generated_at": engine.iso(moment), "files": files,
              "generations": int(old.get("generations", 0)) + 1, **(meta or {})}
    return svc.store.put(TABLE, key, record)
