"""The deployed app's event flows, each timed from its trigger to its visible effect.

Every sample starts after `idle_seconds` of quiet plus up to JITTER_S more, so pollers (SQS long
poll, stream shards) are in their idle state, as for a developer's first request after a pause,
and each trigger lands at a random phase of any fixed poll cycle (without the jitter a loop of
sleep, trigger, wait locks onto one phase of a 1 s poll). Effects are polled
every POLL_S on the cheapest read that shows them (DynamoDB GetItem, S3 HeadObject, the SES
mailbox), so a sample is late by at most one poll interval plus one read.
"""

from __future__ import annotations

import io
import json
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from botocore.exceptions import ClientError

import data_layer
import demo
import stack as st
from polling import wait_until

POLL_S = 0.02
JITTER_S = 1.0
TIMEOUT_S = 30.0


def _timed_until(trigger: Callable[[], object], probe: Callable[[], object], what: str) -> float:
    """ms from just before `trigger()` to the first truthy, non-asserting `probe()`."""
    started = time.perf_counter()
    trigger()
    wait_until(probe, timeout=TIMEOUT_S, interval=POLL_S, what=what)
    return (time.perf_counter() - started) * 1000


class Flows:
    def __init__(self, idle_seconds: float) -> None:
        self.idle = idle_seconds
        self.outputs = st.load_outputs()
        self.api = self.outputs["ApiUrl"].rstrip("/")
        self.run = uuid.uuid4().hex[:8]

    def _quiet(self) -> None:
        time.sleep(self.idle + random.uniform(0, JITTER_S))

    def _email(self, label: str) -> str:
        return f"bench-{label}-{uuid.uuid4().hex[:10]}@example.com"

    def _post_order(self) -> dict:
        body = {
            "customer_email": self._email("order"),
            "items": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 1999}],
            "card": "tok_visa",
        }
        status, order = st.http("POST", f"{self.api}/orders", body)
        assert status == 201, f"POST /orders -> {status} {order}"
        return order

    def order_processing(self) -> float:
        """POST /orders -> the SQS consumer set the order PROCESSING."""
        ddb, table = st.client("dynamodb"), data_layer.name("ORDERS_TABLE")
        self._quiet()
        order: dict = {}

        def processing() -> bool:
            item = ddb.get_item(TableName=table, Key={"order_id": {"S": order["order_id"]}})
            status = item.get("Item", {}).get("status", {}).get("S")
            assert status == "PROCESSING", f"order status {status}"
            return True

        return _timed_until(lambda: order.update(self._post_order()), processing, "PROCESSING")

    def saga(self) -> float:
        """POST /orders/{id}/checkout -> the Step Functions execution finished (SUCCEEDED)."""
        sfn = st.client("stepfunctions")
        order = self._post_order()
        self._quiet()
        started: dict = {}

        def checkout() -> None:
            status, body = st.http("POST", f"{self.api}/orders/{order['order_id']}/checkout")
            assert status == 202, f"checkout -> {status} {body}"
            started.update(body)

        def finished() -> bool:
            desc = sfn.describe_execution(executionArn=started["execution_arn"])
            assert desc["status"] not in ("RUNNING", "PENDING_REDRIVE"), desc["status"]
            if desc["status"] != "SUCCEEDED":
                raise RuntimeError(f"saga ended {desc['status']}: {desc.get('cause')}")
            return True

        return _timed_until(checkout, finished, "saga finished")

    def thumbnail(self) -> float:
        """S3 put to uploads/ -> thumbnails/<same>.jpg exists."""
        from PIL import Image

        s3, bucket = st.client("s3"), data_layer.name("IMAGES_BUCKET")
        buf = io.BytesIO()
        Image.new("RGB", (1024, 768), (30, 120, 200)).save(buf, "PNG")
        name = f"bench-{self.run}/{uuid.uuid4().hex[:8]}"
        key, target = f"uploads/{name}.png", f"thumbnails/{name}.jpg"
        self._quiet()

        def made() -> bool:
            try:
                s3.head_object(Bucket=bucket, Key=target)
            except ClientError as e:
                raise AssertionError(f"no {target} yet") from e
            return True

        ms = _timed_until(
            lambda: s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue(),
                                  ContentType="image/png"),
            made, "thumbnail",
        )
        for k in (key, target):
            s3.delete_object(Bucket=bucket, Key=k)
        return ms

    def welcome_mail(self) -> float:
        """A user inserted into the users table -> stream -> the welcome mail in SES."""
        ddb, table = st.client("dynamodb"), data_layer.name("USERS_TABLE")
        email, uid = self._email("welcome"), f"bench-{uuid.uuid4().hex[:12]}"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        item = {"user_id": {"S": uid}, "email": {"S": email}, "name": {"S": "Bench"},
                "created_at": {"S": now}, "last_active_at": {"S": now}}
        # the mailbox is read whole on every poll: start it empty (the bench owns this LocalStack)
        st.http("DELETE", f"{st.endpoint_url()}/_aws/ses")
        self._quiet()

        def mailed() -> bool:
            assert st.mails_to(email), f"no mail to {email} yet"
            return True

        ms = _timed_until(lambda: ddb.put_item(TableName=table, Item=item), mailed, "mail")
        ddb.delete_item(TableName=table, Key={"user_id": {"S": uid}})
        return ms

    def kinesis_archive(self) -> float:
        """A Kinesis record -> its line in an archive object under events/."""
        kinesis, s3 = st.client("kinesis"), st.client("s3")
        bucket = data_layer.name("ARCHIVE_BUCKET")
        marker = f"bench-{uuid.uuid4().hex[:10]}"
        self._quiet()
        sent: dict = {}

        def put() -> None:
            sent.update(kinesis.put_record(
                StreamName=data_layer.name("EVENTS_STREAM"),
                Data=json.dumps({"bench": marker}).encode(), PartitionKey=marker,
            ))

        found: list[str] = []

        def archived() -> bool:
            listing = s3.list_objects_v2(Bucket=bucket, Prefix="events/")
            for obj in listing.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
                if sent["SequenceNumber"] in body:
                    found.append(obj["Key"])
            assert found, "not archived yet"
            return True

        ms = _timed_until(put, archived, "archive")
        for key in found:  # the prefix stays small, so every poll lists little
            s3.delete_object(Bucket=bucket, Key=key)
        return ms


