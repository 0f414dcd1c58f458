"""Exercise every flow of the deployed app once and print a one-line summary per flow.

    .venv/bin/python scripts/demo.py          (make demo: make up + make deploy-local + this)

Drives the real triggers (HTTP to the API, S3 put, SQS via POST /orders, Step Functions via the
checkout route, the scheduled cleanup invoked on demand, Kinesis put) and waits for each visible
effect with a deadline. Flows run concurrently; exit status 1 if any flow failed.
"""

from __future__ import annotations

import io
import json
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

import data_layer
import stack as st
from endpoint import check_endpoint
from polling import wait_until
from stack import client, http, mails_to

OK, FAIL = "\u2714", "\u2718"


class Demo:
    def __init__(self) -> None:
        self.outputs = st.load_outputs()
        self.api = self.outputs["ApiUrl"].rstrip("/")
        self.run = uuid.uuid4().hex[:8]
        self.functions = st.stack_functions()
        # what the flows created, removed after all of them (also when a flow failed)
        self.leftovers: list[tuple[str, dict[str, Any]]] = []

    def name(self, var: str) -> str:
        return data_layer.name(var)

    def function(self, prefix: str) -> str:
        matches = [v for k, v in self.functions.items() if k.startswith(prefix)]
        if len(matches) != 1:
            raise AssertionError(f"no single function {prefix}* in {sorted(self.functions)}")
        return matches[0]

    def forget(self, table_var: str, key: dict[str, Any]) -> None:
        """Delete this item from the table (by data-layer variable) when the demo ends."""
        self.leftovers.append((table_var, key))

    def clean_up(self) -> int:
        """Delete what the flows left; returns how many deletes failed."""
        failed = 0
        for table_var, key in self.leftovers:
            try:
                client("dynamodb").delete_item(TableName=self.name(table_var), Key=key)
            except ClientError:
                failed += 1
        return failed

    def email(self, label: str) -> str:
        return f"demo-{label}-{self.run}@example.com"

    # --- users ------------------------------------------------------------------------------

    def users_api(self) -> str:
        email = self.email("user")
        status, user = http("POST", f"{self.api}/users", {"email": email, "name": "Demo User"})
        assert status == 201, f"POST /users -> {status} {user}"
        self._forget_user(user["user_id"])
        status, dup = http("POST", f"{self.api}/users", {"email": email, "name": "Again"})
        assert status == 409, f"duplicate -> {status} {dup}"
        status, bad = http("POST", f"{self.api}/users", raw=b'{"email": "nope"')
        assert status == 400, f"malformed -> {status} {bad}"
        status, bad2 = http("POST", f"{self.api}/users", {"email": "not-an-email", "name": "X"})
        assert status == 400, f"bad email -> {status} {bad2}"
        status, got = http("GET", f"{self.api}/users/{user['user_id']}")
        assert status == 200 and got["email"] == email, f"GET -> {status} {got}"
        status, missing = http("GET", f"{self.api}/users/does-not-exist-{self.run}")
        assert status == 404, f"GET unknown -> {status} {missing}"
        status, page = http("GET", f"{self.api}/users?limit=2")
        assert status == 200 and len(page["users"]) <= 2, f"list -> {status} {page}"
        more = "more pages" if page.get("next") else "last page"
        return (
            f"201 created, 409 duplicate, 400 bad input, 200/404 get, "
            f"list limit=2 -> {page['count']} users, {more}"
        )

    def welcome_email(self) -> str:
        email = self.email("welcome")
        status, user = http("POST", f"{self.api}/users", {"email": email, "name": "Welcome Me"})
        assert status == 201, f"POST /users -> {status} {user}"
        self._forget_user(user["user_id"])

        def mailed():
            mails = mails_to(email)
            assert mails, f"no mail to {email} yet"
            return mails

        mails = wait_until(mailed, timeout=30, what="welcome mail")
        return f"stream -> SES mail to {email}: {mails[0]['Subject']!r}"

    def cleanup_job(self) -> str:
        ddb = client("dynamodb")
        table = self.name("USERS_TABLE")
        old = (datetime.now(UTC) - timedelta(days=800)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        new = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        stale, active = f"demo-stale-{self.run}", f"demo-active-{self.run}"
        for uid, ts in ((stale, old), (active, new)):
            self._forget_user(uid)
            ddb.put_item(
                TableName=table,
                Item={
                    "user_id": {"S": uid},
                    "email": {"S": f"{uid}@example.com"},
                    "name": {"S": "Demo"},
                    "created_at": {"S": ts},
                    "last_active_at": {"S": ts},
                },
            )
        resp = client("lambda").invoke(
            FunctionName=self.function("CleanupInactive"),
            Payload=json.dumps({"source": "aws.events", "detail-type": "Scheduled Event"}),
        )
        payload = json.loads(resp["Payload"].read() or b"null")
        assert "FunctionError" not in resp, payload
        stale_gone = "Item" not in ddb.get_item(TableName=table, Key={"user_id": {"S": stale}})
        active_kept = "Item" in ddb.get_item(TableName=table, Key={"user_id": {"S": active}})
        assert stale_gone and active_kept, f"stale gone={stale_gone} active kept={active_kept}"
        return f"stale user deleted, active user kept (run summary {payload})"

    def _forget_user(self, user_id: str) -> None:
        self.forget("USERS_TABLE", {"user_id": {"S": user_id}})

    # --- images -----------------------------------------------------------------------------

    def thumbnail(self) -> str:
        from PIL import Image

        s3 = client("s3")
        bucket = self.name("IMAGES_BUCKET")
        buf = io.BytesIO()
        Image.new("RGB", (1024, 768), (30, 120, 200)).save(buf, "PNG")
        key = f"uploads/demo-{self.run}/photo one.png"
        target = f"thumbnails/demo-{self.run}/photo one.jpg"
        s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue(), ContentType="image/png")

        def made():
            try:
                return s3.get_object(Bucket=bucket, Key=target)["Body"].read()
            except ClientError as e:
                raise AssertionError(f"no {target} yet") from e

        body = wait_until(made, timeout=30, what="thumbnail")
        with Image.open(io.BytesIO(body)) as img:
            size = img.size
        assert size[0] <= 200 and size[1] <= 200, size
        for k in (key, target):
            s3.delete_object(Bucket=bucket, Key=k)
        return f"s3://{bucket}/{key} (1024x768) -> {target} {size[0]}x{size[1]}"

    # --- orders -----------------------------------------------------------------------------

    def _order(self, label: str, sku: str = "SKU-1", card: str = "tok_visa") -> dict[str, Any]:
        body = {
            "customer_email": self.email(label),
            "items": [{"sku": sku, "quantity": 1, "unit_price_cents": 1999}],
            "card": card,
        }
        status, order = http("POST", f"{self.api}/orders", body)
        assert status == 201, f"POST /orders -> {status} {order}"
        self.forget("ORDERS_TABLE", {"order_id": {"S": order["order_id"]}})
        return order

    def _order_state(self, order_id: str) -> dict[str, Any]:
        status, order = http("GET", f"{self.api}/orders/{order_id}")
        assert status == 200, f"GET /orders/{order_id} -> {status} {order}"
        return order

    def order_queue(self) -> str:
        order = self._order("queue")
        assert order["status"] == "PENDING", order
        email = order["customer_email"]

        def processing():
            state = self._order_state(order["order_id"])
            assert state["status"] == "PROCESSING", state["status"]
            assert mails_to(email), "no order mail yet"
            return state

        wait_until(processing, timeout=30, what="order PROCESSING")
        return f"order {order['order_id'][:8]} PENDING -> queue -> PROCESSING, mail to {email}"

    def _saga(self, label: str, sku: str, card: str, expect: str) -> tuple[dict, dict]:
        order = self._order(label, sku=sku, card=card)
        order_id = order["order_id"]
        status, started = http("POST", f"{self.api}/orders/{order_id}/checkout")
        assert status == 202, f"checkout -> {status} {started}"
        sfn = client("stepfunctions")

        def finished():
            desc = sfn.describe_execution(executionArn=started["execution_arn"])
            assert desc["status"] not in ("RUNNING", "PENDING_REDRIVE"), desc["status"]
            return desc

        desc = wait_until(finished, timeout=60, interval=0.5, what=f"saga {label}")
        state = self._order_state(order_id)
        assert desc["status"] == expect, f"execution {desc['status']}, order {state}"
        return desc, state

    def saga_success(self) -> str:
        _, state = self._saga("saga-ok", "SKU-1", "tok_visa", "SUCCEEDED")
        assert state["status"] == "COMPLETED", state
        payment = state.get("payment", {})
        assert payment.get("status") == "CHARGED", payment
        return f"SUCCEEDED, order COMPLETED, payment {payment.get('status')}"

    def saga_validation(self) -> str:
        _, state = self._saga("saga-invalid", f"SKU-NOPE-{self.run}", "tok_visa", "FAILED")
        assert state["status"] == "FAILED", state
        assert "payment" not in state, state
        return f"FAILED at validation, order FAILED ({state.get('failure_reason')}), no charge"

    def saga_payment(self) -> str:
        _, state = self._saga("saga-declined", "SKU-1", "declined", "FAILED")
        assert state["status"] == "FAILED", state
        charged = (state.get("payment") or {}).get("status") == "CHARGED"
        assert not charged, state
        return f"FAILED at payment -> refund step, order FAILED ({state.get('failure_reason')})"

    def saga_out_of_stock(self) -> str:
        _, state = self._saga("saga-oos", "SKU-OUT", "tok_visa", "FAILED")
        assert state["status"] == "FAILED", state
        payment = state.get("payment") or {}
        assert payment.get("status") == "REFUNDED", payment
        return (
            f"FAILED at inventory, payment REFUNDED, order FAILED ({state.get('failure_reason')})"
        )

    # --- streams ----------------------------------------------------------------------------

    def kinesis_archive(self) -> str:
        kinesis, s3 = client("kinesis"), client("s3")
        bucket = self.name("ARCHIVE_BUCKET")
        marker = f"demo-{self.run}"
        resp = kinesis.put_records(
            StreamName=self.name("EVENTS_STREAM"),
            Records=[
                {"Data": json.dumps({"demo": marker, "n": n}).encode(), "PartitionKey": marker}
                for n in range(3)
            ],
        )
        seqs = {r["SequenceNumber"] for r in resp["Records"]}
        seen: set[str] = set()  # objects already read that hold none of ours

        def archived():
            found: dict[str, int] = {}
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/")
            for obj in (o for p in pages for o in p.get("Contents", [])):
                if obj["Key"] in seen:
                    continue
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
                n = sum(json.loads(ln)["sequence_number"] in seqs for ln in body.splitlines())
                if n:
                    found[obj["Key"]] = n
                else:
                    seen.add(obj["Key"])
            assert sum(found.values()) == len(seqs), f"{sum(found.values())}/{len(seqs)} archived"
            return found

        found = wait_until(archived, timeout=45, interval=0.5, what="archive")
        for key in found:
            s3.delete_object(Bucket=bucket, Key=key)
        return f"{len(seqs)} records -> {len(found)} object(s) in s3://{bucket}/events/..."


