"""A standalone Spark cluster for the tests, started with the launcher the pyspark wheel ships.

`standalone_cluster(root)` starts one master and `workers` workers, each its own JVM process
(`pyspark/bin/spark-class org.apache.spark.deploy.master.Master`, then `...deploy.worker.Worker
spark://...`), on free loopback ports, and yields a `SparkCluster` once the master reports every
worker alive. Readiness is read from the master's JSON endpoint (`http://127.0.0.1:<web UI>/json/`)
under a deadline; a process that exits early fails at once with the tail of its log. On exit every
process it started is terminated (its whole process group), then killed if it has not gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT = 120.0  # seconds for the master, then for all workers, to come up (about 6 s each here)
STOP_TIMEOUT = 20.0  # seconds a process gets to exit after SIGTERM before it is killed


@dataclass
class SparkCluster:
    url: str  # spark://127.0.0.1:<port>, the value of spark.master
    webui: str  # http://127.0.0.1:<port>, the master's web UI
    logs: list[Path] = field(default_factory=list)  # the master's and each worker's output
    work_dirs: list[Path] = field(default_factory=list)  # each worker's SPARK_WORKER_DIR

    def status(self) -> dict:
        """The master's view of the cluster: workers, aliveworkers, activeapps, completedapps, ..."""
        with urllib.request.urlopen(f"{self.webui}/json/", timeout=5) as response:
            return json.load(response)

    def finished_tasks(self, application: str) -> int:
        """How many tasks the workers' executors finished for `application`, from the executors' own
        logs (<work dir>/<application>/<executor>/stderr): work done on the cluster, not in the driver."""
        logs = [log for work_dir in self.work_dirs for log in work_dir.glob(f"{application}/*/stderr")]
        return sum(log.read_text(errors="replace").count("Finished task") for log in logs)


def free_port() -> int:
    """A TCP port free on the loopback interface now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


@contextmanager
def standalone_cluster(root: Path, *, workers: int = 1, cores: int = 1, memory: str = "1g") -> Iterator[SparkCluster]:
    """One master and `workers` workers of `cores` cores and `memory` each; logs and work dirs under root."""
    root.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "SPARK_HOME": str(spark_class().parent.parent),
        "SPARK_LOCAL_IP": HOST,  # else the daemons bind the machine's external address
        "SPARK_DAEMON_MEMORY": "512m",  # the master's and workers' own heap (1g by default)
        "PYSPARK_PYTHON": sys.executable,  # executors' Python: this venv's (pyarrow, pandas)
    }
    processes: list[subprocess.Popen] = []

    def launch(name: str, *arguments: str) -> subprocess.Popen:
        log = root / f"{name}.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [str(spark_class()), *arguments],
                cwd=root,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the teardown signals exactly it
            )
        processes.append(process)
        cluster.logs.append(log)
        return process

    port, webui = free_port(), free_port()
    cluster = SparkCluster(url=f"spark://{HOST}:{port}", webui=f"http://{HOST}:{webui}")
    try:
        master = launch(
            "master",
            "org.apache.spark.deploy.master.Master",
            *("--host", HOST, "--port", str(port), "--webui-port", str(webui)),
        )
        _wait_for(lambda: _status_or_none(cluster) is not None, "the master's web UI to answer", [master], cluster.logs)
        for number in range(workers):
            work_dir = root / f"worker-{number}"  # SPARK_WORKER_DIR: else the worker writes into site-packages
            work_dir.mkdir()
            cluster.work_dirs.append(work_dir)
            launch(
                f"worker-{number}",
                "org.apache.spark.deploy.worker.Worker",
                cluster.url,
                *("--host", HOST, "--cores", str(cores), "--memory", memory),
                *("--work-dir", str(work_dir), "--webui-port", str(free_port())),
            )
        _wait_for(
            lambda: (_status_or_none(cluster) or {}).get("aliveworkers", 0) == workers,
            f"{workers} worker(s) to register with the master",
            processes,
            cluster.logs,
        )
        yield cluster
    finally:
        _stop(processes)


def _status_or_none(cluster: SparkCluster) -> dict | None:
    try:
        return cluster.status()
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return None


def _wait_for(ready: Callable[[], bool], what: str, processes: list[subprocess.Popen], logs: list[Path]) -> None:
    """Poll `ready` until it holds; fail if a process exits or START_TIMEOUT passes, with the logs' tails."""
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        exited = [p.args[1] for p in processes if p.poll() is not None]
        if exited or time.monotonic() > deadline:
            reason = f"{exited} exited" if exited else f"no answer after {START_TIMEOUT:.0f} s"
            tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}" for log in logs)
            raise RuntimeError(f"Spark standalone cluster: waiting for {what}: {reason}\n{tails}")
        time.sleep(0.2)  # the interval between polls; the deadline bounds the wait


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to each process group (workers first), then SIGKILL to any still there after STOP_TIMEOUT."""
    for process in reversed(processes):
        _signal_group(process, signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
        # an executor the worker launched is in the worker's group: make sure none outlives it
        _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    try:
        os.killpg(process.pid, signal_number)
    except ProcessLookupError:
        pass
