"""Word documents from templates: docxtpl in a Jinja2 sandbox, GB/T 9704-2012 layout.

    render(template_path, context) -> bytes          the filled-in .docx
    template_variables(template_path) -> set[str]    dotted names a template uses ("case.data.deaths")
    (previews: flows.documents.preview; filters: flows.documents.filters)

Context given to a template:
    case  {"id", "title", "workflow", "unit", "created_at", "data": {...}}
    doc   {"number", "issuer", "date", "title", "addressee", "cc", "printed_by", "printed_date",
           "banner" (通知的红头, default 县交通运输局文件), "minutes" (纪要标志, e.g. 专家评审会议纪要)}
    rows  table rows for documents that are not made from one case (annual drill plan, statistics)
    extra values the caller computes (deadlines, periods); a top-level `settings` (the workflow's
          settings) fills in names `extra` lacks, e.g. extra.defense_days ← settings.defense_days
    case.deadlines (optional) {timer name: date}: templates fall back to it for deadline dates

Templates run in an immutable Jinja2 sandbox with autoescaping: user text containing < & >
appears as typed, and a template cannot reach Python internals (`''.__class__` and the like
raise TemplateError). Undefined names render as empty text, so an optional field left blank
does not break a document; `template_variables` lets `flows validate` catch misspelt names.

A render is bounded in time, steps and sizes (`sandbox_limits`); one that goes past them raises
TemplateLimitExceeded. `check_template` tries a template once with sample data (`sample_context`),
which `flows validate` and loading the configs do for every template.
"""
from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from docx.opc.exceptions import PackageNotFoundError
from docxtpl import DocxTemplate
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from lxml import etree

from flows.documents import gbt9704, pagination
from flows.documents.filters import FILTERS
from flows.documents.sandbox_limits import BoundedSandbox, LimitExceeded, Limits, budget


class TemplateError(ValueError):
    """A template cannot be read or rendered; the message (Chinese) names the template and the problem."""


class TemplateLimitExceeded(TemplateError):
    """A render went past its limits (time, steps, sizes: `sandbox_limits`). Rendering it again cannot
    help, so an effect rendering it is marked failed at once (`permanent`)."""

    permanent = True


LIMITS = Limits()  # what one render may cost (flows.documents.sandbox_limits)


class _DocumentEnvironment(BoundedSandbox, ImmutableSandboxedEnvironment):
    """Sandbox for admins' templates: no internals, no mutation, bounded time and sizes (`BoundedSandbox`);
    dict keys win over dict methods (a field named "items" is the field); compiled templates are cached
    by source."""

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=jinja2.ChainableUndefined)
        self.filters.update(FILTERS)
        self._compiled: dict[str, jinja2.Template] = {}
        self._lock = threading.Lock()
        self.install_limits()

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"不允许访问 {type(obj).__name__} 对象的内部属性「{attribute}」")

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                if attribute in obj:
                    return obj[attribute]
            except TypeError:
                pass
        return super().getattr(obj, attribute)

    def from_string(self, source, globals=None, template_class=None):  # noqa: A002 (Jinja's signature)
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        compiled = self._compiled.get(source)
        if compiled is None:
            compiled = super().from_string(source)
            with self._lock:
                if len(self._compiled) >= 128:
                    self._compiled.clear()
                self._compiled[source] = compiled
        return compiled


ENV = _DocumentEnvironment()

# ------------------------------------------------------------------ context hygiene

# characters XML 1.0 cannot hold, and the ones docxtpl turns into breaks (\a paragraph, \f page)
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _clean(value: Any) -> Any:
    """A copy of the context with text made safe for WordprocessingML (tabs and newlines kept)."""
    if isinstance(value, str):
        return _BAD_CHARS.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v) for v in value]
    return value


def _context(context: Mapping[str, Any]) -> dict:
    ctx = _clean(dict(context or {}))
    for key, empty in (("case", {}), ("doc", {}), ("rows", []), ("extra", {})):
        if ctx.get(key) is None:
            ctx[key] = empty
    if isinstance(ctx["case"], dict) and ctx["case"].get("data") is None:
        ctx["case"]["data"] = {}
    # a workflow's settings (defense_days, listing_years, …) are defaults for `extra`
    if isinstance(ctx.get("settings"), dict) and isinstance(ctx["extra"], dict):
        ctx["extra"] = {**ctx["settings"], **ctx["extra"]}
    return ctx

