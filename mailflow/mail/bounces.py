"""Which of our own mails a bounce says came back, and why.

A relay that accepted a receipt can still fail to deliver it later; the delivery report then
arrives in the shared mailbox like any mail. Standard reports (RFC 3464) enclose the
returned mail or its headers (ParsedMail.enclosed_ids); many Chinese providers' reports only
quote the original in their text, so that is searched too, for Message-IDs of our own domain.
"""

from __future__ import annotations

import re

from mailflow.mail.compose import own_message_ids
from mailflow.mail.parse import ParsedMail

MAX_SCANNED = 64 * 1024  # of the report's text and delivery-status part
MAX_IDS = 20
MAX_REASON = 300

_DIAGNOSTIC = re.compile(r"^diagnostic-code:[ \t]*(.+)$", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"^status:[ \t]*([245]\.\d{1,3}\.\d{1,3})", re.IGNORECASE | re.MULTILINE)


def bounced_ids(parsed: ParsedMail, from_address: str) -> list[str]:
    """Message-IDs the report names as returned: enclosed ones first, then ones of our own
    domain quoted in its text."""
    found = list(parsed.enclosed_ids[:MAX_IDS])
    for match in own_message_ids(from_address).finditer(parsed.text[:MAX_SCANNED]):
        if len(found) >= MAX_IDS:
            break
        if match.group(0) not in found:
            found.append(match.group(0))
    return found


def bounce_reason(parsed: ParsedMail) -> str:
    """What the report says went wrong: its Diagnostic-Code, else its Status, else its
    subject."""
    for attachment in parsed.attachments:
        if attachment.content_type in ("message/delivery-status", "message/global-delivery-status"):
            report = attachment.data[:MAX_SCANNED].decode("utf-8", "replace")
            for pattern in (_DIAGNOSTIC, _STATUS):
                match = pattern.search(report)
                if match:
                    return " ".join(match.group(1).split())[:MAX_REASON]
    return parsed.subject[:MAX_REASON]
