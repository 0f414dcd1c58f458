"""Typed domain errors.

The class names are part of the contract: Step Functions catches Lambda errors by their
`errorType`, which is the exception class name (ValidationError, PaymentError, InventoryError).
Messages are written by us for callers; never put a raw exception text into them.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class; `http_status` is what the API answers when a route raises it."""

    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequestError(DomainError):
    http_status = 400


class NotFoundError(DomainError):
    http_status = 404


class ConflictError(DomainError):
    http_status = 409


class ServiceUnavailableError(DomainError):
    http_status = 503


class OrderNotFoundError(NotFoundError):
    """The order a message or saga step refers to does not exist."""


# Saga errors: Step Functions Catch clauses match these exact names.
class ValidationError(DomainError):
    http_status = 400


class PaymentError(DomainError):
    http_status = 402


class InventoryError(DomainError):
    http_status = 409
