"""The first catalogue: runs and their steps.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("module_id", sa.String(128), nullable=False),
        sa.Column("site", sa.String(128)),
        sa.Column("operator", sa.String(128)),
        sa.Column("plan", sa.String(128)),
        sa.Column("target", sa.String(256)),
        sa.Column("temperature_c", sa.Float),
        sa.Column("created_utc", sa.String(40)),
        sa.Column("finished_utc", sa.String(40)),
        sa.Column("status", sa.String(32)),
        sa.Column("hardware_s", sa.Float),
        sa.Column("grade", sa.String(1)),
        sa.Column("grade_reasons", sa.Text),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer),
        sa.Column("catalogued_utc", sa.String(40), nullable=False),
    )
    for column in ("module_id", "status", "grade", "sha256"):
        op.create_index(f"ix_runs_{column}", "runs", [column])
    op.create_table(
        "steps",
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("step", sa.String(128), primary_key=True),
        sa.Column("procedure", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32)),
        sa.Column("hardware_s", sa.Float),
        sa.Column("dead_pixels", sa.Integer),
        sa.Column("missing_bumps", sa.Integer),
        sa.Column("noise_mean_vcal", sa.Float),
        sa.Column("threshold_rms_vcal", sa.Float),
        sa.Column("i150_ua", sa.Float),
    )
    op.create_index("ix_steps_procedure", "steps", ["procedure"])


def downgrade() -> None:
    op.drop_table("steps")
    op.drop_table("runs")