FLOWS: list[tuple[str, str]] = [
    ("users API (create/dup/bad/get/list)", "users_api"),
    ("welcome email (DynamoDB stream -> SES)", "welcome_email"),
    ("thumbnail (S3 upload -> Lambda)", "thumbnail"),
    ("order -> queue -> PROCESSING + email", "order_queue"),
    ("saga: success", "saga_success"),
    ("saga: validation failure", "saga_validation"),
    ("saga: payment failure (refund)", "saga_payment"),
    ("saga: out of stock (refund)", "saga_out_of_stock"),
    ("scheduled cleanup (on demand)", "cleanup_job"),
    ("Kinesis -> S3 archive", "kinesis_archive"),
]


def run_flow(demo: Demo, method: str) -> tuple[bool, str, float]:
    started = time.monotonic()
    try:
        evidence = getattr(demo, method)()
        return True, evidence, time.monotonic() - started
    except Exception as e:  # every failure is reported, the other flows keep running
        detail = f"{type(e).__name__}: {e}"
        if not isinstance(e, AssertionError | TimeoutError):
            detail += "\n" + "".join(traceback.format_exception(e)[-3:])
        return False, detail, time.monotonic() - started


def main() -> int:
    if problem := check_endpoint():
        print(problem, file=sys.stderr)
        return 1
    try:
        demo = Demo()
    except (ClientError, KeyError, OSError) as e:
        print(
            f"cannot read the stack outputs ({e}); run `make deploy-local` first", file=sys.stderr
        )
        return 1
    print(f"demo run {demo.run} against {demo.api}")
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(FLOWS)) as pool:
        futures: list[tuple[str, Callable]] = [
            (title, pool.submit(run_flow, demo, method)) for title, method in FLOWS
        ]
        results = [(title, fut.result()) for title, fut in futures]
    failed = 0
    for title, (ok, evidence, seconds) in results:
        failed += not ok
        print(f" {OK if ok else FAIL} {title:<40} {seconds:5.1f}s  {evidence}")
    total = time.monotonic() - t0
    print(f"{len(FLOWS) - failed}/{len(FLOWS)} flows passed in {total:.1f}s")
    if undeleted := demo.clean_up():
        print(f"{undeleted} demo item(s) could not be deleted", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
