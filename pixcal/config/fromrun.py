"""The configuration a previous run left, from its results file (``--config RUN.h5``).

A run that ended (completed, failed or interrupted) stores ``/config_out``. A run that was
killed has none; the runner also stores, inside every completed step's group, the module
configuration that step left (``/steps/NNN_<name>/config``, written before the step is marked
completed). So a killed run's file still says where calibration stands: the configuration of its
last completed step. Never is an older configuration used silently.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pixcal.config.models import ModuleConfig
from pixcal.errors import InputFileError

log = logging.getLogger(__name__)

#: Name of the configuration group inside a step's group.
STEP_CONFIG = "config"


def step_config_name(step_key: str) -> str:
    """Where a step's configuration goes: ``steps/NNN_<name>`` -> ``steps/NNN_<name>/config``."""
    return f"{step_key}/{STEP_CONFIG}"


def config_from_run(path: Path) -> tuple[ModuleConfig, str]:
    """The configuration a run left and, if it is not the run's final one, why (a warning).

    Parameters
    ----------
    path : the run's results file.

    Returns
    -------
    (configuration, note): ``config_out`` with note ""; for a run without ``config_out`` the
    configuration of its last completed step (or its starting configuration if no step
    completed), with a note that says so.

    Raises
    ------
    InputFileError : not a run file, or a run without ``config_out`` whose last completed step
        stored no configuration (refused rather than silently using an older one).
    """
    from pixcal.store import RunFile

    try:
        run = RunFile(path)
        doc = run.document("config_out")
        note = ""
        if doc is None:
            doc, note = _left_by_steps(run, path)
    except ValueError as exc:
        raise InputFileError(path, str(exc).removeprefix(f"{path}: ")) from None
    try:
        return ModuleConfig.from_json(json.dumps(doc)), note
    except ValueError as exc:
        raise InputFileError(path, f"stored configuration: {exc}") from None


def _left_by_steps(run, path: Path) -> tuple[dict, str]:
    status = run.header().get("status", "?")
    done = [s for s in run.steps() if s.status == "completed"]
    if not done:
        doc = run.document("config_in")
        if doc is None:
            raise InputFileError(path, "the run file holds no module configuration")
        return doc, (f"{path}: the run ended without a final configuration (status {status}) "
                     "and no step completed: using the configuration it started from")
    last = done[-1]
    doc = run.document(step_config_name(f"steps/{last.key}"))
    if doc is None:
        raise InputFileError(
            path, f"the run ended without a final configuration (status {status}) and its last "
            f"completed step ({last.index + 1}, {last.name}) stored none; refusing to start "
            "from an older one - give --config the configuration you mean (a module TOML file "
            "or an earlier run's file)")
    return doc, (f"{path}: the run ended without a final configuration (status {status}): "
                 f"using the configuration left by its last completed step "
                 f"({last.index + 1}, {last.name})")


def load_run_config(path: Path) -> ModuleConfig:
    """:func:`config_from_run`, logging its note as a warning."""
    cfg, note = config_from_run(path)
    if note:
        log.warning(note)
    return cfg


def peek_config(path: Path) -> ModuleConfig:
    """The configuration a run will start from - a module TOML file, a pXar directory or a
    run's file - without logging (the run gives the warnings when it loads it)."""
    from pixcal.config.load import load_config

    if Path(path).suffix in (".h5", ".hdf5"):
        return config_from_run(Path(path))[0]
    return load_config(path)
