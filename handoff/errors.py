"""One error type for the API so every failure has the documented JSON shape."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details or {}  # extra fields a client can act on (e.g. retry_after)

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, **self.details}}
