"""Form definitions: what each request form asks for, loaded from ``forms/<kind>.toml``.

The forms are data so that a wording change (a new alias people use, a new help text) is
a TOML edit, not a code change. The TOML is checked with pydantic (unknown keys, wrong
types, a choice field without choices, two fields answering to the same label) and turned
into frozen dataclasses; an error names the file and the key so an admin can fix it.

One file per kind, named after it::

    kind = "account"            # = file name; version = 1 (bump when fields change)
    rule_prefix = "R-AC"        # PROCESS_RULES section
    title_zh / title_en / title_aliases / instructions_zh / instructions_en
    [[fields]]                  # in the order printed on the blank
    key = "request_kind"        # snake_case, the key in FormReading.values
    label_zh / label_en / aliases = [...]   # aliases: other wordings people use
    type = "choice"             # text multiline date datetime time_range yesno choice
                                # multichoice email_or_person list table
    required = true
    choices = [...]             # choice / multichoice only
    help_zh / help_en           # "how to fill it", quoted in the reply about a problem
    rule = "R-AC-1"             # optional: the rule this field serves
    not_before = "other_key"    # optional, dates: may not precede that field
    date_field = "change_date"  # optional, time_range: the day for "23:30-01:30"
    example = "李四"            # optional: printed as a hint under the label
    [[fields.columns]]          # table: its columns; time_range: its start/end parts
    [[deadlines]]               # optional: work due after a transition (DeadlineDef)
    rule = "R-DX-4"; counts_from = "handed_over"; working_days = 3   # or hours = 2
    task = "data_delivery"; task_zh / task_en; note_zh / note_en
    [plain_mail]                # optional: the kind may come as a plain mail (PlainMailDef)
    [[escalations]]             # optional: who is told after N minutes (EscalationDef)
    [closing]                   # optional: closed by a reply's words, with a notice

``forms/_blank.toml`` holds the words printed on every blank (hints per type, 序号);
``forms/_lexicon.toml`` the synonyms labels and titles are matched with (lexicon.py).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mailflow.documents.lexicon import EMPTY, Lexicon, load_lexicon
from mailflow.documents.text import label_key

FORMATS = ("docx", "xlsx")


class FieldType(StrEnum):
    """How a field's value is written on the form and which Python type it reads as."""

    TEXT = "text"  # str, one line
    MULTILINE = "multiline"  # str, lines joined with "\n"
    DATE = "date"  # datetime.date
    DATETIME = "datetime"  # datetime.datetime (a range given here: its start counts)
    TIME_RANGE = "time_range"  # values.TimeRange; may cross midnight
    YESNO = "yesno"  # bool
    CHOICE = "choice"  # str, one of choices
    MULTICHOICE = "multichoice"  # list[str], each one of choices, in choice order
    EMAIL_OR_PERSON = "email_or_person"  # str; checked as an address when it holds "@"
    LIST = "list"  # list[str], order kept
    TABLE = "table"  # list[dict[str, object]], one dict per filled row


