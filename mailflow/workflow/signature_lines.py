"""Signatures, device footers, closings and disclaimers: where they start, and the trailing
block of name, title and contact lines people type without a "-- " above it.

Why: a title ("数据审批通过专员"), a slogan or a disclaimer ("unless approved in writing…",
"不得…未经许可") holds decision words the approver did not write as a decision.  All
patterns see folded lines (reply_tokens.fold).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from mailflow.workflow.reply_tokens import fold, strip_punct

_DEVICES = (
    r"iphone|ipad|android|手机|邮箱|客户端|mail|outlook|企业微信|钉钉|wps|平板|设备|华为|小米|荣耀|"
    r"vivo|oppo|三星|samsung|huawei|xiaomi|honor|pixel|mobile|macbook|mac|windows|foxmail|"
    r"网易|qq|移动端|welink|飞书|lark|dingtalk|wecom|版"
)
# "发自我的iPhone", "从我的 iPhone 发送", "來自 Android 的 Outlook", "发自网易邮箱大师",
# "Sent from my iPhone", "Get Outlook for iOS", "Sent with Spark"
_DEVICE_FOOTER = re.compile(
    rf"^\s*(?:(?:发自|来自|寄自|从|通过)[^\n]{{0,30}}(?:{_DEVICES})[^\n]{{0,20}}$|"
    rf"(?:sent from|sent with|sent via|get outlook for|获取 ?outlook|von meinem|envoyé de)\b"
    rf"[^\n]{{0,60}}$)"
)
_NETEASE = re.compile(r"网易邮箱大师|邮箱大师|mail ?master|网易邮箱\S{0,6}版$")
_SENTENCE = re.compile(r"[,;!?。，；！？]")
_CLOSINGS = frozenset({
    "此致", "此致敬礼", "敬礼", "致礼", "顺祝商祺", "顺颂商祺", "顺颂时祺", "祝好", "祝工作顺利",
    "祝顺利", "谢谢", "多谢", "感谢", "谢谢!", "best regards", "regards", "kind regards",
    "best wishes", "best", "thanks", "thank you", "many thanks", "cheers", "sincerely",
    "yours sincerely", "br", "thx", "warm regards", "with regards", "祝商祺", "敬上", "谨上",
    "thanks & regards", "thanks and regards", "rgds", "best regards & thanks", "祝好运",
})  # fmt: skip
_DISCLAIMER = re.compile(
    r"^\s*[【\[(（]?\s*(?:免责声明|保密声明|保密提示|法律声明|声明|重要提示|"
    r"(?:(?:confidentiality|confidential|privileged|important|legal|security|email)\s+)?"
    r"(?:disclaimer|confidentiality|notice|caution|warning|statement))"
    r"\s*[】\])）]?\s*[:]"
    r"|^\s*(?:免责声明|保密声明|disclaimer|confidentiality notice)\s*$"
    r"|^\s*(?:本|此|该|这封)(?:电子)?邮件.{0,30}(?:保密|机密|附件|收件人|删除|仅限|专供|不得)"
    r"|^\s*(?:this|the) (?:e-?mail|message|communication)\b.{0,60}"
    r"(?:confidential|intended|privileged|recipient)"
    r"|^\s*the information (?:contained|in this)"
    r"|^\s*if you (?:are not|have received)"
)


def starts_signature(folded_line: str) -> bool:
    """Whether the rest of this authored stretch, from this line, is signature or disclaimer."""
    line = folded_line.strip()
    if line in ("--", "-- ", "—", "——", "__"):
        return True
    footer = _DEVICE_FOOTER.match(line) or _NETEASE.search(line)
    if footer and len(line) <= 60 and not _SENTENCE.search(line):  # "从手机上看了，同意"
        return True
    if strip_punct(line) in _CLOSINGS:
        return True
    return _DISCLAIMER.match(line) is not None


# --- trailing name / title / contact block --------------------------------------------------
_CONTACT = re.compile(
    r"(?:\b1[3-9]\d[ -]?\d{4}[ -]?\d{4}\b|\+\d{1,3}[ \d-]{6,}|\(?0\d{2,3}\)?[ -]?\d{7,8}"
    r"|[\w.+-]+@[\w-]+\.[\w.-]+|https?://|www\.|^\s*(?:tel|电话|手机|mobile|mob|phone|fax|传真|"
    r"地址|address|邮箱|e-?mail|网址|web|qq|微信|wechat|分机|ext)\s*[:.])"
)
_TITLE_END = re.compile(
    r"(?:部|中心|公司|集团|经理|总监|主管|工程师|主任|部长|专员|助理|处|科|室|组|院|所|局|厅|"
    r"组长|总|总裁|董事长)$|\b(?:manager|director|engineer|department|dept|team|ltd|inc|co|"
    r"limited|corporation|group|officer|lead|head|cio|cto|ceo|vp|it)\.?$"
)
# words a title or department line does not hold ("请找财务部" is a reason, not a title)
_NOT_TITLE = re.compile(
    r"[请找联系的是不要需应该把给让问由在对向已将会能可]|\b(?:please|ask|contact)\b"
)
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
    "武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒"
    "阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古"
    "吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇"
    "桑郎甄丛仲虞敖巩明佘池查麻苑迟邝欧阳上官司马诸葛"
)
_NAME = re.compile(
    rf"^[{_SURNAMES}][\u4e00-\u9fff]{{1,2}}(?:经理|总监|主管|主任|部长|总|工|老师|博士)?$"
    r"|^[a-z][a-z'.-]*(?: [a-z][a-z'.-]*){0,2}$"
)
_SEPARATED = re.compile(r"\s*[|｜/·•]\s*|\s{2,}")


def _signature_like(line: str, original: str) -> bool:
    low = strip_punct(line.strip())
    if not low or len(low) > 40:
        return False
    if _CONTACT.search(low):
        return True
    parts = [p for p in _SEPARATED.split(low) if p]
    if len(low) <= 24 and not _NOT_TITLE.search(low) and all(_TITLE_END.search(p) for p in parts):
        return True
    if _NAME.match(low):
        # a Latin "name" must look like one in the original: capitalised words
        if low.isascii():
            words = strip_punct(original.strip()).split()
            return all(w[:1].isupper() for w in words) and len(words) <= 3
        return True
    return False


#: a trailing line the caller knows is an answer, not a signature (e.g. the name of the
#: engineer a ticket is given to, on a last line of its own)
Keep = Callable[[str], bool]


def drop_trailing_signature(lines: Sequence[str], keep: Keep | None = None) -> list[str]:
    """*lines* without the trailing block of name, title, department and contact lines; the
    first line that has text is never dropped, nor a line *keep* says is part of the answer
    (that line and everything above it stay)."""
    kept = list(lines)
    first = next((i for i, line in enumerate(kept) if line.strip()), None)
    if first is None:
        return []
    end = len(kept)
    while end - 1 > first:
        line = kept[end - 1]
        if line.strip() and (not _signature_like(fold(line), line)
                             or (keep is not None and keep(line))):
            break
        end -= 1
    while end > first + 1 and not kept[end - 1].strip():
        end -= 1
    return kept[:end]
