"""The newsletter's queue jobs and periodic tasks (``assistant.jobs``): sending issues in batches, resuming
what a killed worker left, and the re-permission e-mails after 3 years of inactivity."""

from __future__ import annotations

import logging

from ..jobs import job, periodic

log = logging.getLogger(__name__)


@job("newsletter.prepare_sends")
def prepare_sends(services, issue_id: int) -> int:
    """Write the issue's send records (one per recipient, once) and queue its batches."""
    n = services.newsletter.prepare_sends(issue_id)
    log.info("newsletter issue %s: %s sends prepared", issue_id, n)
    return n


@job("newsletter.send_batch")
def send_batch(services, issue_id: int, send_ids: list[int]) -> dict:
    """Send one batch of an issue (rows already sent or claimed elsewhere are skipped)."""
    counts = services.newsletter.send_batch(issue_id, send_ids)
    log.info("newsletter issue %s batch: %s", issue_id, dict(counts))
    return dict(counts)


@periodic("newsletter.resume", every=60)
def resume(services) -> int:
    """Re-queue sends a killed worker left claimed, and failed attempts whose retry is due."""
    return services.newsletter.resume()


@periodic("newsletter.repermission", every=86400)
def repermission(services) -> int:
    """Ask subscribers inactive for 3 years whether they still want the newsletter."""
    return services.newsletter.ask_repermission()
