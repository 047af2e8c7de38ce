"""Did the approver's own domain vouch for the mail? (optional, [approvals]
require_authentication)

Anyone can write a manager's address in From. When the receiving server checks DKIM and
DMARC, it says so in an ``Authentication-Results`` header (RFC 8601), but any server on the
way, or the sender, can add such a header too. So only headers whose authserv-id is one of
``trusted_authserv_ids`` (our own receiving servers; for decisions ``[approvals]``'s, else
``[service]``'s: config.approval_authserv_ids) count, and only a ``dmarc=pass`` for the
From domain, or a ``dkim=pass`` whose signing domain (header.d) is the From domain.
"""

from __future__ import annotations

from collections.abc import Sequence

import authres  # type: ignore[import-untyped]

from mailflow.mail.parse import ParsedMail

MAX_HEADERS = 20


def authenticated(parsed: ParsedMail, sender: str, trusted: Sequence[str]) -> bool:
    domain = sender.rpartition("@")[2].strip().lower()
    wanted = {t.strip().lower() for t in trusted if t.strip()}
    if not domain or not wanted:
        return False
    for value in parsed.header_all("authentication-results")[:MAX_HEADERS]:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:  # noqa: S112 - an unreadable header vouches for nothing
            continue
        if str(header.authserv_id).strip().lower() not in wanted:
            continue
        for result in header.results:
            if str(result.result).lower() != "pass":
                continue
            method = str(result.method).lower()
            for prop in result.properties:
                name, value_ = str(prop.name).lower(), str(prop.value).strip().lower()
                if method == "dmarc" and prop.type == "header" and name == "from" \
                        and value_ == domain:
                    return True
                if method == "dkim" and prop.type == "header" and name == "d" \
                        and value_ == domain:
                    return True
    return False
