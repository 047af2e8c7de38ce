"""Was an attachment meant as a form, and of which kind? (from its name, the subject, its text)

Why: a file that is not a readable form is either a form sent the wrong way (a scan, a
photo, a .txt, a form the reader could not recognise) — the sender must be told and given
the blank of the kind they meant — or an ordinary document (a price list, a contract, the
plan and screenshots beside an accepted change form), which must never be answered as a
failed form. The evidence is the catalog itself, so a new kind or a new title alias is
understood without code: each kind's titles, with the words every form title shares
(系统, 申请表, 单 …) cut off, leave its *core* (数据提取, 帐号, 变更, 会议纪要), and the
lexicon (forms/_lexicon.toml, [titles.kinds]) adds the words departments use for a kind
(权限, 取数 …); a file name or subject holding one names that kind. Generic form words
(申请表, 申请, form) say "a form" without saying which; the lexicon's words for other
documents (通知, 邀请函, 报价单, 合同 …) say it is none.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailflow.documents.definitions import FormCatalog, FormDef
from mailflow.documents.layout import Line, Part, RawDocument
from mailflow.documents.text import fold, label_key, squeeze

# Words around a kind's name in its titles: what is left is the kind's core.
_PREFIX = re.compile(
    r"^(?:xx|某某)?(?:有限公司|公司|信息系统|系统|业务|项目|周例会|it|部门|business|system|project"
    r"|meeting)+"
)
_SUFFIX = re.compile(r"(?:申请表|申请单|申请书|登记表|审批表|申请|表格|模板|表|单|request|form)+$")
# A file or subject that says "form" without naming a kind.
_FORM_WORD = re.compile(r"申请|登记表|审批表|表单|\bform\b|\brequest\b")
# Beside an accepted form only a name that says it is a form counts (not a plan or a report
# about the same change).
_STRICT_FORM_WORD = re.compile(r"申请表|申请单|申请书|登记表|审批表|\bform\b")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,5}$")


class Intent(enum.Enum):
    NONE = "none"  # an ordinary attachment
    FORM = "form"  # meant as a form (the kind may or may not be known)


def _core(title: str) -> str:
    key = label_key(title)
    for _ in range(3):
        key = _SUFFIX.sub("", _PREFIX.sub("", key))
    return key


@dataclass(frozen=True)
class KindGuesser:
    catalog: FormCatalog
    cores: tuple[tuple[str, str], ...]  # (core, kind), longest first
    not_forms: tuple[str, ...] = ()  # words naming other documents: 通知, 报价单, 合同 …

    @staticmethod
    def of(catalog: FormCatalog) -> KindGuesser:
        """Built per mail: a few dozen titles, microseconds."""
        return _guesser(catalog)

    def _text(self, text: str) -> str:
        return squeeze(fold(_EXTENSION.sub("", text.strip().lower())))

    def kind_in(self, text: str) -> str | None:
        """The one kind whose core *text* names (None for none, or two kinds named)."""
        folded = self._text(text)
        words = " " + " ".join(re.findall(r"[a-z]+", fold(text))) + " "
        kinds = {kind for core, kind in self.cores
                 if (f" {core} " in words if core.isascii() else core in folded)}
        return kinds.pop() if len(kinds) == 1 else None

    def names_other_document(self, text: str) -> bool:
        """Whether *text* names a document that is no form (通知, 邀请函, 报价单, 合同 …)."""
        folded = self._text(text)
        words = " " + " ".join(re.findall(r"[a-z]+", fold(text))) + " "
        return any((f" {w} " in words) if w.isascii() else (w in folded)
                   for w in self.not_forms)

    def kind(self, filename: str, subject: str) -> str | None:
        """The kind a file's name suggests, else the mail's subject."""
        return self.kind_in(filename) or self.kind_in(subject)

    def content_kind(self, lines: Sequence[str]) -> str | None:
        """The kind a text holds when read as a form's lines ("申请人：张三" …)."""
        from mailflow.documents.recognise import recognise  # recognise imports extract

        blocks = tuple(Line(line) for line in lines[:400])
        try:
            sections = recognise(RawDocument((Part("text", blocks),)), self.catalog)
        except Exception:  # a text that is no form at all must not break the mail
            return None
        return sections[0].kind if sections else None

    def intent(self, filename: str, subject: str, content_kind: str | None, *,
               beside_a_form: bool) -> Intent:
        """Whether a file that is no readable form was meant as one.

        Its own text or name decides first; the subject speaks for a file only when the
        mail brings no form of its own (then "帐号申请" + IMG_2041.jpg is a photo of it).
        """
        if content_kind is not None:
            return Intent.FORM
        if self.names_other_document(filename):
            return Intent.NONE
        name = self._text(filename)
        if beside_a_form:
            return Intent.FORM if _STRICT_FORM_WORD.search(name) else Intent.NONE
        if self.kind_in(filename) or _FORM_WORD.search(name):
            return Intent.FORM
        topic = self._text(subject)
        if self.names_other_document(subject):
            return Intent.NONE
        if self.kind_in(subject) or _FORM_WORD.search(topic):
            return Intent.FORM
        return Intent.NONE


def _guesser(catalog: FormCatalog) -> KindGuesser:
    pairs: set[tuple[str, str]] = set()
    forms: list[FormDef] = list(catalog.forms.values())
    for form in forms:
        for title in (*form.titles, form.title_en):
            core = _core(title)
            if len(core) >= 2:
                pairs.add((core, form.kind))
    for kind, words in catalog.lexicon.title_kinds:  # the lexicon's words for each kind
        if kind in catalog.forms:
            pairs.update((w if w.isascii() else squeeze(w), kind) for w in words if len(w) >= 2)
    # a core shared by two kinds names neither
    shared = {core for core, kind in pairs if any(c == core and k != kind for c, k in pairs)}
    kept = sorted(((c, k) for c, k in pairs if c not in shared), key=lambda p: -len(p[0]))
    return KindGuesser(catalog, tuple(kept), catalog.lexicon.not_form_words)
