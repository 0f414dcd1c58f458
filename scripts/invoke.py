"""Invoke a deployed function with an event file and show its result and log tail.

    .venv/bin/python scripts/invoke.py FN [EVENT_FILE]

FN is a logical id of the stack (CreateUserFunction, or CreateUser), a function name or an ARN.
EVENT_FILE defaults to `{}`. Exits 1 when the function raised (FunctionError), 2 on usage errors.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from botocore.exceptions import ClientError

from endpoint import check_endpoint
from stack import client, resolve_function_name, stack_functions


def main(argv: list[str]) -> int:
    if not argv or not argv[0]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    fn = argv[0]
    event_arg = argv[1] if len(argv) > 1 else ""
    if event_arg:
        path = Path(event_arg)
        if not path.is_file():
            print(f"no event file {event_arg}", file=sys.stderr)
            return 2
        payload = path.read_bytes()
        try:
            json.loads(payload)
        except ValueError as e:
            print(f"{event_arg} is not JSON: {e}", file=sys.stderr)
            return 2
    else:
        payload = b"{}"

    if problem := check_endpoint():
        print(problem, file=sys.stderr)
        return 1
    name = resolve_function_name(fn)
    try:
        resp = client("lambda", read_timeout=905).invoke(
            FunctionName=name, Payload=payload, LogType="Tail"
        )
    except ClientError as e:
        print(f"cannot invoke {fn}: {e}", file=sys.stderr)
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            try:
                known = ", ".join(sorted(stack_functions()))
                print(f"functions in the stack: {known}", file=sys.stderr)
            except ClientError:
                pass
        return 2

    tail = base64.b64decode(resp.get("LogResult", "")).decode("utf-8", "replace")
    if tail:
        print(f"--- log tail ({name}) ---", file=sys.stderr)
        print(tail.rstrip(), file=sys.stderr)
        print("---", file=sys.stderr)
    body = resp["Payload"].read().decode("utf-8", "replace")
    try:
        print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
    except ValueError:
        print(body)
    if resp.get("FunctionError"):
        print(f"{name} failed ({resp['FunctionError']})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
