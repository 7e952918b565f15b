"""Driving the `bulkx` command in-process against a sandbox served on 127.0.0.1."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from bulkx.cli.main import app
from tests.conftest import Sandbox


@dataclass
class Bulkx:
    """`bulkx ...` with `--base-url` pointing at `sandbox`, run in the current directory (its
    journals in `home`, when given: a fixture that cannot change directory must give one)."""

    sandbox: Sandbox
    home: Path | None = None

    def run(self, *args: str, target: bool = True) -> Result:
        extra = ["--base-url", self.sandbox.core_url] if target else []
        env = {"CARRIERX_TOKEN": self.sandbox.token}
        if self.home is not None:
            env["BULKX_HOME"] = str(self.home)
        result = CliRunner().invoke(app, [*args, *extra], env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def validate(self, plan: Path) -> None:
        result = self.run("validate", str(plan), target=False)
        assert result.exit_code == 0, result.output

    def changes(self, plan: Path, *flags: str) -> list[dict[str, Any]]:
        """What `bulkx plan` would do: every change that is not a no-op."""
        result = self.run("plan", str(plan), "-o", "json", *flags)
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        return [c for c in document["changes"] if c["action"] != "noop"]

    def apply(self, plan: Path, *flags: str) -> None:
        """Apply `plan`, then check `bulkx plan` has nothing left to do."""
        result = self.run("apply", str(plan), "--yes", *flags)
        assert result.exit_code == 0, result.output
        assert self.changes(plan, *flags) == []

    def get(self, path: str, api: str = "/core/v2", endpoint: str | None = None) -> Any:
        """A list's items (or an object), read straight from the sandbox; app APIs with the
        named endpoint's credentials."""
        if endpoint is None:
            with self.sandbox.core() as core:
                answer = core.get(path)
        else:
            login, password = self.credentials(endpoint)
            with self.sandbox.app_client(api, login, password) as client:
                answer = client.get(path)
        answer.raise_for_status()
        body = answer.json()
        body = body.get("body", body) if api.startswith("/mediator") else body
        return body["items"] if isinstance(body, dict) and "items" in body else body

    def credentials(self, endpoint: str) -> tuple[str, str]:
        (found,) = [e for e in self.get("/endpoints?limit=1000") if e["name"] == endpoint]
        return found["properties"]["login"], found["properties"]["password"]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def actions(changes: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(action, kind, key) of each change, sorted."""
    return sorted((c["action"], c["kind"], c["key"]) for c in changes)
