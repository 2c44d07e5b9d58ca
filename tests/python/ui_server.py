"""Start and stop `sqlmesh ui` for the browser test, and find the Chromium it drives.

Two things keep the UI stable while a test watches it:
- nothing is written inside the project directory while the server runs. The UI watches the whole
  project directory (not only models/) and, on any file event, refetches models and the plan and
  re-renders the page, which throws away lineage state mid-test. So the warehouse, the server's
  output and SQLMesh's log files all go outside the project (`--log-file-dir`).
- readiness is an HTTP answer from the API, polled with a deadline, not a fixed sleep.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# Flags Chromium needs on this machine: headless, no sandbox as root, and no background
# connections (the closed network refuses them, which otherwise stalls startup).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> Path | None:
    """The system Chromium (Debian's `chromium` package), or CHROMIUM_PATH if set."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sqlmesh_command() -> list[str]:
    """The `sqlmesh` entry point of the running interpreter's environment."""
    script = Path(sys.executable).with_name("sqlmesh")
    if script.is_file():
        return [str(script)]
    found = shutil.which("sqlmesh")
    if found:
        return [found]
    raise RuntimeError(f"no sqlmesh executable next to {sys.executable} or on PATH")


@dataclass
class UiServer:
    process: subprocess.Popen
    url: str
    output: Path

    def output_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"

    def stop(self, timeout: float = 20) -> None:
        """Stop the server and anything it started (it runs in its own process group)."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)


def start_ui(project: Path, env: dict[str, str], workdir: Path, *, ready_timeout: float = 180) -> UiServer:
    """Run `sqlmesh ui` on 127.0.0.1:<free port> in `project`; return once its API answers.

    `workdir` (outside the project) receives the server's output and SQLMesh's log files.
    Raises RuntimeError with the server's output if it exits or does not answer in time.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    output = workdir / "sqlmesh-ui.out"
    command = sqlmesh_command() + [
        "--log-file-dir",
        str(workdir / "logs"),
        "ui",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with open(output, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=project,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = UiServer(process, f"http://127.0.0.1:{port}", output)
    deadline = time.monotonic() + ready_timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"`sqlmesh ui` exited with code {process.returncode} before answering:\n{server.output_tail()}"
                )
            try:
                # /api/models answers only once the project's context has loaded.
                with urllib.request.urlopen(f"{server.url}/api/models", timeout=10) as response:
                    if response.status == 200:
                        return server
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"`sqlmesh ui` did not answer on {server.url} within {ready_timeout:.0f}s:\n{server.output_tail()}"
                )
            time.sleep(0.5)
    except BaseException:
        server.stop()
        raise
