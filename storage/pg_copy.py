"""`python -m flows storage copy --to URL`: a TinyDB data directory copied into an empty PostgreSQL database
with every hash chain intact.

The source is verified first (a damaged or tampered directory is refused: sealing it anew in the database
would hide what `verify` found). Then, in one transaction with the target's tables locked against
writers: every case document as stored (version, history_head, history_len), every event as stored
(`seq`, `prev_hash`, `hash` unchanged: nothing is linked again), the open cases' tasks, every record of
the small tables with its `_version`, every counter and every file under ``files/``; each row sealed
under the same key, the groups' digests computed. A target that holds anything is refused before a row
is written. Afterwards the target is verified and every case's version, history length and chain head
compared with the source's, so both sides' `verify` agree.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from storage.errors import StorageError
from storage.pg_bulk import write_cases
from storage.pg_files import local_files
from storage.pg_rows import dumps
from storage.pg_seals import add, apply_deltas, slot_of

BATCH = 500  # cases per COPY
TABLES = ("cases", "events", "tasks", "records", "sequences", "files")
LABELS = {"cases": "个案件", "events": "条事件", "tasks": "条待办", "records": "条记录", "sequences": "个计数器",
          "files": "个文件"}


@dataclass
class CopyReport:
    cases: int = 0
    events: int = 0
    tasks: int = 0
    records: int = 0
    tables: int = 0
    sequences: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0


def copy_data_dir(data_dir: str | Path, url: str, progress=None) -> CopyReport:
    """Copy the TinyDB data directory `data_dir` into the empty database `url`; `progress(n)` is called
    with the number of cases copied so far, every `BATCH` cases."""
    from storage.pg_store import PgStore
    from storage.store import Store

    data_dir = Path(data_dir)
    if not (data_dir / "meta.json").is_file():
        raise StorageError(f"数据目录 {data_dir} 中没有案件数据（缺少 meta.json），无可复制")
    started = time.monotonic()
    with Store(data_dir) as source:
        problems = source.verify()
        if problems:
            shown = "\n".join(problems[:20]) + (f"\n……另有 {len(problems) - 20} 处" if len(problems) > 20 else "")
            raise StorageError(f"数据目录 {data_dir} 校验未通过，不能复制（先处理这些问题）：\n{shown}")
        with PgStore(url, data_dir) as target:
            report, heads = _copy(source, target, progress)
            problems = target.verify()
            problems += _compare(target, heads)
            if problems:
                raise StorageError(f"复制后{target.where}校验未通过：\n" + "\n".join(problems[:20]))
    report.seconds = time.monotonic() - started
    return report


def _copy(source, target, progress) -> tuple[CopyReport, dict[str, tuple]]:
    report = CopyReport()
    heads: dict[str, tuple] = {}
    target._check_writable()
    sealer = target._sealer
    with target._tx() as conn:
        conn.execute("LOCK TABLE cases, events, tasks, records, sequences, files IN EXCLUSIVE MODE")
        found = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        if any(found.values()):
            held = "、".join(f"{n} {LABELS[t]}" for t, n in found.items() if n)
            raise StorageError(f"目标{target.where}不是空的（已有 {held}）：只能复制到新建的空数据库，未写入任何内容")
        deltas: dict[int, str] = {}
        batch: list[dict] = []
        events: dict[str, list[dict]] = {}
        tasks: dict[str, list[dict]] = {}

        def flush() -> None:
            write_cases(conn, sealer, batch, events, tasks, deltas)
            report.cases += len(batch)
            batch.clear()
            events.clear()
            tasks.clear()
            if progress is not None:
                progress(report.cases)

        for case in source.cases():
            cid = case["id"]
            events[cid] = source.history(cid)
            tasks[cid] = source.tasks_of(cid) if case["status"] == "open" else []
            report.events += len(events[cid])
            report.tasks += len(tasks[cid])
            heads[cid] = (case.get("version"), case.get("history_len"), case.get("history_head"))
            batch.append(case)
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
        with conn.cursor() as cur:
            for table in source.tables():
                rows = []
                for doc in source.all(table):
                    key = doc["_key"]
                    seal = sealer.put(table, key, doc)
                    add(deltas, slot_of(f"put:{table}", key), seal)
                    rows.append((table, key, int(doc.get("_version") or 1), dumps(doc), seal))
                cur.executemany("INSERT INTO records (tbl, key, version, doc, seal) VALUES (%s, %s, %s, %s::json, %s)",
                                rows)
                report.records += len(rows)
                report.tables += 1
            seqs = []
            for name, value in source.sequences().items():
                seal = sealer.seq(name, int(value))
                add(deltas, slot_of("seq", name), seal)
                seqs.append((name, int(value), seal))
            cur.executemany("INSERT INTO sequences (name, value, seal) VALUES (%s, %s, %s)", seqs)
            report.sequences = len(seqs)
            for rel, path in local_files(source.dir):
                content = path.read_bytes()
                cur.execute("INSERT INTO files (path, sha256, size, content) VALUES (%s, %s, %s, %s)",
                            (rel, hashlib.sha256(content).hexdigest(), len(content), content))
                report.files += 1
                report.bytes += len(content)
        apply_deltas(conn, sealer, deltas)
        conn.execute("ANALYZE cases, events, tasks, people, records")
    return report, heads


def _compare(target, heads: dict[str, tuple]) -> list[str]:
    """Every case of the source is in the target with the same version, history length and chain head."""
    problems = []
    for case in target.cases():
        want = heads.pop(case["id"], None)
        got = (case.get("version"), case.get("history_len"), case.get("history_head"))
        if want is None:
            problems.append(f"案件 {case['id']}：数据库中有，数据目录中没有")
        elif want != got:
            problems.append(f"案件 {case['id']}：复制后版本、历史条数或哈希链末端与数据目录不同（{want} ≠ {got}）")
    problems.extend(f"案件 {cid}：数据目录中有，数据库中没有" for cid in sorted(heads))
    return problems
