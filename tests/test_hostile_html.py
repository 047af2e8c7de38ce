"""HTML shown to people: ``ParsedMail.html`` runs no script and loads nothing remote.

The check (fuzz.oracles.assert_safe_html) reads the sanitised HTML with a real HTML
tokenizer: no ``<script`` anywhere, no element that can run or embed content (style,
iframe, object, embed, svg, math, form, meta, link, base...), no ``on*`` attribute, no
``javascript:``/``vbscript:``/``data:`` URL in any URL attribute (after the invisible
characters browsers skip), and no attribute that fetches by itself (src, srcset,
background, poster, ...) pointing anywhere but ``cid:`` -- a tracking pixel is a remote
load.  Checked over generated hostile HTML (sent in every transfer encoding) and over every
corpus mail with an HTML part.
"""

from __future__ import annotations

import base64
import quopri
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import corpus
from fuzz.guard import time_limit
from fuzz.oracles import assert_safe_html
from mailflow.mail.parse import parse_mail

TAGS = ["script", "img", "iframe", "svg", "math", "style", "a", "body", "div", "object", "embed",
        "link", "meta", "base", "form", "input", "video", "audio", "source", "table", "td",
        "frame", "image", "isindex", "marquee", "details", "noscript", "xmp", "template", "area",
        "button", "select", "textarea", "bgsound", "applet", "picture", "use", "animate", "set",
        "foreignObject", "annotation-xml", "mglyph", "title", "plaintext", "noembed", "p",
        "SCRIPT", "ScRiPt", "IMG"]  # fmt: skip
ATTRS = ["onload", "onerror", "OnClIcK", "onmouseover", "onfocus", "src", "srcset", "href",
         "background", "style", "formaction", "xlink:href", "action", "poster", "data", "lowsrc",
         "dynsrc", "ping", "srcdoc", "content", "http-equiv", "usemap", "longdesc", "cite",
         "codebase", "values", "attributeName", "autofocus", "is", "title", "alt"]  # fmt: skip
VALUES = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)",
          "&#106;avascript:alert(1)", "jav&#x09;ascript:alert(1)", "\x01javascript:x",
          " javascript:x", "vbscript:msgbox(1)", "http://evil.example/x.png",
          "//evil.example/x.png", "HTTPS://evil.example", "  http://evil.example",
          "cid:part1@example", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
          "url(http://evil.example)", "background:url(//evil.example)", "expression(alert(1))",
          'x" onerror="alert(1)', "0;url=http://evil.example", "http://x 1x, //y 2x",
          "&#x6A;avascript&#58;x", "ht\ntp://evil.example", "\\\\evil\\share\\x.png",
          "javascript&colon;alert(1)", "&Tab;javascript:x", "mailto:a@example.test"]  # fmt: skip
SNIPPETS = ["text 中文", "<!--", "-->", "<![CDATA[<script>]]>", "<scr<script>ipt>alert(1)</script>",
            "&lt;script&gt;", "</", "<", "<!doctype html>", "<?xml?>", "\x00",
            "<svg><script>alert(1)</script></svg>", "<math><mi xlink:href=javascript:x>",
            '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
            "<style><img src=x onerror=y></style>", "<textarea><img src=x onerror=y></textarea>",
            "<title></title><img src=//evil.example>", "<xmp><img src=x onerror=y></xmp>",
            "<iframe srcdoc='<script>x</script>'>", "<table background=http://evil.example>",
            "<body onload=alert(1)>", "<img srcset='http://evil.example 1x'>",
            "<video poster=//evil.example>", "<input type=image src=//evil.example>",
            "<form action=javascript:x><button formaction=javascript:y>x</button></form>",
            "<meta http-equiv=refresh content='0;url=http://evil.example'>",
            "<link rel=stylesheet href=//evil.example>", "<base href=//evil.example>",
            "<object data=//evil.example>", "<embed src=//evil.example>",
            "<img src='cid:logo'>", "<div style='background:url(http://evil.example)'>",
            '<a href="javascript:alert(1)">click</a>', "<img src=x:y onerror=alert(1)//",
            "<svg/onload=alert(1)>", "<details open ontoggle=alert(1)>"]  # fmt: skip


@st.composite
def hostile_html(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 3 or draw(st.integers(0, 9)) >= 6:
        return draw(st.sampled_from(SNIPPETS))
    tag = draw(st.sampled_from(TAGS))
    attrs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ATTRS),
                st.sampled_from(['"{}"', "'{}'", "{}"]),
                st.sampled_from(VALUES),
            ),
            max_size=3,
        )
    )
    rendered = "".join(f" {name}={quote.format(value)}" for name, quote, value in attrs)
    inner = "".join(draw(st.lists(hostile_html(depth + 1), max_size=3)))
    close = draw(st.sampled_from([f"</{tag}>", "", f"</{tag.upper()} >"]))
    slash = draw(st.sampled_from(["", "/", " /"]))
    return f"<{tag}{rendered}{slash}>{inner}{close}"


def html_mail(html: str, encoding: str, charset: str) -> bytes:
    body = html.encode(charset, "replace")
    if encoding == "base64":
        body = base64.encodebytes(body)
    elif encoding == "quoted-printable":
        body = quopri.encodestring(body)
    headers = (
        f"From: a@example.test\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain\r\n"
        f"--b\r\nContent-Type: text/html; charset={charset}\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return headers.encode() + body + b"\r\n--b--\r\n"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(hostile_html(), min_size=1, max_size=6).map("".join),
    st.sampled_from(["8bit", "base64", "quoted-printable"]),
    st.sampled_from(["utf-8", "gb18030", "utf-7"]),
)
def test_generated_hostile_html_is_made_safe(html: str, encoding: str, charset: str) -> None:
    with time_limit(10, "parse_mail"):
        parsed = parse_mail(html_mail(html, encoding, charset))
    assert parsed.html is not None
    assert_safe_html(parsed.html)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=ascii)
def test_known_vectors(snippet: str) -> None:
    parsed = parse_mail(html_mail(f"<p>before</p>{snippet}<p>after</p>", "8bit", "utf-8"))
    assert parsed.html is not None
    assert_safe_html(parsed.html)


def test_cid_images_stay_and_remote_images_go() -> None:
    parsed = parse_mail(
        html_mail(
            "<img src='cid:logo@x'><img src='https://tracker.example/p.gif'>", "8bit", "utf-8"
        )
    )
    assert parsed.html is not None
    assert 'src="cid:logo@x"' in parsed.html
    assert "tracker.example" not in parsed.html


HTML_MAILS = corpus.html_mail_paths()


def test_the_corpus_has_html_mails() -> None:
    assert len(HTML_MAILS) > 100


@pytest.mark.parametrize("path", HTML_MAILS, ids=lambda p: str(Path(p).relative_to(corpus.CORPUS)))
def test_corpus_html_mails_are_made_safe(path: Path) -> None:
    with time_limit(10, "parse_mail"):
        parsed = parse_mail(path.read_bytes())
    if parsed.html is not None:
        assert_safe_html(parsed.html)


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<a href=' jav&#x09;ascript:alert(1)'>x</a>",
        "<img src='http://evil.example/p.gif'>",
        "<img srcset='//evil.example/p.gif 1x'>",
        "<table background='https://evil.example/b.png'>",
        "<div style='background:url(http://evil.example)'>",
        "<iframe src='cid:x'></iframe>",
        "<meta http-equiv=refresh content='0;url=http://evil.example'>",
    ],
)
def test_the_check_itself_catches_unsanitised_html(raw: str) -> None:
    with pytest.raises(AssertionError):
        assert_safe_html(raw)
