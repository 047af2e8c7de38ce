"""Forms in other formats and mixed mails (issue 14, parts 5 and 6).

A PDF with a text layer is read as a form and the receipt says so; a scanned PDF, a photo or
a .txt meant as a form gets one reply asking for the .docx/.xlsx with the blank of the kind
meant; a document that is no form (a price list, a contract, a photo with an unrelated
name) is an ordinary attachment, listed in the receipt; supporting documents beside an
accepted form never turn the receipt into "please correct".
"""

from __future__ import annotations

import io
import random
import subprocess
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from PIL import Image
from sqlalchemy import select

from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow.documents.examine import FormDesk
from mailflow.documents.reading import NoTextLayer, read_form
from mailflow.documents.safety import SafetyLimits
from mailflow.documents.validate import json_safe
from mailflow.mail.parse import parse_mail
from mailflow.store.models import Request
from mailflow_testing import mailbuild
from tests.formfill import SAMPLES, fill_docx, fill_xlsx, make_docx, make_xlsx, para, table
from tests.stack import SERVICE, stack_settings
from tests.test_forms_e2e import replies_by_recipient, run_service, text_of

BLANKS = default_forms_dir() / "blank"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
TXT = "text/plain"
JPG = "image/jpeg"
SENT = datetime(2026, 11, 20, 9, 0)


@pytest.fixture(scope="module")
def catalog() -> FormCatalog:
    return load_catalog(default_forms_dir())


def filled(catalog: FormCatalog, kind: str, fmt: str = "docx") -> bytes:
    blank = (BLANKS / f"{kind}.{fmt}").read_bytes()
    form = catalog.get(kind)
    return fill_docx(blank, form, SAMPLES[kind]) if fmt == "docx" else fill_xlsx(
        blank, form, SAMPLES[kind])


def to_pdf(source: bytes, suffix: str, tmp: Path) -> bytes:
    """What a person's "export as PDF" gives: LibreOffice converts the filled file."""
    src = tmp / f"form{suffix}"
    src.write_bytes(source)
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp}/lo", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp), str(src)],
                   check=True, capture_output=True, timeout=180)
    return (tmp / "form.pdf").read_bytes()


def photo(size: tuple[int, int] = (640, 480), fmt: str = "JPEG") -> bytes:
    """A picture as a phone takes it: noisy (so it is as large as a real photo, not a logo)."""
    rng = random.Random(14)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def price_list() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["XX科技有限公司 报价单"])
    ws.append(["序号", "产品名称", "规格型号", "数量", "单价（元）", "金额（元）"])
    ws.append([1, "服务器", "R740", 2, 56000, 112000])
    ws.append([2, "交换机", "S5720", 4, 8000, 32000])
    ws.append(["", "合计", "", "", "", 144000])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def contract() -> bytes:
    return make_docx(para("XX系统运维服务合同"), para("甲方：XX有限公司"),
                     para("乙方：XX科技有限公司"), para("第一条 服务内容：系统日常运维。"))


TXT_FORM = """系统帐号申请表
申请人：李四
所属部门：客服中心
工号：E10086
系统名称：CRM系统
申请类型：新增帐号
帐号名称：lisi
申请原因：新入职
"""


