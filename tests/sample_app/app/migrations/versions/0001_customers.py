"""Customers, seeded with a few rows."""

import sqlalchemy as sa
from alembic import op

revision = "0001_customers"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    customers = op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False, unique=True),
    )
    op.bulk_insert(
        customers,
        [
            {"name": "Ada Lovelace", "email": "ada@example.com"},
            {"name": "Grace Hopper", "email": "grace@example.com"},
            {"name": "Edsger Dijkstra", "email": "edsger@example.com"},
        ],
    )


def downgrade() -> None:
    op.drop_table("customers")
