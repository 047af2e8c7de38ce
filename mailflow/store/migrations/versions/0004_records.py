"""records: every audit event names its request, the audit hash chain, search documents

Search: FTS5 trigram (``record_fts``) and a bigram FTS5 table (``record_bigrams``) on SQLite;
pg_trgm GIN over ``record_search.document`` and a GIN over its ``bigrams`` array on
PostgreSQL (CREATE EXTENSION IF NOT EXISTS pg_trgm: the server must ship the contrib
modules; PostgreSQL's Debian packages do).

Revision ID: 0004_records
Revises: 0001

Existing events are given their request: a mail's events (received, not answered, duplicate)
take the requests the mail opened or was linked to (one copy of the event per further
request), a sent mail's events take its outbox row's request. Existing events are sealed by
the first sealer run afterwards (records/chain.py), which also builds the search documents.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_records"
down_revision = "0006_forms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_mail") as batch:
        batch.add_column(sa.Column("body_text", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_audit_event_seq", ["seq"])
        batch.create_index("ix_audit_event_unsealed", ["seq", "id"])
    with op.batch_alter_table("request") as batch:
        batch.create_index("ix_request_created_at", ["created_at"])
        batch.create_index("ix_request_kind_created_at", ["kind", "created_at"])
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "record_search",
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("request.id"), primary_key=True),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("classification", sa.String(40), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
    )
    op.create_index("ix_record_search_classification", "record_search", ["classification"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_record_search_document_trgm ON record_search "
                   "USING gin (document gin_trgm_ops)")
        # two-character terms: a trigram index cannot hold them (records/index.py bigrams)
        op.execute("ALTER TABLE record_search ADD COLUMN bigrams text[] NOT NULL DEFAULT '{}'")
        op.execute("CREATE INDEX ix_record_search_bigrams ON record_search USING gin (bigrams)")
    elif bind.dialect.name == "sqlite":
        # external-content FTS5 over record_search, kept in step by triggers
        op.execute("CREATE VIRTUAL TABLE record_fts USING fts5(document, "
                   "content='record_search', content_rowid='request_id', tokenize='trigram')")
        op.execute("CREATE TRIGGER record_search_ai AFTER INSERT ON record_search BEGIN "
                   "INSERT INTO record_fts(rowid, document) VALUES (new.request_id, new.document);"
                   " END")
        op.execute("CREATE TRIGGER record_search_ad AFTER DELETE ON record_search BEGIN "
                   "INSERT INTO record_fts(record_fts, rowid, document) "
                   "VALUES ('delete', old.request_id, old.document); END")
        op.execute("CREATE TRIGGER record_search_au AFTER UPDATE ON record_search BEGIN "
                   "INSERT INTO record_fts(record_fts, rowid, document) "
                   "VALUES ('delete', old.request_id, old.document); "
                   "INSERT INTO record_fts(rowid, document) VALUES (new.request_id, new.document);"
                   " END")
        # two-character terms (records/index.py bigrams), rowid = request id
        op.execute("CREATE VIRTUAL TABLE record_bigrams USING fts5(bigrams, "
                   "tokenize='unicode61 remove_diacritics 0')")
    _name_requests(bind)


def _name_requests(bind: Any) -> None:
    """Give existing events their request (see the module docstring)."""
    events = sa.table("audit_event", sa.column("id"), sa.column("at"), sa.column("actor"),
                      sa.column("action"), sa.column("request_id"), sa.column("mail_id"),
                      sa.column("outbox_id"), sa.column("detail", sa.JSON()))
    outbox = sa.table("outbox", sa.column("id"), sa.column("request_id"))
    requests = sa.table("request", sa.column("id"), sa.column("source_mail_id"))
    by_outbox = dict(bind.execute(sa.select(outbox.c.id, outbox.c.request_id)
                                  .where(outbox.c.request_id.is_not(None))).all())
    by_mail: dict[int, list[int]] = {}

    def add(mail_id: int, request_id: int) -> None:
        known = by_mail.setdefault(mail_id, [])
        if request_id not in known:
            known.append(request_id)

    for request_id, mail_id in bind.execute(
            sa.select(requests.c.id, requests.c.source_mail_id).order_by(requests.c.id)):
        add(mail_id, request_id)
    for mail_id, request_id in bind.execute(
            sa.select(events.c.mail_id, events.c.request_id)
            .where(events.c.mail_id.is_not(None), events.c.request_id.is_not(None))
            .order_by(events.c.id)):
        add(mail_id, request_id)
    orphans = bind.execute(sa.select(events).where(events.c.request_id.is_(None))
                           .order_by(events.c.id)).mappings().all()
    for row in orphans:
        named: list[int] = []
        if row["outbox_id"] is not None and row["outbox_id"] in by_outbox:
            named = [by_outbox[row["outbox_id"]]]
        elif row["mail_id"] is not None:
            named = by_mail.get(row["mail_id"], [])
        if not named:
            continue
        bind.execute(events.update().where(events.c.id == row["id"])
                     .values(request_id=named[0]))
        for request_id in named[1:]:
            copy = {k: row[k] for k in ("at", "actor", "action", "mail_id", "outbox_id",
                                        "detail")}
            bind.execute(events.insert().values(request_id=request_id, **copy))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("record_search_ai", "record_search_ad", "record_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS record_fts")
        op.execute("DROP TABLE IF EXISTS record_bigrams")
    op.drop_index("ix_record_search_classification", "record_search")
    op.drop_table("record_search")
    op.drop_table("audit_chain")
    with op.batch_alter_table("request") as batch:
        batch.drop_index("ix_request_kind_created_at")
        batch.drop_index("ix_request_created_at")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_index("ix_audit_event_unsealed")
        batch.drop_constraint("uq_audit_event_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
    with op.batch_alter_table("inbound_mail") as batch:
        batch.drop_column("body_text")
