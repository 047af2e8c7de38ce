"""The change's summary report read from a reply (R-CH-6): labelled sections, from the text
its writer authored (quoted originals removed), or nothing."""

from __future__ import annotations

import pytest

from mailflow.notices.lifecycle import ChangeSummary, read_summary

QUOTE = "\n\n-----原始邮件-----\n发件人: IT管理部 流程服务\n> 背景：旧的背景\n> 意义：旧的意义\n"


@pytest.mark.parametrize(("body", "expected"), [
    ("背景：月末出账慢\n完成情况：引擎升级完成\n难度：三系统联调\n意义：出账提速",
     ChangeSummary("月末出账慢", "引擎升级完成", "三系统联调", "出账提速")),
    ("总结如下\n1. 变更背景：出账慢\n2. 完成情况：\n  升级完成\n  批处理完成\n"
     "3. 变更意义：提速" + QUOTE,
     ChangeSummary("出账慢", "升级完成\n批处理完成", "", "提速")),
    ("【背景】：A\n【难度与复杂度】：B",
     ChangeSummary("A", "", "B", "")),
    ("Background: slow billing\nCompleted: upgrade done\nSignificance: faster",
     ChangeSummary("slow billing", "upgrade done", "", "faster")),
])
def test_r_ch_6_summary_sections_read_from_a_reply(body: str, expected: ChangeSummary) -> None:
    assert read_summary(body) == expected


@pytest.mark.parametrize("body", [
    "好的，收到",
    "背景：只写了一项",
    "成功\n遗留问题：无",
    "谢谢" + QUOTE,  # the labels are only in the quoted original
])
def test_r_ch_6_not_a_summary(body: str) -> None:
    assert read_summary(body) is None
