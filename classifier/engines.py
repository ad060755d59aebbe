"""Where chunks are scored: in this process, in a pool of processes, or on a Dask cluster.

Every engine runs the same task on the same chunks and hands results back in input order, so
the output does not depend on the engine. At most `window` chunks are in flight at once, which
bounds memory however long the input is.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from .errors import ClassifierError
from .model import Model

ENGINES = ("local", "dask")
DASK_CONNECT_TIMEOUT = "15s"
Task = Callable[[list[Any], Model], list[Any]]
C = TypeVar("C")


class Engine:
    """Runs `task(texts, model)` on chunks; `workers` is how many run at once."""

    workers = 1

    @property
    def window(self) -> int:
        """Return how many chunks may be in flight: two per worker keeps them all busy."""
        return 2 * self.workers

    def submit(self, texts: list[Any]) -> Any:
        """Start scoring one chunk; return a future with `.result()`."""
        raise NotImplementedError

    def result(self, future: Any) -> list[Any]:
        """Wait for a chunk's results."""
        return list(future.result())

    def close(self) -> None:
        """Stop the workers (pending chunks are dropped)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineEngine(Engine):
    """Scores in this process, one chunk at a time."""

    window = 1

    def __init__(self, model: Model, task: Task) -> None:
        self._model = model
        self._task = task

    def submit(self, texts: list[Any]) -> Any:
        future: Future[list[Any]] = Future()
        future.set_result(self._task(texts, self._model))
        return future


_WORKER: dict[str, Any] = {}
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_POLL_S = 0.5


def _init_worker(model: Model, task: Task, owner: int) -> None:
    _die_with_parent(owner)
    _WORKER["model"], _WORKER["task"] = model, task
    task(["warm up"], model)  # load lazy tables now, not inside the first timed chunk


def _die_with_parent(owner: int) -> None:
    """Make this worker exit when the process that started the pool dies, even by SIGKILL.

    A killed parent cannot shut its pool down, and the workers, blocked reading a queue whose
    write end they hold themselves, would wait for work forever. On Linux the kernel sends
    SIGKILL when the parent dies; everywhere a thread also polls the parent (for forkserver
    workers, whose parent is the fork server, and for a parent that died before prctl ran).
    """
    # The parent's SIGTERM handler (stop like Ctrl-C) is inherited by fork; a worker has no
    # checkpoint to keep, so SIGTERM ends it as usual.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the polling thread below still covers it
    parent = os.getppid()

    def parent_gone() -> bool:
        if os.getppid() != parent:
            return True  # re-parented: the parent has exited
        try:
            os.kill(owner, 0)
        except (ProcessLookupError, PermissionError):  # gone, or the pid is someone else's now
            return True
        return False

    def watch() -> None:
        while not parent_gone():
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    if parent_gone():
        os._exit(1)
    threading.Thread(target=watch, name="ciocto-parent-watch", daemon=True).start()


def _run_in_worker(texts: list[Any]) -> list[Any]:
    return _WORKER["task"](texts, _WORKER["model"])


class PoolEngine(Engine):
    """Scores in `jobs` worker processes, each holding its own copy of the model."""

    def __init__(self, model: Model, task: Task, jobs: int) -> None:
        context = _start_context()
        self.workers = jobs
        self._pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=context,
            initializer=_init_worker,
            initargs=(model, task, os.getpid()),
        )

    def submit(self, texts: list[Any]) -> Any:
        return self._pool.submit(_run_in_worker, texts)

    def result(self, future: Any) -> list[Any]:
        try:
            return list(future.result())
        except BrokenProcessPool:
            raise ClassifierError(
                "a scoring process died (out of memory?); run again with fewer --jobs, "
                "adding --resume to continue from the last checkpoint"
            ) from None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _start_context() -> Any:
    """Return how to start workers: fork when this process runs a single Python thread.

    Forking copies the loaded model and libraries, so a worker starts in milliseconds instead
    of seconds; with other threads running (a Dask client, a web server) a fork can copy a lock
    in a held state and hang, so then workers start from a clean forkserver instead.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["classifier.batch", "sklearn.linear_model"])
        return context
    return multiprocessing.get_context("spawn")


class DaskEngine(Engine):
    """Scores on a Dask cluster: the one at `scheduler`, or a local one with `jobs` workers."""

    def __init__(self, model: Model, task: Task, scheduler: str | None, jobs: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ClassifierError("--engine dask needs Dask: pip install 'ciocto[dask]'") from None
        self._cluster = None
        try:
            if scheduler:
                self._client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT)
            else:
                self._cluster = LocalCluster(
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                self._client = Client(self._cluster)
        except (OSError, TimeoutError) as e:
            if self._cluster is not None:
                self._cluster.close()
            where = scheduler or "a local cluster"
            raise ClassifierError(f"cannot reach the Dask scheduler at {where}: {e}") from None
        self.workers = max(1, sum(self._client.nthreads().values()))
        self._task = task
        self._model = self._client.scatter(model, broadcast=True)

    def submit(self, texts: list[Any]) -> Any:
        return self._client.submit(self._task, texts, self._model, pure=False)

    def result(self, future: Any) -> list[Any]:
        try:
            return list(future.result())
        except ClassifierError:
            raise
        except ImportError as e:
            raise ClassifierError(
                f"the Dask workers cannot import {e.name or 'ciocto'}: install ciocto (with the "
                "same version) where the workers run"
            ) from None
        except Exception as e:  # worker loss, lost connection, ...: the run can be resumed
            raise ClassifierError(
                f"the Dask cluster failed ({type(e).__name__}: {e}); run the same command "
                "with --resume to continue from the last checkpoint"
            ) from None

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_engine(
    name: str, model: Model, task: Task, jobs: int | None, scheduler: str | None, small: bool
) -> Engine:
    """Return the engine to use; `small` inputs (one chunk) are scored in this process."""
    if name not in ENGINES:
        raise ClassifierError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")
    jobs = jobs or default_jobs()
    if name == "dask":
        return DaskEngine(model, task, scheduler, jobs)
    if scheduler:
        raise ClassifierError("--scheduler is for --engine dask")
    if jobs == 1 or small:
        return InlineEngine(model, task)
    return PoolEngine(model, task, jobs)


def default_jobs() -> int:
    """Return the number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def in_order(
    engine: Engine, chunks: Iterable[C], texts: Callable[[C], list[Any]]
) -> Iterator[tuple[C, list[Any]]]:
    """Yield (chunk, results) in input order, keeping about two chunks per worker in flight."""
    window = engine.window
    pending: deque[tuple[C, Any]] = deque()
    for chunk in chunks:
        pending.append((chunk, engine.submit(texts(chunk))))
        if len(pending) >= window:
            done, future = pending.popleft()
            yield done, engine.result(future)
    while pending:
        done, future = pending.popleft()
        yield done, engine.result(future)
