"""One app host of the multi-host test (tests/orchestration/test_multi_host.py), as a child process.

It opens the service exactly as the app does (`ui/session.py`: `service_for(WORKFLOW_DATA_DIR)`; with
PREFECT_API_URL set that is the orchestrated service, whose effects are committed pending and handed to
Prefect's deployments, never run here) on this host's own working directory, with the case data wherever
WORKFLOW_DATABASE_URL says. It then reads one JSON command a line on stdin and answers one JSON line on
stdout:

    {"op": "start", "workflow", "user", "data"}          → {"case": …}
    {"op": "act", "case", "action", "user", "data"}      → {"case": …}
    {"op": "case", "case"}                               → {"case": …, "history": […]}
    {"op": "download", "case", "index"}                  → the document's local path, whether it was there
                                                           before, its sha256 and size (`Service.document_file`,
                                                           what the app's 下载 button streams)
    {"op": "race", "cases", "action", "user", "at"}      → each case's outcome of one act from time `at`
                                                           (won, or refused once the other host moved it),
                                                           retried on conflicts, which are counted
    {"op": "hammer", "cases", "n", "user", "at", "tag"}  → n comments round-robin over `cases` from time `at`,
                                                           each retried on a conflict: the acknowledged ones
                                                           (case, text, version) and the conflicts counted
    {"op": "quit"}

Every answer that wrote waits for the hand-off to Prefect first (`dispatch.flush`), like the CLI.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback


def main() -> int:
    from flows.core.errors import NotAvailable, StaleVersion
    from flows.orchestration.dispatch import flush, is_orchestrated, service_for

    svc = service_for(os.environ.get("WORKFLOW_DATA_DIR"))
    out = sys.stdout

    def answer(value: dict) -> None:
        out.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
        out.flush()

    def wait_until(at: float | None) -> None:
        if at:
            time.sleep(max(0.0, at - time.time()))

    def download(cmd: dict) -> dict:
        doc = svc.case(cmd["case"])["documents"][cmd.get("index", 0)]
        local = svc.store.dir / "files" / doc["file"]
        before = local.exists()
        path = svc.document_file(doc["file"])
        content = path.read_bytes()
        return {"file": doc["file"], "path": str(path), "existed_before": before,
                "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}

    def race(cmd: dict) -> dict:
        wait_until(cmd.get("at"))
        results = {}
        conflicts = 0
        for cid in cmd["cases"]:
            for _ in range(100):
                try:
                    svc.act(cid, cmd["action"], cmd["user"], cmd.get("data"))
                    results[cid] = "won"
                except StaleVersion:
                    conflicts += 1  # read before another commit (the other host's, a worker's claim): again
                    continue
                except NotAvailable as exc:
                    results[cid] = f"refused: {exc.message}"  # the other host moved the case first
                break
        flush(svc)
        return {"results": results, "conflicts": conflicts}

    def hammer(cmd: dict) -> dict:
        cases, tag = cmd["cases"], cmd["tag"]
        acked, conflicts, gave_up, attempts_max = [], 0, [], 0
        wait_until(cmd.get("at"))
        t0 = time.perf_counter()
        for i in range(cmd["n"]):
            cid = cases[i % len(cases)]
            text = f"{tag}-{i:04d}"
            for attempt in range(1, 101):
                try:
                    case = svc.comment(cid, cmd["user"], text)
                except StaleVersion:
                    conflicts += 1  # the other host committed since we read: nothing written, read again
                    continue
                acked.append({"case": cid, "text": text, "version": case["version"]})
                attempts_max = max(attempts_max, attempt)
                break
            else:
                gave_up.append({"case": cid, "text": text})
        return {"acked": acked, "conflicts": conflicts, "gave_up": gave_up, "attempts_max": attempts_max,
                "seconds": round(time.perf_counter() - t0, 3)}

    answer({"ready": True, "pid": os.getpid(), "data_dir": str(svc.store.dir), "store": type(svc.store).__name__,
            "orchestrated": is_orchestrated(svc)})
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "quit":
                flush(svc)
                svc.close()
                answer({"bye": True})
                return 0
            if op == "start":
                value = {"case": svc.start(cmd["workflow"], cmd["user"], cmd.get("data"))}
                flush(svc)
            elif op == "act":
                value = {"case": svc.act(cmd["case"], cmd["action"], cmd["user"], cmd.get("data"))}
                flush(svc)
            elif op == "case":
                value = {"case": svc.case(cmd["case"]), "history": svc.history(cmd["case"])}
            elif op == "download":
                value = download(cmd)
            elif op == "race":
                value = race(cmd)
            elif op == "hammer":
                value = hammer(cmd)
            else:
                value = {"error": f"unknown op {op}"}
        except Exception as exc:  # noqa: BLE001 - told to the test, which fails on it
            value = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        answer(value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
