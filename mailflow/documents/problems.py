"""What is wrong with a filled-in form, one record per problem (rendered by _form_problems.j2).

Codes (the template has one sentence per code, in zh and en):

- ``missing``            a required field (or a time range's start/end) is empty
- ``invalid_date``       not a date (or a month-day with no year to go with it)
- ``invalid_datetime``   not a date with a time of day
- ``invalid_time_range`` not "start 至 end" (or only times with no date on the form)
- ``not_a_choice``       what is written or ticked is none of the choices
- ``several_choices``    more than one ticked where one is asked
- ``invalid_yesno``      neither 是 nor 否
- ``invalid_email``      holds "@" but is not a valid mail address
- ``end_before_start``   an end (time range end, end date) before its start
- ``table_row_incomplete`` a table row (action item) lacks a required column
- ``old_version``        the form carries an older version marker than the current blank
"""

from __future__ import annotations

from dataclasses import dataclass

PROBLEM_CODES = (
    "missing",
    "invalid_date",
    "invalid_datetime",
    "invalid_time_range",
    "not_a_choice",
    "several_choices",
    "invalid_yesno",
    "invalid_email",
    "end_before_start",
    "table_row_incomplete",
    "old_version",
)


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field. ``field_key`` is None for a problem with the whole form.

    For a table cell or a time range part, ``row`` (1-based, counting filled rows) and the
    column's key and labels say where; ``help_*`` then describe that column.
    """

    field_key: str | None
    label_zh: str
    label_en: str
    code: str
    value: str
    help_zh: str
    help_en: str
    rule: str = ""
    row: int | None = None
    column_key: str | None = None
    column_label_zh: str = ""
    column_label_en: str = ""
    # how the reply names the field: the label on the sender's form when it has one, else the
    # blank's labels (a time range's blank prints its start and end, not the range's name)
    shown_zh: tuple[str, ...] = ()
    shown_en: tuple[str, ...] = ()
    # "missing" only: False when no label of the field is on the form at all ("未找到", never
    # "未填写" for a field that may well be filled under a label we did not recognise) …
    label_seen: bool = True
    # … and a labelled value the form has that may be this field: "表中「是否影响在线用户：是」
    # 是否即此项？如是，回复“确认”即可"
    candidate_label: str = ""
    candidate_value: str = ""
    # the candidates are the form's only problems: a "确认" reply completes the request
    confirm_by_reply: bool = False
