"""A run's maps as a ROOT file in pXar's layout, for downstream tools that read pXar output.

One TDirectory per test, one TH2D per ROC named ``<base>_C<roc>_V0`` (x = column 0..51, y = row
0..79, one bin per pixel), as pXar writes them (github.com/psi46/pxar, PixTest::bookTH2D). Which
dataset goes where is the table :data:`ROOT_MAPS`. ROOT histograms have no "undefined": a NaN
(no threshold measured, say) is written as 0, as pXar does. Written with uproot (the ``[root]``
extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMROWS
from pixcal.store import RunFile

#: (procedure, dataset) -> (ROOT directory, histogram base name)
ROOT_MAPS: dict[tuple[str, str], tuple[str, str]] = {
    ("alive", "alive"): ("PixelAlive", "PixelAlive"),
    ("alive", "mask"): ("PixelAlive", "MaskTest"),
    ("alive", "address"): ("PixelAlive", "AddressDecodingTest"),
    ("bumpbond", "bb_threshold"): ("BB", "thr_calSMap_VthrComp"),
    ("trim", "trims"): ("Trim", "TrimMap"),
    ("trim", "threshold"): ("Trim", "thr_TrimThrFinal_vcal"),
    ("scurves", "threshold"): ("Scurves", "thr_scurveVcal_Vcal"),
    ("scurves", "noise"): ("Scurves", "sig_scurveVcal_Vcal"),
    ("gainped", "gain"): ("GainPedestal", "gain"),
    ("gainped", "pedestal"): ("GainPedestal", "pedestal"),
}
EDGES_COL = np.arange(ROC_NUMCOLS + 1, dtype=float)
EDGES_ROW = np.arange(ROC_NUMROWS + 1, dtype=float)


def histogram_name(directory: str, base: str, roc: int) -> str:
    return f"{directory}/{base}_C{roc}_V0"


def export_root(run_path: Path, out: Path) -> list[str]:
    """Write the maps of ``run_path`` that :data:`ROOT_MAPS` knows to the ROOT file ``out``
    (written aside and renamed into place); returns the histogram names written."""
    import uproot

    run = RunFile(run_path)
    names: list[str] = []
    part = out.with_name(out.name + ".part")
    try:
        with uproot.recreate(part) as f:
            for step in run.steps():
                if step.status != "completed":
                    continue
                for dataset in step.datasets:
                    where = ROOT_MAPS.get((step.procedure, dataset))
                    if where is None:
                        continue
                    maps = np.asarray(run.dataset(step.key, dataset), float)
                    for roc, values in enumerate(maps):
                        name = histogram_name(*where, roc)
                        f[name] = (np.nan_to_num(values, nan=0.0), EDGES_COL, EDGES_ROW)
                        names.append(name)
        part.replace(out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return names
