"""A YAML file's parse is remembered by its text (and the parser's code and bounds): an unchanged file
reads back exactly what the parser gave, dates and numbered keys included, without the parser; a
changed one is parsed again; a refused file is refused every time with the parser's messages; a cache
that cannot be read or written changes nothing; a process whose files are known loads the configuration
without importing the YAML library."""
from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from flows.core.validate import DefinitionError
from flows.service import yaml_files, yaml_parse
from flows.service.config import configs_dir, load_config
from flows.service.yaml_files import read_yaml

ROOT = Path(__file__).resolve().parents[2]

TEXT = """\
name: 演练
day: 2024-06-03
at: 2024-06-03 09:30:00
numbered: {1: 一, 2: 二, null: 无}
list: [date, "2024-01-01"]
nested: [{a: [1, 2.5, null, false]}, []]
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "yaml"


@pytest.fixture
def parses(monkeypatch):
    """How many times the parser ran."""
    count = []
    real = yaml_parse.parse

    def counted(*args):
        count.append(1)
        return real(*args)

    monkeypatch.setattr(yaml_parse, "parse", counted)
    return count


def test_an_unchanged_file_reads_back_what_the_parser_gave_without_parsing(tmp_path, cache, parses):
    f = tmp_path / "a.yaml"
    f.write_text(TEXT, encoding="utf-8")
    first = read_yaml(f)
    assert first["day"] == date(2024, 6, 3) and first["at"] == datetime(2024, 6, 3, 9, 30)
    assert first["numbered"] == {1: "一", 2: "二", None: "无"}
    assert first["list"] == ["date", "2024-01-01"]
    assert len(list(cache.glob("*.json"))) == 1 and len(parses) == 1
    again = read_yaml(f)
    assert again == first and len(parses) == 1
    assert [type(v) for v in again.values()] == [type(v) for v in first.values()]
    assert read_yaml(f, dates_as_text=True)["day"] == "2024-06-03" and len(parses) == 2  # another option
    f.write_text(TEXT.replace("演练", "演习"), encoding="utf-8")
    assert read_yaml(f)["name"] == "演习" and len(parses) == 3


def test_a_refused_file_is_refused_each_time_by_the_parser(tmp_path, cache, parses):
    f = tmp_path / "bad.yaml"
    f.write_text("a: 1\na: [\n", encoding="utf-8")
    messages = []
    for _ in range(2):
        with pytest.raises(DefinitionError) as err:
            read_yaml(f)
        messages.append(err.value.problems)
    assert messages[0] == messages[1] and "YAML 语法错误" in messages[0][0]
    assert len(parses) == 2 and not list(cache.glob("*.json"))
    f.write_text('pair: ["\\0date", 2024-01-01]\n', encoding="utf-8")  # the cache's tags cannot be written
    with pytest.raises(DefinitionError, match="U\\+0000"):
        read_yaml(f)


def test_a_draft_typed_in_the_browser_is_not_kept(cache, parses):
    assert yaml_files.read_yaml_text("a: 1\n") == {"a": 1}
    assert not cache.exists() and len(parses) == 1


def test_a_cache_that_cannot_be_read_or_written_changes_nothing(tmp_path, monkeypatch, parses):
    f = tmp_path / "a.yaml"
    f.write_text(TEXT, encoding="utf-8")
    expected = read_yaml(f)
    blocker = tmp_path / "blocker"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(blocker))  # a file where the folder would be
    assert read_yaml(f) == expected
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(tmp_path / "garbled"))
    read_yaml(f)
    for entry in (tmp_path / "garbled" / "yaml").glob("*.json"):
        entry.write_text('{"name": ', encoding="utf-8")
    assert read_yaml(f) == expected


def test_the_configuration_is_the_same_from_the_cache(cache):
    cold, warm = load_config(), load_config()
    assert list(cache.glob("*.json"))
    assert warm.org == cold.org and warm.calendar.overrides == cold.calendar.overrides and warm.platform == cold.platform
    assert warm.documents == cold.documents
    assert {n: wf.model_dump() for n, wf in warm.workflows.items()} == {
        n: wf.model_dump() for n, wf in cold.workflows.items()}


def test_a_process_with_known_files_loads_the_configuration_without_the_yaml_library(cache):
    code = ("import sys; from flows.service.config import load_config; c = load_config(); "
            "print(len(c.workflows), 'ruamel.yaml' in sys.modules)")
    run = [sys.executable, "-c", code]
    cold = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout.split()
    warm = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout.split()
    n = len(list((configs_dir() / "flows").glob("*.yaml")))
    assert cold == [str(n), "True"], cold
    assert warm == [str(n), "False"], warm
