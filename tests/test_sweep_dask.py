"""A sweep on a real Dask cluster (distributed.LocalCluster, two worker processes): the same bits as
on local threads, and a worker killed mid-sweep costs only its run in flight, which is retried
(from its last checkpoint) on a live worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import relu1d
from relu1d.sweep import sweep

distributed = pytest.importorskip("distributed")

GRID = {"lr": [0.02, 0.05], "seed": [0, 1], "n": 40, "width": 40, "steps": 200_000}
CHECKPOINT_EVERY = 10_000


def _rows(table):
    return table.to_dict("records") if hasattr(table, "to_dict") else list(table)


def _theta(out, row):
    return relu1d.Run.load(Path(out) / row["run_file"]).theta


def _kill_a_busy_worker(out, worker_pids, sweeping):
    """SIGKILL a worker process as soon as one of its runs has a checkpoint and no result yet."""
    runs = Path(out) / "runs"
    while sweeping.is_alive():
        for log in runs.glob("*.attempts"):
            try:  # the sweep may be writing the file right now: read it again on the next pass
                pid = int(log.read_text().split()[0].rsplit(":", 1)[1])
            except (IndexError, ValueError, OSError):
                continue
            rid = log.name[: -len(".attempts")]
            if pid in worker_pids and (runs / f"{rid}.npz").exists() and not (runs / f"{rid}.json").exists():
                os.kill(pid, signal.SIGKILL)
                return pid, rid
        time.sleep(0.01)
    return None, None


def test_dask_cluster_same_bits_as_threads_and_a_killed_worker_is_retried(tmp_path):
    local_out, dask_out = tmp_path / "threads", tmp_path / "dask"
    local = {row["run_id"]: row for row in _rows(sweep(GRID, out=local_out, workers=2))}

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") \
            as cluster, distributed.Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2
        result = {}
        sweeping = threading.Thread(target=lambda: result.update(table=sweep(
            GRID, executor=client.get_executor(), out=dask_out, checkpoint_every=CHECKPOINT_EVERY)))
        sweeping.start()
        killed_pid, killed_run = _kill_a_busy_worker(dask_out, worker_pids, sweeping)
        sweeping.join()

        # the command line on the same scheduler
        from relu1d.__main__ import main

        grid_file = tmp_path / "grid.json"
        grid_file.write_text('{"lr": [0.05, 0.1], "n": 10, "width": 4, "steps": 1000}')
        assert main(["sweep", str(grid_file), "--out", str(tmp_path / "cli"), "--scheduler",
                     cluster.scheduler_address]) == 0
        cli_rows = _rows(relu1d.load_sweep(tmp_path / "cli"))
        assert [row["status"] for row in cli_rows] == ["max_steps"] * 2
        assert {int(row["worker"].rsplit(":", 1)[1]) for row in cli_rows} <= set(client.run(os.getpid).values())

    assert killed_pid is not None, "the sweep ended before a worker could be killed"
    rows = _rows(result["table"])
    assert [row["status"] for row in rows] == ["max_steps"] * 4
    # bit for bit the runs of the thread pool, the killed one included
    assert {row["run_id"] for row in rows} == set(local)
    for row in rows:
        np.testing.assert_array_equal(_theta(dask_out, row), _theta(local_out, local[row["run_id"]]))
        assert row["final_loss"] == local[row["run_id"]]["final_loss"]
        assert row["worker"].rsplit(":", 1)[1] != str(killed_pid) or row["run_id"] != killed_run
    # the killed worker's run was started again elsewhere, from its last checkpoint
    retried = next(row for row in rows if row["run_id"] == killed_run)
    log = (dask_out / "runs" / f"{killed_run}.attempts").read_text().split()
    assert len(log) == retried["attempts"] == 2 and log[0].endswith(f":{killed_pid}")
    assert retried["worker"] == log[1] and not retried["worker"].endswith(f":{killed_pid}")
    assert retried["resumed_from"] > 0 and retried["resumed_from"] % CHECKPOINT_EVERY == 0
