"""Is this mail from a person we should answer, or from a robot?

Why: answering an auto-reply or a bounce starts a mail loop (RFC 3834 section 2), and
answering a mailing list spams everyone on it.  Only HUMAN mail gets an answer; the rest is
archived with the reason recorded.  Checks run in a fixed order -- OWN, BOUNCE,
AUTO_REPLY, BULK -- so the most specific robot kind wins.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from mailflow.mail.filenames import split_header
from mailflow.mail.parse import ParsedMail


class MailKind(StrEnum):
    """Who sent the mail, as far as answering is concerned."""

    HUMAN = "human"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    BULK = "bulk"
    OWN = "own"


@dataclass(frozen=True)
class Classification:
    """The kind and a short English reason for logs and records."""

    kind: MailKind
    reason: str

    @property
    def answerable(self) -> bool:
        """Only mail from a person may be answered."""
        return self.kind is MailKind.HUMAN


OWN_REF_HEADER = "x-mailflow-ref"

# A reply or forward prefix means a person is talking *about* a robot's mail
# ("FW: 系统退信" sent to IT for help): subject rules never fire on those.
_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|fw|fwd|aw|wg|sv|vs|tr|rv|回复|答复|回覆|转发|轉寄|转寄)\s*[:：]", re.IGNORECASE
)
_END = r"(?:\s*[:：]|\s*$|\s+-)"
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:"
    r"undeliver(?:ed|able)(?: mail)?(?: returned to sender)?"
    r"|undeliverable message|delivery status notification(?: \((?:failure|delay)\))?"
    r"|delivery (?:has )?fail(?:ed|ure)[^:：]{0,40}|mail delivery fail(?:ed|ure)[^:：]{0,60}"
    r"|returned mail[^:：]{0,40}|failure notice|delivery notification[^:：]{0,30}"
    r"|non[- ]?deliver(?:y|able)[^:：]{0,40}|message (?:not delivered|delivery failed)"
    r"|warning: could not send message[^:：]{0,40}|mail system error[^:：]{0,40}"
    r"|delivery report|notice of delivery failure|nicht zustellbar|unzustellbar"
    r"|complaint about message from[^:：]{0,60}"
    r"|(?:系统)?退信(?:通知)?|未能送达|无法送达|無法傳遞|无法投递|投递失败|邮件投递失败"
    r")" + _END,
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:"
    r"自动回复|自動回覆|自动答复|自動答覆|自动应答|auto(?:matic)?[ -]?(?:reply|response|answer)"
    r"|autoreply|auto-?response|out of (?:the )?office|ooo|abwesenheitsnotiz|r[ée]ponse automatique"
    r"|不在办公室|休假(?:中|通知|自动回复)?"
    r")" + _END,
    re.IGNORECASE,
)
_AUTO_WORDS = re.compile(
    r"自动回复|自動回覆|自动答复|自動答覆|自动应答|automatic reply|auto[ -]?reply|autoreply"
    r"|out of (?:the )?office|不在办公室|休假",
    re.IGNORECASE,
)
_DAEMON = re.compile(r"^(?:mailer[-_]?daemon|mail[-_]daemon|post[-_]?master)$", re.IGNORECASE)
_NO_REPLY = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply)(?:[-_.+].*)?$", re.IGNORECASE
)
_SUPPRESS = frozenset({"all", "oof", "autoreply", "dr", "rn", "nrn"})
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})
_BULK_HEADERS = (
    "list-id",
    "list-unsubscribe",
    "list-post",
    "x-campaign",
    "x-campaign-id",
    "x-campaignid",
    "x-mailchimp-campaign",
    "x-mc-user",
    "x-newsletter",
    "list-subscribe",
    "mailing-list",
    "x-mlserver",
    "x-ml-name",
)
_AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply")


def classify(mail: ParsedMail, own_addresses: Collection[str] = ()) -> Classification:
    """Decide who sent ``mail``; ``own_addresses`` are the service's own mailboxes.

    Order: OWN, BOUNCE, AUTO_REPLY, BULK.  One exception: a null Return-Path alone says
    "robot" but not which one -- RFC 3834 auto-replies are sent from ``<>`` too -- so it
    counts as a bounce only when no auto-reply marker is present.
    """
    own = _own(mail, own_addresses)
    if own is not None:
        return own
    for check in (_bounce, _auto_reply, _null_return_path, _bulk):
        found = check(mail)
        if found is not None:
            return found
    return Classification(MailKind.HUMAN, "no robot markers")


def _own(mail: ParsedMail, own_addresses: Collection[str]) -> Classification | None:
    if mail.header(OWN_REF_HEADER) is not None:
        return Classification(MailKind.OWN, "X-Mailflow-Ref header present")
    own = {a.strip().lower() for a in own_addresses}
    if mail.sender is not None and mail.sender.key and mail.sender.key in own:
        return Classification(MailKind.OWN, f"From is our own address {mail.sender.key}")
    return None


def _precedence(mail: ParsedMail) -> str:
    value = mail.header("precedence") or mail.header("x-precedence") or ""
    return value.strip().strip('"').lower()


def _local_part(mail: ParsedMail) -> str:
    """The From local part; for an unusable address (``From: MAILER-DAEMON (Mail
    Delivery System)``) the header's first word."""
    if mail.sender is not None and mail.sender.addr:
        return mail.sender.addr.rpartition("@")[0]
    words = (mail.header("from") or "").replace("<", " ").replace('"', " ").split()
    return words[0].rpartition("@")[0] or words[0] if words else ""


