"""Secrets, token loading, targets and filter strings: the pure parts of the client."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import pytest

from bulkx.api import (
    BasicCredentials,
    Filter,
    Secret,
    Target,
    derive_bases,
    load_token,
    parse_retry_after,
)
from bulkx.errors import ConfigError

CANARY = "canary-4f1d2c9e-secret"


# --- Secret -------------------------------------------------------------------------------------


def test_secret_never_prints_itself(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret(CANARY)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("bulkx.test").info("token is %s / %r / %s", secret, secret, f"{secret}")
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>40}", caplog.text]
    assert all(CANARY not in text for text in shown)
    assert secret.reveal() == CANARY
    assert secret == Secret(CANARY)
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_basic_credentials_redact_the_password() -> None:
    creds = BasicCredentials("room-login", Secret(CANARY))
    assert CANARY not in repr(creds)
    assert CANARY not in str(creds)
    assert creds.header().startswith("Basic ")


# --- load_token ---------------------------------------------------------------------------------


def _token_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_token_from_the_environment_is_stripped() -> None:
    assert load_token(None, env={"CARRIERX_TOKEN": f"  {CANARY}\n"}).reveal() == CANARY


def test_token_file_wins_over_the_environment(tmp_path: Path) -> None:
    path = _token_file(tmp_path, f"{CANARY}\n")
    assert load_token(path, env={"CARRIERX_TOKEN": "other"}).reveal() == CANARY


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_token_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _token_file(tmp_path, CANARY, mode)
    with pytest.raises(ConfigError) as info:
        load_token(path, env={})
    assert "chmod 600" in (info.value.hint or "")
    assert CANARY not in str(info.value)


@pytest.mark.parametrize("env", [{}, {"CARRIERX_TOKEN": ""}, {"CARRIERX_TOKEN": " \n"}])
def test_missing_or_empty_token_is_a_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_token(None, env=env)
    assert "CARRIERX_TOKEN" in (info.value.hint or "")


def test_empty_or_missing_token_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty"):
        load_token(_token_file(tmp_path, "\n\n"), env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_token(tmp_path / "nope", env={})


def test_token_with_inner_whitespace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="spaces or control"):
        load_token(_token_file(tmp_path, f"{CANARY}\nsecond-line\n"), env={})


# --- Target -------------------------------------------------------------------------------------


def test_app_bases_are_derived_from_the_core_base() -> None:
    assert derive_bases("https://api.carrierx.com/core/v2/") == {
        "core": "https://api.carrierx.com/core/v2",
        "conference_v2": "https://api.carrierx.com/conference/v2",
        "conference": "https://api.carrierx.com/conference/v1",
        "flexml": "https://api.carrierx.com/flexml/v1",
        "mediator": "https://api.carrierx.com/mediator/v1",
    }
    bases = derive_bases("https://gw.example.com:8443/carrierx/core/v2")
    assert bases["mediator"] == "https://gw.example.com:8443/carrierx/mediator/v1"


@pytest.mark.parametrize(
    "url",
    [
        "http://api.carrierx.com/core/v2",
        "http://10.0.0.5/core/v2",
        "http://example.com/core/v2",
        # Issue 15: a name under .localhost was taken for loopback without being resolved;
        # a resolver may send it anywhere, with the token in clear text.
        "http://api.localhost/core/v2",
    ],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="http://") as info:
        Target(url)
    assert "https" in (info.value.hint or "")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765/core/v2", "http://localhost/core/v2", "http://[::1]/core/v2"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert Target(url, is_sandbox=True).label.startswith("sandbox")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.carrierx.com/",
        "https://api.carrierx.com/conference/v2",
        "ftp://api.carrierx.com/core/v2",
        f"https://user:{CANARY}@api.carrierx.com/core/v2",
        "https://api.carrierx.com/core/v2?x=1",
    ],
)
def test_malformed_base_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Target(url)
    assert CANARY not in str(info.value)


def test_target_label_defaults_to_the_host() -> None:
    assert Target("https://api.carrierx.com/core/v2").label == "api.carrierx.com"


# --- Filter -------------------------------------------------------------------------------------


def test_filters_join_with_and_and_quote_strings() -> None:
    f = Filter.eq("state", "NY") & Filter.like("phonenumber", "1516%")
    assert str(f) == 'state eq "NY" and phonenumber like "1516%"'


def test_filter_values_are_typed_and_escaped() -> None:
    assert str(Filter.in_("state", ["NY", "NJ"])) == 'state in ("NY","NJ")'
    assert str(Filter.eq("name", 'say "hi" \\ bye')) == r'name eq "say \"hi\" \\ bye"'
    assert str(Filter.gt("maximum_ttl", 40000)) == "maximum_ttl gt 40000"
    assert str(Filter.eq("trunks.allow_transfer", False)) == "trunks.allow_transfer eq false"
    assert str(Filter.eq("did_group_sid", None)) == "did_group_sid eq null"
    assert str(Filter.bit("capabilities", 4)) == "capabilities bit 4"
    assert str(Filter.eq("name", "x and y eq z")) == 'name eq "x and y eq z"'


def test_filter_refuses_or_bad_fields_and_empty_lists() -> None:
    with pytest.raises(TypeError, match="no 'or'"):
        Filter.eq("a", 1) | Filter.eq("b", 2)
    with pytest.raises(ValueError, match="field name"):
        Filter.eq("state eq 1 and x", "NY")
    with pytest.raises(ValueError, match="at least one"):
        Filter.in_("state", [])
    assert not Filter()


# --- Retry-After --------------------------------------------------------------------------------


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now=now) == pytest.approx(10.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:00 GMT", now=now) == 0.0
