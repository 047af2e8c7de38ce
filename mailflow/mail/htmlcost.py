"""How much work html5ever (inside nh3) would do on an HTML body, estimated before asking it.

Why: html5ever's tree builder is not linear for every input, and once nh3 runs it cannot be
interrupted (Rust; no signal gets in).  Measured with nh3 0.3.8:

- it scans its stack of open elements for many tags (a ``<div>`` looks for an open ``<p>``
  below it), so work is tags x depth: 60,000 nested ``<div>`` (0.3 MB) took 12.6 s
  (fuzz/README.md F5), and nesting hidden behind end tags it ignores
  (``<div></b>``, ``<div><object></div></object>``) costs the same;
- it re-opens formatting elements (``<b>``, ``<font>``, ...) that an implied end tag
  closed, at every paragraph: 400 open ``<b id=N>`` and then 10,000 ``<div>x</div>``
  (124 KB) made 28 MB of output in 3.5 s and 1 GB of memory;
- it needs ~220 bytes of memory per tag even for flat HTML.

So :func:`too_costly` replays the tags on a small model of the tree builder -- its stack of
open elements and its list of active formatting elements -- and sums the work: open elements
per tag (the length of the scans), formatting elements re-opened, and tags.  The model errs
towards too much work: an end tag closes only what html5ever certainly closes (no scope
boundary or, for ordinary elements, no special element in between; at most _SCAN elements
down), implied end tags are modelled only where certain, and a region whose tokenisation is
uncertain (raw text such as ``<script>``, CDATA) may open elements but never closes any.
For the corpus and everyday sloppy HTML (unclosed ``<p>``, ``<li>``, ``<td>``, ``<font>``)
the estimate stays far below the limits.  HTML with few tags is not replayed at all (the
replay costs ~3 us a tag, a few times nh3's own cost): with at most _FEW_TAGS tags the
worst case is ~0.15 s.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict

MAX_TAGS = 100_000  # ~22 MB of html5ever memory, ~0.1 s
MAX_STACK_WORK = 50_000_000  # sum over tags of open elements: ~0.25 s of scanning
MAX_REOPENED = 100_000  # formatting elements re-opened: ~0.15 s and ~25 MB
# HTML with no more '<' than this is not replayed: its worst case (500 paragraphs, each
# re-opening all formatting elements of the ones before) is ~0.15 s and ~30 MB.
_FEW_TAGS = 1000
_SCAN = 32  # elements an end tag or implied end tag looks down the stack
_UNCERTAIN_READ = 64 * 1024  # longer uncertain text is only counted ('<'), not read

# --- tokens, as the HTML tokenizer splits them --------------------------------------------

_WS = r"\t\n\f\r "
# Attributes and the end of a tag: quotes only start a value right after '=', an
# unterminated quoted value runs to the end of the input (the tag is then dropped).
ATTRIBUTES = (
    rf"(?>[{_WS}/]++|[^{_WS}/>][^{_WS}/=>]*+"
    rf"""(?>[{_WS}]*+=[{_WS}]*+(?:"[^"]*+(?:"|\Z)|'[^']*+(?:'|\Z)|[^{_WS}>]*+))?)*+(?:>|\Z)"""
)
_RAW_TEXT = ("script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea",
             "title")  # fmt: skip
_TOKEN = re.compile(
    r"<!--(?:-?>|.*?(?:--!?>|\Z))"  # comment, <!--> and <!---> included
    r"|<!\[CDATA\[(?P<cdata>.*?)(?:\]\]>|\Z)"  # CDATA in SVG/MathML (elsewhere a comment)
    r"|<[!?][^>]*+(?:>|\Z)"  # doctype, bogus comment
    r"|</(?![A-Za-z])[^>]*+(?:>|\Z)"  # '</' and no letter: bogus comment
    # a raw-text element's start tag and its content, up to its end tag
    rf"|<(?P<raw>{'|'.join(_RAW_TEXT)})(?![^{_WS}/>]){ATTRIBUTES}"
    rf"(?P<text>.*?)(?=</(?P=raw)[{_WS}/>]|\Z)"
    rf"|<(?P<end>/?)(?P<name>[A-Za-z][^{_WS}/>]*+){ATTRIBUTES}",
    re.DOTALL | re.IGNORECASE,
)
_CDATA, _RAW, _TEXT, _END, _NAME = 1, 2, 3, 4, 5  # the groups of _TOKEN
_SCRIPT_START = re.compile(rf"<script[{_WS}/>]", re.IGNORECASE)
_START_NAME = re.compile(r"<([A-Za-z][^\t\n\f\r />]*)")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# --- element categories of the HTML standard's tree construction --------------------------

_VOID = frozenset(
    {"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image",
     "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr"}
)  # fmt: skip
_NOT_PUSHED = frozenset({"html", "body", "head", "frameset"})  # merged or ignored in a body
_FORMATTING = frozenset(
    {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong",
     "tt", "u"}
)  # fmt: skip
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SPECIAL = frozenset(
    {"address", "applet", "area", "article", "aside", "base", "basefont", "bgsound",
     "blockquote", "body", "br", "button", "caption", "center", "col", "colgroup", "dd",
     "details", "dialog", "dir", "div", "dl", "dt", "embed", "fieldset", "figcaption",
     "figure", "footer", "form", "frame", "frameset", "head", "header", "hgroup", "hr",
     "html", "iframe", "img", "input", "keygen", "li", "link", "listing", "main", "marquee",
     "menu", "meta", "nav", "noembed", "noframes", "noscript", "object", "ol", "p", "param",
     "plaintext", "pre", "script", "search", "section", "select", "source", "style",
     "summary", "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead",
     "title", "tr", "track", "ul", "wbr", "xmp", "mi", "mo", "mn", "ms", "mtext",
     "annotation-xml", "foreignobject", "desc"}
) | _HEADINGS  # fmt: skip
# "In scope" stops at these (select added: inside it html5ever ignores other end tags).
_SCOPE = frozenset(
    {"applet", "caption", "html", "table", "td", "th", "marquee", "object", "template", "mi",
     "mo", "mn", "ms", "mtext", "annotation-xml", "foreignobject", "desc", "title", "select"}
)  # fmt: skip
_BUTTON_SCOPE = _SCOPE | {"button", "ol", "ul"}
_LIST_SCOPE = _SCOPE | {"ol", "ul"}
_TABLE_SCOPE = frozenset({"html", "table", "template"})
_TABLE_PARTS = frozenset(
    {"caption", "colgroup", "col", "tbody", "thead", "tfoot", "tr", "td", "th"}
)
_LIST_ITEM_STOPS = _SPECIAL - {"address", "div", "p"}
# Start tags that close an open <p> (in button scope) first.
_CLOSES_P = frozenset(
    {"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
     "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main", "menu",
     "nav", "ol", "p", "search", "section", "summary", "ul", "pre", "listing", "form",
     "plaintext", "table", "hr", "xmp", "li", "dd", "dt"}
) | _HEADINGS  # fmt: skip
# Start tags before which html5ever does not re-open formatting elements (all others do,
# as text does).
_NO_REOPEN = (
    frozenset(
        {"base", "basefont", "bgsound", "link", "meta", "noframes", "script", "style",
         "template", "title", "textarea", "iframe", "noembed", "noscript", "rb", "rtc", "rp",
         "rt", "param", "source", "track", "frame"}
    )
    | _CLOSES_P
    | _TABLE_PARTS
    | _NOT_PUSHED
)  # fmt: skip


# Start tags that need more than "push" (implied end tags, formatting, void, ...).
_START_SLOW = (
    _CLOSES_P
    | _TABLE_PARTS
    | _FORMATTING
    | _VOID
    | _NOT_PUSHED
    | {"option", "plaintext", "svg", "math"}
)
# Start tags that only close an open <p> first.
_PLAIN_BLOCK = _CLOSES_P - _HEADINGS - {"li", "dd", "dt", "plaintext"}
# End tags that need more than "pop the current element when it has their name".
_END_SLOW = _FORMATTING | {"body", "html", "head", "form", "svg", "math"}
_CHECK_EVERY = 256  # tags between two looks at the limits


def too_costly(html: str) -> str | None:
    """None if nh3 may parse *html*; otherwise which limit the estimate went over."""
    brackets = html.count("<")
    if brackets <= _FEW_TAGS:
        return None
    if brackets > MAX_TAGS:  # in HTML nearly every '<' starts a tag
        return f"has more than {MAX_TAGS} tags"
    return _Replay(html).run()


def _lower(name: str) -> str:
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


class _Entry:
    """A formatting element in the active formatting list.  While open (``on``), its
    ``anchor`` is the number of other open elements below it: popping down to fewer
    closes it, and the next text re-opens it."""

    __slots__ = ("alive", "anchor", "ident", "name", "on")

    def __init__(self, name: str, ident: str, anchor: int) -> None:
        self.name = name
        self.ident = ident  # the tag as written: "identical" for the Noah's Ark clause
        self.anchor = anchor
        self.alive = True  # False once removed from the list (lazily from on/off)
        self.on = True


class _Replay:
    """The tags of one HTML text replayed on a model of html5ever's tree builder."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.stack: list[str] = []  # open elements other than formatting elements
        self.where: defaultdict[str, list[int]] = defaultdict(list)  # name -> stack indices
        self.specials: list[int] = []  # stack indices of special elements, ascending
        self.stuck = 0  # elements opened in uncertain text: never closed
        self.stuck_formatting = 0
        self.foreign = 0  # open <svg> and <math>: void elements are pushed inside them
        self.on: list[_Entry] = []  # formatting elements open, by anchor
        self.off: list[_Entry] = []  # formatting elements closed, to be re-opened
        self.off_alive = 0
        self.same: defaultdict[str, list[_Entry]] = defaultdict(list)  # ident -> alive entries
        self.popped = False  # something may have closed since the last re-opening
        self.tags = 0
        self.stack_work = 0
        self.reopened = 0

    # --- the tokens -------------------------------------------------------------------

    def run(self) -> str | None:
        """Replay every tag; which limit was exceeded, or None."""
        html = self.html
        stack, where, specials, on = self.stack, self.where, self.specials, self.on
        last = 0
        tags = work = 0  # since the last look at the limits
        for match in _TOKEN.finditer(html):
            if match.start() > last and self.popped:
                self.reopen()  # text
            last = match.end()
            kind = match.lastindex
            if kind == _NAME:
                end, name = match.group(_END, _NAME)
                name = name.lower() if name.isascii() else name.translate(_ASCII_LOWER)
                depth = len(stack)
                if end:
                    if depth and stack[-1] == name and name not in _END_SLOW:
                        stack.pop()  # the common case: the current element closes
                        where[name].pop()
                        depth -= 1
                        if specials and specials[-1] == depth:
                            specials.pop()
                        self.popped = True
                        if on and on[-1].anchor > depth:
                            self.maybe_closed(depth)
                    else:
                        self.end_tag(name)
                elif name not in _START_SLOW or (name in _PLAIN_BLOCK and not where["p"]):
                    if self.popped and name not in _NO_REOPEN:
                        self.reopen()
                    where[name].append(depth)  # an element with nothing to close first
                    if name in _SPECIAL:
                        specials.append(depth)
                    stack.append(name)
                else:
                    self.start_tag(name, match.group())
                    if name == "plaintext":
                        self.uncertain(last, len(html))
                        break
            elif kind == _TEXT:  # a raw-text element and its content
                name = _lower(match.group(_RAW))
                self.start_tag(name, "")
                start = match.start(_TEXT)
                if name == "script":
                    comment = html.find("<!--", start, last)
                    if comment >= 0 and _SCRIPT_START.search(html, comment, last):
                        self.uncertain(start, len(html))  # "<!--<script>": end unknown
                        break
                self.uncertain(start, last)
            elif kind == _CDATA:
                self.uncertain(match.start(_CDATA), last)
                continue
            else:
                continue  # comment, doctype
            tags += 1
            work += len(stack) + len(on) + self.stuck
            if tags >= _CHECK_EVERY:
                self.tags += tags
                self.stack_work += work
                tags = work = 0
                verdict = self.verdict()
                if verdict is not None:
                    return verdict
        else:
            if last < len(html) and self.popped:
                self.reopen()
        self.tags += tags
        self.stack_work += work
        return self.verdict()

    def verdict(self) -> str | None:
        if self.tags > MAX_TAGS:
            return f"has more than {MAX_TAGS} tags"
        if self.stack_work > MAX_STACK_WORK:
            return "is nested too deeply"
        if self.reopened > MAX_REOPENED:
            return "re-opens too many formatting elements"
        return None

    def uncertain(self, start: int, stop: int) -> None:
        """Text that may or may not be markup (raw text, CDATA): every start tag in it
        counts as an element that never closes; its end tags are ignored."""
        if stop - start > _UNCERTAIN_READ:  # every '<' may open a formatting element
            opened = formatting = self.html.count("<", start, stop)
        else:
            names = _START_NAME.findall(self.html, start, stop)
            opened = len(names)
            formatting = sum(1 for name in names if _lower(name) in _FORMATTING)
        if not opened:
            return
        depth = len(self.stack) + self.stuck + len(self.on)
        self.stack_work += opened * depth + opened * (opened + 1) // 2
        self.tags += opened
        self.stuck += opened
        self.stuck_formatting += formatting

    # --- start tags -------------------------------------------------------------------

    def start_tag(self, name: str, tag: str) -> None:
        """A start tag other than an ordinary element's (those are pushed in run)."""
        if name in _NOT_PUSHED:
            return
        stack = self.stack
        if name in _CLOSES_P:
            if name == "li":
                self.close_implied("li", _LIST_ITEM_STOPS)
            elif name in ("dd", "dt"):
                self.close_implied("dd", _LIST_ITEM_STOPS, "dt")
            if self.where["p"]:
                self.close_implied("p", _BUTTON_SCOPE)
            if name in _HEADINGS and stack and stack[-1] in _HEADINGS:
                self.truncate(len(stack) - 1)
        elif name in _TABLE_PARTS:
            if self.where["table"]:
                self.close_implied("table", _TABLE_SCOPE, keep=True)
        elif name == "option":
            if stack and stack[-1] == "option":
                self.truncate(len(stack) - 1)
        elif name in ("a", "nobr") and self.find_entry(name) is not None:
            self.end_formatting(name)  # a second <a> closes the first
        if self.popped and name not in _NO_REOPEN:
            self.reopen()
        if name in _FORMATTING:
            self.add_entry(name, tag)
        elif name not in _VOID or self.foreign:
            self.push(name)

    def push(self, name: str) -> None:
        index = len(self.stack)
        self.stack.append(name)
        self.where[name].append(index)
        if name in _SPECIAL:
            self.specials.append(index)
        if name in ("svg", "math"):
            self.foreign += 1

    def close_implied(
        self, target: str, stops: frozenset[str], other: str = "", *, keep: bool = False
    ) -> None:
        """Pop down to the topmost *target* (or *other*; with *keep*, to just above it) if
        no element of *stops* is in between; if that is not certain, only note that
        html5ever may have closed the formatting elements above it."""
        places = self.where[target]
        top = places[-1] if places else -1
        if other and self.where[other]:
            top = max(top, self.where[other][-1])
        if top < 0:
            return
        stack = self.stack
        for index in range(len(stack) - 1, max(len(stack) - _SCAN, top) - 1, -1):
            if index == top:
                self.truncate(top + 1 if keep else top)
                return
            if stack[index] in stops:
                break
        self.maybe_closed(top)

    # --- end tags ---------------------------------------------------------------------

    def end_tag(self, name: str) -> None:
        """An end tag that does not simply close the current element."""
        if name in _FORMATTING and self.find_entry(name) is not None:
            self.end_formatting(name)
            return
        if name == "br":
            if self.popped:
                self.reopen()  # </br> is read as <br>
            return
        if name in ("body", "html", "head", "form"):
            return  # html5ever does not pop for these
        if name in _HEADINGS:
            top = max((self.where[h][-1] for h in _HEADINGS if self.where[h]), default=-1)
            if top >= 0:  # any open heading closes
                self.close_implied(self.stack[top], _SCOPE)
            return
        if not self.where[name]:
            return  # nothing to close
        if name in _TABLE_PARTS or name == "table":
            stops = _TABLE_SCOPE
        elif name == "p":
            stops = _BUTTON_SCOPE
        elif name == "li":
            stops = _LIST_SCOPE
        elif name in _SPECIAL:
            stops = _SCOPE
        else:
            stops = _SPECIAL  # an ordinary element closes only above the nearest special
        self.close_implied(name, stops)

    def end_formatting(self, name: str) -> None:
        """The adoption agency, roughly: the element closes, with everything above it, if
        no special element is above it; otherwise html5ever re-creates it just below the
        lowest special element above it (the furthest block)."""
        found = self.find_entry(name)
        if found is None:
            return
        entry, index = found
        self.kill(entry)
        if not entry.on:
            return  # closed already: only removed from the list
        above = bisect.bisect_left(self.specials, entry.anchor)
        if above == len(self.specials):
            on = self.on
            later = on[index + 1 :]  # opened after it: above it, so they close too
            del on[index:]
            for other in later:
                self.close_entry(other)
            self.truncate(entry.anchor)
            return
        moved = _Entry(entry.name, entry.ident, self.specials[above])
        self.same[moved.ident].append(moved)
        self.on.insert(bisect.bisect_right(self.on, moved.anchor, key=_anchor), moved)

    # --- the stack and the active formatting list --------------------------------------

    def truncate(self, length: int) -> None:
        """Pop open elements down to *length*; formatting elements above close too."""
        stack, where = self.stack, self.where
        while len(stack) > length:
            name = stack.pop()
            where[name].pop()
            if name in ("svg", "math"):
                self.foreign -= 1
        specials = self.specials
        while specials and specials[-1] >= length:
            specials.pop()
        self.maybe_closed(length)

    def maybe_closed(self, length: int) -> None:
        """Formatting elements opened above the first *length* open elements are (or may
        be) closed now: the next text re-opens them."""
        self.popped = True
        on = self.on
        while on and on[-1].anchor > length:
            self.close_entry(on.pop())

    def close_entry(self, entry: _Entry) -> None:
        if entry.alive:
            entry.on = False
            self.off.append(entry)
            self.off_alive += 1

    def reopen(self) -> None:
        """Text, or a start tag that is not a block, after something closed: html5ever
        re-opens every formatting element that was closed without its end tag."""
        self.popped = False
        if not self.off and not self.stuck_formatting:
            return
        self.reopened += self.off_alive + self.stuck_formatting
        anchor = len(self.stack)
        for entry in self.off:
            if entry.alive:
                entry.anchor = anchor
                entry.on = True
                self.on.append(entry)
        self.off.clear()
        self.off_alive = 0

    def add_entry(self, name: str, tag: str) -> None:
        entry = _Entry(name, tag, len(self.stack))
        same = self.same[tag]
        if len(same) >= 3:  # Noah's Ark: at most three identical entries
            self.kill(same[0])
        same.append(entry)
        self.on.append(entry)

    def find_entry(self, name: str) -> tuple[_Entry, int] | None:
        """The most recent formatting entry named *name* among the last _SCAN (open ones
        first), and its index in ``on`` or ``off``."""
        for entries in (self.on, self.off):
            for index in range(len(entries) - 1, max(len(entries) - _SCAN, 0) - 1, -1):
                entry = entries[index]
                if entry.alive and entry.name == name:
                    return entry, index
        return None

    def kill(self, entry: _Entry) -> None:
        """Remove an entry from the list (from ``on``/``off`` lazily)."""
        if not entry.alive:
            return
        entry.alive = False
        self.same[entry.ident].remove(entry)
        if not entry.on:
            self.off_alive -= 1


def _anchor(entry: _Entry) -> int:
    return entry.anchor
