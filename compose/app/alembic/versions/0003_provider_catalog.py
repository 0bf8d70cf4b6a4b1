"""provider catalog, with its rows (a data migration)

Revision ID: 0003
Revises: 0002
Create Date: 2025-10-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATALOG = [
    ("schwab", "Charles Schwab"),
    ("plaid", "Plaid"),
    ("chase", "Chase"),
]


def upgrade() -> None:
    catalog = op.create_table(
        "provider_catalog",
        sa.Column("slug", sa.Text, primary_key=True),
        sa.Column("display_name", sa.Text, nullable=False),
    )
    op.bulk_insert(catalog, [{"slug": s, "display_name": n} for s, n in CATALOG])


def downgrade() -> None:
    op.drop_table("provider_catalog")
