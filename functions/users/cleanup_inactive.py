"""Scheduled (EventBridge, `CleanupSchedule`): delete users inactive for INACTIVE_AFTER_DAYS.

A user's activity is `last_active_at`, or `created_at` for items without one. Each delete is
conditional on the user still being inactive. Invoke it directly with a scheduled-event payload
(tests/events/scheduled_cleanup.json) to run it on demand; the payload's content is ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.aws import table
from common.clock import to_iso
from common.settings import SETTINGS
from users import repository

logger = Logger()
users_table = table(SETTINGS.users_table)

# Stop early rather than be killed mid-run; the next run picks up the rest.
SAFETY_MARGIN_MS = 10_000


def cleanup(
    users: Any,
    inactive_after_days: int,
    now: datetime | None = None,
    time_left_ms: Any = None,
) -> dict[str, Any]:
    cutoff = to_iso((now or datetime.now(UTC)) - timedelta(days=inactive_after_days))
    deleted: list[str] = []
    skipped = 0
    finished = True
    for user_id in repository.inactive_user_ids(users, cutoff):
        if time_left_ms is not None and time_left_ms() < SAFETY_MARGIN_MS:
            finished = False
            break
        if repository.delete_if_inactive(users, user_id, cutoff):
            deleted.append(user_id)
        else:
            skipped += 1
    summary = {"cutoff": cutoff, "deleted": len(deleted), "skipped": skipped, "finished": finished}
    logger.info("inactive users cleaned up", extra={**summary, "deleted_user_ids": deleted})
    return summary


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.info(
        "cleanup triggered", extra={"source": event.get("source"), "time": event.get("time")}
    )
    return cleanup(
        users_table,
        SETTINGS.inactive_after_days,
        time_left_ms=context.get_remaining_time_in_millis,
    )
