"""The qualification summary file ``qualification.json``: what was planned, what finished,
where each module's results are - rewritten atomically at every change, so that a qualification
killed at any moment leaves a summary that tells the truth (``status = "running"`` then)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixcal.store import utc_now

FORMAT = "pixcal-qualification"
FORMAT_VERSION = 1


@dataclass
class Summary:
    path: Path
    qualification_id: str
    station: dict[str, Any]
    plan: dict[str, Any]
    status: str = "running"
    error: str = ""
    started_utc: str = field(default_factory=utc_now)
    finished_utc: str = ""
    stages: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    safe_state: dict[str, Any] = field(default_factory=dict)

    def stage(self, label: str) -> dict[str, Any]:
        for s in self.stages:
            if s["label"] == label:
                return s
        raise KeyError(label)

    def module(self, label: str, module: str) -> dict[str, Any]:
        return self.stage(label)["modules"].setdefault(module, {"status": "pending"})

    def document(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION,
                "qualification_id": self.qualification_id, "status": self.status,
                "error": self.error, "started_utc": self.started_utc,
                "finished_utc": self.finished_utc, "station": self.station, "plan": self.plan,
                "stages": self.stages, "problems": self.problems,
                "safe_state": self.safe_state}

    def save(self) -> None:
        """Write aside, fsync, rename into place (a reader never sees half a file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        part = self.path.with_name(self.path.name + ".part")
        with open(part, "w", encoding="utf-8") as f:
            json.dump(self.document(), f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, self.path)


def load_summary(path: str | Path) -> dict[str, Any]:
    """A summary file's content (for tests and tools)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