# ------------------------------------------------------------------ templates

_SOURCES: dict[Path, tuple[tuple[int, int], bytes]] = {}


def _template_bytes(template_path: Path) -> bytes:
    path = Path(template_path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise TemplateError(f"模板文件不存在：{path}") from None
    key = (st.st_mtime_ns, st.st_size)
    cached = _SOURCES.get(path.resolve())
    if cached and cached[0] == key:
        return cached[1]
    blob = path.read_bytes()
    _SOURCES[path.resolve()] = (key, blob)
    return blob


class _Template(DocxTemplate):
    """docxtpl's clean-up of the XML (patch_xml, a series of regexes) is a pure function of the
    part's XML: cache it, so rendering the same template again skips it."""

    _patched: dict[str, str] = {}
    _patched_lock = threading.Lock()

    def patch_xml(self, src_xml: str) -> str:
        done = self._patched.get(src_xml)
        if done is None:
            done = super().patch_xml(src_xml)
            with self._patched_lock:
                if len(self._patched) >= 256:
                    self._patched.clear()
                self._patched[src_xml] = done
        return done

    def fix_tables(self, xml: str):
        """docxtpl re-counts every table's columns after rendering (needed after {%tc %} column loops
        or merges); skip that walk when every row already matches its grid."""
        tree = etree.fromstring(xml, parser=etree.XMLParser(recover=True))
        for tbl in tree.iter(_W + "tbl"):
            grid = len(tbl.findall(f"{_W}tblGrid/{_W}gridCol"))
            for tr in tbl.iter(_W + "tr"):
                width = sum(int(span[0].get(_W + "val", 1)) if (span := tc.findall(f"{_W}tcPr/{_W}gridSpan")) else 1
                            for tc in tr.findall(_W + "tc"))
                if width != grid:
                    return super().fix_tables(xml)
        return tree


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _open(template_path: Path) -> DocxTemplate:
    path = Path(template_path)
    tpl = _Template(io.BytesIO(_template_bytes(path)))
    try:
        tpl.init_docx()
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, ValueError) as exc:
        raise TemplateError(f"模板「{path.name}」无法打开，不是有效的 Word（.docx）文件：{exc}") from None
    return tpl


def _near(exc: BaseException) -> str:
    lines = [line.strip() for line in getattr(exc, "docx_context", None) or [] if line.strip()]
    return f"（出错位置附近的文字：{' '.join(lines)[:120]}）" if lines else ""


def _wrap(path: Path, exc: BaseException) -> TemplateError:
    name = Path(path).name
    if isinstance(exc, LimitExceeded):
        return TemplateLimitExceeded(f"模板「{name}」超出渲染限制，已停止：{exc}")
    if isinstance(exc, SecurityError):
        return TemplateError(f"模板「{name}」试图访问不允许的内容，已拒绝渲染：{exc}")
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(f"模板「{name}」占位符语法错误：{exc.message}{_near(exc)}")
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(f"模板「{name}」引用了不存在的内容：{exc.message}{_near(exc)}")
    if isinstance(exc, etree.XMLSyntaxError):
        return TemplateError(f"模板「{name}」渲染后不是有效的 Word 文档（占位符可能破坏了段落或表格结构）：{exc}")
    return TemplateError(f"模板「{name}」渲染失败：{type(exc).__name__}: {exc}{_near(exc)}")


def render(template_path: Path, context: Mapping[str, Any], limits: Limits | None = None) -> bytes:
    """The filled-in .docx for `context` (see the module doc for its keys), within `limits` (LIMITS)."""
    path = Path(template_path)
    tpl = _open(path)
    try:
        with budget(limits or LIMITS):
            tpl.render(_context(context), jinja_env=ENV, autoescape=True)
        gbt9704.fit_banners(tpl.docx)
        pagination.finish_layout(tpl.docx)
        out = io.BytesIO()
        tpl.save(out)
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001 — every failure of an admin's template becomes a TemplateError
        raise _wrap(path, exc) from exc
    return out.getvalue()


def render_to(template_path: Path, context: Mapping[str, Any], out_path: Path) -> Path:
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(render(template_path, context))
    return out_path


