"""Alerts: SQLMesh notification targets that tell the team when the daily run, an audit or an apply fails.

A notice is JSON with a Slack-compatible `text` (a Slack incoming webhook shows it; any HTTP receiver
can read the same text and the structured fields beside it), posted to TRIAL_ALERT_WEBHOOK_URL when
that variable is set, and printed on the console by `trial-activation run`.

A side channel never breaks the job it serves: a notice that cannot be delivered (connection refused,
timeout, an HTTP error status, a malformed URL) is logged as one line, and the run succeeds or fails
on its own. That is why these are not SQLMesh's `slack_webhook` target, whose delivery error
propagates and aborts the run it reports on. The URL is a secret (a Slack webhook's path is its
credential): it is never printed, only its host.

Events (SQLMesh's names): run_failure, audit_failure, apply_failure, migration_failure, and run_end:
the daily "finished" notice is the heartbeat, so a day without one means the job did not run.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import typing as t
import urllib.error
import urllib.parse
import urllib.request

from pydantic import PrivateAttr, SecretStr
from sqlmesh.core.notification_target import GenericNotificationTarget, NotificationEvent, NotificationStatus

URL_VARIABLE = "TRIAL_ALERT_WEBHOOK_URL"
TIMEOUT_VARIABLE = "TRIAL_ALERT_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 5.0
ACCOUNTING_AUDIT = "raw_rows_accounted_for"  # audits/raw_rows_accounted_for.sql: raw rows = staged + quarantined

ALERT_EVENTS = frozenset(
    {
        NotificationEvent.RUN_FAILURE,
        NotificationEvent.AUDIT_FAILURE,
        NotificationEvent.APPLY_FAILURE,
        NotificationEvent.MIGRATION_FAILURE,
        NotificationEvent.RUN_END,
    }
)
FAILURES = {"run_failure", "audit_failure", "apply_failure", "migration_failure"}
WARNINGS = {"audit_warning"}

logger = logging.getLogger("trial_activation.alerts")


def alert_targets(environ: t.Mapping[str, str] | None = None) -> list[AlertTarget]:
    """The webhook target when TRIAL_ALERT_WEBHOOK_URL is set, else none (open_context's default)."""
    environ = os.environ if environ is None else environ
    url = environ.get(URL_VARIABLE, "").strip()
    if not url:
        return []
    return [WebhookAlertTarget(url=SecretStr(url), timeout_seconds=_timeout(environ.get(TIMEOUT_VARIABLE)))]


def _timeout(value: str | None) -> float:
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT_SECONDS
    except ValueError:
        seconds = DEFAULT_TIMEOUT_SECONDS
    return seconds if seconds > 0 else DEFAULT_TIMEOUT_SECONDS


def _never_raises(notify_event: t.Callable) -> t.Callable:
    """SQLMesh calls a target inside its run (an audit's notice in the middle of the scheduler): an
    error of the notice itself is logged, never raised into the run."""

    def guarded(self: AlertTarget, *args: t.Any, **kwargs: t.Any) -> None:
        try:
            notify_event(self, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - a side channel never breaks the job
            logger.warning(f"trial-activation alert not sent ({self.channel}): {self.redact(_one_line(error))}")

    guarded.__name__, guarded.__doc__ = notify_event.__name__, notify_event.__doc__
    return guarded


class AlertTarget(GenericNotificationTarget):
    """Composes one notice per event and hands it to `deliver`; never raises into SQLMesh.

    SQLMesh passes little to a run failure ("See console logs for details.", or a traceback) and an
    audit failure's rows are not fetched yet: a caller that knows more (the CLI: the failed models, an
    audit's first rows) says so with `explain_with`.
    """

    notify_on: t.FrozenSet[NotificationEvent] = ALERT_EVENTS
    _environment: str | None = PrivateAttr(default=None)
    _failed_models: t.Callable[[], list[str]] | None = PrivateAttr(default=None)
    _audit_rows: t.Callable[[t.Any], str] | None = PrivateAttr(default=None)
    _failures_notified: int = PrivateAttr(default=0)

    def explain_with(
        self,
        environment: str | None = None,
        failed_models: t.Callable[[], list[str]] | None = None,
        audit_rows: t.Callable[[t.Any], str] | None = None,
    ) -> None:
        self._environment = environment
        self._failed_models = failed_models
        self._audit_rows = audit_rows

    @property
    def failures_notified(self) -> int:
        """How many failure notices this target was asked to send (delivered or not)."""
        return self._failures_notified

    # SQLMesh calls notify_<event>; each builds a notice.
    @_never_raises
    def notify_run_end(self, environment: str, *args: t.Any, **kwargs: t.Any) -> None:
        self.notify("run_end", f"daily run finished for `{environment}`", environment=environment)

    @_never_raises
    def notify_run_failure(self, exc: str, *args: t.Any, **kwargs: t.Any) -> None:
        self.notify("run_failure", "daily run FAILED", details=self._details(exc))

    @_never_raises
    def notify_apply_failure(self, environment: str, plan_id: str, exc: str, *args: t.Any, **kwargs: t.Any) -> None:
        self.notify("apply_failure", f"plan apply FAILED for `{environment}`", environment=environment,
                    details=self._details(exc))

    @_never_raises
    def notify_migration_failure(self, exc: str, *args: t.Any, **kwargs: t.Any) -> None:
        self.notify("migration_failure", "state migration FAILED", details=self._details(exc))

    @_never_raises
    def notify_audit_failure(self, audit_error: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        """A blocking audit stops its model (a failure); a non-blocking one only warns (`blocking FALSE`,
        e.g. goal_separates_organizations), and so does its notice."""
        audit, count = audit_error.audit_name, audit_error.count
        model = _short_name(audit_error.model_name)
        what = "accounting mismatch: " if audit == ACCOUNTING_AUDIT else ""
        rows = self._explain(lambda: self._audit_rows(audit_error)) if self._audit_rows else ""
        blocking = self._explain(lambda: _is_blocking(audit_error)) is not False
        self.notify(
            "audit_failure" if blocking else "audit_warning",
            f"{what}audit `{audit}` {'FAILED' if blocking else 'warned'} on `{model}`"
            f" ({count} row{'s' if count != 1 else ''}{rows})",
            audit=audit, model=model, count=count,
        )

    @_never_raises
    def send(self, notification_status: NotificationStatus, msg: str, **kwargs: t.Any) -> None:
        """Any other event a caller subscribes this target to: SQLMesh's own message."""
        self.notify("sqlmesh", msg)

    def notify(self, event: str, summary: str, details: list[str] | None = None, **fields: t.Any) -> None:
        """Build the notice and deliver it; whatever goes wrong is logged, never raised."""
        if event in FAILURES:
            self._failures_notified += 1
        try:
            environment = fields.pop("environment", None) or self._environment
            where = f" ({environment})" if environment and environment not in summary else ""
            text = f"trial-activation on {socket.gethostname()}{where}: {summary}"
            if details:
                text += "\n" + "\n".join(f"• {line}" for line in details)
            notice = {
                "text": text,
                "trial_activation": {
                    "event": event,
                    "status": "failure" if event in FAILURES else "warning" if event in WARNINGS else "success",
                    "host": socket.gethostname(),
                    "environment": environment,
                    **fields,
                    "details": details or [],
                },
            }
            self.deliver(notice)
        except Exception as error:  # noqa: BLE001 - a side channel never breaks the job
            logger.warning(f"trial-activation alert not delivered ({self.channel}): {self.redact(_one_line(error))}")

    def deliver(self, notice: dict) -> None:
        raise NotImplementedError

    @property
    def channel(self) -> str:
        return "console"

    def redact(self, text: str) -> str:
        return text

    def _details(self, exc: str | None) -> list[str]:
        models = self._explain(self._failed_models) if self._failed_models else []
        if models:
            return models
        if exc and "Traceback" in exc:  # SQLMesh's traceback: its last line is the exception
            return [_one_line(exc.strip().splitlines()[-1])]
        return ["see the job's log for the failing models"] if exc else []

    def _explain(self, describe: t.Callable[[], t.Any]) -> t.Any:
        try:
            return describe()
        except Exception:  # noqa: BLE001 - the notice is worth sending without the extra detail
            return ""


class ConsoleAlertTarget(AlertTarget):
    """The default: the notice's text on the console (failures on stderr, the heartbeat on stdout)."""

    def deliver(self, notice: dict) -> None:
        quiet = notice["trial_activation"]["status"] == "success"
        one_line = " ".join(line.strip() for line in notice["text"].splitlines())  # a log has one line per record
        print(f"alert: {one_line}", file=sys.stdout if quiet else sys.stderr, flush=True)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: following one would resend the notice (and the secret path's
    request) to another host, or turn the POST into a GET."""

    def redirect_request(self, *args: t.Any, **kwargs: t.Any) -> None:
        return None


class WebhookAlertTarget(AlertTarget):
    """POSTs the notice as JSON to a webhook (a Slack incoming webhook, or any HTTP receiver); a 2xx
    status is a delivery, anything else (or no answer within `timeout_seconds`) is logged."""

    url: SecretStr
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def channel(self) -> str:
        host = urllib.parse.urlsplit(self.url.get_secret_value()).netloc.rpartition("@")[2]
        return f"webhook {URL_VARIABLE} at {host or 'no host'}"

    def redact(self, text: str) -> str:
        return text.replace(self.url.get_secret_value(), f"${URL_VARIABLE}")

    def deliver(self, notice: dict) -> None:
        url = self.url.get_secret_value()
        icon = {"failure": ":rotating_light:", "warning": ":warning:"}.get(notice["trial_activation"]["status"], ":white_check_mark:")
        notice = {**notice, "text": f"{icon} {notice['text']}"}
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"{URL_VARIABLE} is not an http(s) URL")
        request = urllib.request.Request(
            url,
            data=json.dumps(notice).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "trial-activation-alerts"},
            method="POST",
        )
        try:
            with urllib.request.build_opener(_NoRedirects).open(request, timeout=self.timeout_seconds) as response:
                response.read(1024)
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                raise RuntimeError(f"no answer within {self.timeout_seconds:g} s ({TIMEOUT_VARIABLE})") from None
            raise RuntimeError(_one_line(reason)) from None


def _is_blocking(audit_error: t.Any) -> bool:
    """Whether the audit stops its model: the model's `blocking` argument, else the audit's own setting
    (a project audit's, or a built-in one's: `*_non_blocking` are not)."""
    from sqlglot import exp
    from sqlmesh.core.audit.builtin import BUILT_IN_AUDITS

    argument = (audit_error.audit_args or {}).get("blocking")
    if argument is not None:
        return argument == exp.true()
    model = audit_error.model
    definition = (model.audit_definitions if model else {}).get(audit_error.audit_name) or BUILT_IN_AUDITS.get(
        audit_error.audit_name
    )
    return definition.blocking if definition is not None else True


def _short_name(name: str | None) -> str:
    """'"warehouse"."staging"."x"' -> 'staging.x'."""
    if not name:
        return "?"
    parts = [part.strip('"') for part in name.split(".")]
    return ".".join(parts[-2:])


def _one_line(value: t.Any) -> str:
    return " ".join(str(value).split()) or type(value).__name__
