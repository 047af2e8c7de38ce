"""Seed inputs: the shared third-party corpus (../shared/corpus) plus mails and forms we build.

The corpus sits beside the repository (see CONTRIBUTING.md); when it is missing the seeds
fall back to what :mod:`mailflow_testing.mailbuild` and the blank forms give, so a target
still runs, only with a poorer start.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mailflow.paths import bundled_dir

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
FORMS = bundled_dir("forms")  # the package's own, or a checkout's forms/
BLANK_FORMS = FORMS / "blank"

_NOT_MAIL_SUFFIXES = frozenset(
    {".json", ".yml", ".yaml", ".docx", ".xlsx", ".doc", ".xls", ".xlsm", ".docm", ".xlsb",
     ".msg", ".ooxml", ".md", ".pdf", ".zip", ".bin", ".dotx", ".xltx", ".pptx", ".odt"}
)  # fmt: skip
_NOT_MAIL_NAMES = frozenset({"COPYING", "README", "MANIFEST.md"})
_OFFICE_SUFFIXES = frozenset({".docx", ".xlsx", ".docm", ".xlsm", ".dotx", ".xltx", ".ooxml"})


def _files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


@functools.cache
def mail_paths(max_bytes: int = 2 * 1024 * 1024) -> tuple[Path, ...]:
    """Corpus files that are mails (RFC 822 text), smallest first, up to *max_bytes* each."""
    found = [
        p
        for p in _files(CORPUS)
        if p.suffix.lower() not in _NOT_MAIL_SUFFIXES
        and p.name not in _NOT_MAIL_NAMES
        and "signature" not in p.parts  # talon's plain-text signature fixtures
        and p.stat().st_size <= max_bytes
    ]
    return tuple(sorted(found, key=lambda p: (p.stat().st_size, str(p))))


@functools.cache
def html_mail_paths(max_bytes: int = 256 * 1024) -> tuple[Path, ...]:
    """Corpus mails with an HTML part."""
    return tuple(p for p in mail_paths(max_bytes) if b"text/html" in p.read_bytes().lower())


@functools.cache
def office_paths(max_bytes: int = 2 * 1024 * 1024) -> tuple[Path, ...]:
    """Word/Excel packages: the blank forms, python-docx's files, then the rest of the corpus."""
    blank = _files(BLANK_FORMS)
    docx = _files(CORPUS / "python-docx")
    rest = [p for p in _files(CORPUS) if p not in docx]
    return tuple(
        p
        for p in [*blank, *docx, *rest]
        if p.suffix.lower() in _OFFICE_SUFFIXES and p.stat().st_size <= max_bytes
    )


@functools.cache
def built_mails() -> tuple[bytes, ...]:
    """Mails shaped like our users' (Foxmail GBK, RFC 2231 names, HTML alternative, a form)."""
    from mailflow_testing.mailbuild import html_only_mail, human_mail

    form = (BLANK_FORMS / "account.docx").read_bytes() if BLANK_FORMS.is_dir() else b"PK\x03\x04"
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return (
        human_mail(
            sender="张伟 <zhang.wei@example.test>",
            to="IT管理部 <it@example.test>",
            subject="帐号申请 - 新增帐号",
            body="请审批附件中的申请表。\n谢谢",
            charset="gbk",
            html="<p>请审批<b>附件</b>。<img src='cid:logo'></p>",
            attachments=[("帐号申请表.docx", form, docx)],
        ),
        human_mail(
            sender="li.na@example.test",
            to="it@example.test, 王芳 <wang.fang@example.test>",
            subject="Re: 数据提取申请",
            body="同意\n\n---- 原始邮件 ----\n发件人：张伟",
            charset="utf-8",
            attachments=[("data.xlsx", b"PK\x03\x04", "application/octet-stream")],
            filename_style="rfc2047",
        ),
        html_only_mail(
            sender="webmail@example.test",
            to="it@example.test",
            subject="系统变更通知",
            html="<div>变更<a href='http://example.test/x'>详情</a></div>",
            charset="gb18030",
        ),
    )


def mail_seeds(max_bytes: int = 64 * 1024, limit: int = 0) -> list[bytes]:
    """Seed mails: the built ones first, then corpus mails up to *max_bytes* (at most
    *limit* of them, spread over the whole corpus, when *limit* is given)."""
    paths = list(mail_paths(max_bytes))
    if limit and len(paths) > limit:
        step = len(paths) / limit
        paths = [paths[int(i * step)] for i in range(limit)]
    return [*built_mails(), *(p.read_bytes() for p in paths)]


def office_seeds(max_bytes: int = 512 * 1024, limit: int = 0) -> list[tuple[str, bytes]]:
    """Seed packages as (file name, bytes)."""
    paths = list(office_paths(max_bytes))
    if limit:
        paths = paths[:limit]
    return [(p.name, p.read_bytes()) for p in paths]
