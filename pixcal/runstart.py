"""Before a run starts: the module configuration to start from, the output folder, the free
disk space and the results file with its header, plan and ``config_in`` (all or nothing)."""

from __future__ import annotations

import contextlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pixcal import __version__
from pixcal.config import ModuleConfig, load_config
from pixcal.config.fromrun import load_run_config
from pixcal.diskspace import run_bytes, step_bytes
from pixcal.errors import UserError
from pixcal.plan import Plan
from pixcal.procedures import get as get_procedure
from pixcal.store import RunWriter, StoreError

DEFAULT_TBM = "tbm08c"


def default_config(described: dict[str, Any] | None = None) -> ModuleConfig:
    """A fresh configuration for what the board address describes (a ``sim://`` address names
    its module), else for the most common DUT: a TBM08c module of 16 psi46digv21respin ROCs,
    hub 31."""
    if not described:
        return ModuleConfig.default(tbm_type=DEFAULT_TBM)
    cfg = ModuleConfig.default(roc_type=described["roc_type"], tbm_type=described["tbm_type"],
                               n_rocs=described["n_rocs"], hdi=described["hdi"])
    if described["tbm_type"]:
        n_tbms = len(cfg.hub_ids)
        cfg = cfg.replace(hub_ids=[(described["hub_id"] - k) % 32 for k in range(n_tbms)])
    return cfg


def load_module_config(path: Path | None, described: dict[str, Any] | None = None
                       ) -> ModuleConfig:
    """The configuration to start from: a module TOML file, a pXar directory, a previous run's
    results file (its ``config_out``, or for a killed run what its last completed step left),
    or - without a path - :func:`default_config`."""
    if path is None:
        return default_config(described)
    if path.suffix in (".h5", ".hdf5"):
        return load_run_config(path)
    return load_config(path)


def results_path(out_dir: Path, module_id: str, plan: str) -> Path:
    """``<out>/<module-id>_<plan>_<UTC time>.h5`` with unsafe characters replaced."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{module_id}_{plan}_{stamp}")
    path = out_dir / f"{safe}.h5"
    n = 1
    while path.exists():
        path = out_dir / f"{safe}-{n}.h5"
        n += 1
    return path


def prepare_out_dir(out_dir: Path) -> None:
    """Check that the results can be written to ``out_dir`` (before touching hardware).

    Nothing is created: the folder is made only when the run's file is, so a run that stops
    earlier (a bad configuration, say) leaves no empty folder behind.
    """
    probe_dir = out_dir
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    try:
        if not probe_dir.is_dir():
            raise NotADirectoryError(20, "not a folder")
        probe = probe_dir / f".pixcal-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot write results there ({exc.strerror or exc})") from None


def space_needed(plan: Plan, cfg: ModuleConfig) -> int:
    """Bytes of free disk the run of ``plan`` on ``cfg`` needs (see :mod:`pixcal.diskspace`)."""
    steps = [step_bytes(get_procedure(s.procedure), s.params, cfg.n_rocs) for s in plan.steps]
    return run_bytes(steps, len(cfg.to_json()))


def create_results_file(request: Any, cfg: ModuleConfig, module_id: str,
                        connection: Any) -> RunWriter:
    """The results file with its header, plan and ``config_in`` - all of it or nothing (the
    output folder too is removed again if this made it)."""
    made = [p for p in (request.out_dir, *request.out_dir.parents) if not p.exists()]
    try:
        request.out_dir.mkdir(parents=True, exist_ok=True)
        path = results_path(request.out_dir, module_id, request.plan.name)
        writer = RunWriter(path, {
            "software_version": __version__, "module_id": module_id,
            "operator": request.operator, "site": request.site, "plan": request.plan.name,
            "target": request.target, "sim_seed": connection.sim_seed,
        } | dict(getattr(request, "header", {})))
        try:
            writer.write_json("plan", request.plan.as_document())
            writer.write_config("config_in", json.loads(cfg.to_json()), config_arrays(cfg))
        except BaseException:
            writer.discard()
            raise
    except (OSError, StoreError) as exc:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        reason = str(exc) if isinstance(exc, StoreError) else exc.strerror or str(exc)
        raise UserError(f"{request.out_dir}: cannot create the results file ({reason})") from None
    return writer


def config_arrays(cfg: ModuleConfig) -> dict[str, Any]:
    """The arrays stored with a configuration (trims, masks)."""
    return {"trims": cfg.trims, "masks": cfg.masks}
