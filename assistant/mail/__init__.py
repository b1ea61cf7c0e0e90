"""E-mail: the outbox table, the Mailer (``services.mailer``) and its SMTP or .eml transports."""

from .outbox import Email, Mailer

__all__ = ["Email", "Mailer"]
