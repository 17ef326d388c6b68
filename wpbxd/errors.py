"""Errors a user can meet: each carries a message meant for a person.

They are raised by the service functions (validation, store writes) and caught at
the edges — the control socket, the web forms, the consoles — which show
``str(error)``. Nothing here knows about those edges.
"""


class UserError(Exception):
    """Something the user asked for cannot be done; the message says why."""


class ValidationError(UserError):
    """A value is invalid. ``field`` names the input it belongs to, when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class NotFound(UserError):
    """The named thing does not exist."""


class Conflict(UserError):
    """The write would break a uniqueness rule (extension, email, name...)."""
