"""request.field_labels: the label each form field was read from, as the sender wrote it

Revision ID: 0006_forms
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_forms"
down_revision = "0003_due_work"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request") as batch:
        batch.add_column(sa.Column("field_labels", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("request") as batch:
        batch.drop_column("field_labels")
