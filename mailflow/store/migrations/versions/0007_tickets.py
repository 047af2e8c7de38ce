"""ticket: customer maintenance tickets (R-PM-1…5, R-PM-10, R-PM-14), one per request row of
kind ``customer_ticket``

Revision ID: 0007_tickets
Revises: 0004_records
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_tickets"
down_revision = "0004_records"
branch_labels = None
depends_on = None

STATUSES = ("awaiting_triage", "in_progress", "awaiting_check", "awaiting_verification",
            "awaiting_summary", "closed")


def _text(name: str, kind: sa.types.TypeEngine[str]) -> sa.Column[str]:
    return sa.Column(name, kind, nullable=False, server_default="")


def upgrade() -> None:
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("request.id"), nullable=False),
        sa.Column("contract", sa.String(60), nullable=False),
        _text("customer_name", sa.Text()),
        _text("contact_email", sa.String(320)),
        _text("contact_name", sa.Text()),
        _text("contact_phone", sa.String(60)),
        _text("description", sa.Text()),
        sa.Column("occurred_at", sa.DateTime(), nullable=True),
        _text("occurred_text", sa.Text()),
        sa.Column("status", sa.String(30), nullable=False),
        _text("severity", sa.String(10)),
        _text("category", sa.String(20)),
        _text("impact", sa.Text()),
        _text("requirement", sa.Text()),
        _text("engineer", sa.String(320)),
        _text("triaged_by", sa.String(320)),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("sla_due_at", sa.DateTime(), nullable=True),
        _text("result", sa.Text()),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        _text("plan", sa.Text()),
        _text("summary", sa.Text()),
        sa.Column("rating", sa.Integer(), nullable=True),
        _text("rating_text", sa.Text()),
        sa.Column("rated_at", sa.DateTime(), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("triaged_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("request_id", name="uq_ticket_request_id"),
        sa.CheckConstraint("status IN (" + ", ".join(repr(s) for s in STATUSES) + ")",
                           name="ck_ticket_status"),
    )
    op.create_index("ix_ticket_contract", "ticket", ["contract"])
    op.create_index("ix_ticket_opened_at", "ticket", ["opened_at"])
    op.create_index("ix_ticket_closed_at", "ticket", ["closed_at"])


def downgrade() -> None:
    op.drop_table("ticket")
