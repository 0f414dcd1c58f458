"""The app's data layer: the spec (functions/common/data_layer.json) and `apply`, which creates it.

    python scripts/data_layer.py apply [--spec PATH]

init-aws.sh runs `apply` on every `make up`; in host mode the launcher's ready.d hook calls
`run_in_localstack` inside LocalStack's interpreter instead. It needs only the standard library
and boto3, so LocalStack's own interpreter runs it (Docker: the image's venv), and so does the
project's .venv. Idempotent: an existing resource is kept ("exists"), an
idempotency TTL is enabled once, live inventory stock is never overwritten, and queues left
with other attributes are brought to the specified ones.

The spec ships with the functions' code (CodeUri functions/), so common/settings.py reads the
same file for its defaults; every name can be overridden by the env var the spec gives it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import service_warmup

# boto3 is imported by import_boto3() (Applier, main): `apply` first has LocalStack load the
# spec's services (warm_services) while this interpreter imports boto3 and makes its clients.
boto3: Any = None
TypeSerializer: Any = None
BotoCoreError: Any = None
ClientError: Any = None


def import_boto3() -> bool:
    """Import boto3 (once); False when this interpreter has none (main() names it)."""
    global boto3, TypeSerializer, BotoCoreError, ClientError
    if boto3 is None:
        try:
            import boto3 as boto3_module
            from boto3.dynamodb.types import TypeSerializer as serializer
            from botocore.exceptions import BotoCoreError as core_error
            from botocore.exceptions import ClientError as client_error
        except ImportError:
            return False
        boto3, TypeSerializer = boto3_module, serializer
        BotoCoreError, ClientError = core_error, client_error
    return True

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILE = ROOT / "functions" / "common" / "data_layer.json"
SECTIONS = ("tables", "buckets", "queues", "streams", "ses_identities")
Spec = dict[str, Any]


class ApplyError(Exception):
    """A resource could not be created for a reason no AWS call reported."""


# where run_in_localstack keeps the output too (the launcher shows it when init fails)
_log_copy: list[TextIO] = []


def log(msg: str) -> None:
    line = f"[data-layer] {msg}"
    print(line, file=sys.stderr, flush=True)
    for out in _log_copy:
        print(line, file=out, flush=True)


def load_spec(path: Path = SPEC_FILE) -> Spec:
    return json.loads(path.read_text())


def resources(spec: Spec) -> Iterator[dict[str, Any]]:
    for section in SECTIONS:
        yield from spec[section].values()


def names(spec: Spec | None = None, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Env var -> resource name (USERS_TABLE -> users), each overridable by that env var."""
    return {r["env"]: environ.get(r["env"]) or r["name"] for r in resources(spec or load_spec())}


def name(var: str) -> str:
    """One resource name by its env var (USERS_TABLE, IMAGES_BUCKET, ...)."""
    return names()[var]


def template_parameters(spec: Spec | None = None) -> dict[str, tuple[str, str]]:
    """template.yaml parameter -> (env var, "name" or "stream" for a table's stream ARN)."""
    found: dict[str, tuple[str, str]] = {}
    for r in resources(spec or load_spec()):
        if "parameter" in r:
            found[r["parameter"]] = (r["env"], "name")
        if "stream_parameter" in r:
            found[r["stream_parameter"]] = (r["env"], "stream")
    return found