class CatalogError(Exception):
    """A form definition file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class FieldDef:
    """One question on a form. ``columns`` are a table's columns, or a time range's parts."""

    key: str
    label_zh: str
    label_en: str
    type: FieldType
    required: bool = False
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    columns: tuple[FieldDef, ...] = ()
    help_zh: str = ""
    help_en: str = ""
    rule: str = ""  # PROCESS_RULES id this field serves (R-…), for traceability
    not_before: str = ""  # key of a date/datetime field this one may not precede
    date_field: str = ""  # time_range: the date field giving the day of "23:30-01:30"
    example: str = ""  # a sample answer, shown greyed in the blank form's hint

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.label_zh, *self.aliases)


@dataclass(frozen=True)
class DeadlineDef:
    """Work a request of this kind owes after a transition: "first assessment within 3
    working days of acceptance" is data, scheduled by the notices stage as due work that
    reminds the handler, then tells them it is overdue, then escalates."""

    rule: str
    #: the request transition it counts from (workflow/states.py Event values): handed_over
    #: is the moment IT holds the approved request (R-GEN-1: approval time is not the
    #: handler's), chain_started the submission of a request that needs approval
    counts_from: str
    working_days: int | None = None  # working days on the calendar (R-GEN-2) …
    hours: float | None = None  # … or clock hours
    task: str = ""  # a code the templates may know (task_words), else task_zh/task_en
    task_zh: str = ""
    task_en: str = ""
    note_zh: str = ""  # how the rule reads, for the deadline line ("受理后 3 个工作日内")
    note_en: str = ""


@dataclass(frozen=True)
class PlainMailDef:
    """A request of this kind that may come as a plain mail, no form. Recognised when the
    sender is who *sender* says ("applicant_supervisor": the department manager of exactly one
    person the mail names — seed 002's urgent data processing, R-DP-2; "anyone": whoever
    writes — a fault report), the subject holds one of *subject_words* (when given) and the
    mail one of *urgent_words* and of *topic_words* (when given). It is recorded as a request
    of this kind with the mail's text in *text_field* and handed to the handler at once with
    *handover_template*."""

    rule: str
    text_field: str
    sender: str = "applicant_supervisor"
    urgent_words: tuple[str, ...] = ()
    topic_words: tuple[str, ...] = ()
    subject_words: tuple[str, ...] = ()
    urgency_field: str = ""
    urgency_value: str = ""
    handover_template: str = "urgent_handover"


@dataclass(frozen=True)
class EscalationDef:
    """Who is told when a request is still not done *after_minutes* (clock time) after the
    transition it counts from — the fault notices' 5/15/30-minute ladder. *notify* names
    people as the chains do: role:NAME, handler_manager (the handler's department manager),
    business_departments (every department that is not IT: managers, interface persons and
    heads, with IT's manager in Cc)."""

    rule: str
    after_minutes: float
    notify: tuple[str, ...]
    template: str
    counts_from: str = "handed_over"


@dataclass(frozen=True)
class ClosingDef:
    """How the handler closes a request of this kind by reply (*words*, "已恢复"), and the
    notice then sent at once to the requester and everyone the escalations told (R-FN-6)."""

    rule: str
    words: tuple[str, ...]
    template: str


@dataclass(frozen=True)
class TrackedItemsDef:
    """A table whose rows are commitments followed up one by one (R-MT-5 the minutes' action
    items, R-PM-13 the 质量改进措施): each row's *owner* is reminded before its *due* day and,
    when it passes, the person in *overdue_to* (a field naming a person; empty: the requester)
    is told. *item* is the column that says what is to be done, *title_field* the field that
    names the whole (the meeting, the project). The minutes start tracking when they are
    distributed; any other kind when it is handed over. *in_report*: the 服务月报 counts its
    open and overdue rows (R-PM-13)."""

    rule: str
    field: str
    item: str
    owner: str
    due: str
    title_field: str = ""
    overdue_to: str = ""
    remind_template: str = "notices/owner_action_item_reminder"
    overdue_template: str = "notices/host_overdue_items"
    in_report: bool = False


@dataclass(frozen=True)
class FormDef:
    kind: str
    version: int
    title_zh: str
    title_en: str
    title_aliases: tuple[str, ...]
    fields: tuple[FieldDef, ...]
    instructions_zh: str
    instructions_en: str
    rule_prefix: str = ""  # e.g. "R-DX"
    deadlines: tuple[DeadlineDef, ...] = ()
    plain_mail: PlainMailDef | None = None
    escalations: tuple[EscalationDef, ...] = ()
    closing: ClosingDef | None = None
    tracked_items: TrackedItemsDef | None = None
    #: the rule under which a request of this kind goes to its handler without approval
    #: (a fault: R-FN-1); empty: approved by its chain, if it has one
    at_once: str = ""
    # the synonyms its labels are matched with (forms/_lexicon.toml, shared by every kind)
    lexicon: Lexicon = field(default=EMPTY, compare=False, repr=False)

    def __hash__(self) -> int:
        # The derived hash would walk every field on each lookup (the readers cache per form).
        return hash((self.kind, self.version, self.title_zh))

    @property
    def titles(self) -> tuple[str, ...]:
        return (self.title_zh, *self.title_aliases)

    def field(self, key: str) -> FieldDef:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)


@dataclass(frozen=True)
class BlankLayout:
    """Words printed on every generated blank form (from ``forms/_blank.toml``)."""

    number_column: str = "No."
    required_mark: str = "*"
    table_rows: int = 6
    type_hints: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    example_hint: str = "{example}"

    def hint(self, f: FieldDef) -> str:
        """The note printed under *f*'s label: how to write its type, else its example."""
        by_type = self.type_hints.get(f.type.value, "")
        # a moment's own example wins: a range's end must show a time after its start
        own = f.example and f.type in (FieldType.DATE, FieldType.DATETIME)
        if (by_type and not own) or not f.example:
            return by_type
        return self.example_hint.format(example=f.example)


@dataclass(frozen=True)
class FormCatalog:
    forms: Mapping[str, FormDef] = field(default_factory=lambda: MappingProxyType({}))
    layout: BlankLayout = field(default_factory=BlankLayout)
    lexicon: Lexicon = field(default=EMPTY, compare=False, repr=False)

    def get(self, kind: str) -> FormDef:
        try:
            return self.forms[kind]
        except KeyError:
            raise KeyError(f"unknown form kind {kind!r}; known: {sorted(self.forms)}") from None

    def blank_path(self, kind: str, fmt: Literal["docx", "xlsx"], blank_dir: Path) -> Path:
        """Where the blank of *kind* in *fmt* lives: ``<blank_dir>/<kind>.<fmt>``."""
        self.get(kind)
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
        return blank_dir / f"{kind}.{fmt}"


# --- TOML schema (pydantic), converted to the dataclasses above -------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _ColumnModel(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label_zh: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    type: FieldType = FieldType.TEXT
    required: bool = False
    aliases: list[str] = []
    choices: list[str] = []
    help_zh: str = ""
    help_en: str = ""
    example: str = ""

    @model_validator(mode="after")
    def _column_type(self) -> _ColumnModel:
        if self.type in (FieldType.TABLE, FieldType.TIME_RANGE):
            raise ValueError(f"a column cannot be of type {self.type.value!r}")
        _check_choices(self.type, self.choices)
        return self


class _FieldModel(_ColumnModel):
    rule: str = Field(default="", pattern=r"^(R-[A-Z]+-\d+)?$")
    not_before: str = ""
    date_field: str = ""
    columns: list[_ColumnModel] = []

    @model_validator(mode="after")
    def _column_type(self) -> _FieldModel:
        _check_choices(self.type, self.choices)
        if self.type is FieldType.TABLE and not self.columns:
            raise ValueError("a table field needs [[fields.columns]]")
        if self.type is FieldType.TIME_RANGE and self.columns:
            kinds = [c.type for c in self.columns]
            if kinds != [FieldType.DATETIME, FieldType.DATETIME]:
                raise ValueError("a time_range's columns must be two datetime parts: start, end")
        if self.type not in (FieldType.TABLE, FieldType.TIME_RANGE) and self.columns:
            raise ValueError(f"a {self.type.value!r} field cannot have columns")
        if self.date_field and self.type is not FieldType.TIME_RANGE:
            raise ValueError("only a time_range field can have a date_field")
        return self


class _DeadlineModel(_Strict):
    rule: str = Field(pattern=r"^R-[A-Z]+-\d+$")
    counts_from: Literal["handed_over", "chain_started", "last_step_approved"] = "handed_over"
    working_days: int | None = Field(default=None, ge=1)
    hours: float | None = Field(default=None, gt=0)
    task: str = Field(default="", pattern=r"^([a-z][a-z0-9_]*)?$")
    task_zh: str = ""
    task_en: str = ""
    note_zh: str = ""
    note_en: str = ""

    @model_validator(mode="after")
    def _one_measure(self) -> _DeadlineModel:
        if (self.working_days is None) == (self.hours is None):
            raise ValueError("a deadline needs working_days or hours (one of them)")
        if not (self.task or self.task_zh):
            raise ValueError("a deadline needs a task code or task_zh")
        return self


class _PlainMailModel(_Strict):
    rule: str = Field(pattern=r"^R-[A-Z]+-\d+$")
    text_field: str
    sender: Literal["applicant_supervisor", "anyone"] = "applicant_supervisor"
    urgent_words: list[str] = []
    topic_words: list[str] = []
    subject_words: list[str] = []
    urgency_field: str = ""
    urgency_value: str = ""
    handover_template: str = Field(default="urgent_handover", pattern=r"^[a-z][a-z0-9_/]*$")

    @model_validator(mode="after")
    def _says_something(self) -> _PlainMailModel:
        if not (self.urgent_words or self.topic_words or self.subject_words):
            raise ValueError("plain_mail needs urgent_words, topic_words or subject_words")
        return self


class _EscalationModel(_Strict):
    rule: str = Field(pattern=r"^R-[A-Z]+-\d+$")
    after_minutes: float = Field(gt=0)
    notify: list[str] = Field(min_length=1)
    template: str = Field(pattern=r"^[a-z][a-z0-9_/]*$")
    counts_from: Literal["handed_over", "chain_started", "last_step_approved"] = "handed_over"

    @model_validator(mode="after")
    def _known_people(self) -> _EscalationModel:
        for spec in self.notify:
            if not (spec.startswith("role:") or spec in ("handler_manager",
                                                          "business_departments")):
                raise ValueError(f"{spec!r}: notify role:NAME, handler_manager or "
                                 "business_departments")
        return self


class _ClosingModel(_Strict):
    rule: str = Field(pattern=r"^R-[A-Z]+-\d+$")
    words: list[str] = Field(min_length=1)
    template: str = Field(pattern=r"^[a-z][a-z0-9_/]*$")


class _TrackedModel(_Strict):
    rule: str = Field(pattern=r"^R-[A-Z]+-\d+$")
    field: str
    item: str
    owner: str
    due: str
    title_field: str = ""
    overdue_to: str = ""
    remind_template: str = Field(default="notices/owner_action_item_reminder",
                                 pattern=r"^[a-z][a-z0-9_/]*$")
    overdue_template: str = Field(default="notices/host_overdue_items",
                                  pattern=r"^[a-z][a-z0-9_/]*$")
    in_report: bool = False


class _FormModel(_Strict):
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    rule_prefix: str = Field(default="", pattern=r"^(R-[A-Z]+)?$")
    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    title_aliases: list[str] = []
    instructions_zh: str = ""
    instructions_en: str = ""
    fields: list[_FieldModel] = Field(min_length=1)
    deadlines: list[_DeadlineModel] = []
    plain_mail: _PlainMailModel | None = None
    escalations: list[_EscalationModel] = []
    closing: _ClosingModel | None = None
    tracked_items: _TrackedModel | None = None
    at_once: str = Field(default="", pattern=r"^(R-[A-Z]+-\d+)?$")

    @model_validator(mode="after")
    def _unique(self) -> _FormModel:
        keys: set[str] = set()
        labels: dict[str, str] = {}
        for f in self.fields:
            if f.key in keys:
                raise ValueError(f"field key {f.key!r} appears twice")
            keys.add(f.key)
            for text in (f.label_zh, *f.aliases, *(lbl for c in f.columns for lbl in _part(f, c))):
                norm = label_key(text)
                if norm in labels and labels[norm] != f.key:
                    raise ValueError(
                        f"label {text!r} of field {f.key!r} is also a label of {labels[norm]!r}"
                    )
                labels[norm] = f.key
        types = {f.key: f.type for f in self.fields}
        dated = (FieldType.DATE, FieldType.DATETIME)
        for f in self.fields:
            if f.not_before and (types.get(f.not_before) not in dated or f.type not in dated):
                raise ValueError(f"field {f.key!r}: not_before must join two date fields")
            if f.date_field and types.get(f.date_field) is not FieldType.DATE:
                raise ValueError(f"field {f.key!r}: date_field must name a date field")
        tracked = self.tracked_items
        if tracked is not None:
            table = next((f for f in self.fields if f.key == tracked.field), None)
            if table is None or table.type is not FieldType.TABLE:
                raise ValueError(f"tracked_items.field {tracked.field!r} is no table field")
            columns = {c.key for c in table.columns}
            for key in (tracked.item, tracked.owner, tracked.due):
                if key not in columns:
                    raise ValueError(f"tracked_items names unknown column {key!r}")
            for key in filter(None, (tracked.title_field, tracked.overdue_to)):
                if key not in types:
                    raise ValueError(f"tracked_items names unknown field {key!r}")
        plain = self.plain_mail
        if plain is not None:
            for key in filter(None, (plain.text_field, plain.urgency_field)):
                if key not in types:
                    raise ValueError(f"plain_mail names unknown field {key!r}")
        return self


def _part(f: _FieldModel, c: _ColumnModel) -> tuple[str, ...]:
    """A time range's parts are labels of their own on the form; a table's columns are not."""
    return (c.label_zh, *c.aliases) if f.type is FieldType.TIME_RANGE else ()


def _check_choices(kind: FieldType, choices: list[str]) -> None:
    wants = kind in (FieldType.CHOICE, FieldType.MULTICHOICE)
    if wants and len(choices) < 2:
        raise ValueError(f"a {kind.value!r} field needs at least two choices")
    if not wants and choices:
        raise ValueError(f"a {kind.value!r} field cannot have choices")


def _column(m: _ColumnModel) -> FieldDef:
    return FieldDef(
        key=m.key,
        label_zh=m.label_zh,
        label_en=m.label_en,
        type=m.type,
        required=m.required,
        aliases=tuple(m.aliases),
        choices=tuple(m.choices),
        help_zh=m.help_zh,
        help_en=m.help_en,
        example=m.example,
    )


def _form(m: _FormModel) -> FormDef:
    fields = tuple(
        FieldDef(
            key=f.key,
            label_zh=f.label_zh,
            label_en=f.label_en,
            type=f.type,
            required=f.required,
            aliases=tuple(f.aliases),
            choices=tuple(f.choices),
            columns=tuple(_column(c) for c in f.columns),
            help_zh=f.help_zh,
            help_en=f.help_en,
            rule=f.rule,
            not_before=f.not_before,
            date_field=f.date_field,
            example=f.example,
        )
        for f in m.fields
    )
    return FormDef(
        kind=m.kind,
        version=m.version,
        title_zh=m.title_zh,
        title_en=m.title_en,
        title_aliases=tuple(m.title_aliases),
        fields=fields,
        instructions_zh=m.instructions_zh,
        instructions_en=m.instructions_en,
        rule_prefix=m.rule_prefix,
        deadlines=tuple(DeadlineDef(**d.model_dump()) for d in m.deadlines),
        plain_mail=None if m.plain_mail is None else _plain(m.plain_mail),
        escalations=tuple(EscalationDef(e.rule, e.after_minutes, tuple(e.notify), e.template,
                                        e.counts_from) for e in m.escalations),
        at_once=m.at_once,
        tracked_items=None if m.tracked_items is None else TrackedItemsDef(
            **m.tracked_items.model_dump()),
        closing=None if m.closing is None else ClosingDef(m.closing.rule,
                                                          tuple(m.closing.words),
                                                          m.closing.template),
    )


def _plain(m: _PlainMailModel) -> PlainMailDef:
    return PlainMailDef(rule=m.rule, text_field=m.text_field, sender=m.sender,
                        urgent_words=tuple(m.urgent_words), topic_words=tuple(m.topic_words),
                        subject_words=tuple(m.subject_words), urgency_field=m.urgency_field,
                        urgency_value=m.urgency_value, handover_template=m.handover_template)


def load_form(path: Path) -> FormDef:
    """Load and check one definition file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from exc
    try:
        model = _FormModel.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _location(raw, first["loc"])
        raise CatalogError(f"{path}: {where}: {first['msg']}") from exc
    if model.kind != path.stem:
        raise CatalogError(f"{path}: kind: {model.kind!r} must match the file name {path.stem!r}")
    return _form(model)


def _location(raw: object, loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as ``fields[3] (key 'purpose').type``."""
    parts: list[str] = []
    node = raw
    for step in loc:
        if isinstance(step, int):
            name = node[step].get("key") if isinstance(node, list) and step < len(node) else None
            parts[-1] += f"[{step}]" + (f" (key {name!r})" if isinstance(name, str) else "")
            node = node[step] if isinstance(node, list) and step < len(node) else None
        else:
            parts.append(step)
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


class _LayoutModel(_Strict):
    number_column: str = Field(min_length=1)
    required_mark: str = "*"
    table_rows: int = Field(default=6, ge=1, le=50)
    type_hints: dict[FieldType, str] = {}
    example_hint: str = Field(default="{example}", pattern=r"\{example\}")


def load_layout(path: Path) -> BlankLayout:
    """The blank-form words (``_blank.toml``); defaults when the file is absent."""
    if not path.is_file():
        return BlankLayout()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        model = _LayoutModel.model_validate(raw)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CatalogError(f"{path}: {_location(raw, first['loc'])}: {first['msg']}") from exc
    hints = {kind.value: text for kind, text in model.type_hints.items()}
    return BlankLayout(
        model.number_column,
        model.required_mark,
        model.table_rows,
        MappingProxyType(hints),
        model.example_hint,
    )


def load_catalog(directory: Path) -> FormCatalog:
    """Load every ``*.toml`` in *directory* (``_*.toml`` are shared settings, not forms).

    Raises CatalogError naming the file and key of the first problem.
    """
    if not directory.is_dir():
        raise CatalogError(f"{directory}: form definition directory not found")
    forms: dict[str, FormDef] = {}
    titles: dict[str, str] = {}
    for path in sorted(p for p in directory.glob("*.toml") if not p.name.startswith("_")):
        form = load_form(path)
        for title in form.titles:
            other = titles.setdefault(label_key(title), form.kind)
            if other != form.kind:
                raise CatalogError(f"{path}: title {title!r} is also a title of {other!r}")
        forms[form.kind] = form
    if not forms:
        raise CatalogError(f"{directory}: no form definitions (*.toml)")
    lexicon = load_lexicon(directory)
    forms = {kind: replace(form, lexicon=lexicon) for kind, form in forms.items()}
    return FormCatalog(MappingProxyType(forms), load_layout(directory / "_blank.toml"), lexicon)


def default_forms_dir() -> Path:
    """The bundled form definitions (mailflow.paths decides: the package, else a checkout)."""
    from mailflow.paths import bundled_dir

    return bundled_dir("forms")


def default_blank_dir() -> Path:
    return default_forms_dir() / "blank"
