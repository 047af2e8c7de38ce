"""approvals: request statuses checked, approval steps

Revision ID: 0002_approvals
Revises: 0001

Existing requests keep their statuses (received, submitted, returned are all allowed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_approvals"
down_revision = "0001"
branch_labels = None
depends_on = None

REQUEST_STATUSES = ("received", "submitted", "awaiting_approval", "approved", "with_handler",
                    "done", "rejected", "returned", "withdrawn")
STEP_STATUSES = ("planned", "open", "approved", "rejected", "closed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.create_check_constraint("ck_request_status",
                                         _one_of("status", REQUEST_STATUSES))
    op.create_table(
        "approval_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=320), nullable=False),
        sa.Column("delegate", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=60), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("may_escalate_to", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("decision_mail_id", sa.Integer(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(_one_of("status", STEP_STATUSES), name="ck_approval_step_status"),
        sa.ForeignKeyConstraint(["request_id"], ["request.id"]),
        sa.ForeignKeyConstraint(["decision_mail_id"], ["inbound_mail.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    with op.batch_alter_table("approval_step", schema=None) as batch_op:
        batch_op.create_index("ix_approval_step_request", ["request_id", "round", "position"])
        batch_op.create_index(batch_op.f("ix_approval_step_approver"), ["approver"])


def downgrade() -> None:
    with op.batch_alter_table("approval_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_step_approver"))
        batch_op.drop_index("ix_approval_step_request")
    op.drop_table("approval_step")
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.drop_constraint("ck_request_status", type_="check")
