from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import pytest

from tests.documents.doc_samples import contexts

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "configs" / "templates"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture(scope="session")
def templates_dir() -> Path:
    return TEMPLATES


@pytest.fixture(scope="session")
def samples() -> dict[str, dict]:
    return contexts()


def open_docx(data: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(data))


def all_text(document) -> str:
    """Every w:t of body, tables, headers and footers, joined (paragraphs separated by newlines)."""
    parts = []
    for el in document.element.body.iter(W + "p"):
        parts.append("".join(t.text or "" for t in el.iter(W + "t")))
    for section in document.sections:
        for footer in (section.footer, section.even_page_footer):
            for p in footer.paragraphs:
                parts.append(p.text)
    return "\n".join(parts)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)
