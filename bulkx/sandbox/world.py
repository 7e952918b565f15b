"""The sandbox's world: the store, the resource registry, the inventory, and credentials."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulkx.sandbox.context import Principal
from bulkx.sandbox.errors import ErrorAnswer, FieldError
from bulkx.sandbox.inventory import Inventory
from bulkx.sandbox.limits import DEFAULT_LIMITS, Limits
from bulkx.sandbox.schema import Registry
from bulkx.sandbox.store import Store

DEFAULT_TOKEN = "sandbox-token"
DEFAULT_LOGIN = "sandbox"
DEFAULT_PASSWORD = "sandbox-password"

#: Every scope the sandbox knows; the default token has them all.
# fmt: off
ALL_SCOPES = (
    "accesscontrol.manage", "app.manage", "batch.manage", "endpoints.manage", "oauth.manage",
    "oauth.manage_all_tokens", "partners.manage", "partners.billing_method.manage",
    "phonenumber.manage",
    "phonenumber.emergency.manage", "phonenumber.line_information.manage", "push.manage",
    "shortener.manage", "sms.manage", "storage.manage", "trunk_groups.manage",
    "trunk_groups.trunks.manage",
)
# fmt: on

#: Collections the sandbox keeps for itself (not served as plain CRUD resources).
INTERNAL_COLLECTIONS: dict[str, tuple[str, ...]] = {
    "partners": ("login",),
    "tokens": ("access_token",),
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_sid() -> str:
    return str(uuid.uuid4())


class World:
    def __init__(
        self,
        db_path: str | Path,
        registry: Registry,
        *,
        seed: int | None = None,
        token: str | None = None,
        keep_default_credentials: bool = False,
    ):
        """`token` becomes the only configured credential: the default token and password then
        stop working, and so do tokens configured by earlier runs on this db, unless
        `keep_default_credentials`. Without `token`, the defaults are the credentials."""
        collections: dict[str, tuple[str, ...]] = dict(INTERNAL_COLLECTIONS)
        for resource in registry.resources.values():
            known = collections.get(resource.collection, ())
            collections[resource.collection] = tuple(dict.fromkeys(known + resource.indexed))
        self.registry = registry
        self.store = Store(db_path, collections)
        self.seed = self._settle_seed(seed)
        self.inventory = Inventory(self.seed, self._taken_numbers, self._count_taken)
        self.started = time.monotonic()
        self.limits: Limits = DEFAULT_LIMITS
        self.credentials = Credentials(token, keep_default_credentials)
        self._configured_raw: str | None = None
        self._configured: frozenset[str] = frozenset()
        with self.store.transaction():
            self.partner_sid = self._ensure_partner()
            for value in self.credentials.tokens:
                self._configure_token(value)

    # --- set-up -----------------------------------------------------------------------------

    def _settle_seed(self, seed: int | None) -> int:
        stored = self.store.get_meta("seed")
        if stored is None:
            value = 0 if seed is None else seed
            self.store.set_meta("seed", str(value))
            self.store.set_meta("created", now_iso())
            return value
        if seed is not None and int(stored) != seed:
            raise ValueError(
                f"{self.store.path} was created with --seed {stored}, not {seed};"
                " use another --db (or delete this one) to start a world with a new seed"
            )
        return int(stored)

    def _ensure_partner(self) -> str:
        found = self.store.find("partners", "c_login=?", [DEFAULT_LOGIN])
        if found:
            return str(found[0]["partner_sid"])
        sid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulkx-sandbox-partner-{self.seed}"))
        partner = {
            "partner_sid": sid,
            "name": "Sandbox Partner",
            "login": DEFAULT_LOGIN,
            "password": DEFAULT_PASSWORD,
            "available_scopes": list(ALL_SCOPES),
            "balance": "1000.00",
            "date_created": now_iso(),
            "parent_sid": None,
            "prepay": True,
            "status": "active",
        }
        self.store.insert("partners", sid, sid, partner)
        return sid

    def _configure_token(self, value: str) -> None:
        """Ensure the token and note its sid as configured (by this run or an earlier one)."""
        noted = self._configured_sids()
        if self.store.get_meta(_CONFIGURED_META) is None:
            # A db from before configured tokens were noted: those were all named "sandbox".
            legacy = self.store.find("tokens", "json_extract(data, '$.name') = 'sandbox'")
            noted = frozenset(str(row["token_sid"]) for row in legacy)
        sid = str(self.ensure_token(value)["token_sid"])
        self.store.set_meta(_CONFIGURED_META, json.dumps(sorted(noted | {sid})))

    def _configured_sids(self) -> frozenset[str]:
        raw = self.store.get_meta(_CONFIGURED_META)
        if raw != self._configured_raw:
            self._configured_raw = raw
            self._configured = frozenset(json.loads(raw) if raw else ())
        return self._configured

    def token_allowed(self, token: Mapping[str, Any]) -> bool:
        """False for a token some other run configured (or the default one, unless kept):
        `--token` is the only configured token. Tokens issued through the API stay valid."""
        value = str(token.get("access_token", ""))
        if self.credentials.accepts(value):
            return True
        if value == DEFAULT_TOKEN:
            return False
        return str(token.get("token_sid")) not in self._configured_sids()

    def password_ok(self, partner: Mapping[str, Any], password: str) -> bool:
        """The partner's password; the default partner's unchanged default one is replaced by
        the configured token (`Basic sandbox:<token>`) unless the defaults are kept."""
        stored = str(partner.get("password", ""))
        if partner.get("login") == DEFAULT_LOGIN and stored == DEFAULT_PASSWORD:
            return any(
                secrets.compare_digest(accepted.encode(), password.encode())
                for accepted in self.credentials.passwords
            )
        return secrets.compare_digest(stored.encode(), password.encode())

    def ensure_token(
        self, access_token: str, *, scopes: tuple[str, ...] = ALL_SCOPES, name: str = "sandbox"
    ) -> dict[str, Any]:
        found = self.store.find("tokens", "c_access_token=?", [access_token])
        if found:
            return found[0]
        return self.issue_token(self.partner_sid, scopes=scopes, name=name, value=access_token)

    def issue_token(
        self,
        partner_sid: str,
        *,
        scopes: tuple[str, ...] = ALL_SCOPES,
        name: str = "N/A",
        value: str | None = None,
        expires_in: int | None = None,
        client_id: str | None = None,
    ) -> dict[str, Any]:
        """A new token, stored. Its refresh token expires with its access token, as every token
        sample shows (assumptions.OAUTH_REFRESH_TOKEN_EXPIRES_WITH_ACCESS_TOKEN); `client_id` is
        the one the token request sent (assumptions.OAUTH_TOKEN_CLIENT_ID_FROM_REQUEST)."""
        sid = new_sid()
        expires = (
            None
            if expires_in is None
            # Milliseconds, like now_iso(): whole seconds cut up to a second off the lifetime.
            else datetime.fromtimestamp(time.time() + expires_in, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%f"
            )[:-3]
            + "Z"
        )
        token = {
            "access_token": value or secrets.token_hex(16),
            "client_id": client_id,
            "date_created": now_iso(),
            "date_expiration_access_token": expires,
            "date_expiration_refresh_token": expires,
            "date_last_accessed": None,
            "ip_last_accessed": None,
            "name": name,
            "partner_sid": partner_sid,
            "refresh_token": secrets.token_hex(16),
            "scopes": list(scopes),
            "token_sid": sid,
            "token_type": "bearer",
        }
        self.store.insert("tokens", sid, partner_sid, token)
        return token

    def partner(self, partner_sid: str) -> dict[str, Any]:
        """The documented Partner object, as GET /partners/{sid} answers it: every documented
        field and nothing internal (assumptions.PARTNER_VIEWS_ARE_THE_PARTNER_OBJECT)."""
        found = self.store.get("partners", partner_sid)
        if found is None:
            raise ErrorAnswer(401)
        spec = self.registry.resources.get("partner")
        if spec is None:  # a world without the Core resources
            return {k: v for k, v in found.items() if k != "password"}
        out = {f.name: f.default_value() for f in spec.fields if f.access != "hidden"}
        out.update((k, v) for k, v in found.items() if k in out)
        return dict(sorted(out.items()))

    # --- inventory ------------------------------------------------------------------------

    def _taken_numbers(self, lo: str, hi: str) -> set[str]:
        rows = self.store.rows(
            "SELECT c_phonenumber FROM t_dids WHERE c_phonenumber >= ? AND c_phonenumber < ?",
            (lo, hi),
        )
        return {str(r[0]) for r in rows}

    def _count_taken(self, lo: str, hi: str) -> int:
        return int(
            self.store.scalar(
                "SELECT count(*) FROM t_dids WHERE c_phonenumber >= ? AND c_phonenumber < ?",
                (lo, hi),
            )
        )

    # --- authentication -------------------------------------------------------------------

    def authenticate_core(self, headers: Mapping[str, str]) -> Principal:
        scheme, credentials = _authorization(headers)
        if scheme == "bearer":
            found = self.store.find("tokens", "c_access_token=?", [credentials])
            if not found:
                raise _unauthorized("the token is unknown or revoked")
            token = found[0]
            if not self.token_allowed(token):
                raise _unauthorized(
                    "this token is not the sandbox's: it was configured by another run of"
                    " `bulkx sandbox serve` (use the --token this one was started with)"
                )
            expires = token.get("date_expiration_access_token")
            if expires and expires < now_iso():
                raise _unauthorized("the token has expired")
            return Principal(
                "partner",
                str(token["partner_sid"]),
                f"token:{token['token_sid']}",
                frozenset(token.get("scopes") or ()),
            )
        login, password = _basic(credentials)
        found = self.store.find("partners", "c_login=?", [login])
        if not found or not self.password_ok(found[0], password):
            raise _unauthorized("bad login or password")
        partner = found[0]
        return Principal(
            "partner",
            str(partner["partner_sid"]),
            f"login:{login}",
            frozenset(partner.get("available_scopes") or ()),
        )

    def authenticate_app(self, headers: Mapping[str, str], types: tuple[str, ...]) -> Principal:
        scheme, credentials = _authorization(headers)
        if scheme != "basic":
            raise _unauthorized(
                "this API takes HTTP Basic credentials: the login and password from the"
                " endpoint's properties (Core GET /endpoints)"
            )
        login, password = _basic(credentials)
        found = self.store.find("endpoints", "c__login=?", [login])
        endpoint = found[0] if found else None
        if (
            endpoint is None
            or endpoint.get("type") not in types
            or not secrets.compare_digest(
                str((endpoint.get("properties") or {}).get("password", "")), password
            )
        ):
            raise _unauthorized("bad login or password for this API")
        return Principal(
            "account",
            str(endpoint["partner_sid"]),
            f"login:{login}",
            account_sid=str(endpoint["_account_sid"]),
            endpoint_type=str(endpoint["type"]),
        )

    def credential_id(self, headers: Mapping[str, str]) -> str | None:
        """The id logs and rate limits use; None when the request carries no credential."""
        try:
            scheme, credentials = _authorization(headers)
        except ErrorAnswer:
            return None
        if scheme == "basic":
            try:
                return f"login:{_basic(credentials)[0]}"
            except ErrorAnswer:
                return None
        found = self.store.find("tokens", "c_access_token=?", [credentials])
        return f"token:{found[0]['token_sid']}" if found else "token:unknown"


_CONFIGURED_META = "configured_token_sids"


class Credentials:
    """The sandbox's own credentials for this run: its token(s), the default partner's
    password(s), and the admin API's Bearer (the same token: one secret to hand out)."""

    def __init__(self, token: str | None, keep_defaults: bool = False) -> None:
        self.token = token or DEFAULT_TOKEN
        self.defaults_kept = token is None or keep_defaults
        self.tokens = tuple(dict.fromkeys([self.token, *([DEFAULT_TOKEN] * self.defaults_kept)]))
        passwords = [token] if token else []
        self.passwords = tuple(passwords + [DEFAULT_PASSWORD] * self.defaults_kept)

    def accepts(self, value: str) -> bool:
        return any(secrets.compare_digest(t.encode(), value.encode()) for t in self.tokens)

    def admin_ok(self, headers: Mapping[str, str]) -> bool:
        """`Authorization: Bearer <the sandbox's token>`; nothing else opens the admin API."""
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(value.strip()) and self.accepts(value.strip())


def _unauthorized(why: str) -> ErrorAnswer:
    return ErrorAnswer(401, "Bad credentials", [FieldError(None, why)])


def _authorization(headers: Mapping[str, str]) -> tuple[str, str]:
    value = headers.get("authorization", "")
    scheme, _, credentials = value.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "basic") or not credentials.strip():
        raise _unauthorized("send 'Authorization: Bearer <token>' (Core) or HTTP Basic credentials")
    return scheme, credentials.strip()


def _basic(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text, which b64decode refuses
        raise _unauthorized("malformed Basic credentials") from None
    login, sep, password = decoded.partition(":")
    if not sep:
        raise _unauthorized("malformed Basic credentials")
    return login, password
