"""Execution backends: run benchmark jobs in-process, on a process pool, or on Dask.

* ``local``: one job after another in this process.
* ``joblib``: a pool of ``workers`` processes (loky).
* ``dask``: ``dask.distributed``; a ``LocalCluster`` of ``workers`` single-threaded processes by
  default, or an existing cluster via ``scheduler="tcp://host:port"``. Any cluster manager that
  gives a scheduler address works the same way: SLURM/PBS through ``dask-jobqueue``
  (``SLURMCluster(...).scale(n)``), Kubernetes through ``dask-kubernetes`` (``KubeCluster``); pass
  its ``scheduler_address`` as ``--scheduler``. Workers need ranml installed (same version), and
  should not run with ``MALLOC_TRIM_THRESHOLD_`` set (distributed sets it to 65536 for the
  workers it spawns): it doubles PyTorch training time; the LocalCluster started here drops it.

Every backend runs the same :func:`ranml.benchmark.job.run_job` with the same seeds and thread
count, so the metrics do not depend on the backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ranml.benchmark.job import JobSpec, run_job
from ranml.errors import BenchmarkError, DependencyError

__all__ = ["BACKENDS", "Backend", "DaskBackend", "JoblibBackend", "LocalBackend", "make_backend"]

log = logging.getLogger("ranml.benchmark.backends")

OnDone = Callable[[dict[str, Any]], None]


class Backend(Protocol):
    """Runs jobs and reports each record as it finishes."""

    name: str

    def run(self, jobs: Sequence[JobSpec], on_done: OnDone) -> list[dict[str, Any]]:
        """Run ``jobs``; call ``on_done(record)`` as each finishes; return records in job order."""
        ...


def _in_order(jobs: Sequence[JobSpec], records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [records[j.job_id] for j in jobs]


class LocalBackend:
    """Sequential, in this process."""

    name = "local"

    def run(self, jobs: Sequence[JobSpec], on_done: OnDone) -> list[dict[str, Any]]:
        """Run the jobs one by one."""
        out = {}
        for job in jobs:
            rec = run_job(job)
            out[job.job_id] = rec
            on_done(rec)
        return _in_order(jobs, out)


class JoblibBackend:
    """A pool of worker processes (joblib/loky)."""

    name = "joblib"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, jobs: Sequence[JobSpec], on_done: OnDone) -> list[dict[str, Any]]:
        """Run the jobs on ``workers`` processes."""
        try:
            from joblib import Parallel, delayed
        except ImportError:
            raise DependencyError("the joblib backend needs joblib: pip install 'ranml[benchmark]'") from None
        out = {}
        parallel = Parallel(n_jobs=self.workers, backend="loky", return_as="generator_unordered")
        for rec in parallel(delayed(run_job)(job) for job in jobs):
            out[rec["job_id"]] = rec
            on_done(rec)
        return _in_order(jobs, out)


class DaskBackend:
    """dask.distributed: a LocalCluster (default) or an existing scheduler."""

    name = "dask"

    def __init__(self, workers: int, scheduler: str | None = None) -> None:
        self.workers = workers
        self.scheduler = scheduler

    def run(self, jobs: Sequence[JobSpec], on_done: OnDone) -> list[dict[str, Any]]:
        """Submit every job to the cluster and gather the records as they complete."""
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError:
            raise DependencyError("the dask backend needs dask[distributed]: pip install 'ranml[benchmark]'") from None
        cluster = None
        try:
            if self.scheduler:
                client = Client(self.scheduler, timeout="10s")
            else:
                import dask

                # distributed starts workers with MALLOC_TRIM_THRESHOLD_=65536. Any fixed value turns
                # off glibc's dynamic mmap threshold, so every batch's tensors are mmapped and
                # faulted in again: measured here, PyTorch training took twice as long. Drop it;
                # keep the other settings (one OpenMP/BLAS thread per worker).
                environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
                environ.pop("MALLOC_TRIM_THRESHOLD_", None)
                # The workers' statistical profiler samples every task's stack every 10 ms (for the
                # dashboard, which we do not start); measured here it cost ~10 % of training time.
                settings = {"distributed.nanny.pre-spawn-environ": environ,
                            "distributed.worker.profile.enabled": False}
                with dask.config.set(settings):
                    cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.WARNING)
                client = Client(cluster)
        except (OSError, TimeoutError) as exc:
            raise BenchmarkError(f"cannot reach the Dask scheduler {self.scheduler or '(local)'}: {exc}") from None
        out = {}
        try:
            futures = [client.submit(run_job, job, key=f"ranml-{job.job_id}", pure=False) for job in jobs]
            for fut in as_completed(futures):
                rec = fut.result()
                out[rec["job_id"]] = rec
                on_done(rec)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return _in_order(jobs, out)


BACKENDS = ("local", "joblib", "dask")


def make_backend(name: str, workers: int = 1, scheduler: str | None = None) -> Backend:
    """Build a backend by name.

    Raises
    ------
    BenchmarkError
        Unknown name or a bad worker count.
    """
    if workers < 1:
        raise BenchmarkError(f"--workers must be >= 1, got {workers}")
    if name == "local":
        return LocalBackend()
    if name == "joblib":
        return JoblibBackend(workers)
    if name == "dask":
        return DaskBackend(workers, scheduler)
    raise BenchmarkError(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}")
