"""Sending a check's summary: ``--notify URL`` (a JSON POST, Slack-compatible) and the plugins' channels.

Every channel gets its turn even when another fails, and each failure becomes one NotifyError (exit
status 3) naming the channel. A webhook is retried with exponential backoff on what may pass (no
connection, a timeout, HTTP 5xx and 429), within a bounded time: at most ``ATTEMPTS`` attempts of
``TIMEOUT`` seconds each, ``BACKOFF`` seconds apart and doubling (2.5 + 0.5 + 2.5 + 1 + 2.5 = 9 s at
worst). The standard library does the HTTP (no dependency for one POST). A webhook's path is often its
secret (Slack's is), so messages name only the scheme and host.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import __version__
from ..errors import KpiError

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["NotifyError", "check_url", "deliver", "post_json", "shown_url"]

ATTEMPTS = 3
BACKOFF = 0.5  # seconds before the second attempt, doubled before each next one
TIMEOUT = 2.5  # seconds for one attempt (connect, send, answer)

#: what waits between attempts; tests replace it to count the waits without waiting
_pause: Callable[[float], None] = time.sleep


class NotifyError(KpiError):
    """A channel could not deliver the summary (exit status 3, as a failed source: the check itself ran)."""

    exit_code = 3
    default_code = "notify"


class _Retry(Exception):
    """An attempt failed in a way another attempt may not (no connection, timeout, 5xx, 429)."""


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be a webhook (only http and https, with a host), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        return f"'{url}' is not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"'{url}' is not an http:// or https:// URL"
    if not parts.hostname:
        return f"'{url}' names no host"
    return None


def shown_url(url: str) -> str:
    """The URL as messages show it: scheme and host only, the path (often a secret token) left out."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    hidden = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{hidden}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a GET without the summary: report the redirect instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post_json(url: str, payload: dict[str, Any], *, attempts: int = ATTEMPTS, backoff: float = BACKOFF,
              timeout: float = TIMEOUT, sleep: Callable[[float], None] | None = None) -> None:
    """POST ``payload`` as JSON; retry what may pass, give up at once on the rest (4xx, a bad certificate).

    Raises NotifyError saying why the last attempt failed and how many were made.
    """
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    opener = urllib.request.build_opener(_NoRedirect)
    delay = backoff
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": f"kpi_engine/{__version__}"})
        try:
            _attempt(opener, request, timeout)
            return
        except _Retry as problem:
            if attempt == attempts:
                raise _failed(url, f"{problem} (after {attempts} attempts)") from problem
        except NotifyError as error:
            raise _failed(url, error.message) from error
        (sleep or _pause)(delay)
        delay *= 2


def _attempt(opener: urllib.request.OpenerDirector, request: urllib.request.Request, timeout: float) -> None:
    """One POST: returns on 2xx, raises _Retry when another attempt may pass, NotifyError when it may not."""
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as answer:
        reason = f"HTTP {answer.code} {answer.reason}".rstrip()
        detail = _body(answer)
        if answer.code >= 500 or answer.code == 429:
            raise _Retry(reason + detail) from answer
        if 300 <= answer.code < 400:
            reason += " (a redirect: give the final URL, a POST is not followed to another address)"
        raise NotifyError(reason + detail) from answer
    except urllib.error.URLError as failure:
        if isinstance(failure.reason, (OSError, TimeoutError)) and not _is_certificate(failure.reason):
            raise _Retry(f"cannot connect: {_reason(failure.reason)}") from failure
        raise NotifyError(f"cannot connect: {_reason(failure.reason)}") from failure
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as failure:
        raise _Retry(f"no answer: {_reason(failure)}") from failure


def _body(answer: urllib.error.HTTPError) -> str:
    """The start of an error's body (Slack says what is wrong there: ``invalid_payload``, ``no_service``)."""
    try:
        text = answer.read(200).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):
        return ""
    return f": {' '.join(text.split())}" if text else ""


def _is_certificate(reason: object) -> bool:
    import ssl

    return isinstance(reason, ssl.SSLError)


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError) or "timed out" in str(error):
        return "timed out"
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _failed(url: str, why: str) -> NotifyError:
    return NotifyError(f"could not deliver the check's summary to {shown_url(url)}: {why}",
                       hint="the summary above was printed; the check itself ran")


def deliver(summary: dict[str, Any], project: Project, url: str | None = None, *,
            sleep: Callable[[float], None] | None = None) -> list[NotifyError]:
    """Send the summary to the webhook (when given), then to every plugin's channel; the failures, in order."""
    failures: list[NotifyError] = []
    if url is not None:
        try:
            post_json(url, summary, sleep=sleep)
        except NotifyError as error:
            failures.append(error)
    for notifier in project.registry.notifiers():
        name = _channel_name(notifier.name, project.root)
        try:
            notifier(deepcopy(summary), project)
        except Exception as exc:  # a plugin's failure, whatever it is, is that channel's failed delivery
            failures.append(NotifyError(f"notifier plugin {name} failed: {type(exc).__name__}: {exc}",
                                        hint="the summary above was printed; the check itself ran"))
    return failures


def _channel_name(name: str, root: Path) -> str:
    """A local plugin by its path in the project (as kpi.yml lists it), an installed one by its name."""
    try:
        return str(Path(name).relative_to(root))
    except ValueError:
        return name
