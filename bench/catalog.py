"""Cataloguing speed and memory at campaign scale; prints one JSON line.

Writes a campaign of ``--files`` run files (default 1,000: many modules, sites, plans,
temperatures, grades, failed/interrupted/killed runs and ~1 % corrupt files; see
tests/pixcal/campaign_files.py), then times ``catalog add`` of all of them into a fresh
SQLite catalogue (or ``--db``, e.g. a PostgreSQL URL: each scenario then uses a schema of its
own) in separate processes, so that each has its own peak memory:

- ``serial``: read in the calling process; ``pool``: a pool of 2 worker processes;
  ``dask``: a Dask ``LocalCluster`` of 2 worker processes on 127.0.0.1 (its start-up, with the
  workers importing pixcal, is timed apart: a site's cluster outlives one add);
- ``again``: a second add of the same files (nothing new: only checksums);
- ``serial_quarter``: a quarter of the files, serially - its peak memory against the full
  ``serial`` one shows memory does not grow with the number of files.

``*_files_per_s`` counts every file offered (corrupt ones included) per second of wall time;
``*_files_per_cpu_s`` per CPU second of every process that took part (the adding process, the
pool's workers, the Dask workers): on a machine shared with other work the wall-time rate
falls with the load, the CPU rate does not, and two idle cores give up to twice it;
``*_peak_rss_mb`` is the peak resident memory of the process that adds (``pool`` also gives
its largest worker). Target (issue 15): >= 100 files/s on 2 cores, memory bounded.

Usage: ``PYTHONPATH=. python bench/catalog.py [--files 1000] [--db URL]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pixcal"))

SCENARIOS = ("serial", "pool", "dask", "again", "serial_quarter")
TARGET_FILES_PER_S = 100.0


def _rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024.0, 1)


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished child processes (the pool's)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _cpu_of_workers(client) -> float:
    """CPU seconds used so far by the Dask worker processes (0 without a cluster)."""
    if client is None:
        return 0.0
    return sum(client.run(time.process_time).values())


def _warm_up() -> None:
    """Import what reading a run needs (on a Dask worker, before the timing starts)."""
    import pixcal.catalog.index  # noqa: F401


def _database(db: str | None, folder: Path, name: str) -> str:
    """A fresh catalogue for one scenario: a SQLite file, or a new schema on the server."""
    if not db:
        return str(folder / f"{name}.sqlite")
    import psycopg

    schema = f"pixcal_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(db.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as con:
        con.execute(f"create schema {schema}")
    return f"{db}{'&' if '?' in db else '?'}options=-csearch_path%3D{schema}"


def scenario(name: str, runs: Path, work: Path, db: str | None) -> dict:
    """Run one scenario in this process; returns its figures."""
    from pixcal.catalog import add_runs, find_run_files, open_catalog

    files, _ = find_run_files([runs])
    if name == "serial_quarter":
        files = files[: len(files) // 4]
    engine = open_catalog(_database(db, work, name))
    out: dict = {"files": len(files)}
    try:
        client = None
        if name == "dask":
            from distributed import Client, LocalCluster

            t0 = time.perf_counter()
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster, set_as_default=False)
            client.run(_warm_up)     # a site's cluster is long-lived: imports are not per add
            out["cluster_start_s"] = round(time.perf_counter() - t0, 2)
        if name == "again":
            add_runs(engine, files)
        workers_cpu = _cpu_of_workers(client)
        t0, c0 = time.perf_counter(), _cpu_s()
        report = add_runs(engine, files, workers=2 if name == "pool" else 1,
                          scheduler=client)
        seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
        if client is not None:
            cpu += _cpu_of_workers(client) - workers_cpu
            client.close()
            cluster.close()
    finally:
        engine.dispose()
    out.update({"s": round(seconds, 2), "files_per_s": round(len(files) / seconds, 1),
                "cpu_s": round(cpu, 2), "files_per_cpu_s": round(len(files) / cpu, 1),
                "added": len(report.added), "unchanged": len(report.unchanged),
                "unreadable": len(report.failed), "peak_rss_mb": _rss_mb()})
    if name == "pool":
        out["worker_peak_rss_mb"] = _rss_mb(resource.RUSAGE_CHILDREN)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--db", help="a database URL instead of a SQLite file per scenario")
    ap.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    ap.add_argument("--runs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scenario:
        print(json.dumps(scenario(args.scenario, args.runs, args.work, args.db)))
        return
    from campaign_files import make_campaign_files

    line: dict = {"bench": "catalog", "files": args.files, "cpus": os.cpu_count(),
                  "target_files_per_s": TARGET_FILES_PER_S}
    with tempfile.TemporaryDirectory(prefix="pixcal-bench-catalog-") as tmp:
        runs, work = Path(tmp) / "runs", Path(tmp)
        t0 = time.perf_counter()
        made = make_campaign_files(runs, args.files)
        line["generate_s"] = round(time.perf_counter() - t0, 1)
        line["corrupt_files"] = len(made.corrupt)
        for name in SCENARIOS:
            cmd = [sys.executable, __file__, "--scenario", name, "--runs", str(runs),
                   "--work", str(work)] + (["--db", args.db] if args.db else [])
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                line[f"{name}_error"] = (done.stderr.strip().splitlines() or ["?"])[-1]
                continue
            for key, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                line[f"{name}_{key}"] = value
    full, quarter = line.get("serial_peak_rss_mb"), line.get("serial_quarter_peak_rss_mb")
    if full and quarter:
        line["rss_full_over_quarter"] = round(full / quarter, 2)
    rates = [line.get(f"{n}_files_per_s", 0) for n in ("serial", "pool", "dask")]
    line["meets_target"] = all(r >= TARGET_FILES_PER_S for r in rates)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