def _bounce(mail: ParsedMail) -> Classification | None:
    for ctype in mail.part_types or (mail.content_type,):
        if ctype == "message/delivery-status":
            return Classification(MailKind.BOUNCE, "message/delivery-status part")
        if ctype == "message/feedback-report":
            return Classification(MailKind.BOUNCE, "message/feedback-report part (ARF)")
    read_receipt = "message/disposition-notification" in mail.part_types
    if mail.content_type == "multipart/report":
        report = _report_type(mail)
        if report == "disposition-notification" or read_receipt:
            return Classification(MailKind.AUTO_REPLY, "read receipt (disposition-notification)")
        return Classification(MailKind.BOUNCE, f"multipart/report report-type={report or '?'}")
    if read_receipt:
        return Classification(MailKind.AUTO_REPLY, "read receipt (disposition-notification)")
    local = _local_part(mail)
    if _DAEMON.match(local):
        return Classification(MailKind.BOUNCE, f"From {local}")
    subject = mail.subject
    if not _REPLY_PREFIX.match(subject) and _BOUNCE_SUBJECT.match(subject):
        return Classification(MailKind.BOUNCE, f"bounce subject {subject[:40]!r}")
    return None


def _report_type(mail: ParsedMail) -> str:
    _, params = split_header(mail.header("content-type") or "")
    return params.get("report-type", "").strip().lower()


def _auto_reply(mail: ParsedMail) -> Classification | None:
    submitted = (mail.header("auto-submitted") or "").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return Classification(MailKind.AUTO_REPLY, f"Auto-Submitted: {submitted}")
    for name in _AUTO_HEADERS:
        if mail.header(name) is not None:
            return Classification(MailKind.AUTO_REPLY, f"{name} header present")
    if _precedence(mail) == "auto_reply":
        return Classification(MailKind.AUTO_REPLY, "Precedence: auto_reply")
    subject = mail.subject
    replying = _REPLY_PREFIX.match(subject)
    if not replying and _AUTO_SUBJECT.match(subject):
        return Classification(MailKind.AUTO_REPLY, f"auto-reply subject {subject[:40]!r}")
    suppress = {
        v.strip().lower() for v in (mail.header("x-auto-response-suppress") or "").split(",")
    }
    # Outlook sets this header on its own automatic mails but also on meeting requests,
    # so it only counts together with an auto-reply word in the subject.
    if suppress & _SUPPRESS and _AUTO_WORDS.search(subject):
        return Classification(
            MailKind.AUTO_REPLY, "X-Auto-Response-Suppress with an auto-reply subject"
        )
    local = _local_part(mail)
    if _NO_REPLY.match(local):
        return Classification(MailKind.AUTO_REPLY, f"sent from {local} (automated sender)")
    return None


def _null_return_path(mail: ParsedMail) -> Classification | None:
    if mail.return_path == "":
        return Classification(MailKind.BOUNCE, "null Return-Path <>")
    return None


def _bulk(mail: ParsedMail) -> Classification | None:
    precedence = _precedence(mail)
    if precedence in _BULK_PRECEDENCE:
        return Classification(MailKind.BULK, f"Precedence: {precedence}")
    for name in _BULK_HEADERS:
        if mail.header(name) is not None:
            return Classification(MailKind.BULK, f"{name} header present")
    return None
