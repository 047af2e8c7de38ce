"""Peak memory: a 20 MB spreadsheet form, and a 25 MB mail through parse + intake.

Each case runs in a fresh child process (``python -m bench.memory CASE PATH``), so the
peak RSS is that of one mailflow process doing just this, imports included; a second
child runs it under tracemalloc for the peak of Python allocations. The peak is VmHWM
from /proc/self/status: ``ru_maxrss`` survives exec on Linux and would report the
parent's peak (the generator of the 20 MB file) instead.

The spreadsheet is the filled account form plus a "明细" sheet of ~300k rows (IDs,
names, dates, amounts, phone numbers; strings in a shared-strings table as Excel writes
them): the kind of export people attach to a data request.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench.mails import FilledForm, filled_forms, form_mail

SPREADSHEET_BYTES = 20_000_000
MAIL_BYTES = 25_000_000
# base64 (4/3) in lines of 76 characters + CRLF (78/76)
BASE64_GROWTH = 4 / 3 * 78 / 76
REPO = Path(__file__).resolve().parents[1]

_NAMES = [a + b for a in "张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗"
          for b in "伟芳娜敏静丽强磊洋艳军杰"]
_PLANS = ["畅享套餐58元", "畅享套餐88元", "5G尊享128元", "家庭融合199元", "校园卡19元", "无"]
_AREAS = ["华东区", "华南区", "华北区", "西南区", "西北区", "东北区", "华中区"]
_NOTES = ["", "", "", "老用户回馈", "携号转入", "欠费停机后复机", "实名补登记", "集团客户"]
_SST = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _data_sheet(rows: int, seed: int) -> tuple[bytes, list[str]]:
    """Worksheet XML of *rows* data rows and the shared strings it refers to."""
    rng = random.Random(seed)
    strings: list[str] = []
    index: dict[str, int] = {}

    def sst(text: str) -> int:
        found = index.get(text)
        if found is None:
            found = index[text] = len(strings)
            strings.append(text)
        return found

    header = ["序号", "用户号", "姓名", "开户日期", "套餐", "月消费", "地区", "手机号", "备注"]
    out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           f'<worksheet xmlns="{_SST}"><sheetData>']
    cells = "".join(f'<c r="{chr(65 + i)}1" t="s"><v>{sst(h)}</v></c>'
                    for i, h in enumerate(header))
    out.append(f'<row r="1">{cells}</row>')
    for r in range(2, rows + 2):
        note = rng.choice(_NOTES)
        out.append(
            f'<row r="{r}"><c r="A{r}"><v>{r - 1}</v></c>'
            f'<c r="B{r}" t="s"><v>{sst(f"U{rng.randrange(10**10):010d}")}</v></c>'
            f'<c r="C{r}" t="s"><v>{sst(rng.choice(_NAMES))}</v></c>'
            f'<c r="D{r}"><v>{rng.randrange(36000, 46000)}</v></c>'
            f'<c r="E{r}" t="s"><v>{sst(rng.choice(_PLANS))}</v></c>'
            f'<c r="F{r}"><v>{rng.randrange(0, 50000) / 100}</v></c>'
            f'<c r="G{r}" t="s"><v>{sst(rng.choice(_AREAS))}</v></c>'
            f'<c r="H{r}"><v>1{rng.randrange(3 * 10**9, 9 * 10**9 + 10**9 - 1)}</v></c>'
            + (f'<c r="I{r}" t="s"><v>{sst(note)}</v></c>' if note else "")
            + "</row>"
        )
    out.append("</sheetData></worksheet>")
    return "".join(out).encode("utf-8"), strings


def _with_data_sheet(form: FilledForm, rows: int, seed: int) -> bytes:
    """The filled form with a second sheet "明细" and a shared-strings part, as Excel saves."""
    sheet, strings = _data_sheet(rows, seed)
    sst = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           f'<sst xmlns="{_SST}" count="{len(strings)}" uniqueCount="{len(strings)}">'
           + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for info, body in form.members:
            data = body.replace(b"BENCH000000", b"BENCH000001")
            if info.filename == "xl/workbook.xml":
                data = data.replace(b"</sheets>", (
                    f'<sheet xmlns:r="{_REL}" name="明细" sheetId="2" state="visible" '
                    'r:id="rIdBench2"/></sheets>').encode())
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", (
                    f'<Relationship Type="{_REL}/worksheet" Target="/xl/worksheets/sheet2.xml" '
                    'Id="rIdBench2"/>'
                    f'<Relationship Type="{_REL}/sharedStrings" Target="/xl/sharedStrings.xml" '
                    'Id="rIdBench3"/></Relationships>').encode())
            elif info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", (
                    b'<Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                    b"</Types>"))
            package.writestr(info, data)
        package.writestr("xl/worksheets/sheet2.xml", sheet)
        package.writestr("xl/sharedStrings.xml", sst)
    return out.getvalue()


def big_spreadsheet(target: int, seed: int = 7) -> bytes:
    """A filled form workbook of about *target* bytes (within 1 %, never above)."""
    form = next(f for f in filled_forms() if f.kind == "account" and f.fmt == "xlsx")
    rows = 50_000
    data = _with_data_sheet(form, rows, seed)
    for _ in range(6):
        if 0.99 * target <= len(data) <= target:
            break
        rows = int(rows * target / len(data) * (0.997 if len(data) < target else 0.99))
        data = _with_data_sheet(form, rows, seed)
    return data


def big_mail(target: int) -> bytes:
    """A person's mail carrying a spreadsheet form, about *target* bytes in all."""
    form = next(f for f in filled_forms() if f.kind == "account" and f.fmt == "xlsx")
    attachment = big_spreadsheet(int(target / BASE64_GROWTH) - 4000)
    return form_mail(form, 1, attachment=attachment)


