"""The benchmark's mails: people sending one filled request form each, Word or Excel.

Filling a form with openpyxl costs ~80 ms, so each (kind, format) is filled once with a
placeholder in one free-text field and every mail then gets its own copy with a number
in place of the placeholder (~1 ms): every attachment differs (so the archive really
writes each one, as in real life), and every form still reads back without problems.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow_testing import SERVICE_ADDRESS, mailbuild
from mailflow_testing.mailbuild import FilenameStyle
from tests.formfill import SAMPLES, fill_docx, fill_xlsx

PLACEHOLDER = b"BENCH000000"
# the free-text field of each kind that carries the per-mail number
VARIED_FIELD = {
    "data_extraction": "purpose",
    "account": "reason",
    "system_change": "title",
    "minutes": "title",
}
MIME = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SURNAMES = "张王李赵刘陈杨黄周吴"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳"]
CST = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class FilledForm:
    """A filled form as zip members, one of them holding PLACEHOLDER."""

    kind: str
    fmt: str
    title_zh: str
    members: tuple[tuple[zipfile.ZipInfo, bytes], ...]

    def numbered(self, number: int) -> bytes:
        """The package with the placeholder replaced by *number* (same length)."""
        token = f"BENCH{number:06d}".encode("ascii")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
            for info, data in self.members:
                package.writestr(info, data.replace(PLACEHOLDER, token))
        return out.getvalue()


def catalog() -> FormCatalog:
    return load_catalog(default_forms_dir())


def filled_forms(blank_dir: Path | None = None) -> list[FilledForm]:
    """The bench's kinds (those with a varied field: the four of the original workload) in
    both formats, filled with the round-trip samples of tests/formfill.py; the later kinds are
    data of the same shape and would only change the mix, not what is measured."""
    cat = catalog()
    blank_dir = blank_dir or default_forms_dir() / "blank"
    forms: list[FilledForm] = []
    for kind in sorted(k for k in SAMPLES if k in VARIED_FIELD):
        form = cat.get(kind)
        values = dict(SAMPLES[kind])
        key = VARIED_FIELD[kind]
        values[key] = f"{values[key]} {PLACEHOLDER.decode()}"
        fmt: Literal["docx", "xlsx"]
        for fmt in ("docx", "xlsx"):
            blank = cat.blank_path(kind, fmt, blank_dir).read_bytes()
            fill = fill_docx if fmt == "docx" else fill_xlsx
            data = fill(blank, form, values)
            with zipfile.ZipFile(io.BytesIO(data)) as package:
                members = tuple((info, package.read(info)) for info in package.infolist())
            if not any(PLACEHOLDER in body for _, body in members):
                raise RuntimeError(f"placeholder lost when filling {kind}.{fmt}")
            forms.append(FilledForm(kind, fmt, form.title_zh, members))
    return forms


def sender(number: int) -> tuple[str, str]:
    """(display name, address): a distinct person per mail, so no hourly cap applies."""
    name = SURNAMES[number % len(SURNAMES)] + GIVEN[(number // len(SURNAMES)) % len(GIVEN)]
    return name, f"staff{number:06d}@example.test"


def form_mail(form: FilledForm, number: int, *, attachment: bytes | None = None) -> bytes:
    """A person's mail carrying *form* (numbered *number*), as Foxmail or Outlook send it."""
    name, addr = sender(number)
    charset = ("utf-8", "gbk", "gb18030")[number % 3]
    style: FilenameStyle = "rfc2231" if number % 2 else "rfc2047"
    data = attachment if attachment is not None else form.numbered(number)
    return mailbuild.human_mail(
        sender=f"{name} <{addr}>",
        to=SERVICE_ADDRESS,
        subject=f"{form.title_zh} 第{number}号",
        body=f"您好：\n\n附件是{form.title_zh}，请审批。\n\n谢谢！\n{name}",
        charset=charset,
        attachments=[(f"{form.title_zh}-{number}.{form.fmt}", data, MIME[form.fmt])],
        filename_style=style,
        date=datetime(2026, 11, 24, 9, 0, tzinfo=CST) + timedelta(seconds=number),
    )


def form_mails(count: int, start: int = 1) -> Iterator[bytes]:
    """*count* mails, numbers start.., cycling through the kinds and formats."""
    forms = filled_forms()
    for number in range(start, start + count):
        yield form_mail(forms[number % len(forms)], number)