@pytest.fixture(scope="module")
def pdf_form(catalog: FormCatalog, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return to_pdf(filled(catalog, "system_change"), ".docx", tmp_path_factory.mktemp("pdf"))


@pytest.fixture(scope="module")
def pdf_lines(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A form typed as "label：value" paragraphs, no table, exported to PDF."""
    doc = make_docx(para("系统帐号申请表"), *(para(line) for line in TXT_FORM.splitlines()[1:]))
    return to_pdf(doc, ".docx", tmp_path_factory.mktemp("pdf"))


def desk(catalog: FormCatalog) -> FormDesk:
    return FormDesk(catalog, SafetyLimits(), None, BLANKS)


def mail(subject: str, *attachments: tuple[str, bytes, str]) -> Any:
    return parse_mail(mailbuild.human_mail(sender="a@example.test", to=SERVICE,
                                           subject=subject, body="见附件", date=SENT,
                                           attachments=list(attachments)))


# --- reading ---------------------------------------------------------------------------


def test_a_pdf_with_a_text_layer_is_read_as_its_form(pdf_form: bytes, catalog: FormCatalog
                                                     ) -> None:
    (reading,) = read_form(pdf_form, "pdf", catalog, default_year=2026)
    assert reading.kind == "system_change"
    assert not reading.problems
    assert reading.json_values() == json_safe(SAMPLES["system_change"])
    assert reading.source_format == "pdf"


def test_a_pdf_of_label_value_lines_is_read(pdf_lines: bytes, catalog: FormCatalog) -> None:
    (reading,) = read_form(pdf_lines, "pdf", catalog, default_year=2026)
    assert reading.kind == "account"
    assert reading.values["applicant"] == "李四"
    assert reading.values["request_kind"] == "新增帐号"
    assert reading.values["account_name"] == "lisi"


def test_a_sheet_printed_without_grid_lines_is_read(
    catalog: FormCatalog, tmp_path: Path
) -> None:
    """An .xlsx form exported to PDF has no ruled table: label and value are one line apart,
    the values starting at the same x."""
    rows: list[list[object]] = [["系统帐号申请表"], ["申请人", "李四"], ["所属部门", "客服中心"],
                                ["工号", "E10086"], ["系统名称", "CRM系统"],
                                ["申请类型", "新增帐号"], ["申请原因", "入职"],
                                ["生效日期", "2026-12-01"]]
    pdf = to_pdf(make_xlsx({"表": rows}), ".xlsx", tmp_path)
    (reading,) = read_form(pdf, "pdf", catalog, default_year=2026)
    assert reading.kind == "account" and not reading.problems
    assert reading.values["department"] == "客服中心"
    assert reading.values["effective_date"] == date(2026, 12, 1)


def test_a_scanned_pdf_has_no_text_layer(catalog: FormCatalog) -> None:
    with pytest.raises(NoTextLayer):
        read_form(photo(fmt="PDF"), "pdf", catalog)


# --- the forms desk ----------------------------------------------------------------------


def test_a_pdf_form_is_accepted_and_noted_as_pdf(pdf_form: bytes, catalog: FormCatalog) -> None:
    outcome = desk(catalog).examine(mail("变更申请", ("系统变更申请表.pdf", pdf_form, PDF)))
    assert [a.reading.kind for a in outcome.accepted] == ["system_change"]
    assert not outcome.problems
    assert ("from_pdf", "系统变更申请表.pdf") in outcome.notes


@pytest.mark.parametrize(
    ("subject", "name", "data", "mime", "code", "kind"),
    [
        ("帐号申请", "帐号申请.txt", TXT_FORM.encode("gbk"), TXT, "text_form", "account"),
        ("申请", "申请.txt", TXT_FORM.encode("utf-8"), TXT, "text_form", "account"),
        ("请审批", "系统帐号申请表.jpg", photo(), JPG, "image_form", "account"),
        ("系统变更申请", "IMG_2041.jpg", photo(), JPG, "image_form", "system_change"),
        ("会议纪要", "scan0001.pdf", photo(fmt="PDF"), PDF, "scanned_pdf", "minutes"),
        ("数据提取申请", "表格.png", photo(fmt="PNG"), "image/png", "image_form",
         "data_extraction"),
    ],
)
def test_a_form_sent_the_wrong_way_gets_one_problem_with_the_kind_meant(
    catalog: FormCatalog, subject: str, name: str, data: bytes, mime: str, code: str,
    kind: str,
) -> None:
    forms = desk(catalog)
    outcome = forms.examine(mail(subject, (name, data, mime)))
    assert not outcome.accepted
    assert [(p.filename, p.code, p.form_kind) for p in outcome.problems] == [(name, code, kind)]
    # only the blank of the kind meant, Word and Excel: not all eight
    blanks = forms.blank_forms(outcome.kinds_involved)
    title = catalog.get(kind).title_zh
    assert sorted(b.filename for b in blanks) == [f"{title}.docx", f"{title}.xlsx"]


@pytest.mark.parametrize(
    ("subject", "name", "data", "mime"),
    [
        ("服务器报价", "报价单.xlsx", price_list(), XLSX),
        ("运维合同（盖章版）", "XX系统运维服务合同.docx", contract(), DOCX),
        ("现场照片", "机房照片.jpg", photo(), JPG),
        ("周报", "说明.txt", "本周完成了机房巡检。".encode(), TXT),
    ],
)
def test_a_document_that_is_no_form_is_an_ordinary_attachment(
    catalog: FormCatalog, subject: str, name: str, data: bytes, mime: str
) -> None:
    outcome = desk(catalog).examine(mail(subject, (name, data, mime)))
    assert not outcome.accepted
    assert not outcome.problems
    assert outcome.notes == (("attachment", name),)


def test_a_pdf_that_is_no_form_is_an_ordinary_attachment(
    catalog: FormCatalog, tmp_path: Path
) -> None:
    """A plan exported to PDF, even under a subject naming a form, and a broken PDF."""
    plan = to_pdf(contract(), ".docx", tmp_path)
    outcome = desk(catalog).examine(mail("系统变更申请", ("系统变更方案.pdf", plan, PDF),
                                         ("说明.pdf", b"%PDF-1.4\n% broken\n", PDF)))
    assert not outcome.problems and not outcome.accepted
    assert outcome.notes == (("attachment", "系统变更方案.pdf"), ("attachment", "说明.pdf"))


def test_supporting_documents_beside_an_accepted_form_are_attachments(
    catalog: FormCatalog, pdf_form: bytes
) -> None:
    supporting = [("报价单.xlsx", price_list(), XLSX), ("变更实施方案.docx", contract(), DOCX),
                  ("测试截图.png", photo(fmt="PNG"), "image/png"),
                  ("扫描件.pdf", photo(fmt="PDF"), PDF), ("日志.txt", b"ok", TXT)]
    outcome = desk(catalog).examine(mail("系统变更申请", (
        "系统变更申请表.docx", filled(catalog, "system_change"), DOCX), *supporting))
    assert [a.reading.kind for a in outcome.accepted] == ["system_change"]
    assert not outcome.problems
    assert [n for n in outcome.notes if n[0] == "attachment"] == [
        ("attachment", name) for name, _, _ in supporting]


def test_a_second_form_that_fails_beside_an_accepted_one_is_still_a_problem(
    catalog: FormCatalog,
) -> None:
    outcome = desk(catalog).examine(mail("申请", (
        "系统变更申请表.docx", filled(catalog, "system_change"), DOCX),
        ("系统帐号申请表.jpg", photo(), JPG)))
    assert len(outcome.accepted) == 1
    assert [(p.code, p.form_kind) for p in outcome.problems] == [("image_form", "account")]


# --- end to end: Dovecot in, SMTP out ----------------------------------------------------


def _subject(msg: EmailMessage) -> str:
    return str(msg["Subject"])


def test_other_formats_and_mixed_mails_end_to_end(
    mailstack: Any, sqlite_url: str, tmp_path: Path, catalog: FormCatalog, pdf_form: bytes
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    account_xlsx = filled(catalog, "account", "xlsx")
    supporting = [(f"附件{i:02d}-测试报告.docx", contract(), DOCX) for i in range(1, 25)]
    supporting += [("报价单.xlsx", price_list(), XLSX), ("现场.jpg", photo(), JPG)]
    mails = {
        "txt@example.test": ("帐号申请", [("帐号申请.txt", TXT_FORM.encode("gbk"), TXT)]),
        "pdf@example.test": ("系统变更申请", [("系统变更申请表.pdf", pdf_form, PDF)]),
        "photo@example.test": ("系统变更申请（拍照）", [("IMG_2041.jpg", photo(), JPG)]),
        "mixed@example.test": ("帐号申请及附件", [("系统帐号申请表.xlsx", account_xlsx, XLSX),
                                                  *supporting]),
        "price@example.test": ("服务器报价", [("报价单.xlsx", price_list(), XLSX)]),
    }
    for sender, (subject, attachments) in mails.items():
        dovecot.add_user(sender, "pw")
        dovecot.append(SERVICE, mailbuild.human_mail(
            sender=sender, to=SERVICE, subject=subject, body="见附件", charset="gbk",
            attachments=attachments))
    settings: Settings = stack_settings(dovecot, smtp, sqlite_url, tmp_path)
    service = run_service(settings)
    smtp.wait_for(len(mails))
    with service.factory() as session:
        requests = {r.requester_email: r for r in session.execute(select(Request)).scalars()}
    service.close()
    replies = replies_by_recipient(smtp)
    assert all(len(replies[s]) == 1 for s in mails), {s: len(replies[s]) for s in mails}

    def attached(sender: str) -> list[str]:
        return sorted(str(p.get_filename()) for p in replies[sender][0].iter_attachments())

    # a .txt form: one reply asking for Word/Excel, with the account blank only
    reply = replies["txt@example.test"][0]
    assert "请修改后重新提交" in _subject(reply) and "已受理" not in _subject(reply)
    assert "纯文本" in text_of(reply) and ".docx" in text_of(reply)
    assert attached("txt@example.test") == ["系统帐号申请表.docx", "系统帐号申请表.xlsx"]
    assert requests["txt@example.test"].status == "returned"
    # a PDF with a text layer: read, registered, and the receipt says it came from a PDF
    reply = replies["pdf@example.test"][0]
    assert "已受理" in _subject(reply)
    assert "PDF" in text_of(reply)
    assert requests["pdf@example.test"].kind == "system_change"
    assert requests["pdf@example.test"].fields == json_safe(SAMPLES["system_change"])
    # a photo of a form: one reply, the change blank only
    reply = replies["photo@example.test"][0]
    assert "图片" in text_of(reply)
    assert attached("photo@example.test") == ["系统变更申请表.docx", "系统变更申请表.xlsx"]
    # one accepted form and 26 supporting documents: 已受理, each document listed as received
    reply = replies["mixed@example.test"][0]
    assert "已受理" in _subject(reply) and "修改" not in _subject(reply)
    text = text_of(reply)
    assert all(name in text for name, _, _ in supporting)
    assert "不是可识别的申请表" not in text
    assert attached("mixed@example.test") == []
    assert requests["mixed@example.test"].status == "submitted"
    # a price list alone: an ordinary mail, received; no correction, no blanks
    reply = replies["price@example.test"][0]
    assert "已受理" in _subject(reply)
    assert "报价单.xlsx" in text_of(reply)
    assert attached("price@example.test") == []
    assert requests["price@example.test"].status == "received"


def test_the_english_receipt_names_the_pdf(catalog: FormCatalog, pdf_form: bytes) -> None:
    from mailflow.paths import DEFAULT_TEMPLATES_DIR
    from mailflow.templates import Templates

    outcome = desk(catalog).examine(mail("change", ("change.pdf", pdf_form, PDF),
                                         ("quote.xlsx", price_list(), XLSX)))
    for lang, words in (("en", ("PDF", "quote.xlsx")), ("zh", ("PDF", "quote.xlsx"))):
        content = Templates(DEFAULT_TEMPLATES_DIR, lang).render("requester_ack", {
            "requester_name": "A", "subject": "change", "resubmitted": False,
            "reference": "REQ-1", "requests": [], "accepted": outcome.accepted,
            "problems": (), "notes": outcome.notes, "confirmed": [],
            "received_at": "2026-11-20 09:00",
            "attachment_names": [], "form_titles": {}})
        assert all(w in content.text for w in words), content.text


def test_an_outcome_with_forms_and_problems_travels_from_the_read_ahead_worker(
    catalog: FormCatalog,
) -> None:
    """What the worker process sends back must pickle: readings in accepted forms and in
    problems alike (their values, labels and proposals are read-only mappings)."""
    import pickle

    from mailflow.readahead import _portable, _restored

    outcome = desk(catalog).examine(mail(
        "申请", ("系统帐号申请表.xlsx", filled(catalog, "account", "xlsx"), XLSX),
        ("变更.docx", make_docx(para("系统变更申请表"), para("变更名称：扩容")), DOCX)))
    assert outcome.accepted and outcome.problems
    assert _restored(pickle.loads(pickle.dumps(_portable(outcome)))) == outcome  # noqa: S301


@pytest.mark.parametrize(
    ("subject", "name", "meant"),
    [
        ("采购申请", "报价单.jpg", False),  # the file names another kind of document
        ("会议通知", "IMG_0001.jpg", False),  # so does the subject
        ("关于系统权限", "权限申请单.jpg", True),  # the lexicon's word for the account kind
        ("", "data extraction request.png", True),
        ("", "exchange rates.png", False),  # "change" only as a whole word
    ],
)
def test_whether_a_file_was_meant_as_a_form(
    catalog: FormCatalog, subject: str, name: str, meant: bool
) -> None:
    outcome = desk(catalog).examine(mail(subject, (name, photo(), JPG)))
    assert bool(outcome.problems) is meant
    assert (outcome.notes == (("attachment", name),)) is not meant


def test_a_pdf_decompression_bomb_is_refused_before_pdfminer(catalog: FormCatalog) -> None:
    """pdfminer inflates streams in memory: a 70 MB stream in a 70 KB PDF never reaches it."""
    import zlib

    from mailflow.documents.pdf_reader import PdfRefused, check_streams
    from mailflow.documents.reading import UnreadableForm

    bomb = zlib.compress(bytes(70 * 1024 * 1024), 6)
    pdf = (b"%PDF-1.4\n1 0 obj<</Length " + str(len(bomb)).encode()
           + b"/Filter/FlateDecode>>stream\n" + bomb + b"\nendstream endobj\n")
    with pytest.raises(PdfRefused):
        check_streams(pdf)
    with pytest.raises(UnreadableForm):
        read_form(pdf, "pdf", catalog)
    outcome = desk(catalog).examine(mail("资料", ("资料.pdf", pdf, PDF)))
    assert outcome.notes == (("attachment", "资料.pdf"),) and not outcome.problems


def test_a_text_file_that_is_no_form_is_an_attachment_whatever_the_subject(
    catalog: FormCatalog,
) -> None:
    outcome = desk(catalog).examine(mail("帐号申请问题", ("error.txt", b"login failed 3x", TXT)))
    assert not outcome.problems and outcome.notes == (("attachment", "error.txt"),)


def test_an_unrecognised_form_gets_the_blank_its_first_lines_name(catalog: FormCatalog) -> None:
    """Neither the file name nor the subject names a kind; the document's heading does."""
    doc = make_docx(para("关于开通系统权限"), para("姓名 张三"), para("事由 新入职"))
    forms = desk(catalog)
    outcome = forms.examine(mail("申请", ("新建文档.docx", doc, DOCX)))
    assert [(p.code, p.form_kind) for p in outcome.problems] == [("unknown_form", "account")]
    assert len(forms.blank_forms(outcome.kinds_involved)) == 2


def test_an_untitled_document_read_by_its_labels_beside_a_form_is_supporting(
    catalog: FormCatalog,
) -> None:
    """A test report with a table using some of the change form's labels, sent with the
    change form: not a second change form to correct."""
    report = make_docx(para("测试情况："), table([
        ["变更系统", "计费系统"], ["变更内容", "升级计费引擎"], ["影响范围", "无"],
        ["回退方案", "回滚"], ["影响时间", "10分钟"], ["变更操作人员", "王五"],
        ["测试结果", "全部通过"]]))
    alone = desk(catalog).examine(mail("测试报告", ("测试报告.docx", report, DOCX)))
    assert [p.code for p in alone.problems] == ["field_problems"]  # read as a form on its own
    outcome = desk(catalog).examine(mail("系统变更申请", (
        "系统变更申请表.docx", filled(catalog, "system_change"), DOCX),
        ("测试报告.docx", report, DOCX)))
    assert len(outcome.accepted) == 1 and not outcome.problems
    assert ("attachment", "测试报告.docx") in outcome.notes


def test_a_refused_file_beside_an_accepted_form_is_archived_not_answered(
    catalog: FormCatalog,
) -> None:
    """A password-protected contract sent with the form: a supporting document; the same file
    alone is told about (the sender may have meant it as the form)."""
    from tests.paths import CORPUS

    locked = (CORPUS / "msoffcrypto-tool/inputs/example_password.docx").read_bytes()
    form = ("系统变更申请表.docx", filled(catalog, "system_change"), DOCX)
    outcome = desk(catalog).examine(mail("变更申请", form, ("合同（加密）.docx", locked, DOCX)))
    assert len(outcome.accepted) == 1 and not outcome.problems
    assert ("attachment", "合同（加密）.docx") in outcome.notes
    alone = desk(catalog).examine(mail("", ("t.docx", locked, DOCX)))
    assert [p.code for p in alone.problems] == ["encrypted"]
