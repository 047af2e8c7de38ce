"""The words replies are read by: decisions, negations, escalations, commands, change results.

Why one table: the readers (reply_reader.py, reply_result.py) match by meaning over tokens,
and every word they know lives here, as data, so a new client habit or a new phrasing is one
line in one place (and the tests read the same tables).  All entries are written *folded*
(see reply_tokens.fold: lower-case ASCII, half-width punctuation, Simplified characters), so
Traditional and full-width spellings match without entries of their own.

Modes say where a word counts:

- ``ANY``: anywhere in its clause (同意, 批准, approve);
- ``FINAL``: only when it ends its clause, alone or followed by a particle (可以 / 可以的 /
  审核通过。 count; 可以考虑, 通过邮件发送 do not);
- ``ALONE``: only when it is the whole line, give or take punctuation (OK, 好, 行, yes).
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    NEGATOR = "negator"  # turns a following approval (or command, or success) around
    NEUTRAL = "neutral"  # words that contain a negator but negate nothing (不过, 没问题 is APPROVE)
    WITHDRAW = "withdraw"
    STATUS = "status"
    CONFIRM = "confirm"
    SUCCESS = "success"
    FAILURE = "failure"


class Mode(StrEnum):
    ANY = "any"
    FINAL = "final"
    ALONE = "alone"


Entry = tuple[str, Kind, Mode]

A, F, L = Mode.ANY, Mode.FINAL, Mode.ALONE

# --- decisions (R-AC-2, R-DX-2, R-CH-3, R-MT-4) ---------------------------------------------
DECISION_WORDS: tuple[Entry, ...] = (
    # approvals
    ("同意", Kind.APPROVE, A), ("批准", Kind.APPROVE, A), ("准予", Kind.APPROVE, A),
    ("准许", Kind.APPROVE, A), ("核准", Kind.APPROVE, A), ("赞成", Kind.APPROVE, A),
    ("认可", Kind.APPROVE, A), ("予以通过", Kind.APPROVE, A), ("通过", Kind.APPROVE, F),
    ("可以", Kind.APPROVE, F), ("确认", Kind.APPROVE, F), ("没问题", Kind.APPROVE, F),
    ("没有问题", Kind.APPROVE, F), ("无异议", Kind.APPROVE, A), ("没有异议", Kind.APPROVE, A),
    ("没意见", Kind.APPROVE, F), ("没有意见", Kind.APPROVE, F), ("准", Kind.APPROVE, L),
    ("可", Kind.APPROVE, L), ("行", Kind.APPROVE, L), ("好", Kind.APPROVE, L),
    ("好的", Kind.APPROVE, L), ("批", Kind.APPROVE, L), ("ok", Kind.APPROVE, L),
    ("okay", Kind.APPROVE, L), ("yes", Kind.APPROVE, L), ("lgtm", Kind.APPROVE, L),
    ("approve", Kind.APPROVE, A), ("approved", Kind.APPROVE, A), ("agree", Kind.APPROVE, A),
    ("agreed", Kind.APPROVE, A), ("accepted", Kind.APPROVE, A), ("confirmed", Kind.APPROVE, A),
    ("granted", Kind.APPROVE, F), ("go ahead", Kind.APPROVE, F), ("no objection", Kind.APPROVE, A),
    ("no objections", Kind.APPROVE, A),
    # rejections (the negated approvals are also found by NEGATOR + APPROVE; they are listed
    # so that the veto scan knows them as phrases)
    ("驳回", Kind.REJECT, A), ("拒绝", Kind.REJECT, A), ("否决", Kind.REJECT, A),
    ("退回", Kind.REJECT, A), ("反对", Kind.REJECT, A), ("拒批", Kind.REJECT, A),
    ("不同意", Kind.REJECT, A), ("不批准", Kind.REJECT, A), ("不予批准", Kind.REJECT, A),
    ("暂不同意", Kind.REJECT, A), ("不通过", Kind.REJECT, A), ("不予通过", Kind.REJECT, A),
    ("未通过", Kind.REJECT, A), ("不准", Kind.REJECT, A), ("不行", Kind.REJECT, A),
    ("不可以", Kind.REJECT, A), ("不认可", Kind.REJECT, A), ("不赞成", Kind.REJECT, A),
    ("不予", Kind.REJECT, A), ("否", Kind.REJECT, L), ("不", Kind.REJECT, L),
    ("no", Kind.REJECT, L), ("nope", Kind.REJECT, L),
    ("reject", Kind.REJECT, A), ("rejected", Kind.REJECT, A), ("decline", Kind.REJECT, A),
    ("declined", Kind.REJECT, A), ("deny", Kind.REJECT, A), ("denied", Kind.REJECT, A),
    ("disapprove", Kind.REJECT, A), ("disapproved", Kind.REJECT, A),
    ("disagree", Kind.REJECT, A), ("refuse", Kind.REJECT, A), ("refused", Kind.REJECT, A),
    ("not approved", Kind.REJECT, A), ("not approve", Kind.REJECT, A),
    ("do not approve", Kind.REJECT, A), ("don't approve", Kind.REJECT, A),
    ("cannot approve", Kind.REJECT, A), ("can't approve", Kind.REJECT, A),
    ("not agree", Kind.REJECT, A), ("not ok", Kind.REJECT, A), ("not okay", Kind.REJECT, A),
    ("不好", Kind.REJECT, L),
)  # fmt: skip

#: negators: an approval at most NEGATION_GAP characters (CJK) or words (Latin) after one
#: is a rejection ("不太同意", "暂时不予以批准", "will not be approved").
NEGATORS: tuple[Entry, ...] = (
    ("不", Kind.NEGATOR, A), ("未", Kind.NEGATOR, A), ("没", Kind.NEGATOR, A),
    ("没有", Kind.NEGATOR, A), ("无法", Kind.NEGATOR, A), ("不能", Kind.NEGATOR, A),
    ("不可", Kind.NEGATOR, A), ("别", Kind.NEGATOR, A), ("勿", Kind.NEGATOR, A),
    ("非", Kind.NEGATOR, A), ("尚未", Kind.NEGATOR, A), ("并不", Kind.NEGATOR, A),
    ("绝不", Kind.NEGATOR, A), ("不要", Kind.NEGATOR, A), ("不用", Kind.NEGATOR, A),
    ("not", Kind.NEGATOR, A), ("never", Kind.NEGATOR, A), ("cannot", Kind.NEGATOR, A),
    ("can't", Kind.NEGATOR, A), ("won't", Kind.NEGATOR, A), ("don't", Kind.NEGATOR, A),
    ("doesn't", Kind.NEGATOR, A), ("didn't", Kind.NEGATOR, A), ("isn't", Kind.NEGATOR, A),
    ("wasn't", Kind.NEGATOR, A), ("shouldn't", Kind.NEGATOR, A), ("no", Kind.NEGATOR, A),
    ("without", Kind.NEGATOR, A), ("nor", Kind.NEGATOR, A),
    # words that begin with a negator but negate nothing
    ("不过", Kind.NEUTRAL, A), ("不仅", Kind.NEUTRAL, A), ("不但", Kind.NEUTRAL, A),
    ("不管", Kind.NEUTRAL, A), ("不论", Kind.NEUTRAL, A), ("不久", Kind.NEUTRAL, A),
    ("不少", Kind.NEUTRAL, A), ("不断", Kind.NEUTRAL, A), ("不错", Kind.NEUTRAL, A),
    ("非常", Kind.NEUTRAL, A), ("未来", Kind.NEUTRAL, A), ("没问题", Kind.NEUTRAL, A),
    ("no problem", Kind.NEUTRAL, A), ("not only", Kind.NEUTRAL, A),
    ("未经", Kind.NEUTRAL, A), ("不经", Kind.NEUTRAL, A), ("不好意思", Kind.NEUTRAL, A),
    ("不客气", Kind.NEUTRAL, A), ("别客气", Kind.NEUTRAL, A),
)  # fmt: skip
NEGATION_GAP_CJK = 4
NEGATION_GAP_WORDS = 4

#: any of these anywhere in the authored text forbids reading an approval (the property the
#: tests and the fuzz target check): the REJECT phrases above that are not ALONE-only
VETO_PHRASES: tuple[str, ...] = tuple(
    word for word, kind, mode in DECISION_WORDS if kind is Kind.REJECT and mode is not Mode.ALONE
)

#: a clause holding one of these (or ending in ? / 吗) asks, it does not decide
QUESTION_MARKERS: tuple[str, ...] = (
    "?", "吗", "是否", "能否", "可否", "要不要", "可不可以", "行不行", "同不同意", "批不批",
    "为什么", "为何", "怎么", "how ", "why ", "could you", "can you", "would you",
)  # fmt: skip

# --- escalations (R-DX-2: president; R-AC-2: leader in charge) ------------------------------
ESCALATION_TARGETS: tuple[tuple[str, str], ...] = (
    # leader first: "分管副总裁" names the leader in charge, not the president
    ("分管领导", "leader_in_charge"), ("分管副总裁", "leader_in_charge"),
    ("分管副总经理", "leader_in_charge"), ("分管副总", "leader_in_charge"),
    ("分管老总", "leader_in_charge"), ("主管领导", "leader_in_charge"),
    ("分管校领导", "leader_in_charge"), ("分管", "leader_in_charge"),
    ("leader in charge", "leader_in_charge"), ("executive in charge", "leader_in_charge"),
    ("vp in charge", "leader_in_charge"), ("supervising leader", "leader_in_charge"),
    ("总裁", "president"), ("总经理", "president"), ("董事长", "president"),
    ("president", "president"), ("ceo", "president"),
)  # fmt: skip
#: verbs before a target that send the request up ("报总裁", "escalate to the president")
ESCALATION_VERBS: tuple[str, ...] = (
    "需", "须", "请", "报", "呈", "提交", "转", "上报", "送", "交", "交由",
    "escalate", "forward", "refer", "send", "needs", "need", "requires", "require", "pass",
)  # fmt: skip
#: nouns after a target that ask for its decision ("总裁审批", "president's approval")
ESCALATION_NOUNS: tuple[str, ...] = (
    "审批", "批准", "审核", "签批", "批示", "审阅", "决定", "定夺", "签字", "签核", "同意",
    "approval", "approve", "sign-off", "sign off", "decision", "decide",
)  # fmt: skip
#: an escalation phrase after one of these is cancelled ("不需要总裁审批", "no need for")
ESCALATION_CANCELLERS: tuple[str, ...] = (
    "不需", "无需", "不用", "不必", "无须", "毋需", "毋须", "不要", "no need", "not need",
    "doesn't need", "does not need", "without",
)  # fmt: skip
ESCALATION_WINDOW = 8  # characters (CJK; three times that for Latin) around a target

# --- what a reason is not -------------------------------------------------------------------
#: courtesy that may stand beside a word that counts only ALONE ("好的，谢谢" is 好; "好的，收到"
#: acknowledges, it does not decide)
COURTESY: frozenset[str] = frozenset({
    "谢谢", "多谢", "感谢", "谢谢你", "谢谢您", "辛苦", "辛苦了", "辛苦啦", "thanks", "thank you",
    "thx", "cheers", "many thanks", "sorry", "抱歉", "不好意思",
})  # fmt: skip
#: clauses that carry no reason: procedure and politeness ("经审核，同意，谢谢！")
FILLER_CLAUSES: frozenset[str] = COURTESY | frozenset({
    "经审核", "经研究", "经审阅", "经讨论", "经查", "已阅", "已审阅", "已审核", "审核后",
    "我", "本人", "我这边", "我方", "ok", "好", "好的", "嗯", "收到", "已收到", "请知悉",
    "i", "we", "hi", "hello", "dear all",
    "请办理", "请处理", "请尽快处理", "请尽快办理", "请执行", "照办", "拟", "特此",
    "此致", "敬礼", "此致敬礼", "原则上", "原则", "完全",
    "审批意见", "意见", "我的意见", "批示", "审批结果", "结果", "decision", "回复",
})  # fmt: skip
#: "同意开通": words right after an approval that only repeat what is approved
APPROVAL_COMPLEMENTS: tuple[str, ...] = (
    "办理", "申请", "该申请", "此申请", "本申请", "此次申请", "开通", "执行", "实施",
    "提取", "变更", "发布", "上线", "分发", "此事", "此项", "该项", "该变更", "该请求",
    "this", "this request", "the request",
)  # fmt: skip
#: conjunctions that open a condition: never dropped from a reason
CONDITION_OPENERS: tuple[str, ...] = (
    "但", "只", "仅", "须", "需", "前提", "条件", "限", "若", "如果", "除", "请", "不过",
    "but", "only", "provided", "if", "as long", "except", "on condition",
)  # fmt: skip

# --- commands (issue 15, part 7) ------------------------------------------------------------
COMMAND_WORDS: tuple[Entry, ...] = (
    ("撤回", Kind.WITHDRAW, A), ("撤销", Kind.WITHDRAW, A), ("取消", Kind.WITHDRAW, A),
    ("撤单", Kind.WITHDRAW, A), ("作废", Kind.WITHDRAW, A), ("不需要了", Kind.WITHDRAW, A),
    ("不要了", Kind.WITHDRAW, A), ("不用了", Kind.WITHDRAW, A), ("withdraw", Kind.WITHDRAW, A),
    ("cancel", Kind.WITHDRAW, A), ("retract", Kind.WITHDRAW, A),
    ("进度", Kind.STATUS, A), ("状态", Kind.STATUS, A), ("进展", Kind.STATUS, A),
    ("到哪了", Kind.STATUS, A), ("到哪一步", Kind.STATUS, A), ("哪一步", Kind.STATUS, A),
    ("审批到", Kind.STATUS, A), ("处理到", Kind.STATUS, A), ("办得怎么样", Kind.STATUS, A),
    ("怎么样了", Kind.STATUS, A), ("status", Kind.STATUS, A), ("progress", Kind.STATUS, A),
    ("where is", Kind.STATUS, A), ("any update", Kind.STATUS, A),
    ("确认", Kind.CONFIRM, A), ("是的", Kind.CONFIRM, F), ("是", Kind.CONFIRM, L),
    ("对", Kind.CONFIRM, L), ("对的", Kind.CONFIRM, L), ("没错", Kind.CONFIRM, F),
    ("确定", Kind.CONFIRM, F), ("好的", Kind.CONFIRM, L), ("好", Kind.CONFIRM, L),
    ("嗯", Kind.CONFIRM, L), ("yes", Kind.CONFIRM, L), ("confirm", Kind.CONFIRM, A),
    ("confirmed", Kind.CONFIRM, A), ("correct", Kind.CONFIRM, L), ("right", Kind.CONFIRM, L),
    ("ok", Kind.CONFIRM, L), ("okay", Kind.CONFIRM, L),
)  # fmt: skip

#: words that may stand around a command without making it something else: "请问我的申请现在
#:进度如何" is a status question, "取消管理员权限" (COMMAND_REST_CJK characters left) is not a
#: withdrawal
COMMAND_NOISE: tuple[str, ...] = (
    "请问", "请", "麻烦", "帮我", "帮忙", "我的", "我们", "我", "想要", "想", "要", "需要", "一下",
    "现在", "目前", "当前", "如何", "怎么样", "怎样", "了", "吗", "呢", "吧", "啊", "的", "这个",
    "这张", "这份", "那个", "该", "此", "本", "申请单", "申请", "请求", "流程", "工单", "单子",
    "审批", "查询", "查", "看看", "告知", "告诉我", "已经", "已", "直接", "掉", "全部", "一起",
    "please", "what's", "whats", "what", "is", "the", "my", "this", "that", "request",
    "application", "of", "it", "for", "i", "want", "to", "would", "like", "can", "you",
    "check", "let", "me", "know", "on", "a", "an", "any", "us", "we", "our",
)  # fmt: skip
COMMAND_REST_CJK = 4
COMMAND_REST_WORDS = 2

# --- change results (R-CH-5) ----------------------------------------------------------------
RESULT_WORDS: tuple[Entry, ...] = (
    ("成功", Kind.SUCCESS, A), ("完成", Kind.SUCCESS, A), ("顺利", Kind.SUCCESS, A),
    ("正常", Kind.SUCCESS, F), ("已上线", Kind.SUCCESS, A), ("上线了", Kind.SUCCESS, A),
    ("验证通过", Kind.SUCCESS, A), ("完毕", Kind.SUCCESS, A), ("搞定", Kind.SUCCESS, A),
    ("success", Kind.SUCCESS, A), ("successful", Kind.SUCCESS, A),
    ("successfully", Kind.SUCCESS, A), ("succeeded", Kind.SUCCESS, A),
    ("completed", Kind.SUCCESS, A), ("complete", Kind.SUCCESS, A), ("done", Kind.SUCCESS, A),
    ("ok", Kind.SUCCESS, L),
    ("失败", Kind.FAILURE, A), ("回退", Kind.FAILURE, A), ("回滚", Kind.FAILURE, A),
    ("已还原", Kind.FAILURE, A), ("中止", Kind.FAILURE, A), ("终止", Kind.FAILURE, A),
    ("放弃", Kind.FAILURE, A), ("取消", Kind.FAILURE, A), ("不成功", Kind.FAILURE, A),
    ("未成功", Kind.FAILURE, A), ("未完成", Kind.FAILURE, A), ("没有完成", Kind.FAILURE, A),
    ("没完成", Kind.FAILURE, A), ("没有成功", Kind.FAILURE, A),
    ("failed", Kind.FAILURE, A), ("failure", Kind.FAILURE, A), ("fail", Kind.FAILURE, A),
    ("rolled back", Kind.FAILURE, A), ("rollback", Kind.FAILURE, A),
    ("roll back", Kind.FAILURE, A), ("reverted", Kind.FAILURE, A), ("aborted", Kind.FAILURE, A),
    ("unsuccessful", Kind.FAILURE, A), ("not completed", Kind.FAILURE, A),
    ("cancelled", Kind.FAILURE, A), ("canceled", Kind.FAILURE, A),
    # negated failures negate nothing of the outcome ("无失败交易", "未回退")
    ("无失败", Kind.NEUTRAL, A), ("没有失败", Kind.NEUTRAL, A), ("未回退", Kind.NEUTRAL, A),
    ("无需回退", Kind.NEUTRAL, A), ("无需回滚", Kind.NEUTRAL, A), ("未回滚", Kind.NEUTRAL, A),
    ("回退方案", Kind.NEUTRAL, A), ("回滚方案", Kind.NEUTRAL, A), ("no rollback", Kind.NEUTRAL, A),
    ("rollback plan", Kind.NEUTRAL, A), ("without failure", Kind.NEUTRAL, A),
    ("部分成功", Kind.NEUTRAL, A), ("partially successful", Kind.NEUTRAL, A),
)  # fmt: skip

#: section labels of a result report ("遗留问题：…"); the value follows the colon
RESULT_LABELS: dict[str, tuple[str, ...]] = {
    "outcome": ("结果", "变更结果", "执行结果", "实施结果", "result", "outcome", "status"),
    "reason": ("原因", "失败原因", "回退原因", "说明", "reason", "cause", "why"),
    "remaining_issues": (
        "遗留问题", "遗留事项", "未解决问题", "待解决问题", "存在问题", "问题",
        "remaining issues", "open issues", "known issues", "issues", "remaining",
    ),
    "notes": ("备注", "注意事项", "其他", "其它", "补充", "附注", "notes", "note", "remarks"),
}  # fmt: skip
#: values that mean "nothing" ("遗留问题：无")
EMPTY_VALUES: frozenset[str] = frozenset({
    "无", "暂无", "没有", "无。", "none", "n/a", "na", "nil", "-", "/", "—", "no", "nothing",
})  # fmt: skip
