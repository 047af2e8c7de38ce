"""Fuzz target: the reply reader (``read_decision``, ``read_command``, ``read_result``) on
mutated reply bodies, text and HTML.

Finds: any exception (the readers promise never to raise), a hang (the input cap must
bound the work), output past its bounds, and above all an approval read from authored text
that holds a negation or rejection phrase (issue 15: "no approval from any text containing a
negation").  Seeds: the approver answers of ``TYPED`` inside every client's quote layout
(mailflow_testing.replybuild).  Usage: ``python -m fuzz.reply_reader [-runs=N] ...`` (see
fuzz/README.md).

Input layout: the first byte picks text only, HTML only, or both (split at the first NUL);
the rest is UTF-8, or GB18030 when the second bit of the first byte is set (what a GBK mail
decodes to, mojibake included).
"""

from __future__ import annotations

import random
import sys

from fuzz import engine, mutations

#: what approvers type, decisions and non-decisions, in every language we read
TYPED = (
    "同意", "同意，但仅限本季度", "不同意", "暂不同意，下季度再议", "驳回，原因：数据范围过大",
    "駁回", "批准。", "OK", "Approved, but read-only.", "I do not approve.", "同意，需总裁审批",
    "同意，需分管领导审批", "同意吗？", "同意 驳回", "撤回", "进度？", "确认",
    "变更成功\n遗留问题：无", "变更失败，已回退。原因：锁表", "不予以批准", "可以",
    "好的，谢谢", "",
)  # fmt: skip
REPLY_TOKENS: tuple[bytes, ...] = tuple(
    s.encode()
    for s in (
        "同意", "不同意", "不", "驳回", "批准", "不予", "暂不", "not ", "approve", "approved",
        "reject", "OK", "好", "可以", "通过", "需总裁审批", "分管领导", "？", "?", "，", "。",
        "\n", "\n\n", "> ", ">", "写道：", " wrote:", "On ", "在 ", "发件人: ", "发件人：",
        "发送时间: ", "From: ", "Sent: ", "主题：", "-----Original Message-----",
        "------------------ 原始邮件 ------------------", "________________________________",
        "-- \n", "发自我的iPhone", "Sent from my iPhone", "免责声明：", "<blockquote>",
        "</blockquote>", '<div class="gmail_quote">', '<div id="appendonsend">', "</div>",
        "<br>", "&nbsp;", "\u200b", "\u3000", "撤回", "进度", "确认", "遗留问题：", "备注：",
        "成功", "失败", "回退",
    )
)  # fmt: skip


def _decode(data: bytes) -> tuple[str, str | None]:
    """(text, html) from one fuzz input (see the module docstring)."""
    if not data:
        return "", None
    mode, body = data[0], data[1:]
    charset = "gb18030" if mode & 2 else "utf-8"
    decoded = body.decode(charset, errors="replace")
    if mode % 3 == 0:
        return decoded, None
    if mode % 3 == 1:
        return "", decoded
    text, _, html = decoded.partition("\x00")
    return text, html


def check_reply(data: bytes) -> None:
    """The reply readers keep every promise on one input; raises AssertionError if not."""
    from mailflow.workflow.quotes import MAX_CHARS
    from mailflow.workflow.reply_reader import (
        MAX_REASON,
        Command,
        Outcome,
        Verdict,
        authored_text,
        read_command,
        read_decision,
        read_result,
    )
    from mailflow.workflow.reply_tokens import fold
    from mailflow.workflow.reply_words import VETO_PHRASES

    text, html = _decode(data)
    decision = read_decision(text, html)
    assert decision.verdict in Verdict
    assert decision.evidence == authored_text(text, html), "evidence is not the authored text"
    assert len(decision.evidence) <= MAX_CHARS, "authored text past the cap"
    assert len(decision.reason) <= MAX_REASON, "reason past its bound"
    assert decision.escalate_to in (None, "president", "leader_in_charge")
    if decision.verdict is not Verdict.APPROVE:
        assert decision.escalate_to is None, "escalation without an approval"
    else:
        folded = fold(decision.evidence)
        found = [p for p in VETO_PHRASES if p in folded]
        assert not found, f"approval read from text holding {found!r}"
    assert read_command(text, html) in Command
    report = read_result(text, html)
    assert report.outcome in Outcome
    assert len(report.evidence) <= MAX_CHARS


def seeds() -> list[bytes]:
    from mailflow_testing import replybuild

    out: list[bytes] = []
    for typed in TYPED:
        for build in replybuild.TEXT_CLIENTS.values():
            out.append(b"\x00" + build(typed).encode())
        for build in replybuild.HTML_CLIENTS.values():
            out.append(b"\x01" + build(typed).encode())
        out.append(b"\x02" + typed.encode() + b"\x00" + replybuild.gmail_html(typed).encode())
        out.append(b"\x03" + replybuild.qq(typed).encode("gb18030"))
    return out


def _insert_reply_token(data: bytes, rnd: random.Random) -> bytes:
    at = rnd.randint(1, max(1, len(data)))
    return data[:at] + rnd.choice(REPLY_TOKENS) + data[at:]


def _repeat_line(data: bytes, rnd: random.Random) -> bytes:
    lines = data.split(b"\n")
    index = rnd.randrange(len(lines))
    lines[index:index] = [lines[index]] * rnd.choice((2, 10, 1000))
    return b"\n".join(lines)


REPLY_MUTATORS: tuple[mutations.Mutator, ...] = (
    *mutations.BYTE_MUTATORS,
    _insert_reply_token,
    _insert_reply_token,
    _repeat_line,
)


def load_target() -> engine.Target:
    import mailflow.workflow.reply_reader  # noqa: F401  (imported after atheris starts)

    return check_reply


def main(argv: list[str] | None = None) -> int:
    return engine.main(load_target, seeds, REPLY_MUTATORS, argv)


if __name__ == "__main__":
    sys.exit(main())
