"""Word documents from templates: docxtpl in a Jinja2 sandbox, GB/T 9704-2012 layout.

    render(template_path, context) -> bytes          the filled-in .docx
    template_variables(template_path) -> set[str]    dotted names a template uses ("case.data.deaths")
    to_pdf / to_png                                   previews through LibreOffice and pdftoppm
    python -m flows.documents preview FILE.docx [--out DIR]
    python -m flows.documents render TEMPLATE.docx --data DATA.json [--out FILE.docx]
    python -m flows.documents vars TEMPLATE.docx

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
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from docx.opc.exceptions import PackageNotFoundError
from docxtpl import DocxTemplate
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from lxml import etree

from flows import gbt9704, statistics

# ------------------------------------------------------------------ errors


class TemplateError(ValueError):
    """A template cannot be read or rendered; the message (Chinese) names the template and the problem."""


class PreviewError(RuntimeError):
    """A PDF/PNG preview could not be made (converter missing or failed)."""


PREVIEW_PACKAGES = "libreoffice-writer-nogui poppler-utils fonts-noto-cjk fonts-arphic-ukai"

# ------------------------------------------------------------------ numbers and dates


def format_doc_number(prefix: str, year: int, seq: int) -> str:
    """发文字号: format_doc_number("县交安", 2024, 12) → "县交安〔2024〕12号" (full-width 〔〕, no leading zeros)."""
    if not isinstance(prefix, str) or not prefix.strip():
        raise ValueError("发文机关代字不能为空")
    if isinstance(year, bool) or not isinstance(year, int) or not 1000 <= year <= 9999:
        raise ValueError(f"年份须为四位整数：{year!r}")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"发文顺序号须为正整数：{seq!r}")
    return f"{prefix.strip()}〔{year}〕{seq}号"


def format_issue_number(seq: int) -> str:
    """纪要期号: 3 → "第3期"."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"期号须为正整数：{seq!r}")
    return f"第{seq}期"


def chinese_date(d: date) -> str:
    """date(2024, 3, 5) → "2024年3月5日" (Arabic numerals, no leading zeros)."""
    return f"{d.year}年{d.month}月{d.day}日"


_ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")


def _as_datetime(value: Any) -> date | datetime | None:
    if isinstance(value, (date, datetime)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not _ISO_DATE.match(text):
            return None
        try:
            if len(text) > 10:
                return datetime.fromisoformat(text.replace("Z", "+00:00"))
            return date.fromisoformat(text)
        except ValueError:
            try:
                return date.fromisoformat(text[:10])
            except ValueError:
                return None
    return None


def cn_date(value: Any, year: bool = True) -> str:
    """Filter: a date, datetime or ISO text → "2024年3月5日" (cn_date(false) → "3月5日");
    anything else unchanged, empty for none."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    d = _as_datetime(value)
    if d is None:
        return str(value)
    return chinese_date(d) if year else f"{d.month}月{d.day}日"


def cn_datetime(value: Any) -> str:
    """Filter: "2024-03-05T14:30" → "2024年3月5日14时30分" (a date alone → "2024年3月5日")."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    d = _as_datetime(value)
    if d is None:
        return str(value)
    if not isinstance(d, datetime):
        return chinese_date(d)
    return chinese_date(d) + (f"{d.hour}时{d.minute}分" if d.minute else f"{d.hour}时")


def num(value: Any) -> str:
    """Filter: numbers without trailing zeros (12.0 → "12", 1234.567 → "1234.57"); empty for none."""
    if value is None or isinstance(value, jinja2.Undefined) or value == "":
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def names(value: Any) -> str:
    """Filter: a list of names (or of {name: …} rows) joined with "、"; text unchanged."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return str(value.get("name", ""))
    if isinstance(value, Iterable):
        return "、".join(names(v) for v in value if v not in (None, ""))
    return str(value)


def paragraphs(value: Any) -> str:
    """Filter: each line of a long text becomes its own paragraph (same style, first-line indent)."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    items = value if isinstance(value, (list, tuple)) else str(value).split("\n")
    return "\a".join(line.strip() for line in (str(i) for i in items) if line.strip())


_CLAUSE_END = "。．.，,；;：:、 \t\n"


def clause(value: Any) -> str:
    """Filter: text to be continued by the template's own punctuation — trailing 。，；： are dropped
    ("《办法》第五条。" → "《办法》第五条"), so "依据{{ x|clause }}，" never reads "。，"."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    return names(value).rstrip(_CLAUSE_END)


_DIGITS = "零一二三四五六七八九"


def cn_number(value: Any) -> str:
    """Filter: 1 → 一, 10 → 十, 12 → 十二, 25 → 二十五 (up to 99; larger numbers stay Arabic)."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return str(value)
    if not 0 <= n < 100:
        return str(n)
    if n < 10:
        return _DIGITS[n]
    tens, units = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[units] if units else "")