def _template_source(tpl: DocxTemplate) -> str:
    """The Jinja source docxtpl renders: body, headers and footers after its tag clean-up."""
    xml = tpl.patch_xml(tpl.get_xml())
    for uri in (tpl.HEADER_URI, tpl.FOOTER_URI):
        for _, part in tpl.get_headers_footers(uri):
            xml += tpl.patch_xml(tpl.get_part_xml(part))
    return xml


def _dotted(node: nodes.Node) -> list[str] | None:
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            parts.append(node.name)
            return parts[::-1]
        else:
            return None


def _variables(ast: nodes.Template) -> set[str]:
    local = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    builtin = set(ENV.globals) | {"loop", "self", "varargs", "kwargs", "caller"}
    found: set[str] = set()

    def visit(node: nodes.Node) -> None:
        if isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Name)):
            parts = _dotted(node)
            if parts is not None:
                if parts[0] not in local and parts[0] not in builtin:
                    found.add(".".join(parts))
                return
        for child in node.iter_child_nodes():
            visit(child)

    visit(ast)
    return found


def template_variables(template_path: Path) -> set[str]:
    """Dotted names the template reads, e.g. {"case.data.deaths", "doc.number", "rows"}.
    Names bound inside the template (loop variables, {% set %}) are left out."""
    path = Path(template_path)
    tpl = _open(path)
    try:
        ast = ENV.parse(_template_source(tpl))
    except jinja2.TemplateSyntaxError as exc:
        raise _wrap(path, exc) from None
    return _variables(ast)

# ------------------------------------------------------------------ trying a template (flows validate)

SAMPLE_TEXT = "示例"


class _SampleRow(dict):
    """A row of sample data: every field a template reads from it is 示例 (dict methods stay methods)."""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and not key.startswith("_") and not hasattr(dict, key)

    def __missing__(self, key: str) -> str:
        return SAMPLE_TEXT


def sample_context(template_path: Path) -> dict:
    """Sample data for trying a template: every dotted name it reads is 示例, and every one it loops
    over holds two sample rows (whose fields are 示例 too)."""
    path = Path(template_path)
    try:
        ast = ENV.parse(_template_source(_open(path)))
    except jinja2.TemplateSyntaxError as exc:
        raise _wrap(path, exc) from None
    local = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    loops = {".".join(parts) for loop in ast.find_all(nodes.For)
             if (parts := _dotted(loop.iter)) is not None and parts[0] not in local}
    ctx: dict = {"case": {"id": "SL-2025-00001", "title": SAMPLE_TEXT, "created_at": "2025-01-06T09:00:00",
                          "data": {}}, "doc": {}, "rows": [], "extra": {}}
    for name in sorted(_variables(ast) | loops, key=lambda n: n.count(".")):
        *parents, leaf = name.split(".")
        node = ctx
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = _SampleRow()
            node = node[part]
        node[leaf] = [_SampleRow(), _SampleRow()] if name in loops else SAMPLE_TEXT
    return ctx


_CHECKED: dict[tuple[str, str, Limits | None], str | None] = {}


def check_template(template_path: Path, limits: Limits | None = None) -> str | None:
    """Render the template once with sample data (`sample_context`) in the sandbox: the problem (Chinese)
    when it goes past the limits, reaches for what the sandbox refuses or names what does not exist
    (a filter, say); None otherwise. A failure the sample values themselves may cause (示例 where a
    number is expected) is not reported: real data decides those. Remembered by the template's content."""
    path = Path(template_path)
    try:
        key = (hashlib.sha256(_template_bytes(path)).hexdigest(), path.name, limits)
    except TemplateError as exc:
        return str(exc)
    if key not in _CHECKED:
        problem = None
        try:
            render(path, sample_context(path), limits)
        except TemplateLimitExceeded as exc:
            problem = str(exc)
        except TemplateError as exc:
            cause = exc.__cause__
            if cause is None or isinstance(cause, (SecurityError, jinja2.TemplateSyntaxError, etree.XMLSyntaxError)):
                problem = str(exc)
        if len(_CHECKED) >= 256:
            _CHECKED.clear()
        _CHECKED[key] = problem
    return _CHECKED[key]