def create_table_args(table: dict[str, Any], table_name: str) -> dict[str, Any]:
    """dynamodb.create_table keyword arguments for a table spec (string keys, on-demand)."""
    keys = [table["key"], *table.get("indexes", {}).values()]
    args: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": k, "AttributeType": "S"} for k in dict.fromkeys(keys)
        ],
        "KeySchema": [{"AttributeName": table["key"], "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table.get("indexes"):
        args["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, key in table["indexes"].items()
        ]
    if table.get("stream"):
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table["stream"]}
    return args


def redrive_policy(dlq_arn: str, max_receive_count: int) -> str:
    # the same compact JSON the CLI-based init script wrote, so existing queues compare equal
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    return json.dumps(policy, separators=(",", ":"))


def _code(error: Exception) -> str:
    return error.response["Error"]["Code"] if isinstance(error, ClientError) else ""


def _create(call: Callable[[], Any], *exists_codes: str) -> str:
    """Run a create call: "created", or "exists" when it answers one of `exists_codes`."""
    try:
        call()
        return "created"
    except ClientError as e:
        if _code(e) in exists_codes:
            return "exists"
        raise


class Applier:
    """Creates the spec's resources through boto3 clients from `client(service)`."""

    def __init__(self, spec: Spec, client: Callable[[str], Any],
                 environ: Mapping[str, str] = os.environ) -> None:
        import_boto3()
        self.spec = spec
        self.client = client
        self.names = names(spec, environ)
        self.queue_urls: dict[str, str] = {}

    def apply(self) -> int:
        """Create everything; returns how many resources failed (each one is logged).

        One after another: applied side by side (threads), LocalStack loaded the services
        concurrently and kept ~65 MB more RSS, for no time gained on 2 busy cores."""
        steps = [
            *((self.table, t) for t in self.spec["tables"].values()),
            *((self.bucket, b) for b in self.spec["buckets"].values()),
            # a dead-letter queue before the queues that redrive to it
            *((self.queue, q) for q in sorted(self.spec["queues"].values(),
                                              key=lambda q: "redrive" in q)),
            *((self.stream, s) for s in self.spec["streams"].values()),
            *((self.ses_identity, i) for i in self.spec["ses_identities"].values()),
        ]
        failed = 0
        for step, resource in steps:
            try:
                step(resource, self.names[resource["env"]])
            except (ClientError, BotoCoreError, ApplyError) as e:
                log(f"FAILED: {resource['env']}={self.names[resource['env']]}: {e}")
                failed += 1
        return failed

    def table(self, table: dict[str, Any], table_name: str) -> None:
        ddb = self.client("dynamodb")
        args = create_table_args(table, table_name)
        state = _create(lambda: ddb.create_table(**args), "ResourceInUseException")
        log(f"table {table_name}: {state}")
        if table.get("ttl"):
            self.enable_ttl(table_name, table["ttl"], state == "exists")
        if table.get("seed"):
            self.seed(table_name, table["key"], table["seed"], state == "created")

    def enable_ttl(self, table_name: str, attribute: str, existed: bool) -> None:
        ddb = self.client("dynamodb")
        status = ""
        if existed:  # enabling TTL twice is an error on AWS: an existing table is asked first
            ttl = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
            status = ttl.get("TimeToLiveStatus", "")
        if status not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
            )
        log(f"TTL on {table_name}.{attribute}: ENABLED")

    def seed(self, table_name: str, key: str, items: list[dict[str, Any]], created: bool) -> None:
        ddb = self.client("dynamodb")
        typed = [{k: TypeSerializer().serialize(v) for k, v in item.items()} for item in items]
        if created:  # a new table is empty: one batch write
            ddb.batch_write_item(
                RequestItems={table_name: [{"PutRequest": {"Item": i}} for i in typed]}
            )
        else:  # an existing table keeps its live stock: only missing items are added
            for item in typed:
                _create(lambda item=item: ddb.put_item(
                    TableName=table_name, Item=item,
                    ConditionExpression=f"attribute_not_exists({key})",
                ), "ConditionalCheckFailedException")
        log(f"{table_name} seeded")

    def bucket(self, bucket: dict[str, Any], bucket_name: str) -> None:
        s3 = self.client("s3")
        # us-east-1 answers 200 for a bucket you already own
        state = _create(lambda: s3.create_bucket(Bucket=bucket_name), "BucketAlreadyOwnedByYou")
        log(f"bucket {bucket_name}: {state}")

    def queue(self, queue: dict[str, Any], queue_name: str) -> None:
        """create_queue returns an existing queue only when its attributes are the same; one
        left with other values is brought to these, so every run converges."""
        sqs = self.client("sqs")
        attributes = dict(queue.get("attributes", {}))
        if redrive := queue.get("redrive"):
            dlq = self.spec["queues"][redrive["dead_letter_queue"]]
            dlq_url = self.queue_urls.get(dlq["env"])
            if dlq_url is None:
                raise ApplyError(f"its dead-letter queue {self.names[dlq['env']]} is missing")
            # a queue URL ends in <account>/<name>: the DLQ's ARN follows without another call
            account = dlq_url.rstrip("/").rsplit("/", 2)[-2]
            dlq_arn = f"arn:aws:sqs:{sqs.meta.region_name}:{account}:{self.names[dlq['env']]}"
            attributes["RedrivePolicy"] = redrive_policy(dlq_arn, redrive["max_receive_count"])
        try:
            url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
            log(f"queue {queue_name}: ok")
        except ClientError as e:
            if _code(e) not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
            url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
            log(f"queue {queue_name}: exists, updated to {attributes}")
        self.queue_urls[queue["env"]] = url

    def stream(self, stream: dict[str, Any], stream_name: str) -> None:
        kinesis = self.client("kinesis")
        state = _create(lambda: kinesis.create_stream(StreamName=stream_name,
                                                      ShardCount=stream["shards"]),
                        "ResourceInUseException")
        log(f"stream {stream_name}: {state}")

    def ses_identity(self, identity: dict[str, Any], address: str) -> None:
        self.client("ses").verify_email_identity(EmailAddress=address)
        log(f"SES sender {address} verified")


