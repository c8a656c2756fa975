"""requirements.lock (`make lock`) pins every package the direct list in requirements.txt brings, each with its hashes.

The lock is stale when a package of requirements.txt is missing from it or pinned there at another version: that is
read from the files' contents (a git checkout keeps no mtimes). Run `make lock` to bring it up to date.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements.lock"

# name, optional [extras], then the version specifier (up to a marker, an option or the end)
_REQUIREMENT = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*([^;\s\\][^;\\]*?)?\s*(?:;.*)?$")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}\b")


def normalise(name: str) -> str:
    """PEP 503: `ruamel.yaml`, `Ruamel_YAML` and `ruamel-yaml` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(text: str) -> list[str]:
    """The lines of a requirements file with `\\` continuations joined, comments and blank lines left out."""
    lines, current = [], ""
    for raw in text.splitlines():
        if current == "" and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        line = re.sub(r"(^|\s)#.*$", "", current).strip()
        current = ""
        if line:
            lines.append(line)
    if current.strip():
        lines.append(current.strip())
    return lines


def parse(text: str) -> dict[str, tuple[str, str]]:
    """{normalised name: (specifier, whole logical line)} of the package lines (option lines such as `-r` are left out)."""
    packages = {}
    for line in logical_lines(text):
        if line.startswith("-"):
            continue
        requirement = line.split(" --", 1)[0].strip()  # what precedes the per-requirement options (--hash=…)
        match = _REQUIREMENT.match(requirement)
        assert match, f"cannot read the requirement line {line!r}"
        packages[normalise(match.group(1))] = ((match.group(2) or "").replace(" ", ""), line)
    return packages


def stale(requirements_text: str, lock_text: str) -> list[str]:
    """What makes the lock older than the direct list: each direct package missing from it or pinned there otherwise."""
    locked = parse(lock_text)
    problems = []
    for name, (specifier, _) in parse(requirements_text).items():
        if name not in locked:
            problems.append(f"{name}{specifier} is in requirements.txt but not in requirements.lock")
        elif specifier.startswith("==") and locked[name][0] != specifier:
            problems.append(f"{name}{specifier} in requirements.txt, {name}{locked[name][0]} in requirements.lock")
    return problems


def unhashed_or_loose(lock_text: str) -> list[str]:
    """Each package line of the lock without a sha256 hash, or not pinned to one exact version."""
    problems = []
    for name, (specifier, line) in parse(lock_text).items():
        if not _HASH.search(line):
            problems.append(f"{name}: no --hash=sha256:… in {line!r}")
        if not re.fullmatch(r"==[^=*,<>!~]+", specifier):
            problems.append(f"{name}: not one exact version ({specifier or 'none'})")
    return problems


# --- the project's files -------------------------------------------------------------------------------------------


def test_lock_has_every_direct_package_at_its_pinned_version():
    problems = stale(REQUIREMENTS.read_text(encoding="utf-8"), LOCK.read_text(encoding="utf-8"))
    assert not problems, "requirements.lock is older than requirements.txt; run `make lock`:\n" + "\n".join(problems)


def test_every_package_of_the_lock_is_pinned_with_a_hash():
    lock = LOCK.read_text(encoding="utf-8")
    assert len(parse(lock)) > len(parse(REQUIREMENTS.read_text(encoding="utf-8"))), "the lock names fewer packages than requirements.txt"
    problems = unhashed_or_loose(lock)
    assert not problems, "requirements.lock has lines pip --require-hashes refuses; run `make lock`:\n" + "\n".join(problems)


def test_direct_list_pins_exact_versions():
    loose = [f"{name}{spec or ''}" for name, (spec, _) in parse(REQUIREMENTS.read_text(encoding="utf-8")).items()
             if not re.fullmatch(r"==[^=*,<>!~]+", spec)]
    assert not loose, f"requirements.txt pins each direct package exactly; these are not: {loose}"


def test_setup_installs_the_lock_with_hashes():
    """`make setup` rebuilds the venv when the lock changes, and installs it (by uv or by pip) only with hashes."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = re.search(r"^\$\(VENV\)/\.installed:([^\n|]*).*?\n((?:\t.*\n)+)", makefile, re.M)
    assert rule, "Makefile has no $(VENV)/.installed rule"
    assert "requirements.lock" in rule.group(1).split()
    installs = [line for line in rule.group(2).splitlines() if re.search(r"\$\(UV\) pip (install|sync) |/bin/pip install ", line)]
    assert any("$(UV) pip" in line and "requirements.lock" in line for line in installs), "uv does not install the lock"
    assert any("/bin/pip install" in line and "requirements.lock" in line for line in installs), "no pip fallback"
    assert installs and all("--require-hashes" in line for line in installs), installs


# --- the checks themselves -------------------------------------------------------------------------------------------

_H = "--hash=sha256:" + "ab" * 32
SAMPLE_REQUIREMENTS = """\
# comment
ruamel.yaml==0.19.1
Jinja2==3.1.6  # trailing comment
pytest==9.2.0
"""


def test_a_matching_lock_passes():
    lock = f"""\
# This file was autogenerated by uv via the following command:
#    make lock
jinja2==3.1.6 \\
    {_H}
    # via -r requirements.txt
markupsafe==3.0.3 \\
    {_H} \\
    {_H}
    # via jinja2
pytest==9.2.0 \\
    {_H}
ruamel-yaml==0.19.1 \\
    {_H}
"""
    assert stale(SAMPLE_REQUIREMENTS, lock) == []
    assert unhashed_or_loose(lock) == []


def test_a_lock_missing_a_package_or_at_another_version_is_stale():
    lock = f"jinja2==3.1.5 \\\n    {_H}\nruamel-yaml==0.19.1 \\\n    {_H}\n"
    problems = stale(SAMPLE_REQUIREMENTS, lock)
    assert len(problems) == 2
    assert "jinja2==3.1.6 in requirements.txt, jinja2==3.1.5 in requirements.lock" in problems
    assert "pytest==9.2.0 is in requirements.txt but not in requirements.lock" in problems


def test_a_lock_line_without_a_hash_or_an_exact_pin_is_caught():
    lock = f"jinja2==3.1.6\n    # via -r requirements.txt\nmarkupsafe>=3 \\\n    {_H}\npytest==9.2.0 --hash=sha256:short\n"
    problems = unhashed_or_loose(lock)
    assert any(p.startswith("jinja2: no --hash") for p in problems)
    assert any(p.startswith("markupsafe: not one exact version") for p in problems)
    assert any(p.startswith("pytest: no --hash") for p in problems)
    assert len(problems) == 3
