"""What each Word template reads and whether it passed its trial render, remembered on disk.

`load_config` checks every template (its variables, and a sandboxed render with sample data): about a
second, paid by every process that loads the configuration: each `python -m flows` command, the app, a
worker. The answers depend only on the template's bytes and on the rendering code, so they are kept in
a small JSON file keyed by both (sha256 of the template; sha256 of `flows/documents/*.py` with the
versions of jinja2 and docxtpl), and a process whose templates are all known reads them from there
without importing the rendering libraries. A changed template, or new code, is checked again.

The file lives in the cache directory (`flows.service.caches`). It is a cache: unreadable or unwritable, the checks simply run. Rendering
a document always goes through the sandbox whatever the file says; the check only lets an admin hear of
a bad template when the configuration loads rather than when a case issues it.
"""
from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

from flows.service.caches import cache_dir

FILE = "template-checks.json"
_DOCUMENTS = Path(__file__).resolve().parent.parent / "documents"
_code: str | None = None


def cache_path() -> Path:
    return cache_dir() / FILE


def code_version() -> str:
    """What the answers of this code are worth: its rendering sources and libraries."""
    global _code
    if _code is None:
        h = hashlib.sha256()
        for path in sorted(_DOCUMENTS.glob("*.py")):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        for lib in ("jinja2", "docxtpl", "python-docx"):
            try:
                h.update(f"{lib}={metadata.version(lib)}\0".encode())
            except metadata.PackageNotFoundError:
                h.update(f"{lib}=?\0".encode())
        _code = h.hexdigest()
    return _code


def _checked_now(path: Path) -> dict:
    from flows.documents.rendering import TemplateError, check_template, template_variables

    try:
        variables = template_variables(path)
    except TemplateError as exc:
        return {"variables": [], "problem": str(exc)}
    # tried once with sample data: over its limits, or refused by the sandbox
    return {"variables": sorted(variables), "problem": check_template(path)}


def template_fields(templates_dir: Path) -> tuple[dict[str, set[str]] | None, list[str]]:
    """Template name → the dotted names it references, and the templates that cannot be used."""
    if not templates_dir.is_dir():
        return None, []
    store = cache_path()
    try:
        known = json.loads(store.read_text(encoding="utf-8"))
        if not isinstance(known, dict) or known.get("code") != code_version():
            known = {}
    except (OSError, ValueError):
        known = {}
    answers = known.get("templates") if isinstance(known.get("templates"), dict) else {}
    fields, problems, fresh = {}, [], {}
    for path in sorted(templates_dir.glob("*.docx")):
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            fields[path.stem] = set()
            problems.append(f"{path}: 无法读取模板：{exc.strerror or exc}")
            continue
        answer = answers.get(digest)
        if not (isinstance(answer, dict) and isinstance(answer.get("variables"), list)):
            answer = _checked_now(path)
        fresh[digest] = answer
        fields[path.stem] = set(answer["variables"])
        if answer.get("problem"):
            problems.append(f"{path}: {answer['problem']}")
    if any(d not in answers for d in fresh):
        _remember(store, {**answers, **fresh})
    return fields, problems


def _remember(store: Path, answers: dict) -> None:
    if len(answers) > 500:  # templates edited many times: keep the newest answers
        answers = dict(list(answers.items())[-500:])
    tmp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"code": code_version(), "templates": answers}, ensure_ascii=False),
                       encoding="utf-8")
        os.replace(tmp, store)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
