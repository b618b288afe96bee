"""Run the lab's independent jobs (probe runs, training runs) in worker processes.

Every job of the lab seeds its own weights, batches and test set, so the jobs are independent
and their results do not depend on where or in which order they run. Small recurrent networks
use a second thread poorly (the per-step work is a few small matrix products), while two
processes of one thread each keep two cores busy: ``workers=2`` on two cores nearly halves
the wall time. ``workers=1`` runs every job here, in order, in this process, also at one
torch thread (restored afterwards): the same as in a worker, and on a machine whose other
cores are busy two threads of a small recurrent network wait on each other at every step
(a 100-step fused LSTM call, measured with one core taken: 13 ms at one thread, 700 ms at
two; torch.nn.LSTM 13 and 549 ms).

The workers are started with ``spawn`` (a fresh interpreter: forking a process whose OpenMP
thread pool has already run is not safe), each limited to one torch thread, and each ends
itself once the process that started it is gone (:func:`_exit_with_parent`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Self


def default_workers() -> int:
    """Two worker processes where there are two cores or more, else one."""
    return max(1, min(2, os.cpu_count() or 1))


#: How often a worker checks that the process that started it is still there (seconds).
PARENT_CHECK_SECONDS = 1.0


def _exit_with_parent(parent: int, interval: float = PARENT_CHECK_SECONDS) -> None:
    """In a worker: a daemon thread that ends this process once ``parent`` is gone (the worker
    is then re-parented, and ``os.getppid()`` changes). A lab killed by SIGKILL, the OOM killer
    or a time-out cannot shut its pool down; without this its workers would run their jobs to
    the end and then wait for work forever, each holding a core and its memory."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)  # nothing to hand back: the results had nowhere to go

    threading.Thread(target=watch, name="lstmkit-parent-watch", daemon=True).start()


def _init_worker(parent: int) -> None:
    import torch

    from lstmkit.train.memory import retain_freed_memory

    _exit_with_parent(parent)
    torch.set_num_threads(1)
    retain_freed_memory()  # the worker is the lab's own process: keep freed memory for the next step


class JobPool:
    """``map(fn, jobs)`` over ``workers`` processes (``workers=1``: in this process), reusable
    across calls so the workers' start-up (importing torch and Lightning) is paid once.
    Use as a context manager."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._executor = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def map_costliest_first(self, fn: Callable[..., Any], jobs: Sequence[tuple], costs: Sequence[float],
                            done: Callable[[int, Any], None] | None = None) -> list[Any]:
        """:meth:`map`, the jobs started in decreasing ``costs`` (an estimate of each job's
        time; ties keep their order), the results in the order of ``jobs`` and ``done(index,
        result)`` with the index into ``jobs``. Started longest first, two workers end nearly
        together (the longest-processing-time rule), instead of one finishing a long job alone
        while the other waits."""
        if len(costs) != len(jobs):
            raise ValueError(f"one cost per job: {len(costs)} costs for {len(jobs)} jobs")
        order = sorted(range(len(jobs)), key=lambda i: -costs[i])
        relay = None if done is None else (lambda position, result: done(order[position], result))
        results = self.map(fn, [jobs[i] for i in order], done=relay)
        ordered: list[Any] = [None] * len(jobs)
        for position, i in enumerate(order):
            ordered[i] = results[position]
        return ordered

    def map(self, fn: Callable[..., Any], jobs: Sequence[tuple],
            done: Callable[[int, Any], None] | None = None) -> list[Any]:
        """``[fn(*job) for job in jobs]``, in the order of ``jobs``; ``done(index, result)`` is
        called here, in this process, as each job finishes (in finishing order when the jobs
        run in workers). ``fn`` must be a module-level function (it is pickled)."""
        if self.workers == 1 or len(jobs) <= 1:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                results = []
                for i, job in enumerate(jobs):
                    results.append(fn(*job))
                    if done is not None:
                        done(i, results[-1])
                return results
            finally:
                torch.set_num_threads(threads)
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init_worker, initargs=(os.getpid(),))
        futures = {self._executor.submit(fn, *job): i for i, job in enumerate(jobs)}
        results: list[Any] = [None] * len(jobs)
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=futures.get):
                i = futures[future]
                results[i] = future.result()  # a job's error is raised here
                if done is not None:
                    done(i, results[i])
        return results