@dataclass
class MemoryCase:
    name: str
    size: int
    peak_rss_mb: float
    baseline_rss_mb: float
    traced_peak_mb: float
    seconds: float
    detail: str

    def as_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _peak_rss_kb() -> int:
    """High-water mark of this process's resident memory (kB), reset by exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _child(case: str, path: Path, trace: bool) -> dict[str, Any]:
    """Runs in the child process: import, load, then do the one thing and report."""
    from mailflow.clock import SystemClock
    from mailflow.config import Settings
    from mailflow.documents.examine import FormDesk
    from mailflow.documents.reading import read_form
    from mailflow.documents.safety import SafetyLimits, check_office_file, office_kind
    from mailflow.logs import configure
    from mailflow.service import Service

    configure("warning")  # logs to stderr; stdout carries only the result

    data = path.read_bytes()
    detail = ""
    if case == "spreadsheet":
        desk = FormDesk.from_settings(Settings())
        baseline = _peak_rss_kb()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        kind = office_kind("明细.xlsx", "", data)
        checked = check_office_file(data, "明细.xlsx", limits=SafetyLimits())
        readings = read_form(checked.data, checked.fmt, desk.catalog, source_name="明细.xlsx")
        detail = f"{kind}: " + ", ".join(f"{r.kind} ok={r.ok}" for r in readings)
    else:
        work = path.parent
        maildir = work / "maildir"
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        (maildir / "new" / "big.eml").write_bytes(data)
        settings = Settings.model_validate({
            "mailbox": {"source": "maildir", "maildir_path": str(maildir)},
            "storage": {"data_dir": str(work / "data")},
        })
        service = Service(settings, SystemClock())
        source = service.new_source()
        source.open()
        del data
        baseline = _peak_rss_kb()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        report = service.take_in(source)
        detail = f"taken in {report.taken_in}: " + ", ".join(
            f"{status} ({info})" for _, status, info in report.outcomes)
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] if trace else 0
    peak = _peak_rss_kb()
    return {"peak_rss_kb": peak, "baseline_rss_kb": baseline, "traced_peak": traced,
            "seconds": seconds, "detail": detail}


def _run_child(case: str, path: Path, trace: bool) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.memory", case, str(path)] + (["--trace"] if trace else [])
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {case} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_memory(progress: Any = print) -> list[MemoryCase]:
    cases: list[MemoryCase] = []
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp:
        work = Path(tmp)
        progress("memory: building a 20 MB spreadsheet form and a 25 MB mail")
        sheet = work / "sheet" / "form.xlsx"
        sheet.parent.mkdir()
        sheet.write_bytes(big_spreadsheet(SPREADSHEET_BYTES))
        mail = work / "mail" / "big.eml"
        mail.parent.mkdir()
        mail.write_bytes(big_mail(MAIL_BYTES))
        for name, path in (("spreadsheet", sheet), ("mail", mail)):
            progress(f"memory: {name} ({path.stat().st_size / 1e6:.1f} MB) in a child process")
            plain = _run_child(name, path, trace=False)
            traced = _run_child(name, path, trace=True)
            cases.append(MemoryCase(
                name=name,
                size=path.stat().st_size,
                peak_rss_mb=plain["peak_rss_kb"] / 1024,
                baseline_rss_mb=plain["baseline_rss_kb"] / 1024,
                traced_peak_mb=traced["traced_peak"] / 2**20,
                seconds=plain["seconds"],
                detail=plain["detail"],
            ))
    return cases


def main() -> None:
    case, path = sys.argv[1], Path(sys.argv[2])
    result = _child(case, path, trace="--trace" in sys.argv[3:])
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
