"""The templates' checks are remembered by content and code: a process whose templates are known reads
the answers without importing the rendering libraries; a changed template or new code is checked again;
a cache that cannot be read or written changes no answer."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.documents import gbt9704
from flows.service import template_checks
from flows.service.config import configs_dir

ROOT = Path(__file__).resolve().parents[2]


def make_template(path: Path, text: str) -> Path:
    doc = gbt9704.new_document()
    gbt9704.paragraph(doc, "Normal", text)
    doc.save(str(path))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / template_checks.FILE


def test_answers_are_remembered_and_a_changed_template_is_checked_again(tmp_path, cache):
    folder = tmp_path / "templates"
    folder.mkdir()
    make_template(folder / "notice.docx", "{{ case.data.place }}，{{ doc.number }}")
    first = template_checks.template_fields(folder)
    assert first == ({"notice": {"case.data.place", "doc.number"}}, [])
    stored = json.loads(cache.read_text(encoding="utf-8"))
    assert stored["code"] == template_checks.code_version() and len(stored["templates"]) == 1
    assert template_checks.template_fields(folder) == first

    make_template(folder / "notice.docx", "{{ ''.__class__.__mro__ }}")  # the admin uploads a bad one
    fields, problems = template_checks.template_fields(folder)
    assert set(fields) == {"notice"}
    assert len(problems) == 1 and problems[0].startswith(f"{folder / 'notice.docx'}: ")
    assert len(json.loads(cache.read_text(encoding="utf-8"))["templates"]) == 2


def test_answers_of_other_code_are_not_used(tmp_path, cache, monkeypatch):
    folder = tmp_path / "templates"
    folder.mkdir()
    make_template(folder / "notice.docx", "{{ case.data.place }}")
    template_checks.template_fields(folder)
    stored = json.loads(cache.read_text(encoding="utf-8"))
    digest = next(iter(stored["templates"]))
    stored["templates"][digest] = {"variables": ["forged"], "problem": None}
    cache.write_text(json.dumps(stored), encoding="utf-8")
    assert template_checks.template_fields(folder)[0] == {"notice": {"forged"}}  # same code: the file is believed
    monkeypatch.setattr(template_checks, "_code", "another version of the rendering code")
    assert template_checks.template_fields(folder)[0] == {"notice": {"case.data.place"}}


def test_a_cache_that_cannot_be_read_or_written_changes_no_answer(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(blocker))  # a file where the folder would be
    folder = tmp_path / "templates"
    folder.mkdir()
    make_template(folder / "notice.docx", "{{ case.data.place }}")
    assert template_checks.template_fields(folder) == ({"notice": {"case.data.place"}}, [])
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / template_checks.FILE).write_text("{not json", encoding="utf-8")
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(garbled))
    assert template_checks.template_fields(folder) == ({"notice": {"case.data.place"}}, [])


def test_a_process_with_known_templates_loads_the_configuration_without_the_rendering_libraries(cache):
    code = ("import sys; from flows.service.config import load_config; c = load_config(); "
            "print(len(c.workflows), 'docxtpl' in sys.modules, 'jinja2' in sys.modules)")
    run = [sys.executable, "-c", code]
    cold = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout.split()
    warm = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout.split()
    n = len(list((configs_dir() / "flows").glob("*.yaml")))
    assert cold == [str(n), "True", "True"], cold
    assert warm == [str(n), "False", "False"], warm
