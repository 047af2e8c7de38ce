"""Archive search latency over a synthetic archive (issue 17): by default 100,000 requests,
each with its mail, form values and search document, written straight into a fresh database
(SQLite file or PostgreSQL) through mailflow's own schema and indexes.

Typical queries, each timed through ``mailflow.records.search.search`` (the code the CLI and
the web page run): a reference number; a date range (a month) + kind; two Chinese characters
and four Chinese characters taken from a random record's text (what someone remembers of a
record), so some are common and some rare. Target p95 < 200 ms per kind of query.
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select, text

from mailflow.records.index import write_bigrams
from mailflow.records.search import Query, search
from mailflow.store.db import make_engine, session_factory, upgrade
from mailflow.store.models import InboundMail, RecordSearch, Request
from mailflow_testing.databases import fresh_database

TARGET_P95 = 0.200
ZONE = ZoneInfo("Asia/Shanghai")
KINDS = ("general", "account", "data_extraction", "system_change", "minutes")
WORDS = ("数据", "提取", "报表", "用户", "清单", "系统", "帐号", "权限", "变更", "计费", "客服",
         "工单", "打印机", "网络", "邮箱", "密码", "重置", "服务器", "数据库", "备份", "会议",
         "纪要", "采购", "合同", "财务", "营销", "渠道", "门店", "库存", "物流", "考勤", "薪资",
         "招聘", "培训", "申请", "审批", "上线", "测试", "故障", "升级", "迁移", "接口", "报告",
         "月度", "季度", "年度", "新增", "删除", "导出", "核对", "统计", "分析", "经营", "华东区",
         "华南区", "北京", "上海", "广州", "深圳", "开户", "套餐", "流量", "话费", "宽带", "营业厅")
#: a pool of common characters: filler between words makes rare two-character runs
CHARS = ("的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可"
         "下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最"
         "女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲"
         "其进此话常与活正感见明问力理尔点文几定本公特做外孩相西果走将月十实向声车全信重三机工物气")
DEPARTMENTS = ("市场部", "客服中心", "财务部", "人力资源部", "IT管理部", "运营部", "销售部")
SYSTEMS = ("计费系统", "客服系统", "CRM系统", "OA系统", "数据仓库", "营销平台", "ERP系统")
BATCH = 5000

Progress = Callable[[str], None]


@dataclass
class CaseResult:
    name: str
    samples: list[float] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    #: text queries: hits without the words, and records found among those findable
    wrong: int = 0
    found: int = 0
    findable: int = 0

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    def as_json(self) -> dict[str, Any]:
        return {"p50": self.p50, "p95": self.p95, "max": max(self.samples),
                "queries": len(self.samples), "mean_hits": statistics.mean(self.hits),
                "wrong_hits": self.wrong, "source_found": f"{self.found}/{self.findable}"}


@dataclass
class SearchResult:
    backend: str
    requests: int
    build_seconds: float
    cases: list[CaseResult]

    @property
    def ok(self) -> bool:
        return all(c.p95 < TARGET_P95 and c.wrong == 0 and c.found == c.findable
                   for c in self.cases)

    def as_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "requests": self.requests,
                "build_seconds": self.build_seconds,
                "cases": {c.name: c.as_json() for c in self.cases}}


def _phrase(rng: random.Random, words: int) -> str:
    out = []
    for _ in range(words):
        out.append(rng.choice(WORDS))
        out.append("".join(rng.choice(CHARS) for _ in range(rng.randint(0, 3))))
    return "".join(out)


def _rows(n: int, rng: random.Random, start: datetime) -> Iterator[tuple[dict[str, Any], ...]]:
    span = 3 * 365 * 24 * 3600
    for i in range(1, n + 1):
        created = start + timedelta(seconds=span * i / n + rng.randint(0, 600))
        kind = rng.choice(KINDS)
        title = _phrase(rng, 3)[:30]
        body = _phrase(rng, 25)
        fields = {"department": rng.choice(DEPARTMENTS), "system": rng.choice(SYSTEMS),
                  "reason": _phrase(rng, 6)}
        if kind == "data_extraction":
            fields["classification"] = rng.choice(("绝密", "机密", "保密"))
        digest = hashlib.sha256(f"mail-{i}".encode()).hexdigest()
        reference = f"REQ-{created.year}-{i:06d}"
        person = f"user{rng.randint(1, 3000)}@example.com"
        mail = {"id": i, "sha256": digest, "body_sha256": digest, "message_id": None,
                "size": 2000, "subject": title, "from_addr": person, "from_name": "",
                "to_addrs": [], "cc_addrs": [], "sent_at": None, "received_at": created,
                "source": "bench", "kind": "human", "kind_reason": "", "status": "registered",
                "status_reason": "", "in_reply_to": "", "defects": [], "body_text": body}
        request = {"id": i, "reference": reference, "kind": kind, "status": "submitted",
                   "title": title, "requester_email": person, "requester_name": "",
                   "form_version": 1, "fields": fields, "problems": [], "source_mail_id": i,
                   "attachment_id": None, "created_at": created, "updated_at": created}
        document = "\n".join([reference, kind, title, person, *map(str, fields.values()),
                              title, body])
        doc = {"request_id": i, "department": fields["department"], "system": fields["system"],
               "classification": fields.get("classification", ""), "document": document}
        yield mail, request, doc


def build(url: str, n: int, progress: Progress, seed: int = 17) -> list[str]:
    """Fill the database at *url* with *n* requests; a sample of their documents."""
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(seed)
    tables = [InboundMail.__table__, Request.__table__, RecordSearch.__table__]
    sample: list[str] = []
    pending: list[list[dict[str, Any]]] = [[], [], []]
    start = datetime(2024, 1, 1)

    factory = session_factory(engine)

    def flush() -> None:
        with factory() as session, session.begin():
            documents = {row["request_id"]: row["document"] for row in pending[2]}
            for table, rows in zip(tables, pending, strict=True):
                assert isinstance(table, Table)
                if rows:
                    session.execute(insert(table), rows)
                rows.clear()
            write_bigrams(session, documents)

    for number, rows in enumerate(_rows(n, rng, start), start=1):
        for bucket, row in zip(pending, rows, strict=True):
            bucket.append(row)
        if number % 997 == 0:
            sample.append(rows[2]["document"])
        if number % BATCH == 0:
            flush()
            progress(f"search: {number}/{n} requests written")
    flush()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return sample


def _chinese_run(doc: str, rng: random.Random, length: int) -> str:
    for _ in range(100):
        at = rng.randrange(0, max(1, len(doc) - length))
        piece = doc[at:at + length]
        if len(piece) == length and all("\u4e00" <= c <= "\u9fff" for c in piece):
            return piece
    return "数据提取"[:length]


def measure(url: str, n: int, sample: list[str], queries: int, seed: int = 7
            ) -> list[CaseResult]:
    rng = random.Random(seed)
    engine = make_engine(url)
    factory = session_factory(engine)
    cases: dict[str, Callable[[], tuple[Query, str]]] = {
        "reference": lambda: (Query(reference=rng.choice(sample).split("\n", 1)[0]), ""),
        "date range + kind": lambda: (_month_and_kind(rng), ""),
        "2 Chinese characters": lambda: _cut(rng, sample, 2),
        "4 Chinese characters": lambda: _cut(rng, sample, 4),
    }
    results = []
    try:
        with factory() as session:
            search(session, Query(text="数据提取"), ZONE)  # warm the cache once
            for name, make in cases.items():
                case = CaseResult(name)
                for _ in range(queries):
                    query, source = make()
                    began = time.perf_counter()
                    hits = search(session, query, ZONE)
                    case.samples.append(time.perf_counter() - began)
                    case.hits.append(len(hits))
                    _check(session, query, source, hits, case)
                results.append(case)
    finally:
        engine.dispose()
    return results


def _cut(rng: random.Random, sample: list[str], length: int) -> tuple[Query, str]:
    """Words cut from a random record's text: that record is the one someone looks for."""
    doc = rng.choice(sample)
    return Query(text=_chinese_run(doc, rng, length)), doc.split("\n", 1)[0]


