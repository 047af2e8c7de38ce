"""Which forms a file holds, and which blocks belong to each.

In order of trust: our hidden marker (a blank we generated, even renamed or re-saved),
then the form's title (a form typed up by hand: "系统帐号申请表", "XX公司会议纪要", or in the
department's own words: "信息系统账号申请表", "OA权限申请单", "会议纪要 Minutes of Meeting"),
then its labels (no title at all, but six of the account form's labels, matched by meaning).
A marker or a title starts a new form, so one .docx can hold two forms and one sheet can hold
two stacked forms; each worksheet is read on its own.

A document titled as something else — a notice, an invitation, a quotation or price list, a
contract (``[titles.not_forms]`` in forms/_lexicon.toml) — is not read as a form by its
labels: a meeting notice names 会议时间 and 参会人员 too, and is still no minutes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from mailflow.documents.definitions import FormCatalog, FormDef
from mailflow.documents.extract import extract
from mailflow.documents.layout import Block, Cell, Grid, Line, Marker, Pair, RawDocument
from mailflow.documents.matching import WEIGHTS, not_a_form_title, title_kind, title_text
from mailflow.documents.text import fold, squeeze

TITLE_LINES = 3  # the first lines of a part that may title it
MAX_SCANNED_BLOCKS = 200  # blocks and rows searched for a letter's or a price table's words
MAX_SCANNED_ROWS = 20
_ANNEX = re.compile(r"^\s*(?:附件|附表|annex|attachment)\s*[\d一二三四五六七八九十]{0,3}"
                    r"\s*[:：.、]?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Section:
    kind: str
    version: int | None
    recognised_by: str  # "marker", "title" or "labels"
    blocks: tuple[Block, ...]
    part: str


@dataclass
class _Open:
    kind: str | None
    version: int | None
    by: str
    blocks: list[Block] = field(default_factory=list)

    def has_content(self) -> bool:
        return any(
            isinstance(b, Grid | Pair) or (isinstance(b, Line) and b.text.strip())
            for b in self.blocks
        )


@lru_cache(maxsize=16)
def _titles(catalog_forms: tuple[FormDef, ...]) -> tuple[tuple[str, str], ...]:
    pairs = [
        (title_text(t, f.lexicon), f.kind)
        for f in catalog_forms
        for t in (*f.titles, f.title_en)
    ]
    return tuple(sorted(((t, k) for t, k in pairs if t), key=lambda p: -len(p[0])))


class Recogniser:
    def __init__(self, catalog: FormCatalog) -> None:
        self.catalog = catalog
        self.titles = _titles(tuple(catalog.forms.values()))
        self.refused: str | None = None  # the title of a document that is something else

    def title_kind(self, text: str) -> str | None:
        """The kind whose title *text* is (allowing a short prefix such as a company name)."""
        text = _ANNEX.sub("", text or "")  # "附件2：系统账号申请表"
        if not text or ":" in text or "：" in text:
            return None
        return title_kind(text, self.titles, self.catalog.lexicon)

    def explode(self, blocks: Iterable[Block]) -> list[Block]:
        """Split grids at rows holding just a title, the title becoming a Line of its own."""
        out: list[Block] = []
        for block in blocks:
            if not isinstance(block, Grid):
                out.append(block)
                continue
            start = 0
            for r, row in enumerate(block.rows):
                title = self._title_row(row)
                if title is None:
                    continue
                if r > start:
                    out.append(Grid(block.rows[start:r]))
                out.append(Line(title))
                start = r + 1
            if start < len(block.rows):
                out.append(Grid(block.rows[start:]) if start else block)
        return out

    def _title_row(self, row: Sequence[Cell]) -> str | None:
        filled = [c for c in row if c.value is not None and c.text.strip()]
        if not 1 <= len(filled) <= 2:
            return None
        text = filled[0].text
        return text if self.title_kind(text) else None

    def part(self, name: str, blocks: Iterable[Block]) -> list[Section]:
        done: list[_Open] = []
        cur = _Open(None, None, "")
        exploded = self.explode(blocks)
        refused = self.refusal(exploded)
        for block in exploded:
            if isinstance(block, Marker) and block.kind in self.catalog.forms:
                done.append(cur)
                cur = _Open(block.kind, block.version, "marker")
                continue
            kind = self.title_kind(block.text) if isinstance(block, Line) else None
            if kind is not None:
                if cur.kind == kind and not cur.has_content():
                    continue
                done.append(cur)
                cur = _Open(kind, None, "title")
                continue
            cur.blocks.append(block)
        done.append(cur)
        return self.settle(name, done, refused)

    def refusal(self, blocks: Sequence[Block]) -> str | None:
        """The title of a part that is no form ("关于召开…会议的通知", "报价单"), if it is one."""
        if any(isinstance(b, Marker) for b in blocks):
            return None
        lines = 0
        for block in blocks:
            if isinstance(block, Grid):
                row = next((r for r in block.rows if any(c.text.strip() for c in r)), ())
                text = " ".join(c.text.strip() for c in row if c.text.strip())
            elif isinstance(block, Line):
                text = block.text.strip()
            else:
                continue
            if not text:
                continue
            if self.title_kind(text) is not None:
                return None
            if not_a_form_title(text, self.catalog.lexicon):
                self.refused = text
                return text
            lines += 1
            if lines >= TITLE_LINES:
                break
        return self.other_document(blocks)

    def other_document(self, blocks: Sequence[Block]) -> str | None:
        """What makes an untitled part a letter or a commercial paper, not a form: a letter's
        words ("尊敬的", "敬请", "特此通知") in its lines, or a price table's column heads
        (单价, 数量, 金额) in one row. A form by labels alone is never read from it."""
        lex = self.catalog.lexicon
        for block in blocks[:MAX_SCANNED_BLOCKS]:
            if isinstance(block, Line) and any(w in block.text for w in lex.letter_words):
                self.refused = block.text.strip()[:80]
                return self.refused
            if isinstance(block, Grid):
                for row in block.rows[:MAX_SCANNED_ROWS]:
                    heads = {squeeze(fold(c.text)) for c in row if c.text.strip()}
                    if len(heads & set(lex.commerce_heads)) >= 2:
                        self.refused = " ".join(c.text for c in row if c.text.strip())[:80]
                        return self.refused
        return None

    def settle(self, name: str, opened: list[_Open], refused: str | None = None
               ) -> list[Section]:
        """Give unknown pieces a kind by their labels; fold false title starts back."""
        sections: list[_Open] = []
        for piece in opened:
            false_start = piece.kind is not None and piece.by == "title" and sections
            if false_start and not extract(self.catalog.get(str(piece.kind)), piece.blocks).seen:
                sections[-1].blocks.extend([Line(""), *piece.blocks])
                continue
            if piece.kind is None:
                if not piece.has_content() or refused is not None:
                    continue
                piece.kind = self.by_labels(piece.blocks)
                piece.by = "labels"
                if piece.kind is None:
                    continue
            sections.append(piece)
        return [
            Section(s.kind, s.version, s.by, tuple(s.blocks), name)
            for s in sections
            if s.kind is not None
        ]

    def by_labels(self, blocks: Sequence[Block]) -> str | None:
        scores: list[tuple[float, str]] = []
        for form in self.catalog.forms.values():
            seen = len(extract(form, blocks).seen)
            if seen >= WEIGHTS.labels_for_kind and seen >= WEIGHTS.label_share * len(form.fields):
                scores.append((seen / len(form.fields), form.kind))
        scores.sort(reverse=True)
        if not scores or (len(scores) > 1 and scores[0][0] == scores[1][0]):
            return None
        return scores[0][1]


def recognise(doc: RawDocument, catalog: FormCatalog,
              recogniser: Recogniser | None = None) -> list[Section]:
    """Every form found in *doc*, in file order."""
    rec = recogniser or Recogniser(catalog)
    sections = [s for part in doc.parts for s in rec.part(part.name, part.blocks)]
    marker = doc.file_marker
    if marker is None or marker.kind not in catalog.forms:
        return sections
    if any(s.recognised_by == "marker" for s in sections):
        return sections
    # A file-wide marker (custom property) vouches for the form when only one is found.
    if len(sections) == 1 and sections[0].kind == marker.kind:
        s = sections[0]
        return [Section(s.kind, marker.version, "marker", s.blocks, s.part)]
    if not sections:
        for part in doc.parts:
            blocks = tuple(rec.explode(part.blocks))
            if extract(catalog.get(marker.kind), blocks).seen:
                return [Section(marker.kind, marker.version, "marker", blocks, part.name)]
    return sections
