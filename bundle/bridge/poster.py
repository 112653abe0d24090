"""Hub lines to Matterbridge: ``POST /api/message`` from the poster thread, in order, one at a time.

Outcomes of one POST and what follows (M11, M21-M22):
- 200: delivered to Matterbridge's router; the line is done. The answer names our account id (M20),
  learned once so that our own messages can be recognised coming back.
- connection refused, connect timeout, 5xx: it certainly was not routed; the line stays first and
  is tried again after a backoff, forever.
- 400/401 naming the key: the token is wrong or missing; the line stays, the operator is told once,
  and the next attempt waits the longest retry delay (or a new token).
- other 4xx: Matterbridge refuses this line for good; it is dropped and counted (``rejected``).
- sent but no answer (read timeout, connection lost while waiting): the outcome is unknown and
  Matterbridge has no idempotency (M21). Policy: at most once. The router takes a message before
  it answers, so the line most likely went out; it is not sent again and is counted (``unknown``).
After any failure the poster first checks ``GET /api/health`` before posting again, so a hung
Matterbridge costs one line at most, not one per timeout.

urllib3 and not requests: requests' charset_normalizer refuses a second sub-interpreter (A24).
Imported with the script (on the hub thread, during the load), so that each sub-interpreter has its own.
"""

from __future__ import annotations

import json
import threading
from typing import Callable, Optional, Tuple

import urllib3

from vhctl_hub.bridge.backoff import Backoff
from vhctl_hub.bridge.link import Link, LinkReport
from vhctl_hub.bridge.outbox import Line, Outbox, Spool
from vhctl_hub.bridge.relay import outgoing

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
#: How often a waiting poster looks at the stop flag and the spool, seconds.
SLICE = 0.25

SENT, RETRY, AUTH, REJECTED, UNKNOWN = "sent", "retry", "auth", "rejected", "unknown"


def auth_refusal(status: int, body: bytes) -> bool:
    """Matterbridge's answers to a missing or wrong token (M11), told apart from JSON errors (M18)."""
    return status == 401 or (status == 400 and b"key in" in body and b"header" in body)


class Poster:
    """The poster thread's loop (``run``) and its one-POST step."""

    def __init__(self, link: Link, outbox: Outbox, spool: Spool, report: LinkReport,
                 backoff: Backoff, template: str, stop: threading.Event,
                 notice: Callable[[str], None]) -> None:
        self.link = link
        self.outbox = outbox
        self.spool = spool
        self.report = report
        self.backoff = backoff
        self.template = template
        self.stop = stop
        self._notice = notice
        self._pool = urllib3.PoolManager(
            num_pools=2, maxsize=1, retries=False,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT))
        self._suspect = False
        self._told: Optional[str] = None

    def run(self) -> None:
        self.report.state("idle")
        try:
            while not self.stop.is_set():
                self._spool()
                line = self.outbox.peek(SLICE)
                if line is None:
                    continue
                if self._suspect and not self._healthy():
                    continue
                self._settle(line, *self._post(line))
        finally:
            self._spool(force=True)
            self._pool.clear()

    # ---------------------------------------------------------------- one line
    def _settle(self, line: Line, outcome: str, why: str) -> None:
        if outcome in (SENT, REJECTED, UNKNOWN):
            self.outbox.pop(line)
            self.report.count(outcome)
        if outcome == SENT:
            self.backoff.reset()
            self._suspect = False
            self._told = None
            self.report.state("up")
            return
        if outcome == REJECTED:
            self._tell(f"Matterbridge refused a line for good ({why}); it was dropped")
            return
        self._suspect = True
        delay = self.backoff.cap if outcome == AUTH else self.backoff.next_delay()
        self._fail(why, delay, "auth_failed" if outcome == AUTH else "retrying")

    def _post(self, line: Line) -> Tuple[str, str]:
        link = self.link
        body = json.dumps({"gateway": link.gateway, "username": line["nick"],
                           "text": self.template.format(nick=line["nick"], message=outgoing(line["text"]))},
                          ensure_ascii=False).encode("utf-8", "replace")
        errors = urllib3.exceptions
        try:
            resp = self._pool.request("POST", link.endpoint("/api/message"), body=body,
                                      headers={"Content-Type": "application/json", **link.headers()})
        except (errors.ConnectTimeoutError, errors.LocationValueError) as exc:
            return RETRY, _describe(exc)
        except (errors.HTTPError, OSError) as exc:
            return UNKNOWN, _describe(exc)
        if resp.status == 200:
            self._learn_account(resp.data)
            return SENT, ""
        if auth_refusal(resp.status, resp.data):
            return AUTH, f"Matterbridge refused the token (HTTP {resp.status}); set it with !bridge token"
        if resp.status >= 500:
            return RETRY, f"HTTP {resp.status} from Matterbridge"
        return REJECTED, f"HTTP {resp.status}: {resp.data[:200].decode('utf-8', 'replace').strip()}"

    def _learn_account(self, data: bytes) -> None:
        if self.link.account:
            return
        try:
            account = json.loads(data).get("account")
        except (ValueError, AttributeError):
            return
        if isinstance(account, str) and account:
            self.link.account = account

    # ---------------------------------------------------------------- after a failure
    def _healthy(self) -> bool:
        """GET /api/health (it needs the token too, M16); waits a backoff when it fails."""
        try:
            resp = self._pool.request("GET", self.link.endpoint("/api/health"), headers=self.link.headers())
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self._fail(_describe(exc), self.backoff.next_delay(), "retrying")
            return False
        if auth_refusal(resp.status, resp.data):
            self._fail(f"Matterbridge refused the token (HTTP {resp.status}); set it with !bridge token",
                       self.backoff.cap, "auth_failed")
            return False
        self._suspect = resp.status != 200
        if self._suspect:
            self._fail(f"health check answered HTTP {resp.status}", self.backoff.next_delay(), "retrying")
        return not self._suspect

    def _fail(self, why: str, delay: float, state: str) -> None:
        self.report.failed(f"sending to Matterbridge: {why}", delay, state)
        self._tell(f"cannot send to Matterbridge: {why}")
        self._wait(delay)

    def _wait(self, delay: float) -> None:
        """Sleep ``delay`` s in slices; a stop or a settings change ends it early."""
        generation = self.link.generation
        remaining = delay
        while remaining > 0 and not self.stop.is_set() and self.link.generation == generation:
            self._spool()
            self.stop.wait(min(SLICE, remaining))
            remaining -= SLICE

    def _tell(self, line: str) -> None:
        """The operator hears of each kind of failure once, not once per attempt."""
        if line != self._told:
            self._told = line
            self._notice(line)

    def _spool(self, force: bool = False) -> None:
        try:
            self.spool.maybe_write(self.outbox, force)
        except OSError as exc:
            self.report.error(f"cannot write the outbox spool: {exc}")


def _describe(exc: BaseException) -> str:
    """One line for an urllib3/socket error (its text names the host, never the token)."""
    reason = getattr(exc, "reason", None) or exc
    return f"{type(exc).__name__}: {reason}"[:300]
