"""Verification of the PostgreSQL store: every case's hash chain, every seal and the sealed digests of the
groups, the rows the queries use against the documents they come from, and the database's durability
settings, said in words a user can read. One read-only REPEATABLE READ transaction: the walk sees one
moment of the database while commits go on.

What a case's events mean (replaying them through the engine) is the service's: `flows.service.verify`.
"""
from __future__ import annotations

from storage._chain import verify_chain
from storage._seal import ZERO, xor
from storage.pg_rows import next_due, people_rows, task_row, workflow_of
from storage.pg_seals import SLOTS, slot_of

PAGE = 1000
WHERE = "数据库表 cases"


class PgVerifyMixin:
    """`PgStore.verify` (mixed into `PgStore`: uses its `_conn`, sealer and key check)."""

    def verify(self) -> list[str]:
        """Everything `storage` can tell is wrong with the database; [] when it is intact."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            problems = self._verify_settings(conn)
            sealed = self._key_ok
            if not sealed:
                problems.append(f"封印密钥与数据库不符：数据库由另一把密钥封印（当前密钥文件为 "
                                f"{self.seal_key_file or '调用方给出'}），无法校验封印")
            elif self.seal_key_file is not None and _inside(self.seal_key_file, self.dir):
                problems.append(f"封印密钥文件 {self.seal_key_file} 位于数据目录内：能改动数据的人也能重算封印，"
                                f"请把它移到数据目录之外（环境变量 WORKFLOW_SEAL_KEY_FILE）")
            digest = [ZERO] * SLOTS
            people: set[tuple] = set()
            problems += self._verify_cases(conn, digest, people, sealed)
            problems += self._verify_rows(conn, people)
            if sealed:
                problems += self._verify_small(conn, digest)
                problems += self._verify_slots(conn, digest)
            for (path,) in conn.execute("SELECT path FROM files WHERE encode(sha256(content), 'hex') <> sha256 "
                                        "OR length(content) <> size ORDER BY path"):
                problems.append(f"文件 {path}：内容与保存时的哈希不符（在本程序之外被改动或已损坏）")
        return problems

    def _verify_settings(self, conn) -> list[str]:
        problems = []
        if conn.execute("SHOW synchronous_commit").fetchone()[0] == "off":
            problems.append("数据库设置 synchronous_commit = off：提交在写入磁盘之前就已确认，数据库服务器崩溃时"
                            "最近确认的提交会丢失（请改回 on）")
        if conn.execute("SHOW fsync").fetchone()[0] == "off":
            problems.append("数据库设置 fsync = off：断电或服务器崩溃时数据库可能损坏、已确认的提交可能丢失（请改回 on）")
        return problems

    def _verify_cases(self, conn, digest: list[str], people: set, sealed: bool) -> list[str]:
        """Each case's chain and seal, a page of cases (with all their events) at a time."""
        problems: list[str] = []
        after = ""
        while True:
            rows = conn.execute("SELECT id, workflow, status, next_due, doc, seal FROM cases WHERE id > %s "
                                "ORDER BY id LIMIT %s", (after, PAGE)).fetchall()
            if not rows:
                break
            ids = [r[0] for r in rows]
            events: dict[str, list[dict]] = {}
            for cid, seq, ev in conn.execute("SELECT case_id, seq, doc FROM events WHERE case_id = ANY(%s) "
                                             "ORDER BY case_id, seq", (ids,)):
                events.setdefault(cid, []).append(ev)
                if ev.get("case_id") != cid or ev.get("seq") != seq:
                    problems.append(f"案件 {cid} 第 {seq} 条事件：数据库中的行（案件 {cid}，序号 {seq}）与事件内容"
                                    f"（案件 {ev.get('case_id')}，序号 {ev.get('seq')}）不符，事件被移动或改动")
            for cid, workflow, status, due, doc, seal in rows:
                problems.extend(verify_chain(cid, doc, events.pop(cid, [])))
                if doc.get("id") != cid or doc.get("status") != status or workflow_of(doc) != workflow:
                    problems.append(f"案件 {cid}：{WHERE} 的编号、状态或流程列与案件记录不符（在本程序之外被改动）")
                elif next_due(doc) != due:
                    problems.append(f"案件 {cid}：{WHERE} 的下一期限列（{due or '无'}）与案件记录的期限"
                                    f"（{next_due(doc) or '无'}）不符（在本程序之外被改动）")
                people.update(people_rows({**doc, "id": cid}))
                if sealed:
                    computed = self._sealer.case(doc)
                    n = slot_of("case", cid)
                    digest[n] = xor(digest[n], computed)
                    if not seal:
                        problems.append(f"案件 {cid}：{WHERE} 中的案件记录没有封印（不是本程序写入的）")
                    elif seal != computed:
                        problems.append(f"案件 {cid}：封印不符，{WHERE} 中的案件记录在本程序之外被改动")
            after = ids[-1]
        for cid, ev in conn.execute("SELECT e.case_id, e.doc FROM events e WHERE NOT EXISTS "
                                    "(SELECT 1 FROM cases c WHERE c.id = e.case_id) ORDER BY e.case_id, e.seq"):
            problems.append(f"案件 {cid} 第 {ev.get('seq')} 条事件：所属案件不存在（事件被改动或案件记录丢失）")
        return problems

    def _verify_rows(self, conn, people: set) -> list[str]:
        """The rows the queries read (tasks, the people index) against what they derive from."""
        problems = []
        with conn.cursor(name="verify_tasks") as cur:
            cur.execute("SELECT t.case_id, t.holder, t.due, t.sort_key, t.doc, c.status FROM tasks t "
                        "LEFT JOIN cases c ON c.id = t.case_id ORDER BY t.id")
            for cid, holder, due, sort_key, doc, status in cur:
                if status != "open":
                    problems.append(f"案件 {cid} 的待办：案件{'不存在' if status is None else '已办结'}，"
                                    f"却仍有待办（在本程序之外被添加）")
                elif (cid, holder, due, sort_key) != task_row({"case_id": None, **doc})[:4]:
                    problems.append(f"案件 {cid} 的待办：数据库表 tasks 的经办人或期限列与待办记录不符（在本程序之外被改动）")
        stored = set(conn.execute("SELECT person, kind, case_id, at FROM people").fetchall())
        for person, kind, cid, _ in sorted(stored - people)[:20]:
            problems.append(f"人员索引：{person} 的{'发起' if kind == 'started' else '经办'}案件 {cid} 与案件记录不符"
                            f"（在本程序之外被改动）")
        for person, kind, cid, _ in sorted(people - stored)[:20]:
            problems.append(f"人员索引：缺少 {person} {'发起' if kind == 'started' else '经办'}的案件 {cid}"
                            f"（在本程序之外被删除）")
        return problems

    def _verify_small(self, conn, digest: list[str]) -> list[str]:
        """The seals of the counters and of the small tables' records."""
        problems = []
        for name, value, seal in conn.execute("SELECT name, value, seal FROM sequences ORDER BY name"):
            computed = self._sealer.seq(name, int(value))
            n = slot_of("seq", name)
            digest[n] = xor(digest[n], computed)
            if not seal:
                problems.append(f"计数器 {name}：没有封印（不是本程序写入的）")
            elif seal != computed:
                problems.append(f"计数器 {name}：封印不符，在本程序之外被改动")
        with conn.cursor(name="verify_records") as cur:
            cur.itersize = 2000
            cur.execute("SELECT tbl, key, doc, seal FROM records ORDER BY tbl, key")
            for table, key, doc, seal in cur:
                computed = self._sealer.put(table, key, doc)
                n = slot_of(f"put:{table}", key)
                digest[n] = xor(digest[n], computed)
                if not seal:
                    problems.append(f"表 {table} 的记录 {key}：没有封印（不是本程序写入的）")
                elif seal != computed:
                    problems.append(f"表 {table} 的记录 {key}：封印不符，在本程序之外被改动")
        return problems

    def _verify_slots(self, conn, digest: list[str]) -> list[str]:
        stored = {n: (d, s) for n, d, s in conn.execute("SELECT slot, digest, seal FROM seal_slots")}
        problems, mismatched = [], False
        for n in range(SLOTS):
            if n not in stored:
                problems.append(f"整体封印第 {n} 组缺失（表 seal_slots 的行被删除）")
                continue
            value, seal = stored[n]
            if seal != self._sealer.slot(n, value):
                problems.append(f"整体封印第 {n} 组的签名不符：表 seal_slots 被改动")
            elif value != digest[n]:
                mismatched = True
        if mismatched:
            problems.append("整体封印不符：有案件、记录或计数器在本程序之外被删除、恢复为旧版本或添加"
                            "（若上面没有逐条指出，即是整条被删除或换回了旧的副本）")
        return problems


def _inside(path, folder) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False
