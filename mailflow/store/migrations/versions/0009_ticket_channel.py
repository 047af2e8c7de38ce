"""ticket.channel: how the customer's report came in — mail, phone or online (R-PM-1)

A customer writing to mailflow opens a ticket by mail; 客服 registers a phone call or an
online report on the customer's behalf. The channel is recorded, existing tickets are mail.

Revision ID: 0009_ticket_channel
Revises: 0007_tickets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_ticket_channel"
down_revision = "0007_tickets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("channel", sa.String(10), nullable=False,
                                   server_default="mail"))
        batch.add_column(sa.Column("registered_by", sa.String(320), nullable=False,
                                   server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("registered_by")
        batch.drop_column("channel")
