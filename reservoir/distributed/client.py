"""A Dask client for the distributed jobs: a scheduler's address, a Client, or a local cluster."""

from __future__ import annotations

import logging

__all__ = ["connect", "DEFAULT_CONNECT_TIMEOUT"]

log = logging.getLogger("reservoir.distributed")

#: Seconds to wait for a scheduler at a given address before giving up.
DEFAULT_CONNECT_TIMEOUT = 5.0


def connect(scheduler=None, *, n_workers: int | None = None, threads_per_worker: int = 1, timeout=None):
    """A ``distributed.Client`` for the distributed jobs.

    Parameters
    ----------
    scheduler : str, distributed.Client or None
        A scheduler's address (``"tcp://10.0.0.5:8786"``, ``"127.0.0.1:8786"``), a
        Client (returned as it is), or None for a ``LocalCluster`` of worker processes
        on this machine, started now and shut down with ``client.close()``.
    n_workers : int, optional
        Worker processes of the local cluster (default: one per core).
    threads_per_worker : int, default 1
        Threads per local worker. One: each task runs a batched, already parallel kernel,
        so more threads per process only compete for the same cores.
    timeout : float, optional
        Seconds to wait for the scheduler at `scheduler` (default ``DEFAULT_CONNECT_TIMEOUT``).

    Returns
    -------
    distributed.Client

    Raises
    ------
    ConnectionError
        No scheduler answered at the address within `timeout` seconds.
    """
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError("the distributed jobs need Dask: pip install 'reservoir-engine[distributed]'") from None
    if isinstance(scheduler, Client):
        client = scheduler
    elif scheduler is None:
        client = Client(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=":0",  # any free port: several clusters may share a machine
        )
        log.info("started a local Dask cluster: %d worker process(es)", len(client.scheduler_info()["workers"]))
    elif isinstance(scheduler, str):
        if not scheduler.strip():
            raise ValueError("scheduler address is empty; give e.g. 'tcp://127.0.0.1:8786' or None for a local cluster")
        seconds = DEFAULT_CONNECT_TIMEOUT if timeout is None else float(timeout)
        try:
            client = Client(scheduler, timeout=seconds)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(
                f"no Dask scheduler answered at {scheduler!r} within {seconds:g} s ({type(error).__name__}: "
                f"{error}); start one with 'dask scheduler' and 'dask worker ADDRESS', or give no address "
                "for a local cluster"
            ) from None
        except ValueError as error:  # an address Dask cannot parse
            raise ValueError(f"scheduler address {scheduler!r} is not valid: {error}") from None
    else:
        raise TypeError(
            f"scheduler must be an address (str), a distributed.Client or None, got {type(scheduler).__name__}"
        )
    log_dashboard(client)
    return client


def log_dashboard(client) -> None:
    """Log where the scheduler's dashboard is (INFO), or that it has none."""
    services = client.scheduler_info().get("services", {})
    if "dashboard" in services:
        log.info("Dask dashboard: %s", client.dashboard_link)
    else:
        log.info("Dask scheduler %s has no dashboard (it needs bokeh: pip install bokeh)", client.scheduler.address)
