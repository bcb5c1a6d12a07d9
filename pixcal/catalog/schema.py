"""The catalogue's tables (SQLAlchemy Core): one row per run, one row per step of a run.

The schema is versioned by the Alembic migrations in ``migrations/versions``; these table
objects describe the newest revision and are what the queries use. A figure a run does not hold
is NULL, never 0.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: one row per run file (the run id is the key: a run copied elsewhere is the same run)
runs = Table(
    "runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("module_id", String(128), nullable=False, index=True),
    Column("site", String(128)),
    Column("operator", String(128)),
    Column("plan", String(128)),
    Column("target", String(256)),
    Column("temperature_c", Float),
    Column("created_utc", String(40)),
    Column("finished_utc", String(40)),
    Column("status", String(32), index=True),
    Column("hardware_s", Float),
    Column("grade", String(1), index=True),
    Column("grade_reasons", Text),       # JSON list of one-line texts
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size_bytes", Integer),
    Column("catalogued_utc", String(40), nullable=False),
)

#: one row per step of a run, with the figures a production manager compares
steps = Table(
    "steps", metadata,
    Column("run_id", String(64), ForeignKey("runs.run_id", ondelete="CASCADE"),
           primary_key=True),
    Column("step", String(128), primary_key=True),    # the NNN_name key
    Column("procedure", String(64), nullable=False, index=True),
    Column("status", String(32)),
    Column("hardware_s", Float),
    Column("dead_pixels", Integer),
    Column("missing_bumps", Integer),
    Column("noise_mean_vcal", Float),
    Column("threshold_rms_vcal", Float),
    Column("i150_ua", Float),
)