# One cheap request per service of the spec, sent in a thread before boto3 is imported: the
# first request of a service makes LocalStack load its provider (DynamoDB: also its moto server;
# a table's stream: Kinesis and the Kinesis mock, a Node process). Kinesis first: its mock then
# starts on the other core while LocalStack loads DynamoDB. section -> (signing name,
# X-Amz-Target or REST path, body, JSON version); as deploy.py's WARM_REQUESTS.
WARM_REQUESTS: dict[str, tuple[str, str, bytes, str]] = {
    "streams": ("kinesis", "Kinesis_20131202.ListStreams", b"{}", "1.1"),
    "tables": ("dynamodb", "DynamoDB_20120810.ListTables", b"{}", "1.0"),
    "buckets": ("s3", "/", b"", ""),
    "queues": ("sqs", "AmazonSQS.ListQueues", b"{}", "1.0"),
    "ses_identities": ("ses", "", b"Action=ListIdentities&Version=2010-12-01", ""),
}


def warm_services(spec: Spec, url: str) -> threading.Thread:
    """Have LocalStack load the services of the spec's sections, in the background."""
    requests = [WARM_REQUESTS[section] for section in WARM_REQUESTS if spec.get(section)]

    def warm_all() -> None:
        for request in requests:
            service_warmup.warm(url, *request)

    thread = threading.Thread(target=warm_all, name="warm-services", daemon=True)
    thread.start()
    return thread


def localstack_client_factory(url: str, region_name: str) -> Callable[[str], Any]:
    """boto3 clients for the endpoint `url`, one per service."""
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "test",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
        region_name=region_name,
    )
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        # one client per service: creating one costs ~50 ms of CPU (its model, its endpoints)
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=url)
        return clients[service]

    return client


def apply(spec: Spec, url: str, region_name: str, local: bool = True) -> int:
    """Create the spec's resources at `url`; 0 when all exist afterwards, else 1."""
    if local:
        warm_services(spec, url)
    if not import_boto3():
        log(f"boto3 is not installed for {sys.executable}: run this with LocalStack's "
            "interpreter (.localstack/venv/bin/python) or the project's .venv")
        return 1
    log(f"creating resources in {url}")
    failed = Applier(spec, localstack_client_factory(url, region_name)).apply()
    if failed:
        log(f"{failed} resource(s) could not be created (see above)")
        return 1
    log("done")
    return 0


def run_in_localstack(spec_path: Path, url: str, log_path: Path) -> int:
    """`apply` inside LocalStack's own interpreter: host mode's ready.d hook (a .py script
    LocalStack exec()s) calls this instead of running init-aws.sh. LocalStack has boto3 and
    botocore imported already; a python of its own for init-aws.sh cost ~0.6-0.9 CPU-s (start,
    boto3 and awscrt imports, clients) on 2 cores that LocalStack needs for the services the init
    loads. The output goes to LocalStack's log and to `log_path`, as init-aws.sh's did."""
    with open(log_path, "w", encoding="utf-8") as out:
        _log_copy.append(out)
        try:
            region_name = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
            return apply(load_spec(spec_path), url, region_name)
        except Exception as e:  # noqa: BLE001 -- reported like any failed resource
            log(f"FAILED: {type(e).__name__}: {e}")
            return 1
        finally:
            _log_copy.remove(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["apply"])
    ap.add_argument("--spec", type=Path, default=SPEC_FILE)
    args = ap.parse_args(argv)
    from endpoint import endpoint_url, is_local, region

    return apply(load_spec(args.spec), endpoint_url(), region(), local=is_local())


if __name__ == "__main__":
    sys.exit(main())
