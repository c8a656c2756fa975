"""Every malformed definition `python -m flows validate` refuses (tests/core/test_definitions.py's
MALFORMED, 49 kinds) is refused the same way in the designer: the problem carries the same field
path, is placed on its table row, and publishing is refused with nothing published."""
from __future__ import annotations

import copy
import io

import pytest
from ruamel.yaml import YAML

from flows.service import designer
from tests.core.test_definitions import MALFORMED, base


def _source(data: dict) -> str:
    out = io.StringIO()
    YAML().dump(data, out)
    return out.getvalue()


@pytest.fixture
def draft(service):
    made = designer.create(service, "admin", "inspection", "隐患整改（测试流程）", "TST")
    made.source = _source(base())
    return designer.save(service, "admin", made)


def test_the_fixture_itself_has_no_problem(service, draft):
    assert designer.check(service, draft)[1] == []


@pytest.mark.parametrize("mutate,path,words", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_draft_is_refused_with_its_field_path(service, draft, mutate, path, words):
    draft.source = _source(mutate(copy.deepcopy(base())))
    draft = designer.save(service, "admin", draft)
    problems = designer.check(service, draft)[1]
    found = [p for p in problems if p.path == path and words in p.message]
    assert found, [(p.path, p.message) for p in problems]
    section = path.split(".")[0].split("[")[0]
    if "[" in path.split(".")[0]:                      # a row of a table: placed on it
        assert found[0].section == section and found[0].row == int(path.split("[")[1].split("]")[0])
        assert " 第 " in found[0].where
    with pytest.raises(designer.DraftInvalid):
        designer.publish(service, "admin", "inspection")
    assert "inspection" not in service.config.workflows