FILTERS = {"cn_date": cn_date, "cn_datetime": cn_datetime, "num": num, "names": names,
           "paragraphs": paragraphs, "cn_number": cn_number, "clause": clause}

# ------------------------------------------------------------------ the sandbox


class _DocumentEnvironment(ImmutableSandboxedEnvironment):
    """Sandbox for admins' templates: no internals, no mutation, no huge products; dict keys win over
    dict methods (a field named "items" is the field); compiled templates are cached by source."""

    MAX_REPEAT = 100_000
    intercepted_binops = frozenset(["*", "**"])

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=jinja2.ChainableUndefined)
        self.filters.update(FILTERS)
        self._compiled: dict[str, jinja2.Template] = {}
        self._lock = threading.Lock()

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

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError("模板中的乘方运算过大")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and \
                        len(seq) * times > self.MAX_REPEAT:
                    raise SecurityError("模板中的重复运算结果过长")
        return super().call_binop(context, operator, left, right)

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
    if isinstance(exc, SecurityError):
        return TemplateError(f"模板「{name}」试图访问不允许的内容，已拒绝渲染：{exc}")
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(f"模板「{name}」占位符语法错误：{exc.message}{_near(exc)}")
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(f"模板「{name}」引用了不存在的内容：{exc.message}{_near(exc)}")
    if isinstance(exc, etree.XMLSyntaxError):
        return TemplateError(f"模板「{name}」渲染后不是有效的 Word 文档（占位符可能破坏了段落或表格结构）：{exc}")
    return TemplateError(f"模板「{name}」渲染失败：{type(exc).__name__}: {exc}{_near(exc)}")


def render(template_path: Path, context: Mapping[str, Any]) -> bytes:
    """The filled-in .docx for `context` (see the module doc for its keys)."""
    path = Path(template_path)
    tpl = _open(path)
    try:
        tpl.render(_context(context), jinja_env=ENV, autoescape=True)
        gbt9704.fit_banners(tpl.docx)
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

# ------------------------------------------------------------------ accident statistics

def statistics_context(period: str, accidents: Iterable[Mapping[str, Any]],
                       types: Iterable[str] = statistics.ACCIDENT_TYPES, analysis: str = "") -> dict:
    """`rows` and `extra` for accident_statistics.docx from the accidents' case data of one period
    (the table itself is `flows.statistics.table`, the one the scheduled reports use)."""
    table = statistics.table(accidents, types)
    return {"rows": table["rows"], "extra": {"period": period, "totals": table["totals"], "analysis": analysis}}

# ------------------------------------------------------------------ previews

# how a Linux preview substitutes the office's Windows fonts (fonts-noto-cjk, fonts-arphic-ukai)
FONT_SUBSTITUTES = {
    gbt9704.FANGSONG: ("FandolFang", "Noto Serif CJK SC"), "仿宋": ("FandolFang", "Noto Serif CJK SC"),
    gbt9704.KAITI: ("AR PL UKai CN", "FandolKai"), "楷体": ("AR PL UKai CN", "FandolKai"),
    gbt9704.HEITI: ("Noto Sans CJK SC",), gbt9704.SONGTI: ("Noto Serif CJK SC",),
    gbt9704.XIAOBIAOSONG: ("Noto Serif CJK SC",),
}
BOLD_SUBSTITUTES = {gbt9704.XIAOBIAOSONG}   # 小标宋 is a heavy Song: the bold Noto Serif is closest