FLOWS: dict[str, str] = {
    "order_processing": "POST /orders -> PROCESSING (SQS)",
    "saga": "checkout -> saga finished (Step Functions)",
    "thumbnail": "S3 upload -> thumbnail",
    "welcome_mail": "user insert -> welcome mail (stream, SES)",
    "kinesis_archive": "Kinesis put -> archive",
}


def measure_flows(idle_seconds: float, samples: int, log: Callable[[str], None]) -> dict:
    """`samples` timed runs of each flow (ms), one flow after the other; failures counted."""
    flows = Flows(idle_seconds)
    flows.order_processing()  # first of each flow warms its functions: not a sample
    flows.saga()
    flows.thumbnail()
    flows.welcome_mail()
    flows.kinesis_archive()
    result: dict = {}
    for method, title in FLOWS.items():
        times, errors = [], []
        for _ in range(samples):
            try:
                times.append(getattr(flows, method)())
            except (AssertionError, TimeoutError, RuntimeError, ClientError) as e:
                errors.append(f"{type(e).__name__}: {e}")
        log(f"{title}: {len(times)} samples, {len(errors)} failed")
        result[method] = {"title": title, "samples_ms": times, "errors": errors}
    return result


def run_demo() -> dict:
    """Every flow of scripts/demo.py once, concurrently, as `make demo` runs them."""
    d = demo.Demo()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(demo.FLOWS)) as pool:
        results = list(pool.map(lambda f: (f[0], demo.run_flow(d, f[1])), demo.FLOWS))
    d.clean_up()
    failed = [title for title, (ok, _, _) in results if not ok]
    return {"seconds": time.monotonic() - started, "flows": len(results), "failed": failed}
