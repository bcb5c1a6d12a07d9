"""Running one function over many files: serially, in a process pool, or on a Dask cluster.

The function must be a picklable top-level function of one argument that never raises for a bad
file (it returns its failure as data); the results come back in the order of the arguments, so
every path gives the same result whichever way it ran.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from pixcal.errors import UserError

T = TypeVar("T")

#: how long to wait for a Dask scheduler to answer before giving up
CONNECT_TIMEOUT = "10s"

#: arguments sent to a worker process at a time (fewer round trips for many small files)
_CHUNK = 8
#: at most this many arguments per Dask task (a task costs milliseconds of scheduling, more
#: than reading a small file); fewer when there are few, so that every worker gets some
_DASK_CHUNK = 16


def run_many(func: Callable[[Any], T], args: Sequence[Any], *, workers: int | None = None,
             scheduler: str | None = None) -> Iterator[T]:
    """``func(a)`` for every ``a`` in ``args``, in order.

    Parameters
    ----------
    func : callable
        A top-level (picklable) function.
    args : sequence
        Its arguments, one call each.
    workers : int, optional
        Processes of the local pool; 1 runs in this process; default: the CPU count (at most
        the number of calls).
    scheduler : str, optional
        The address of a Dask scheduler (``tcp://host:8786``) or a ``distributed.Client``;
        ``workers`` is then ignored: the cluster has its own.

    Raises
    ------
    UserError
        dask.distributed is not installed, or the scheduler cannot be reached.
    """
    if not args:
        return iter(())
    if scheduler is not None:
        return _on_dask(func, args, scheduler)
    n = workers if workers is not None else min(os.cpu_count() or 1, len(args))
    if n < 1:
        raise UserError(f"--workers must be at least 1 (got {n})")
    if n == 1 or len(args) == 1:
        return map(func, args)
    return _in_pool(func, args, n)


def _in_pool(func: Callable[[Any], T], args: Sequence[Any], n: int) -> Iterator[T]:
    with ProcessPoolExecutor(max_workers=n) as pool:
        yield from pool.map(func, args, chunksize=_CHUNK)


def _on_dask(func: Callable[[Any], T], args: Sequence[Any], scheduler: Any) -> Iterator[T]:
    try:
        from distributed import Client
    except ImportError:
        raise UserError("--scheduler needs dask.distributed: pip install 'pixcal[dask]'"
                        ) from None
    if isinstance(scheduler, Client):
        yield from _gather(scheduler, func, args)
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(f"{scheduler}: cannot reach the Dask scheduler "
                        f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                        ) from None
    with client:
        yield from _gather(client, func, args)


def _apply(func: Callable[[Any], T], chunk: list[Any]) -> list[T]:
    """``func`` over one chunk of arguments (one Dask task)."""
    return [func(a) for a in chunk]


def _gather(client: Any, func: Callable[[Any], T], args: Sequence[Any]) -> Iterator[T]:
    size = max(1, min(_DASK_CHUNK, len(args) // 16))
    chunks = [list(args[i:i + size]) for i in range(0, len(args), size)]
    futures = client.map(_apply, [func] * len(chunks), chunks, pure=False)
    try:
        for future in futures:
            yield from future.result()
    finally:
        client.cancel(futures)
