"""parse_mail and classify over the shared third-party corpus (../shared/corpus).

Every mail file must parse without an exception (bounded per file by pytest-timeout);
where the corpus carries expected output (zammad .yml, imap_tools expected/*.json, glpi's
upstream test names) we compare the fields that are cheap and unambiguous.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from mailflow.mail.bounces import MAX_IDS, MAX_REASON, bounce_reason, bounced_ids
from mailflow.mail.classify import MailKind, classify
from mailflow.mail.filenames import MAX_NAME_BYTES
from mailflow.mail.parse import MAX_DEFECTS, MAX_ENCLOSED, ParsedMail, parse_mail
from tests.paths import CORPUS

_NOT_MAIL_SUFFIXES = frozenset(
    {".json", ".yml", ".md", ".docx", ".docm", ".xlsx", ".xlsm", ".xlsb", ".doc", ".xls",
     ".ooxml", ".msg"}
)  # fmt: skip
_NOT_MAIL_NAMES = frozenset({"COPYING", "README"})


def _mail_files() -> list[Path]:
    return sorted(
        p
        for p in CORPUS.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in _NOT_MAIL_SUFFIXES
        and p.name not in _NOT_MAIL_NAMES
    )


MAIL_FILES = _mail_files()
_CACHE: dict[Path, ParsedMail] = {}


def parsed(path: Path) -> ParsedMail:
    """Each corpus mail is parsed once per test session."""
    if path not in _CACHE:
        _CACHE[path] = parse_mail(path.read_bytes())
    return _CACHE[path]


def rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def one_line(text: str) -> str:
    return " ".join("".join(" " if ord(c) < 32 or c == "\x7f" else c for c in text).split())


def test_corpus_is_present() -> None:
    assert len(MAIL_FILES) > 1400, f"corpus not found or incomplete at {CORPUS}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", MAIL_FILES, ids=rel)
def test_every_corpus_file_parses(path: Path) -> None:
    mail = parsed(path)
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.date is None or mail.date.utcoffset() is not None
    assert mail.message_id is None or (mail.message_id[0], mail.message_id[-1]) == ("<", ">")
    assert len(mail.defects) <= MAX_DEFECTS
    assert mail.content_type == mail.content_type.lower()
    for att in mail.attachments:
        name = att.filename
        assert name and name not in (".", "..")
        assert not {"/", "\\", "\x00"} & set(name), name
        assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
        assert att.sha256 == hashlib.sha256(att.data).hexdigest()
    assert len(mail.enclosed_ids) <= MAX_ENCLOSED
    assert all((i[0], i[-1]) == ("<", ">") for i in mail.enclosed_ids)
    if classify(mail).kind is MailKind.BOUNCE:
        assert len(bounce_reason(mail)) <= MAX_REASON
        assert len(bounced_ids(mail, "it-flow@example.com")) <= MAX_IDS


def test_corpus_bounces_name_the_mail_that_came_back() -> None:
    """sisimai's set and the others: most delivery reports enclose the returned mail or its
    headers, and most say why (Diagnostic-Code / Status) — both are read."""
    bounces = [m for m in map(parsed, MAIL_FILES) if classify(m).kind is MailKind.BOUNCE]
    assert len(bounces) > 500
    enclosing = [m for m in bounces if m.enclosed_ids]
    explained = [m for m in bounces if bounce_reason(m) != m.subject[:MAX_REASON]]
    assert len(enclosing) > len(bounces) / 2 and len(explained) > len(bounces) / 2


# --- expected outputs: zammad ------------------------------------------------------------

ZAMMAD = CORPUS / "zammad" / "data" / "mail"


def yml_field(text: str, name: str) -> str | None:
    """One top-level scalar from a zammad .yml.  The files are Ruby-tagged YAML and PyYAML
    is not a dependency, so this reads the two plain scalars we compare: single-quoted,
    double-quoted (possibly folded over several lines) or plain."""
    match = re.search(rf"^{name}: (.*)$", text, re.MULTILINE)
    if match is None:
        return None
    value = match.group(1)
    if value.startswith("'"):
        return value[1:-1].replace("''", "'")
    if value.startswith('"'):
        quoted = re.match(r'"((?:[^"\\]|\\.)*)"', text[match.start(1) :], re.DOTALL)
        assert quoted is not None, f"unterminated {name} in yml"
        body = re.sub(r"\\\n\s*", "", quoted.group(1))  # escaped line break: no space
        body = re.sub(r"\s*\n\s*", " ", body)  # YAML folding: newline + indent -> space
        body = re.sub(r"(?<!\\)\\ ", " ", body)  # YAML's escaped space
        return str(json.loads(f'"{body}"'))
    return value


# Files where zammad's reading legitimately differs from ours:
ZAMMAD_FROM_DIFFERS = {
    "mail016": "no From header; zammad falls back to Reply-To",
    "mail017": "two From headers; we keep the first (unusable) one",
    "mail019": "From has the empty address <>; zammad falls back to Reply-To",
    "mail053": "From: MAILER-DAEMON without a domain is not a usable address",
    "mail059": "first From mailbox has the empty address <>",
    "mail076": "malformed From header",
    "mail087": "From without angle brackets or quotes around a two-word name",
}
ZAMMAD_SUBJECT_DIFFERS = {
    "mail018": "UTF-7 subject: zammad leaves '+ANw-' undecoded, we decode it to 'Ü'",
}
ZAMMAD_YML = sorted(ZAMMAD.glob("*.yml"))


@pytest.mark.parametrize("yml", ZAMMAD_YML, ids=lambda p: p.stem)
def test_zammad_subject_and_sender(yml: Path) -> None:
    text = yml.read_text(encoding="utf-8")
    mail = parsed(yml.with_suffix(".box"))
    subject = yml_field(text, "subject")
    if subject is not None and yml.stem not in ZAMMAD_SUBJECT_DIFFERS:
        assert mail.subject == one_line(subject)
    from_email = yml_field(text, "from_email")
    if from_email is not None and yml.stem not in ZAMMAD_FROM_DIFFERS:
        assert mail.sender is not None
        assert mail.sender.key == from_email.lower()


@pytest.mark.parametrize(
    ("stem", "subject", "from_email"),
    [
        ("mail015", "绩效管理,究竟谁错了", "ynbe.ctrhk@gmail.com"),
        ("mail031", "內應力產生与注塑工艺条件之间的关系；", "zhengkang@ha.chinamobile.com"),
        ("mail032", "发现最美车间主任", "Dana.Qin6e1@gmail.com"),
        ("mail044", "精益生产闪婚,是谁的责任", "Claudia.Shu@yahoo.com."),
        ("mail046", "转发：整体提升企业服务水平", "Glopelf7121@example.com"),
    ],
)
def test_zammad_gb2312_mails(stem: str, subject: str, from_email: str) -> None:
    # named in MANIFEST: GB2312 labels whose text needs GBK; 046 has a raw 8-bit subject
    mail = parsed(ZAMMAD / f"{stem}.box")
    assert mail.subject == subject
    assert mail.sender is not None and mail.sender.addr == from_email
    assert not [d for d in mail.defects if "charset" in d]


def test_zammad_gb2312_bodies_decode_without_replacement() -> None:
    for stem in ("mail031", "mail032", "mail044"):
        text = parsed(ZAMMAD / f"{stem}.box").text
        assert "\ufffd" not in text and len(text) > 100


def test_zammad_060_iso_gb2312_over_mixed_bytes() -> None:
    # no .yml upstream: label 'iso-gb2312' over UTF-8 with a few Latin-1 bytes mixed in
    mail = parsed(ZAMMAD / "mail060.box")
    assert mail.subject == "abc"
    assert mail.sender is not None and mail.sender.addr == "martin@example.com"
    assert mail.text.startswith("Here it goes - äöü - 差出人")
    assert any("iso-gb2312" in d for d in mail.defects)


def test_zammad_046_display_name_is_gbk() -> None:
    mail = parsed(ZAMMAD / "mail046.box")
    assert mail.sender is not None and mail.sender.name == "武兰成"


# --- expected outputs: imap_tools --------------------------------------------------------

IMAP_TOOLS = CORPUS / "imap_tools"
IMAP_EXPECTED = sorted((IMAP_TOOLS / "expected").rglob("*.json"))
IMAP_SUBJECT_DIFFERS = {
    "plain_emails/raw_email_incorrect_header": "upstream reads no subject at all",
    "rfc2822/example14": "RFC 2047 keeps the space between text and an encoded word",
    "error_emails/invalid_subject_characters": "upstream drops raw Latin-1 bytes; we read them",
}
IMAP_NAME_DIFFERS = {
    # 0x8A inside an ISO-2022-JP RFC 2231 name: upstream shows U+FFFD, we read Shift_JIS
    "attachment_emails/attachment_with_encoded_name",
    "plain_emails/raw_email8",
}


def _imap_key(path: Path) -> str:
    return path.relative_to(IMAP_TOOLS / "expected").with_suffix("").as_posix()


@pytest.mark.parametrize("expected_path", IMAP_EXPECTED, ids=_imap_key)
def test_imap_tools_subject_and_attachment_names(expected_path: Path) -> None:
    key = _imap_key(expected_path)
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    mail = parsed(IMAP_TOOLS / "messages" / f"{key}.eml")
    if key not in IMAP_SUBJECT_DIFFERS:
        assert mail.subject == one_line(expected["subject"])
    if key in IMAP_NAME_DIFFERS:
        return
    # Upstream lists an attached mail as one part; we recurse into it instead, so only
    # the named non-mail attachments are compared.
    names = {
        a["filename"]
        for a in expected["attachments"]
        if a["filename"] and a["content_type"].lower() != "message/rfc822"
    }
    assert names <= {a.original_filename for a in mail.attachments}


# --- expected outputs: glpi and others ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "filenames"),
    [
        (
            "22-multibyte_attachment_name.eml",
            ["22-办公用品预约Apply for office supplies online.xlsx"],
        ),
        (
            "24.1-attachement-multibyte-name-with-continuation.eml",
            ["24.1-长文件名，将导致内容处置标头中的连续行.txt"],
        ),
    ],
)
def test_glpi_gb2312_attachment_names(name: str, filenames: list[str]) -> None:
    mail = parsed(CORPUS / "glpi" / "emails-tests" / name)
    assert [a.filename for a in mail.attachments] == filenames


def test_path_traversal_names_from_the_corpus() -> None:
    mail = parsed(CORPUS / "php-imap-webklex" / "messages" / "issue-414.eml")
    assert [(a.original_filename, a.filename) for a in mail.attachments] == [
        ("../../example/MyFile.txt", "MyFile.txt"),
        ("php://foo", "foo"),
    ]
    legacy = parsed(CORPUS / "stalwart-mail-parser" / "eml" / "legacy" / "035.eml")
    assert legacy.attachments[0].original_filename == "C:\\TEMP\\nsmailEG.png"
    assert legacy.attachments[0].filename == "nsmailEG.png"


def test_rfc2231_japanese_continuations() -> None:
    mail = parsed(CORPUS / "rt" / "emails" / "rfc2231-attachment-filename-continuations")
    assert [a.filename for a in mail.attachments] == ["新しいテキスト ドキュメント.txt"]


@pytest.mark.parametrize(
    ("path", "subject"),
    [
        ("rt/emails/new-ticket-from-gb18030", "测试"),
        ("kopano-core/mails/big5.eml", "養樂多線上訂購"),
        ("spamscope-mail-parser/mails/mail_test_12", "代开各地增值税发票"),
        ("kopano-core/mails/zcp-11699-ub.eml", "☺ dum my ☻"),
        ("zammad/data/mail/mail093.box", "ツール"),
    ],
)
def test_charset_edge_cases(path: str, subject: str) -> None:
    assert parsed(CORPUS / path).subject == subject


def test_unlabelled_big5_body_is_detected() -> None:
    mail = parsed(CORPUS / "enmime" / "testdata" / "parts" / "chardet-success-big-5.raw")
    assert mail.text.startswith("顏是家訓")


def test_mbox_is_read_as_one_mail_without_error() -> None:
    mail = parsed(CORPUS / "sisimai-set-of-emails" / "mailbox" / "mbox-0")
    assert mail.sender is not None


def test_deep_nesting_sample() -> None:
    mail = parsed(CORPUS / "rt" / "emails" / "nested-mime-sample")
    assert mail.attachments or mail.text


# --- classification over the corpus ------------------------------------------------------

SISIMAI = CORPUS / "sisimai-set-of-emails" / "maildir"
SISIMAI_BOUNCES = sorted((SISIMAI / "bsd").glob("*.eml"))
# Documented exceptions among sisimai's 'bsd' (bounce) folder:
SISIMAI_HUMAN = {
    # A person forwarded a bounce with Apple Mail ("Fwd: Returned mail: ..."): answering
    # that person is right, and it is what a user asking IT for help looks like.
    "lhost-sendmail-14.eml",
}
SISIMAI_BULK = {
    # fml mailing-list robot notices ("not member", "Loop Alert"): list headers, no DSN.
    "lhost-fml-02.eml",
    "lhost-fml-03.eml",
}


def kind(path: Path) -> MailKind:
    return classify(parsed(path)).kind


@pytest.mark.parametrize("path", SISIMAI_BOUNCES, ids=lambda p: p.name)
def test_sisimai_bounces_are_never_human(path: Path) -> None:
    result = classify(parsed(path))
    if path.name in SISIMAI_HUMAN:
        assert result.kind is MailKind.HUMAN
    elif path.name in SISIMAI_BULK:
        assert result.kind is MailKind.BULK
    else:
        assert result.kind in (MailKind.BOUNCE, MailKind.AUTO_REPLY), result.reason
    if path.name.startswith("rfc3834-"):
        assert result.kind is MailKind.AUTO_REPLY, result.reason


def test_sisimai_bounce_breakdown() -> None:
    kinds = [kind(p) for p in SISIMAI_BOUNCES]
    assert len(kinds) > 600
    # the great majority are recognised as bounces, not merely as "some robot"
    assert kinds.count(MailKind.BOUNCE) / len(kinds) > 0.95


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("is-not-bounce-01.eml", MailKind.HUMAN),
        ("is-not-bounce-02.eml", MailKind.HUMAN),
        # named a look-alike upstream, but it is a postmaster's mailbox-full notice from <>
        ("rb-issue-368-bug.eml", MailKind.BOUNCE),
    ],
)
def test_sisimai_look_alikes(name: str, expected: MailKind) -> None:
    assert kind(SISIMAI / "not" / name) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("glpi/emails-tests/27-autoreply.eml", MailKind.BOUNCE),
        ("enmime/dsn/testdata/delayed_dsn.raw", MailKind.BOUNCE),
        ("enmime/dsn/testdata/simple_dsn.raw", MailKind.BOUNCE),
        ("zammad/data/mail/mail078.box", MailKind.BOUNCE),
        ("postal-mime/fixtures/bounce.eml", MailKind.BOUNCE),
        ("kopano-core/mails/zcp-11713.eml", MailKind.AUTO_REPLY),
        ("rt/emails/new-ticket-from-gb18030", MailKind.HUMAN),
        ("zammad/data/mail/mail031.box", MailKind.HUMAN),
        ("zammad/data/mail/mail046.box", MailKind.HUMAN),
        ("php-imap-webklex/messages/1366671050@github.com.eml", MailKind.BULK),
    ],
)
def test_corpus_classification_samples(path: str, expected: MailKind) -> None:
    assert kind(CORPUS / path) is expected
