"""One error base for Backroom; adapters translate third-party exceptions into these."""

from __future__ import annotations


class BackroomError(Exception):
    """Base error. message says what was wrong, with which value, and what to do."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_dict(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class ConfigError(BackroomError):
    code = "config"


class ValidationError(BackroomError):
    code = "invalid"
    status = 400


class UnprocessableError(BackroomError):
    code = "unprocessable"
    status = 422


class NotFound(BackroomError):
    code = "not_found"
    status = 404


class Conflict(BackroomError):
    code = "conflict"
    status = 409


class Unauthorized(BackroomError):
    code = "unauthorized"
    status = 401


class Forbidden(BackroomError):
    code = "forbidden"
    status = 403
