"""Values the way people write them (display.py), and a reply's "您于 … 发来" time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailflow.display import ValueDisplay, column_widths, sent_time
from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.paths import bundled_dir
from mailflow.templates import Templates

CATALOG = load_catalog(default_forms_dir())
CHANGE = {f.key: f for f in CATALOG.get("system_change").fields}
MINUTES = {f.key: f for f in CATALOG.get("minutes").fields}


@pytest.fixture(params=["zh", "en"])
def display(request: pytest.FixtureRequest) -> ValueDisplay:
    return ValueDisplay(Templates(bundled_dir("templates"), str(request.param)))


def test_yes_no_and_time_range_read_like_a_chinese_form() -> None:
    show = ValueDisplay(Templates(bundled_dir("templates"), "zh"))
    assert show.text(True, CHANGE["affects_live_users"]) == "是"
    assert show.text(False, CHANGE["affects_live_users"]) == "否"
    window = {"start": "2026-11-25T23:30:00", "end": "2026-11-26T01:30:00"}
    assert show.text(window, CHANGE["planned_window"]) == "2026-11-25 23:30 至 次日 01:30"
    same_day = {"start": "2026-11-25T20:00:00", "end": "2026-11-25T21:15:00"}
    assert show.text(same_day) == "2026-11-25 20:00 至 21:15"
    long = {"start": "2026-11-25T20:00:00", "end": "2026-11-28T09:00:00"}
    assert show.text(long) == "2026-11-25 20:00 至 2026-11-28 09:00"


def test_action_items_are_a_small_table_not_key_value_reprs() -> None:
    show = ValueDisplay(Templates(bundled_dir("templates"), "zh"))
    items = [{"item": "完成备份", "owner": "张伟", "due": "2026-11-30"},
             {"item": "通知财务部", "owner": "刘洋", "due": "2026-12-02"}]
    table = show.table(items, MINUTES["action_items"])
    assert table.header[:2] == ("事项", "负责人")
    assert table.rows[0][:2] == ("完成备份", "张伟")
    assert "2026-11-30" in table.rows[0]
    text = show.text(items, MINUTES["action_items"])
    assert text.splitlines()[1].startswith("通知财务部 · 刘洋")
    assert "item=" not in text and "{" not in text


def test_no_python_value_ever_shows(display: ValueDisplay) -> None:
    for f in (*CHANGE.values(), *MINUTES.values()):
        for value in (True, False, None, [], ["a", "b"], {"start": "2026-01-01T10:00:00",
                                                          "end": "2026-01-02T09:00:00"},
                      [{"x": True, "y": None}], 3.0, "2026-11-25T23:30:00"):
            shown = display.text(value, f)
            for repr_ in ("True", "False", "None", "start=", "{'", "['", "T23:30"):
                assert repr_ not in shown, (f.key, value, shown)


def test_typed_cells(display: ValueDisplay) -> None:
    assert display.cell("2026-11-25", CHANGE["change_date"]) == datetime(2026, 11, 25).date()
    assert display.cell(3, None) == 3
    assert display.cell(True, CHANGE["complex_change"]) in ("是", "Yes")
    assert display.cell(None, None) is None


def test_column_widths_count_chinese_characters_twice() -> None:
    widths = column_widths([["编号", "ab"], ["REQ-2026-000001", "一二三四五六七八九十"]])
    assert widths[0] == len("REQ-2026-000001") + 2
    assert widths[1] == 22


NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(("header", "expected"), [
    (NOW - timedelta(hours=20), NOW - timedelta(hours=20)),  # a backlog: when it was sent
    (NOW + timedelta(minutes=5), NOW + timedelta(minutes=5)),  # a PC clock a little ahead
    (NOW + timedelta(days=2), NOW),  # a wrong clock
    (NOW - timedelta(days=400), NOW),  # an old mail resent, or a wrong clock
    (None, NOW),
    (datetime(2026, 11, 22, 10, 0), NOW),  # no zone: not comparable
])
def test_reply_says_when_the_person_sent_the_mail(header: datetime | None,
                                                  expected: datetime) -> None:
    assert sent_time(header, NOW) == expected


def test_a_table_field_is_shown_as_a_small_aligned_table_in_mails() -> None:
    """The approval and handler mails (templates/_approval.j2) get {header, rows, lines}
    for a table field; every other value stays its text."""
    from mailflow.display import aligned, display_width

    show = ValueDisplay(Templates(bundled_dir("templates"), "zh"))
    items = [{"item": "完成备份", "owner": "张伟", "due": "2026-11-30"},
             {"item": "通知财务部和客服中心", "owner": "Liu Yang", "due": "2026-12-02"}]
    shown = show.shown(items, MINUTES["action_items"])
    assert isinstance(shown, dict)
    assert shown["header"][:2] == ["事项", "负责人"]
    assert shown["rows"][1][:2] == ["通知财务部和客服中心", "Liu Yang"]
    lines = aligned(show.table(items, MINUTES["action_items"]))
    assert lines == shown["lines"] and len(lines) == 3
    owner_column = {display_width(line[:line.index(cell)])
                    for line, cell in zip(lines, ("负责人", "张伟", "Liu Yang"), strict=True)}
    assert owner_column == {display_width("通知财务部和客服中心") + 2}  # one column, aligned
    assert show.shown(True, CHANGE["affects_live_users"]) == "是"
    assert show.shown([], MINUTES["action_items"]) == ""
