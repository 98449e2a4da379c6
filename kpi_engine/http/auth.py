"""Bearer tokens: who is calling, and what they may see.

With ``serve.tokens`` in kpi.yml, every request but /health needs ``Authorization: Bearer <token>``.
The token presented is compared with every configured token, each in constant time and all of them
every time, on SHA-256 digests (equal lengths, so not even a token's length shows in the timing); the
first match wins. Nothing here ever puts a token in a message or a log line: a token is named by its
``name``.

A token's ``kpis`` (names, or ``tag:T``) limit which KPIs it may ask for and see listed; its ``where``
is passed to the query as a forced filter (``Project.query(filters=...)``), which the compiler ANDs
into every dataset the query reads, so no ``where``, ``by`` or KPI of the caller can widen it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..definitions.model import Kpi, TokenConfig
from ..errors import unknown
from .errors import HttpError

__all__ = ["Access", "OPEN", "authenticate", "bearer"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Access:
    """What a caller may see: every KPI (``kpis`` empty) or those listed, under ``filters``."""

    name: str | None = None  # the token's name; None without tokens
    kpis: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    anonymous: bool = False  # tokens are configured and none was presented (only /health answers)

    @property
    def restricted(self) -> bool:
        return bool(self.kpis) or self.anonymous

    def allows(self, kpi: Kpi) -> bool:
        if self.anonymous:
            return False
        if not self.kpis:
            return True
        return kpi.name in self.kpis or any(item.startswith("tag:") and item[4:].strip() in kpi.tags
                                            for item in self.kpis)

    def visible(self, kpis: Iterable[Kpi], *, hidden: bool = False) -> list[str]:
        """The names this caller sees listed (hidden helper KPIs only with ``hidden``)."""
        return [k.name for k in kpis if self.allows(k) and (hidden or not k.hidden)]

    def check(self, names: Iterable[str], kpis: dict[str, Kpi]) -> None:
        """Refuse a KPI this caller may not use (403). For a caller limited to some KPIs, a name it may not
        use and a name that does not exist get the same answer, so a token learns nothing about the KPIs
        outside its list; the suggestion is among the KPIs it may use."""
        if not self.restricted:
            return
        for name in names:
            kpi = kpis.get(name)
            if kpi is None or not self.allows(kpi):
                allowed = [k.name for k in kpis.values() if self.allows(k)]
                raise HttpError(403, unknown("KPI", name, allowed, head=f"KPI '{name}' is not available to this token"),
                                code="forbidden")


#: The access of every caller when the project has no tokens.
OPEN = Access()


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def authenticate(header: str | None, tokens: Sequence[TokenConfig], *, required: bool = True) -> Access:
    """The caller's access. Without tokens, everything. With tokens, a missing or unknown token is a 401
    (or, when not ``required``, as on /health, an anonymous access that sees no KPI)."""
    if not tokens:
        return OPEN
    presented = bearer(header)
    match = _match(presented, tokens) if presented is not None else None
    if match is None:
        if not required:
            return Access(anonymous=True)
        message = ("this API needs a token: send Authorization: Bearer <token>" if presented is None
                   else "the token is not valid")
        raise HttpError(401, message, code="unauthorized", headers=_CHALLENGE)
    return Access(match.name, tuple(match.kpis), (match.where,) if match.where else ())


def _match(presented: str, tokens: Sequence[TokenConfig]) -> TokenConfig | None:
    """The configured token equal to ``presented``: every token is compared, each in constant time, so the
    time taken says nothing about which token (or how much of one) matched."""
    digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
    found: TokenConfig | None = None
    for token in tokens:
        same = hmac.compare_digest(digest, hashlib.sha256(token.token.encode("utf-8", "surrogatepass")).digest())
        if same and found is None and token.token:
            found = token
    return found
