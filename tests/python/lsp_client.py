"""A small Language Server Protocol client for the language server test: what an editor does, over stdio.

LSP is JSON-RPC 2.0 where each message is a `Content-Length: N` header, a blank line and N bytes of
JSON. The client starts the server as a subprocess, writes requests and notifications to its stdin,
and a reader thread parses its stdout into a queue. Every wait reads that queue with a deadline, so
a server that hangs or dies fails the test with what it said, instead of blocking it.

Messages from the server are of three kinds, handled as an editor would:
- responses to the client's requests, matched by id (`request` returns the result);
- notifications (`textDocument/publishDiagnostics`, `window/showMessage`, ...), kept in order in
  `notifications` and awaited with `wait_for_notification`;
- requests from the server to the client (`workspace/diagnostic/refresh`, ...), answered with a null
  result and kept in `server_requests`.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable


class LspError(AssertionError):
    """The server answered with an error, died, or did not answer in time."""


class LspClient:
    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], stderr_path: Path):
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")  # sqlmesh_lsp logs at DEBUG level to stderr: keep it off the pipes
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,  # its own process group, stopped as one in close()
        )
        self._messages: queue.Queue[dict | None] = queue.Queue()
        self._next_id = 0
        self._responses: dict[int, dict] = {}
        self.notifications: list[dict] = []  # every notification received, in order
        self.server_requests: list[dict] = []
        self._reader = threading.Thread(target=self._read_messages, daemon=True)
        self._reader.start()

    # -- the wire ---------------------------------------------------------------------------------

    def _read_messages(self) -> None:
        """Reader thread: parse Content-Length framed messages from stdout; None marks the end."""
        stream = self.process.stdout
        try:
            while True:
                headers = {}
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = stream.read(int(headers["content-length"]))
                self._messages.put(json.loads(body))
        finally:
            self._messages.put(None)

    def _send(self, message: dict) -> None:
        if message.get("params", {}) is None:
            del message["params"]  # shutdown and exit take no params
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
        self.process.stdin.flush()

    def _receive(self, deadline: float, waiting_for: str) -> None:
        """Take one message off the queue (by the deadline) and file it by kind."""
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise queue.Empty
            message = self._messages.get(timeout=remaining)
        except queue.Empty:
            raise LspError(f"no {waiting_for} from the language server in time\n{self.stderr_tail()}") from None
        if message is None:
            self._messages.put(None)  # keep the end marker for later waits
            raise LspError(
                f"the language server closed its output (exit code {self.process.poll()}) "
                f"while waiting for {waiting_for}\n{self.stderr_tail()}"
            )
        if "id" in message and "method" in message:  # a request from the server: acknowledge it
            self.server_requests.append(message)
            self._send({"id": message["id"], "result": None})
        elif "id" in message:
            self._responses[message["id"]] = message
        else:
            self.notifications.append(message)

    # -- what the tests call ----------------------------------------------------------------------

    def request(self, method: str, params: dict | None, timeout: float = 30) -> Any:
        """Send a request and return its result; raise LspError on an error answer or a timeout."""
        self._next_id += 1
        request_id = self._next_id
        self._send({"id": request_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while request_id not in self._responses:
            self._receive(deadline, f"answer to {method}")
        response = self._responses.pop(request_id)
        if "error" in response:
            raise LspError(f"{method} failed: {response['error']}")
        return response.get("result")

    def notify(self, method: str, params: dict | None) -> None:
        self._send({"method": method, "params": params})

    def wait_for_notification(
        self, method: str, where: Callable[[dict], bool] = lambda params: True, *, after: int = 0, timeout: float = 30
    ) -> dict:
        """The params of the first notification `method` (among those from index `after` on) that
        satisfies `where`, waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            for note in self.notifications[seen:]:
                if note["method"] == method and where(note.get("params", {})):
                    return note["params"]
            seen = len(self.notifications)
            self._receive(deadline, f"{method} notification")

    def stderr_tail(self, lines: int = 30) -> str:
        self._stderr.flush()
        text = self.stderr_path.read_text(errors="replace").splitlines()[-lines:]
        return "language server stderr (tail):\n" + "\n".join(text)

    def close(self, timeout: float = 15) -> int | None:
        """Ask the server to shut down and exit (as an editor does); kill its process group if it
        does not. Returns its exit code."""
        try:
            if self.process.poll() is None:
                self.request("shutdown", None, timeout=timeout)
                self.notify("exit", None)
                self.process.wait(timeout=timeout)
        except (LspError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=timeout)
            self._stderr.close()
        return self.process.returncode
