"""``authored_text``: what the sender wrote in this mail, from its text or its HTML.

Why HTML first when it marks quotes: dropping ``blockquote`` and the clients' quote
containers is exact, and it is the only way to read bottom- and inline-posted HTML replies;
the plain text alternative is used otherwise (its ``>`` lines and quote headers are read by
quotes.py), and the HTML when there is no text.
"""

from __future__ import annotations

from mailflow.workflow.htmlquotes import html_authored_source
from mailflow.workflow.quotes import authored_plain
from mailflow.workflow.signature_lines import Keep


def authored_text(text: str, html: str | None = None, keep: Keep | None = None) -> str:
    """What the sender wrote in this mail: quoted originals, quote headers, signatures and
    disclaimers removed; a trailing line *keep* accepts is part of what they wrote (a name
    can be a signature or the answer: only the caller knows whom the mail may name)."""
    if html and html.strip():
        source, found_quote = html_authored_source(html)
        if found_quote or not text.strip():
            authored = authored_plain(source, keep)
            if authored or not text.strip():
                return authored
    return authored_plain(text, keep)
