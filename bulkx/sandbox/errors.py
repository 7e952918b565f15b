"""The one error type the sandbox raises, rendered in the documented error shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bulkx.sandbox import assumptions


@dataclass(frozen=True)
class FieldError:
    field: str | None
    message: str
    reference_sid: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "reference_sid": self.reference_sid}


@dataclass
class ErrorAnswer(Exception):
    """An HTTP error answer: `status`, a top-level message and per-field errors."""

    status: int
    message: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.message is None:
            self.message = assumptions.MESSAGE_BY_STATUS.get(self.status, "error")

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "errors": [e.as_dict() for e in self.errors]}

    def __str__(self) -> str:
        details = "; ".join(
            f"{e.field}: {e.message}" if e.field else e.message for e in self.errors
        )
        return f"{self.status} {self.message}" + (f" ({details})" if details else "")


def bad_request(message: str, field_name: str | None = None) -> ErrorAnswer:
    return ErrorAnswer(400, message, [FieldError(field_name, message)])


def not_found(what: str = "item", sid: str | None = None) -> ErrorAnswer:
    """The documented 404 body ("no item error" / "cannot find item by sid"); `what` is kept
    for callers' readability. The sid not found is named in reference_sid
    (assumptions.NOT_FOUND_NAMES_SID)."""
    del what
    return ErrorAnswer(
        404,
        assumptions.MESSAGE_BY_STATUS[404],
        [FieldError(None, assumptions.NOT_FOUND_ITEM_MESSAGE, sid)],
    )


def conflict(message: str, field_name: str | None = None, sid: str | None = None) -> ErrorAnswer:
    return ErrorAnswer(409, message, [FieldError(field_name, message, sid)])


def invalid(errors: list[FieldError]) -> ErrorAnswer:
    return ErrorAnswer(422, assumptions.MESSAGE_BY_STATUS[422], errors)
