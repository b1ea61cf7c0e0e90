"""The mail jobs: deliver one queued message; deliver whatever is pending (every minute)."""

from __future__ import annotations

from ..jobs import job, periodic


@job("mail.deliver")
def deliver(services, outbox_id: int) -> bool:
    """Send one outbox message (queued by ``Mailer.queue`` once its transaction committed)."""
    return services.mailer.deliver(outbox_id)


@periodic("mail.deliver_pending", every=60)
def deliver_pending(services) -> int:
    """Retry messages whose delivery failed or was never queued (Redis down), when their time has come."""
    return services.mailer.deliver_pending()
