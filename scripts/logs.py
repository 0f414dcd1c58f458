"""Print a function's CloudWatch log events (/aws/lambda/<name>).

    .venv/bin/python scripts/logs.py FN [-n 50] [--since 60] [-f]

FN is a logical id of the stack, a function name or an ARN. Shows the newest N events (oldest
first, so the latest is at the bottom); -f keeps polling for new ones until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from endpoint import check_endpoint
from stack import client, resolve_function_name


def fetch(group: str, start_ms: int | None, limit: int) -> list[dict]:
    """The newest `limit` events after start_ms, oldest first."""
    logs = client("logs")
    kwargs: dict = {"logGroupName": group, "interleaved": True}
    if start_ms is not None:
        kwargs["startTime"] = start_ms
    events: list[dict] = []
    paginator = logs.get_paginator("filter_log_events")
    for page in paginator.paginate(**kwargs):
        events.extend(page.get("events", []))
    events.sort(key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))
    return events[-limit:] if limit else events


def show(event: dict) -> None:
    ts = datetime.fromtimestamp(event["timestamp"] / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
    print(f"{ts} {event['message'].rstrip()}", flush=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fn")
    ap.add_argument("-n", "--lines", type=int, default=50, help="newest N events (0: all)")
    ap.add_argument("--since", type=float, default=None, help="only the last N minutes")
    ap.add_argument("-f", "--follow", action="store_true", help="keep polling for new events")
    args = ap.parse_args(argv)
    if not args.fn:
        ap.print_usage(sys.stderr)
        return 2

    if problem := check_endpoint():
        print(problem, file=sys.stderr)
        return 1
    name = resolve_function_name(args.fn)
    group = f"/aws/lambda/{name.split(':')[-1] if name.startswith('arn:') else name}"
    start = int((time.time() - args.since * 60) * 1000) if args.since else None
    try:
        every = fetch(group, start, 0)
    except ClientError as e:
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            print(f"no log group {group} (has {args.fn} run yet?)", file=sys.stderr)
            return 1
        raise
    events = every[-args.lines :] if args.lines else every
    for e in events:
        show(e)
    if not events:
        print(f"{group}: no events", file=sys.stderr)
    if args.follow:
        # follow mode must not print older ones later
        follow(group, {e["eventId"] for e in every},
               events[-1]["timestamp"] if events else int(time.time() * 1000))
    return 0


def follow(group: str, seen: set[str], last: int) -> None:
    """Print new events once a second until Ctrl-C."""
    try:
        while True:
            time.sleep(1)
            for e in fetch(group, last, 0):
                if e["eventId"] not in seen:
                    seen.add(e["eventId"])
                    show(e)
                    last = max(last, e["timestamp"])
    except KeyboardInterrupt:
        return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
