"""The house's rooms, read from the code's own imports (ast): imports run `ui → flows → storage`, and
inside `flows/` down the layers core → documents → service → jobs → orchestration (DESIGN.md).

Function-level ("lazy") imports count: a lazy import is still a dependency, and once hid a cycle
between the service and its effects. Imports under `if TYPE_CHECKING:` are annotations only and
do not count.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("flows", "storage", "ui")

# The layers of flows/, lowest first: a module may import its own layer and those below it.
LAYERS = ["flows.core", "flows.documents", "flows.service", "flows.jobs", "flows.orchestration"]
# What each room may import from outside our code (besides the standard library).
THIRD_PARTY = {
    "flows.core": {"pydantic", "pydantic_core", "simpleeval", "chinese_calendar", "regex"},
    "flows.documents": {"pydantic", "docx", "docxtpl", "jinja2", "lxml", "openpyxl"},
    "flows.service": {"pydantic", "ruamel", "argon2"},
    "flows.jobs": {"pydantic"},
}
# Packages only one room may use at all.
ONLY_IN = {"prefect": ("flows.orchestration",), "streamlit": ("ui",), "tinydb": ("storage",),
           "httpx": ("flows.orchestration",), "psycopg": ("storage",), "psycopg_pool": ("storage",)}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_files() -> list[Path]:
    return sorted(p for room in OURS for p in (ROOT / room).rglob("*.py"))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, name: str | None) -> str:
    """`from flows.service import messages` depends on flows.service.messages, not the package."""
    if name:
        candidate = ROOT.joinpath(*module.split("."), name)
        if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
            return f"{module}.{name}"
    return module


@cache
def imports_of(path: Path) -> tuple[tuple[str, int], ...]:
    """Every module `path` imports, with the line, outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            found.extend((_resolve(base, alias.name), node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return tuple(found)


def room_of(module: str) -> str:
    for layer in LAYERS:
        if module == layer or module.startswith(layer + "."):
            return layer
    return module.split(".")[0] if module.split(".")[0] != "flows" else "flows"


def is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names or module == "__future__"


def violations() -> list[str]:
    found = []
    for path in our_files():
        me = module_name(path)
        room = room_of(me)
        for target, line in imports_of(path):
            top = target.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line}: {me} imports {target}"
            if top == "storage" and room in ("ui",):
                found.append(f"{where} (ui goes through flows, never storage)")
            if top in ("flows", "ui") and room == "storage":
                found.append(f"{where} (storage imports nothing of ours)")
            if top == "ui" and room != "ui":
                found.append(f"{where} (nothing imports the UI)")
            if top in ONLY_IN and not any(me == r or me.startswith(r + ".") for r in ONLY_IN[top]):
                found.append(f"{where} ({top} belongs to {', '.join(ONLY_IN[top])} only)")
            if room in LAYERS:
                rank = LAYERS.index(room)
                if top == "flows":
                    target_room = room_of(target)
                    if target_room not in LAYERS or LAYERS.index(target_room) > rank:
                        found.append(f"{where} ({room} may not import upward into {target_room})")
                elif top == "storage":
                    if rank < LAYERS.index("flows.service"):
                        found.append(f"{where} ({room} does no I/O: storage is the service's)")
                elif not is_stdlib(target) and room in THIRD_PARTY and top not in THIRD_PARTY[room] \
                        and top not in ONLY_IN:
                    found.append(f"{where} ({room} may use only {sorted(THIRD_PARTY[room])} beside the "
                                 f"standard library)")
    return found


def test_imports_run_down_the_rooms():
    assert violations() == []


def test_no_import_cycles_among_our_modules():
    graph: dict[str, set[str]] = {}
    for path in our_files():
        me = module_name(path)
        deps = graph.setdefault(me, set())
        for target, _ in imports_of(path):
            if target.split(".")[0] in OURS and target != me:
                while target and target not in {module_name(p) for p in our_files()}:
                    target = target.rpartition(".")[0]  # a name imported from a module: the module
                if target and target != me:
                    deps.add(target)
    cycles = []
    state: dict[str, int] = {}

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(" → ".join(trail[trail.index(dep):] + [dep]))
            elif dep not in state:
                walk(dep, trail + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    assert cycles == []


def test_the_checker_catches_a_wrong_import(tmp_path, monkeypatch):
    """The rules above are not vacuous: a core module importing storage, or Prefect, is reported."""
    fake = ROOT / "flows" / "core" / "_arch_probe.py"
    fake.write_text("import storage\nfrom prefect import flow\nfrom flows.service import Service\n", encoding="utf-8")
    try:
        imports_of.cache_clear()
        found = [v for v in violations() if "_arch_probe" in v]
    finally:
        fake.unlink()
        imports_of.cache_clear()
    assert any("storage is the service's" in v for v in found)
    assert any("prefect belongs to flows.orchestration" in v for v in found)
    assert any("may not import upward into flows.service" in v for v in found)


BLOCKER = textwrap.dedent('''
    import importlib.abc, json, sys
    BLOCKED = {"prefect", "streamlit", "docx", "docxtpl", "httpx", "tinydb", "storage", "ruamel", "openpyxl",
               "jinja2", "lxml"}

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is absent in this test")
            return None

    sys.meta_path.insert(0, Absent())
    from datetime import datetime
    from flows.core import engine, errors, expressions, forms, org, spec, validate, workdays
    from flows.core.spec import Workflow

    payload = json.loads(sys.stdin.read())
    wf = Workflow.model_validate(payload["workflow"])
    organisation = org.Organisation.model_validate(payload["organisation"])
    assert validate.check_workflow(wf, organisation, set(payload["workflows"])) == []
    ctx = engine.Context(org=organisation, calendar=workdays.WorkCalendar(), workflows=frozenset(payload["workflows"]))
    now = datetime(2025, 3, 3, 9)
    outcome = engine.new_case(wf, ctx, case_id="SG-2025-00001", actor=organisation.actor("awb_zhang"),
                              data=payload["data"], now=now)
    assert outcome.case["data"]["level"] == "一般" and outcome.events
    print(json.dumps({"ok": True, "loaded": sorted(m for m in sys.modules if m.startswith("flows"))}))
''')


def test_the_core_imports_and_checks_a_definition_without_prefect_streamlit_or_docx():
    from flows.service.config import load_config

    config = load_config(ROOT / "configs")
    wf = config.workflows["accident"]
    payload = {"workflow": wf.model_dump(mode="json", by_alias=True),
               "organisation": config.org.model_dump(mode="json", by_alias=True), "workflows": sorted(config.workflows),
               "data": {"occurred_at": "2025-03-01T08:30", "place": "X354线", "accident_type": "道路运输",
                        "deaths": 0, "serious_injuries": 1, "direct_loss": 12, "description": "追尾"}}
    done = subprocess.run([sys.executable, "-c", BLOCKER], input=json.dumps(payload, ensure_ascii=False),
                          check=False, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and "flows.core.engine" in result["loaded"]
    assert not any(m.startswith(("flows.service", "flows.documents", "flows.orchestration")) for m in result["loaded"])


@pytest.mark.parametrize("room", ["flows/core", "flows/documents", "flows/service", "flows/jobs", "flows/orchestration"])
def test_each_room_says_what_it_holds(room):
    init = ROOT / room / "__init__.py"
    assert init.exists() and ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), room


def test_every_import_of_ours_names_something_that_exists():
    """Lazy imports run only on their path (a CLI command, a page): a moved name must fail here, not in CI's
    `flows prepare` or in an office's browser."""
    import importlib

    missing = []
    for path in our_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in OURS:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    submodule = hasattr(module, "__path__") and \
                        importlib.util.find_spec(f"{node.module}.{alias.name}") is not None
                    if not hasattr(module, alias.name) and not submodule:
                        missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module} has no {alias.name}")
    assert missing == []
