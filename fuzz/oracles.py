"""The invariants hostile input must never break -- shared by the tests and the fuzz targets.

A check returns quietly or raises ``AssertionError`` saying which promise broke; any other
exception escaping the code under test is itself the finding (a crash).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath, PureWindowsPath

from fuzz.corpus import FORMS
from mailflow.documents.definitions import FormCatalog, load_catalog
from mailflow.documents.reading import UnknownForm, UnreadableForm, read_form
from mailflow.documents.safety import FileRefused, SafetyLimits, check_office_file, office_kind
from mailflow.mail.bounces import MAX_IDS, MAX_REASON, bounce_reason, bounced_ids
from mailflow.mail.classify import classify
from mailflow.mail.filenames import MAX_NAME_BYTES
from mailflow.mail.parse import MAX_ENCLOSED, MailAttachment, ParsedMail, parse_mail

# --- attachment file names -----------------------------------------------------------------

WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"COM{i}" for i in "0123456789¹²³"}
    | {f"LPT{i}" for i in "0123456789¹²³"}
)
WINDOWS_FORBIDDEN = frozenset('<>:"|?*')
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def assert_safe_filename(name: str, folder: Path) -> None:
    """*name* can be written into *folder* on Linux or Windows and lands inside it, as a plain
    visible file name: the promise ``MailAttachment.filename`` makes."""
    assert isinstance(name, str) and name, f"empty file name {name!r}"
    assert name not in (".", ".."), f"dot name {name!r}"
    assert "/" not in name and "\\" not in name, f"path separator in {name!r}"
    assert "\x00" not in name, f"NUL in {name!r}"
    bad = [ch for ch in name if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    assert not bad, f"control/format characters {bad!r} in {name!r}"
    assert not BIDI_CONTROLS & set(name), f"bidi control in {name!r}"
    assert not WINDOWS_FORBIDDEN & set(name), f"Windows-forbidden character in {name!r}"
    assert name == name.rstrip(". "), f"trailing dot/space in {name!r} (Windows drops them)"
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    assert stem not in WINDOWS_DEVICES, f"Windows device name {name!r}"
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES, f"{len(name.encode())} bytes: {name!r}"
    for pure in (PurePosixPath(name), PureWindowsPath(name)):
        assert pure.name == name and not pure.anchor, f"{name!r} is a path ({pure!r})"
    target = (folder / name).resolve()
    assert target.parent == folder.resolve(), f"{name!r} leaves {folder}"


# --- HTML shown to people ------------------------------------------------------------------

# Attributes through which a browser fetches something on its own (no click needed).
_LOADING_ATTRS = frozenset(
    {"src", "srcset", "background", "poster", "lowsrc", "dynsrc", "data", "codebase",
     "longdesc", "manifest", "formaction", "action", "ping", "xlink:href", "srcdoc",
     "archive", "classid", "profile", "icon", "usemap"}
)  # fmt: skip
_URL_ATTRS = _LOADING_ATTRS | {"href", "cite", "style"}
_FORBIDDEN_TAGS = frozenset(
    {"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "link",
     "meta", "base", "form", "svg", "math", "template", "noscript", "portal", "xmp", "plaintext"}
)  # fmt: skip
_DANGEROUS_SCHEME = re.compile(r"^(?:javascript|vbscript|livescript|mocha|data):", re.IGNORECASE)
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|\\\\)", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\xa0\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


class _Attrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            self._attribute(tag, name, value or "")

    handle_startendtag = handle_starttag

    def _attribute(self, tag: str, name: str, value: str) -> None:
        if name.startswith("on"):
            self.problems.append(f"event handler {name}= on <{tag}>")
        if name not in _URL_ATTRS:
            return
        bare = _INVISIBLE.sub("", value)
        if _DANGEROUS_SCHEME.match(bare):
            self.problems.append(f"{name}={value!r} on <{tag}>")
        if name == "style" and re.search(r"url\s*\(|expression\s*\(|@import", bare, re.I):
            self.problems.append(f"style={value!r} on <{tag}>")
        if name in _LOADING_ATTRS:
            urls = (
                [u.strip().split(" ")[0] for u in value.split(",")] if name == "srcset" else [value]
            )
            for url in urls:
                clean = _INVISIBLE.sub("", url)
                if clean and (_REMOTE.match(clean) and not clean.lower().startswith("cid:")):
                    self.problems.append(f"remote-loading {name}={value!r} on <{tag}>")


def assert_safe_html(html: str) -> None:
    """HTML we show people runs no script and loads nothing from the network by itself."""
    lowered = html.lower()
    assert "<script" not in lowered, "a <script element survives"
    checker = _Attrs()
    checker.feed(html)
    checker.close()
    assert not checker.problems, "; ".join(checker.problems[:5])


# --- the mail parser -----------------------------------------------------------------------


def check_mail(raw: bytes, folder: Path) -> ParsedMail:
    """``parse_mail`` on *raw* keeps every promise; the result is returned for more checks."""
    parsed = parse_mail(raw)
    assert isinstance(parsed, ParsedMail)
    for att in parsed.attachments:
        assert isinstance(att, MailAttachment)
        assert_safe_filename(att.filename, folder)
        assert isinstance(att.data, bytes)
    if parsed.html is not None:
        assert_safe_html(parsed.html)
    assert "\n" not in parsed.subject and "\r" not in parsed.subject, "multi-line subject"
    assert isinstance(parsed.text, str) and isinstance(parsed.defects, tuple)
    classify(parsed, own_addresses=("it@example.test",))  # must not raise either
    assert len(parsed.enclosed_ids) <= MAX_ENCLOSED
    # what a bounce is read for: bounded, never raises
    assert len(bounced_ids(parsed, "it@example.test")) <= MAX_IDS
    assert len(bounce_reason(parsed)) <= MAX_REASON
    return parsed


# --- the forms desk ------------------------------------------------------------------------

_CATALOG: list[FormCatalog] = []


def catalog() -> FormCatalog:
    """The real form catalog (forms/*.toml), loaded once."""
    if not _CATALOG:
        _CATALOG.append(load_catalog(FORMS))
    return _CATALOG[0]


def check_office(data: bytes, filename: str, limits: SafetyLimits | None = None) -> str:
    """Guard then reader, as FormDesk.examine runs them; the outcome as a short word.

    Allowed endings: the guard refuses (``refused:<reason>``), the reader finds no form
    (``unknown``) or cannot read the file (``unreadable``), or forms are read (``read``).
    Anything else escaping is the finding.
    """
    kind = office_kind(filename, "", data)
    assert kind is None or isinstance(kind, str)
    try:
        checked = check_office_file(data, filename, limits=limits or SafetyLimits())
    except FileRefused as exc:
        return f"refused:{exc.refusal.value}"
    assert checked.fmt in ("docx", "xlsx")
    try:
        readings = read_form(checked.data, checked.fmt, catalog(), source_name=filename)
    except UnknownForm:
        return "unknown"
    except UnreadableForm:
        return "unreadable"
    for reading in readings:
        reading.json_values()  # what the database stores must be producible
    return "read"


def examine_attachment(data: bytes, filename: str, content_type: str = "") -> int:
    """The whole forms desk on one attachment (FormDesk.examine); returns how many outcomes
    (forms accepted plus problems) it reported.  Must never raise."""
    from hashlib import sha256

    from mailflow.documents.examine import FormDesk

    desk = FormDesk(
        catalog=catalog(), limits=SafetyLimits(), converter=None, blank_dir=FORMS / "blank"
    )
    att = MailAttachment(
        filename=filename,
        original_filename=filename,
        content_type=content_type,
        data=data,
        sha256=sha256(data).hexdigest(),
        forwarded=False,
    )
    mail = dataclasses.replace(parse_mail(b"From: a@example.test\r\n\r\n"), attachments=(att,))
    outcome = desk.examine(mail)
    return len(outcome.accepted) + len(outcome.problems)