def _check(session: Any, query: Query, source: str, hits: list[Any], case: CaseResult
           ) -> None:
    """Every hit holds the words; the record they were cut from is found whenever all the
    matches fit on one page (untimed)."""
    if not query.text:
        return
    ids = [h.request_id for h in hits]
    docs = dict(session.execute(select(RecordSearch.request_id, RecordSearch.document)
                                .where(RecordSearch.request_id.in_(ids))).tuples().all())
    case.wrong += sum(1 for i in ids if query.text.lower() not in docs.get(i, "").lower())
    if len(hits) < query.limit:
        case.found += int(source in {h.reference for h in hits})
        case.findable += 1


def _month_and_kind(rng: random.Random) -> Query:
    first = date(2024, 1, 1) + timedelta(days=rng.randint(0, 3 * 365 - 31))
    return Query(kind=rng.choice(KINDS), first=first, last=first + timedelta(days=30))


@contextmanager
def _url(backend: str, server: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            yield f"sqlite:///{Path(tmp) / 'search.db'}"
        else:
            with fresh_database("postgresql", Path(tmp), server) as url:
                yield url


def run_search(n: int, backends: dict[str, str], progress: Progress, queries: int = 50
               ) -> list[SearchResult]:
    """*backends*: name → server ("" for SQLite)."""
    out = []
    for backend, server in backends.items():
        with _url(backend, server) as url:
            began = time.perf_counter()
            sample = build(url, n, progress)
            built = time.perf_counter() - began
            progress(f"search: {backend}: built in {built:.0f} s; measuring")
            out.append(SearchResult(backend, n, built, measure(url, n, sample, queries)))
    return out


if __name__ == "__main__":  # quick look: python -m bench.search 10000
    import sys

    from mailflow_testing.databases import PG_URL

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for result in run_search(count, {"sqlite": "", "postgresql": PG_URL}, print):
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=1))
