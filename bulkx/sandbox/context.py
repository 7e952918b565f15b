"""Who is calling and what world they see: the per-request context handed to resource hooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bulkx.sandbox import assumptions
from bulkx.sandbox.errors import ErrorAnswer, FieldError

if TYPE_CHECKING:
    from bulkx.sandbox.world import World


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a partner (Core) or an app endpoint account (app APIs)."""

    kind: Literal["partner", "account"]
    partner_sid: str
    #: A stable id for logs and rate limits: a token sid or a login, never a secret.
    credential_id: str
    scopes: frozenset[str] = frozenset()
    account_sid: str | None = None
    endpoint_type: str | None = None

    @property
    def owner(self) -> str:
        return self.account_sid if self.kind == "account" and self.account_sid else self.partner_sid

    def require_scope(self, area: str | None, verb: str) -> None:
        """`area.manage` or `area.<verb>` must be granted; app accounts are not scoped."""
        if area is None or self.kind == "account":
            return
        if f"{area}.manage" in self.scopes or f"{area}.{verb}" in self.scopes:
            return
        raise ErrorAnswer(
            assumptions.MISSING_SCOPE_STATUS,
            "forbidden",
            [FieldError(None, f"the token lacks the scope {area}.manage or {area}.{verb}")],
        )


@dataclass
class Ctx:
    world: World
    principal: Principal
    query: Mapping[str, str] = field(default_factory=dict)
    base_url: str = ""

    @property
    def owner(self) -> str:
        return self.principal.owner

    def flag(self, name: str) -> bool:
        return str(self.query.get(name, "")).lower() in ("true", "1", "yes")

    def extra(self) -> dict[str, Any]:
        return {}
