"""Notice templates (issue 16): every template in both languages renders with its sample data
into a mail that parses back (valid MIME, UTF-8, Chinese file names per RFC 2231); an
organisation's override wins for that one template only; a broken template is reported by
file and line at start-up and by `mailflow config check`."""

from __future__ import annotations

import email
import subprocess
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from mailflow.config import load_settings
from mailflow.errors import ConfigError
from mailflow.mail.compose import Envelope, OutgoingAttachment, compose
from mailflow.paths import DEFAULT_TEMPLATES_DIR
from mailflow.templates import Templates

NOTICES = [
    "departments_change_notice", "departments_change_correction", "departments_change_result",
    "managers_change_summary", "attendees_meeting_notice", "attendees_minutes",
    "owner_action_item_reminder", "host_overdue_items", "applicant_data_delivery",
    "applicant_data_password", "applicant_account_done", "person_deadline_reminder",
    "supervisor_deadline_escalation", "requester_change_lead_time", "sender_unresolved_names",
]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_bundled_template_renders_with_its_sample(language: str) -> None:
    templates = Templates(DEFAULT_TEMPLATES_DIR, language)
    assert templates.check() == []
    names = templates.names()
    for notice in NOTICES:
        assert f"notices/{notice}.j2" in names


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("notice", NOTICES)
def test_rendered_notice_is_a_mail_that_parses_back(language: str, notice: str) -> None:
    templates = Templates(DEFAULT_TEMPLATES_DIR, language)
    name = f"notices/{notice}"
    content = templates.render(name, templates.samples()[name])
    attachment = OutgoingAttachment("系统变更通知_REQ-2025-000310.docx", b"PK\x03\x04 docx",
                                    "application/vnd.openxmlformats-officedocument."
                                    "wordprocessingml.document")
    raw = compose(Envelope(from_address="it-flow@example.com", from_name="IT管理部 流程服务",
                           to=[("刘洋", "liu.yang@example.com")],
                           cc=[("吴刚", "wu.gang@example.com")],
                           auto_submitted="auto-generated", attachments=[attachment]),
                  content, message_id="<n1@example.com>",
                  date=datetime(2025, 9, 30, 8, tzinfo=UTC))
    msg = email.message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    assert not msg.defects
    assert str(msg["Subject"]) == content.subject
    assert "\n" not in content.subject and content.subject
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n") == content.text
    assert html.get_content().replace("\r\n", "\n") == content.html
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "系统变更通知_REQ-2025-000310.docx"
    assert b"filename*=utf-8''" in raw  # RFC 2231, read by every Chinese client


def test_html_is_autoescaped_and_keeps_line_breaks() -> None:
    templates = Templates(DEFAULT_TEMPLATES_DIR, "zh")
    sample = templates.samples()["notices/departments_change_notice"]
    change = dict(sample["change"], impact_scope="<script>alert(1)</script>")
    content = templates.render("notices/departments_change_notice", {**sample, "change": change})
    assert "<script>" not in content.html and "&lt;script&gt;" in content.html
    assert "<script>alert(1)</script>" in content.text  # plain text stays as written
    assert "升级计费引擎至 5.2 版<br>" in content.html


def test_rules_are_named_in_deadlines() -> None:
    templates = Templates(DEFAULT_TEMPLATES_DIR, "zh")
    for notice, rule in [("departments_change_notice", "R-CH-4"),
                         ("applicant_account_done", "R-AC-4"),
                         ("applicant_data_delivery", "R-DX-4"),
                         ("supervisor_deadline_escalation", "R-CH-6")]:
        name = f"notices/{notice}"
        assert rule in templates.render(name, templates.samples()[name]).text


def override_dir(tmp_path: Path, name: str, body: str) -> Path:
    root = tmp_path / "local"
    (root / "zh" / "notices").mkdir(parents=True)
    (root / "zh" / "notices" / f"{name}.j2").write_text(body, encoding="utf-8")
    return root


OVERRIDE = """{# 本公司版本 #}
{% block subject %}【变更通知（本公司格式）】{{ change.title }}{% endblock %}
{% block text %}
{% import "notices/_notice.j2" as n %}
敬启者：{{ change.title }} 将于 {{ change.window_start }} 进行。
{{ n.signature() }}
{% endblock %}
{% block html %}<p>敬启者：{{ change.title }}</p>{% endblock %}
"""