def _fontconfig_file() -> Path:
    rules = []
    for family, subs in FONT_SUBSTITUTES.items():
        prepend = "".join(f"<string>{s}</string>" for s in subs)
        weight = '<edit name="weight" mode="assign" binding="strong"><const>bold</const></edit>' \
            if family in BOLD_SUBSTITUTES else ""
        rules.append(f'<match target="pattern"><test name="family"><string>{family}</string></test>'
                     f'<edit name="family" mode="prepend" binding="strong">{prepend}</edit>{weight}</match>')
    text = ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
            '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n' + "\n".join(rules) + "\n</fontconfig>\n")
    path = Path(tempfile.gettempdir()) / f"flows-documents-fonts-{os.getuid()}.conf"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def office_command() -> str | None:
    return shutil.which("libreoffice") or shutil.which("soffice")


def to_pdf(docx_path: Path, out_dir: Path, timeout: float = 180) -> Path:
    """Convert with `libreoffice --headless --convert-to pdf`; Windows fonts are substituted for the preview."""
    exe = office_command()
    if exe is None:
        raise PreviewError("未找到 LibreOffice（libreoffice 或 soffice 命令），无法生成 PDF 预览。"
                           f"请安装 Debian 软件包：{PREVIEW_PACKAGES}")
    docx_path, out_dir = Path(docx_path).resolve(), Path(out_dir)
    if not docx_path.is_file():
        raise PreviewError(f"文件不存在：{docx_path}")
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf = out_dir / f"{docx_path.stem}.pdf"
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="flows-lo-") as profile:
        env = dict(os.environ, FONTCONFIG_FILE=str(_fontconfig_file()), HOME=profile)
        cmd = [exe, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless", "--norestore",
               "--nolockcheck", "--nodefault", "--convert-to", "pdf", "--outdir", str(out_dir), str(docx_path)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise PreviewError(f"LibreOffice 转换超时（{timeout:.0f} 秒）：{docx_path.name}") from None
    if proc.returncode != 0 or not pdf.exists():
        raise PreviewError(f"LibreOffice 转换失败（退出码 {proc.returncode}）：{(proc.stderr or proc.stdout).strip()}")
    return pdf


def to_png(docx_path: Path, out_dir: Path, dpi: int = 110) -> list[Path]:
    """One PNG per page (via the PDF and `pdftoppm`)."""
    pdf = to_pdf(docx_path, out_dir)
    if shutil.which("pdftoppm") is None:
        raise PreviewError(f"未找到 pdftoppm，无法生成图片预览（PDF 已生成：{pdf}）。"
                           f"请安装 Debian 软件包：{PREVIEW_PACKAGES}")
    prefix = Path(out_dir) / pdf.stem
    for old in Path(out_dir).glob(f"{pdf.stem}-*.png"):
        old.unlink()
    proc = subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), str(prefix)],
                          capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        raise PreviewError(f"pdftoppm 转换失败：{proc.stderr.strip()}")
    pages = list(Path(out_dir).glob(f"{pdf.stem}-*.png"))
    return sorted(pages, key=lambda p: int(p.stem.rsplit("-", 1)[1]))

# ------------------------------------------------------------------ command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.documents", description="公文模板渲染与预览")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preview", help="把 .docx 转成 PDF 和逐页 PNG，打印其路径")
    p.add_argument("file", type=Path)
    p.add_argument("--out", type=Path, default=None, help="输出目录（默认与文件同目录下的 preview/）")
    p.add_argument("--dpi", type=int, default=110)
    r = sub.add_parser("render", help="用 JSON 数据渲染模板")
    r.add_argument("template", type=Path)
    r.add_argument("--data", type=Path, required=True, help="JSON 文件：{case, doc, rows, extra}")
    r.add_argument("--out", type=Path, default=None)
    v = sub.add_parser("vars", help="列出模板引用的字段")
    v.add_argument("template", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "preview":
            out = args.out or args.file.parent / "preview"
            pngs = to_png(args.file, out, dpi=args.dpi)
            print(out / f"{args.file.stem}.pdf")
            for png in pngs:
                print(png)
        elif args.command == "render":
            context = json.loads(args.data.read_text(encoding="utf-8"))
            out = args.out or Path.cwd() / f"{args.template.stem}-渲染结果.docx"
            print(render_to(args.template, context, out))
        else:
            for name in sorted(template_variables(args.template)):
                print(name)
    except (TemplateError, PreviewError, OSError, json.JSONDecodeError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
