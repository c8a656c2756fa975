"""The workflows every process serves, as the store has them: what the designer published joins
what configs/flows ships, without a restart.

A published version is a snapshot in table `definitions` (`name@version`: the definition, its YAML
source with the admin's comments, who published it and when, the templates and document settings
it issues with). Table `catalogue` holds one small row per designer-published workflow: its newest
version. Each process compares that table with what it serves before a page run, a sweep or an
executor poll (`refresh`): a few rows, so it is cheap. The live version of a workflow is the newest
one, from either side: a rollback publishes the old content again as a new version, so versions
only ever grow and a running case keeps the one it started on.

Templates are versioned with the workflow: a template the designer uploaded is kept by its content
hash under `templates/<workflow>/<template>/<sha>.docx` in the data directory, and each published
version records the hash of every template it issues. A version that records none uses the file
of configs/templates, as the shipped workflows always have.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flows.core import engine
from flows.core.spec import Workflow
from flows.documents.settings import DocumentSettings, DocumentSpec
from storage import ConflictError, Store

CATALOGUE = "catalogue"
DEFINITIONS = "definitions"


def key(name: str, version: int) -> str:
    return f"{name}@{version}"


def definition_hash(wf: Workflow) -> str:
    text = json.dumps(wf.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def template_relpath(workflow: str, template: str, sha: str) -> str:
    return f"templates/{workflow}/{template}/{sha}.docx"


def store_template(store: Store, workflow: str, template: str, content: bytes) -> str:
    """Keep an uploaded template by its content; returns its hash (the same file is kept once)."""
    sha = hashlib.sha256(content).hexdigest()[:16]
    path = store.file_path(template_relpath(workflow, template, sha))
    if not path.exists():
        store.save_file(template_relpath(workflow, template, sha), content)
    return sha


@dataclass(frozen=True)
class Published:
    """What `publish` made: the version and the record stored for it."""

    workflow: Workflow
    record: dict


def publish(store: Store, wf: Workflow, *, source: str, by: str, now: datetime, digest: str,
            templates: dict[str, str], documents: dict[str, dict], note: str = "") -> Published:
    """Store `wf` (its version already the next free one) as published by `by`; raises
    storage.ConflictError when another admin published this workflow meanwhile (nothing is written)."""
    row = store.get(CATALOGUE, wf.name)
    record = {"name": wf.name, "version": wf.version, "hash": digest,
              "definition": wf.model_dump(mode="json", by_alias=True), "source": source,
              "published_by": by, "published_at": engine.iso(now), "templates": dict(templates),
              "documents": dict(documents), "note": note}
    if store.get(DEFINITIONS, key(wf.name, wf.version)) is not None:
        raise ConflictError(f"{DEFINITIONS}/{key(wf.name, wf.version)}", 0, 1, what="流程版本")
    # the catalogue row first, with a version check: two admins publishing at once get one each
    store.put(CATALOGUE, wf.name, {"name": wf.name, "version": wf.version, "by": by, "at": engine.iso(now)},
              expected_version=row["_version"] if row else 0)
    store.put(DEFINITIONS, key(wf.name, wf.version), record)
    return Published(wf, record)


def newest_versions(store: Store) -> dict[str, int]:
    """Designer-published workflows → their newest version (the catalogue's rows)."""
    return {row["name"]: int(row["version"]) for row in store.all(CATALOGUE)}


def versions(store: Store, name: str) -> list[dict]:
    """Every stored version of a workflow, oldest first (shipped ones have no published_by)."""
    rows = store.select(DEFINITIONS, lambda doc: doc.get("name") == name)
    return sorted(rows, key=lambda doc: doc["version"])


def highest_version(store: Store, name: str) -> int:
    return max((doc["version"] for doc in versions(store, name)), default=0)


def template_path(store: Store, record: dict | None, template: str, fallback_dir: Path) -> Path:
    """The template file a version issues `template` with: its own snapshot, else configs/templates."""
    sha = (record or {}).get("templates", {}).get(template)
    if sha:
        return store.file_path(template_relpath(record["name"], template, sha))
    return fallback_dir / f"{template}.docx"


def draft_template(store: Store, templates_dir: Path, workflow: str, uploads: dict[str, str],
                   template: str) -> Path | None:
    """The file a draft issues `template` with: its upload (`uploads`: template → hash), else the
    one of configs/templates; None when there is neither."""
    sha = uploads.get(template)
    path = store.file_path(template_relpath(workflow, template, sha)) if sha else templates_dir / f"{template}.docx"
    return path if path.exists() else None


def document_spec(base: DocumentSettings, own: dict[str, dict] | None, template: str) -> DocumentSpec:
    """A document's settings: those a version (or a draft) gives it (`own`: template → fields), else
    configs/documents.yaml's; the defaults of documents.yaml fill what either leaves out."""
    fields = (own or {}).get(template)
    return merged_documents(base, [{"documents": {template: fields}}] if fields else []).spec(template)


def merged_documents(base: DocumentSettings, published: list[dict]) -> DocumentSettings:
    """configs/documents.yaml with the document settings of the designer's newest versions."""
    extra = {name: DocumentSpec.model_validate(spec) for record in published
             for name, spec in (record.get("documents") or {}).items()}
    if not extra:
        return base
    return DocumentSettings(defaults=base.defaults, documents={**base.documents, **extra})