def test_an_override_replaces_one_template_and_keeps_the_rest() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = override_dir(Path(tmp), "departments_change_notice", OVERRIDE)
        templates = Templates(DEFAULT_TEMPLATES_DIR, "zh", root)
        assert templates.check() == []
        sample = templates.samples()["notices/departments_change_notice"]
        ours = templates.render("notices/departments_change_notice", sample)
        assert ours.subject == "【变更通知（本公司格式）】计费系统月度版本升级"
        assert "IT管理部 流程服务" in ours.text  # the bundled macros still serve it
        result = templates.render("notices/departments_change_result",
                                  templates.samples()["notices/departments_change_result"])
        assert result.subject.startswith("【系统变更结果通告】")


BROKEN_SYNTAX = """{% block subject %}x{% endblock %}
{% block text %}
第二行
{% if change.title %}没有结束的 if
{% endblock %}
{% block html %}x{% endblock %}
"""

BROKEN_NAME = """{% block subject %}{{ change.title }}{% endblock %}
{% block text %}
第二行
第三行 {{ change.no_such_field }}
{% endblock %}
{% block html %}x{% endblock %}
"""


@pytest.mark.parametrize(("body", "line", "words"), [
    (BROKEN_SYNTAX, 5, "endif"),
    (BROKEN_NAME, 4, "no_such_field"),
])
def test_a_broken_override_is_reported_by_file_and_line(tmp_path: Path, body: str, line: int,
                                                        words: str) -> None:
    root = override_dir(tmp_path, "departments_change_notice", body)
    (problem,) = Templates(DEFAULT_TEMPLATES_DIR, "zh", root).check()
    assert problem.file == str(root / "zh" / "notices" / "departments_change_notice.j2")
    assert problem.line == line
    assert words in problem.message
    assert f"departments_change_notice.j2:{line}" in str(problem)


def test_config_check_and_start_up_refuse_a_broken_template(tmp_path: Path) -> None:
    root = override_dir(tmp_path, "attendees_minutes", BROKEN_NAME.replace("change", "minutes"))
    config = tmp_path / "config.toml"
    config.write_text(f'[service]\ntemplates_override_dir = "{root}"\n'
                      f'[storage]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(config), "config", "check"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr  # a config error
    assert "attendees_minutes.j2:4" in result.stderr
    assert "no_such_field" in result.stderr

    from mailflow.clock import SystemClock
    from mailflow.service import Service

    with pytest.raises(ConfigError, match=r"attendees_minutes\.j2:4"):
        Service(load_settings(config, environ={}), SystemClock())


def test_config_check_passes_with_the_bundled_templates(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(config), "config", "check"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "templates:" in result.stdout


def test_a_template_without_sample_data_is_compiled_and_reported_not_fatal(
    tmp_path: Path,
) -> None:
    root = override_dir(tmp_path, "extra_notice", OVERRIDE)
    (problem,) = Templates(DEFAULT_TEMPLATES_DIR, "zh", root).check()
    assert not problem.fatal and "extra_notice" in problem.message
    config = tmp_path / "config.toml"
    config.write_text(f'[service]\ntemplates_override_dir = "{root}"\n'
                      f'[storage]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(config), "config", "check"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "without sample data" in result.stderr and "extra_notice.j2" in result.stderr


def test_a_sample_builds_on_its_base_and_a_broken_base_is_reported(tmp_path: Path) -> None:
    """Samples of one process share most of their context (``_base``): the bundled ticket
    samples are complete after the merge, and a base that loops or is missing is one
    readable problem of samples.toml, not a crash at start."""
    bundled = Templates(DEFAULT_TEMPLATES_DIR, "zh").samples()
    receipt = bundled["tickets/customer_receipt"]
    assert receipt["rule"] == "R-PM-1" and receipt["customer_name"] == "华东电力公司"
    assert "_base" not in receipt and bundled["tickets/dispatch"]["rule"] == "R-PM-3"
    for broken in ('[a]\n_base = "b"\n[b]\n_base = "a"\n', '[a]\n_base = "nowhere"\n'):
        (tmp_path / "samples.toml").write_text(broken, encoding="utf-8")
        templates = Templates(DEFAULT_TEMPLATES_DIR, "zh", tmp_path)
        with pytest.raises(ValueError, match="_base"):
            templates.samples()
        (problem,) = templates.check()
        assert "_base" in problem.message
