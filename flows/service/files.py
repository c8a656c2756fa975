"""Uploaded files: each stored once under its content hash, and referred to only by the ref issued for it.

`Uploads(store).store_upload(name, content)` checks an upload (size, type), saves it under the data
directory's ``files/uploads/<2 hex>/<64 hex>`` and returns what a file field takes::

    {"ref": "sha256:<hex>", "name": "现场照片.jpg", "size": 52314, "type": "image/jpeg"}

A form's file field accepts only refs of that shape that the store actually holds (`known`, given to
the core as `FormContext.file_known`): a path (``../../etc/passwd``, ``/etc/shadow``), a URL
(``file://…``) or a made-up hash is refused, so an attachment can never name a file the platform did
not store.

Settings (each also a constructor argument):

    WORKFLOW_UPLOAD_MAX_BYTES   largest upload in bytes (default `MAX_UPLOAD_BYTES`, 20 MB)
    WORKFLOW_UPLOAD_TYPES       allowed file name endings, comma-separated (default `ALLOWED_TYPES`)

An upload's type is told by its name's ending, and for the binary formats it must also be what the
content starts with (a ``.pdf`` that is not a PDF is refused).
"""
from __future__ import annotations

import hashlib
import mimetypes
import os
from pathlib import Path, PurePath

from flows.core.errors import FlowError
from flows.core.forms import FILE_NAME_MAX_LENGTH, FILE_REF, TextInvalid, clean_text, is_blank
from storage import Store

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
ALLOWED_TYPES = ("pdf", "jpg", "jpeg", "png", "doc", "docx", "xls", "xlsx", "ofd", "txt")
MAX_BYTES_ENV = "WORKFLOW_UPLOAD_MAX_BYTES"
TYPES_ENV = "WORKFLOW_UPLOAD_TYPES"
FOLDER = "uploads"

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of .doc and .xls
_ZIP = b"PK\x03\x04"  # the container of .docx, .xlsx and .ofd
_SIGNATURES = {"pdf": (b"%PDF-",), "png": (b"\x89PNG\r\n\x1a\n",), "jpg": (b"\xff\xd8\xff",),
               "jpeg": (b"\xff\xd8\xff",), "doc": (_OLE,), "xls": (_OLE,), "docx": (_ZIP,), "xlsx": (_ZIP,),
               "ofd": (_ZIP,)}
_EXTRA_TYPES = {"ofd": "application/ofd"}  # 版式文档 (GB/T 33190), unknown to mimetypes


class UploadRefused(FlowError):
    """An upload that was not stored; nothing was written."""

    code = "upload_refused"


def _env_types() -> tuple[str, ...] | None:
    text = os.environ.get(TYPES_ENV)
    if not text:
        return None
    return tuple(t.strip().lower().lstrip(".") for t in text.split(",") if t.strip())


def _env_max_bytes() -> int | None:
    text = os.environ.get(MAX_BYTES_ENV)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise UploadRefused(f"设置 {MAX_BYTES_ENV} 须为整数（字节数），现为「{text}」") from None


class Uploads:
    """The uploads of one data directory (its Store's files/)."""

    def __init__(self, store: Store, *, max_bytes: int | None = None, allowed: tuple[str, ...] | None = None):
        self.store = store
        self.max_bytes = max_bytes or _env_max_bytes() or MAX_UPLOAD_BYTES
        self.allowed = tuple(a.lower().lstrip(".") for a in (allowed or _env_types() or ALLOWED_TYPES))

    @staticmethod
    def _relpath(ref: str) -> str:
        digest = ref.split(":", 1)[1]
        return f"{FOLDER}/{digest[:2]}/{digest}"

    def known(self, ref: str) -> bool:
        """True when `ref` is a ref this platform issued and the file is stored (no other check)."""
        if not isinstance(ref, str) or FILE_REF.fullmatch(ref) is None:
            return False
        try:
            return self.store.file_path(self._relpath(ref)).is_file()
        except OSError:
            return False

    def path(self, ref: str) -> Path:
        """Where a stored upload is (for a download); refuses a ref the store does not hold."""
        if not self.known(ref):
            raise UploadRefused("附件不存在，或不是本平台保存的文件")
        return self.store.file_path(self._relpath(ref))

    def store_upload(self, name: str, content: bytes) -> dict:
        """Store an upload (idempotent: the same bytes give the same ref) and return its file-field value.

        Raises UploadRefused, writing nothing, for a bad name, an empty or too large file, or a type
        that is not allowed or not what its content is."""
        label = self._name(name)
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise UploadRefused(f"附件「{label}」的内容须为字节")
        content = bytes(content)
        if not content:
            raise UploadRefused(f"附件「{label}」是空文件")
        ending = PurePath(label).suffix.lower().lstrip(".")
        if ending not in self.allowed:
            allowed = "、".join(self.allowed)
            raise UploadRefused(f"附件「{label}」的类型不允许（可上传：{allowed}）")
        if len(content) > self.max_bytes:
            raise UploadRefused(f"附件「{label}」太大：{_size(len(content))}，最大 {_size(self.max_bytes)}")
        signatures = _SIGNATURES.get(ending)
        if signatures and not content.startswith(signatures):
            raise UploadRefused(f"附件「{label}」的内容不是 .{ending} 文件")
        ref = "sha256:" + hashlib.sha256(content).hexdigest()
        if not self.known(ref):
            self.store.save_file(self._relpath(ref), content)
        kind = _EXTRA_TYPES.get(ending) or mimetypes.guess_type(f"x.{ending}")[0] or "application/octet-stream"
        return {"ref": ref, "name": label, "size": len(content), "type": kind}

    @staticmethod
    def _name(name: str) -> str:
        """The file name as shown: its last part (a browser may send a path), under the text rules."""
        if not isinstance(name, str) or is_blank(name):
            raise UploadRefused("附件须有文件名")
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        try:
            base = clean_text(base, max_length=FILE_NAME_MAX_LENGTH, multiline=False)
        except TextInvalid as exc:
            raise UploadRefused(f"附件名{exc.message}") from None
        if not base or base in (".", ".."):
            raise UploadRefused("附件须有文件名")
        return base


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{n // 1024} KB" if n >= 1024 else f"{n} 字节"
