"""DynamoDB without Java: LocalStack's own DynamoDB provider on a moto server backend.

LocalStack's provider forwards every DynamoDB request over HTTP to a DynamoDB Local (Java)
server and does streams, TTL bookkeeping and ARN rewriting itself. This module keeps that
provider and swaps only the backend for ``python -m moto.server`` from the same virtualenv.

Selected with ``PROVIDER_OVERRIDE_DYNAMODB=moto`` (entry point ``dynamodb:moto`` in the
``localstack.aws.provider`` namespace, see plugins/pyproject.toml).

Lifetime: the moto process is spawned by a long-lived thread (PR_SET_PDEATHSIG fires when the
spawning *thread* exits), in LocalStack's own process group (so ``hostmode.py down`` reaches it
with one killpg), with PR_SET_PDEATHSIG so it also dies if LocalStack is SIGKILLed, and it is
terminated by the provider's shutdown hooks.

Limits: moto keeps tables in memory only (PERSISTENCE does not cover DynamoDB here), and all
LocalStack accounts share moto's single account (regions stay separate).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from localstack.aws.api import RequestContext
from localstack.aws.api.dynamodb import (
    CreateTableInput,
    CreateTableOutput,
    DescribeTableOutput,
    IdempotentParameterMismatchException,
    TableName,
    TransactWriteItemsInput,
    TransactWriteItemsOutput,
    UpdateTableInput,
    UpdateTableOutput,
)
from localstack.aws.forwarder import ForwardingFallbackDispatcher, get_request_forwarder_http
from localstack.runtime import events
from localstack.services.dynamodb.provider import DynamoDBProvider
from localstack.services.dynamodb.server import DynamodbServer
from localstack.services.dynamodbstreams import dynamodbstreams_api
from localstack.services.plugins import Service, aws_provider
from localstack.utils.net import get_free_tcp_port
from localstack.utils.threads import TMP_THREADS, FuncThread

LOG = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# moto's server answers in well under a second here; a crash loop must not spin.
_MAX_RESTARTS = 5
_START_TIMEOUT_S = 30.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:  # not Linux: the process group and shutdown hooks still apply
        pass


class MotoDynamodbServer(DynamodbServer):
    """A ``DynamodbServer`` whose backend is ``moto.server`` instead of DynamoDB Local."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        super().__init__(port=port or get_free_tcp_port(), host=host)
        # moto is in-memory; no DynamoDB Local db path
        self.db_path = None
        self._process: subprocess.Popen | None = None
        self._process_ready = threading.Event()
        self._stopping = threading.Event()

    @staticmethod
    def get() -> MotoDynamodbServer:
        global _SERVER
        with _SERVER_LOCK:
            if _SERVER is None:
                _SERVER = MotoDynamodbServer()
            return _SERVER

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                # what LocalStack's DEFAULT_AWS_ACCOUNT_ID is; unknown access keys map to it
                "MOTO_ACCOUNT_ID": "000000000000",
                "PYTHONUNBUFFERED": "1",
            }
        )
        # our gateway's own settings mean nothing to moto's flask app
        for key in ("GATEWAY_LISTEN", "GATEWAY_SERVER"):
            env.pop(key, None)
        return env

    def _write_state(self) -> None:
        run_dir = os.environ.get("HOSTMODE_RUN_DIR")
        if not run_dir or self._process is None:
            return
        try:
            with open(os.path.join(run_dir, "dynamodb-backend.json"), "w") as f:
                json.dump({"pid": self._process.pid, "port": self.port, "url": self.url}, f)
        except OSError as e:
            LOG.debug("could not record the DynamoDB backend: %s", e)

    def _run(self, *_args) -> None:
        restarts = 0
        while not self._stopping.is_set():
            LOG.debug("Starting DynamoDB backend (moto): %s", self._command())
            log_file = None
            log_path = None
            run_dir = os.environ.get("HOSTMODE_RUN_DIR")
            if run_dir:
                log_path = os.path.join(run_dir, "dynamodb-backend.log")
                log_file = open(log_path, "ab")
            self._process = subprocess.Popen(
                self._command(),
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log_file or subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                close_fds=True,
            )
            if log_file:
                log_file.close()
            self._write_state()
            self._process_ready.set()
            code = self._process.wait()
            if self._stopping.is_set() or events.infra_stopping.is_set():
                break  # LocalStack is shutting down: a signal to its group is no crash
            restarts += 1
            LOG.warning("DynamoDB backend (moto) exited with %s (restart %s)", code, restarts)
            if restarts > _MAX_RESTARTS:
                LOG.error("DynamoDB backend keeps failing; see %s", log_path or "the log")
                break
            time.sleep(min(0.2 * restarts, 2.0))

    def do_start_thread(self) -> FuncThread:
        self._stopping.clear()
        self._process_ready.clear()
        thread = FuncThread(self._run, name="dynamodb-moto", on_stop=lambda _t: self._terminate())
        TMP_THREADS.append(thread)
        thread.start()
        self._process_ready.wait(_START_TIMEOUT_S)
        # DynamodbServer.stop_dynamodb reads ``self._thread.process.pid`` as a last resort
        thread.process = self._process
        return thread

    def _terminate(self) -> None:
        self._stopping.set()
        proc = self._process
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def do_shutdown(self) -> None:
        self._terminate()

    def health(self):
        proc = self._process
        if proc is None or proc.poll() is not None:
            return False
        return super().health()


_SERVER: MotoDynamodbServer | None = None
_SERVER_LOCK = threading.Lock()


# moto is not safe under concurrent writes: TransactWriteItems deep-copies each table it touches
# and, when cancelled, puts that copy back, wiping what other requests wrote meanwhile
# (acknowledged PutItems vanished, concurrent decrements were lost, and copying a table while it
# was written answered 500, as did a Scan of a table that grew under it). Its items are also
# applied one by one, so a concurrent read could see a write of a transaction that was then
# cancelled. So whatever reaches moto takes a readers-writer lock: the read-only operations below
# share it, every other one (item writes, PartiQL, table and backup operations, and operations
# this list does not know) has moto to itself.
_READ_OPERATIONS = frozenset({
    "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems",
    "DescribeTable", "ListTables", "DescribeTimeToLive", "ListTagsOfResource",
    "DescribeContinuousBackups", "DescribeContributorInsights", "ListContributorInsights",
    "DescribeKinesisStreamingDestination", "DescribeGlobalTable", "DescribeGlobalTableSettings",
    "ListGlobalTables", "DescribeTableReplicaAutoScaling", "DescribeLimits", "DescribeEndpoints",
    "DescribeBackup", "ListBackups", "DescribeExport", "ListExports", "DescribeImport",
    "ListImports", "GetResourcePolicy",
})


class _ReadWriteLock:
    """Many readers or one writer. Waiting writers go first, so reads cannot starve a write.

    Not re-entrant: it is only held around the HTTP call to moto, which never calls back.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()

    def hold(self, operation: str) -> contextlib.AbstractContextManager[None]:
        return self.reading() if operation in _READ_OPERATIONS else self.writing()


# AWS keeps a transaction's ClientRequestToken for 10 minutes
_TOKEN_TTL_S = 600.0
_STREAM_ACTIVE_TIMEOUT_S = 10.0


class MotoDynamoDBProvider(DynamoDBProvider):
    """LocalStack's DynamoDB provider (streams, TTL, ARNs) on a moto backend.

    Besides swapping the backend (whose requests it serialises, see ``_READ_OPERATIONS``) it
    closes three gaps seen against AWS:
    - a table with a stream accepts writes as soon as CreateTable returns (LocalStack backs
      the stream with a Kinesis stream that is created asynchronously; records written before
      it is ACTIVE were lost), so CreateTable/UpdateTable wait for that stream;
    - DescribeTable returns IndexArn for secondary indexes (moto omits it);
    - TransactWriteItems honours ClientRequestToken (moto ignores it): a retried transaction
      with the same token and request is not applied twice, a different request with the same
      token is an IdempotentParameterMismatchException.
    """

    def __init__(self) -> None:
        super().__init__()
        self._tx_tokens: dict[tuple[str, str, str], tuple[float, str, dict]] = {}
        self._tx_lock = threading.Lock()
        self.backend_lock = _ReadWriteLock()

    @staticmethod
    def _new_dynamodb_server() -> DynamodbServer:
        return MotoDynamodbServer.get()

    def forward_request(self, context: RequestContext, service_request=None):
        # only the call to moto: provider code around it calls back into DynamoDB through the
        # gateway (table_exists, schema lookups), which would deadlock under a held lock
        with self.backend_lock.hold(context.operation.name):
            return super().forward_request(context, service_request)

    # -- streams ---------------------------------------------------------------------------

    @staticmethod
    def _wait_for_stream(context: RequestContext, table_name: str) -> None:
        kinesis = dynamodbstreams_api.get_kinesis_client(context.account_id, context.region)
        stream_name = dynamodbstreams_api.get_kinesis_stream_name(table_name)
        deadline = time.monotonic() + _STREAM_ACTIVE_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                summary = kinesis.describe_stream_summary(StreamName=stream_name)
                if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                    return
            except Exception as e:  # not created yet
                LOG.debug("waiting for %s: %s", stream_name, e)
            time.sleep(0.05)
        LOG.warning("stream of table %s not ACTIVE after %ss", table_name,
                    _STREAM_ACTIVE_TIMEOUT_S)

    def create_table(
        self, context: RequestContext, create_table_input: CreateTableInput
    ) -> CreateTableOutput:
        result = super().create_table(context, create_table_input)
        if (create_table_input.get("StreamSpecification") or {}).get("StreamEnabled"):
            self._wait_for_stream(context, create_table_input["TableName"])
        return result

    def update_table(
        self, context: RequestContext, update_table_input: UpdateTableInput
    ) -> UpdateTableOutput:
        result = super().update_table(context, update_table_input)
        if (update_table_input.get("StreamSpecification") or {}).get("StreamEnabled"):
            self._wait_for_stream(context, update_table_input["TableName"])
        return result

    # -- describe ----------------------------------------------------------------------------

    def describe_table(
        self, context: RequestContext, table_name: TableName, **kwargs
    ) -> DescribeTableOutput:
        result = super().describe_table(context, table_name, **kwargs)
        table = result.get("Table") or {}
        arn = table.get("TableArn")
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for index in table.get(key) or []:
                if arn and index.get("IndexName") and not index.get("IndexArn"):
                    index["IndexArn"] = f"{arn}/index/{index['IndexName']}"
        return result

    # -- transactions ------------------------------------------------------------------------

    def transact_write_items(
        self, context: RequestContext, transact_write_items_input: TransactWriteItemsInput
    ) -> TransactWriteItemsOutput:
        token = transact_write_items_input.get("ClientRequestToken")
        if not token:
            return super().transact_write_items(context, transact_write_items_input)
        key = (context.account_id, context.region, token)
        fingerprint = json.dumps(transact_write_items_input.get("TransactItems"),
                                 sort_keys=True, default=repr)
        now = time.monotonic()
        with self._tx_lock:
            for k in [k for k, v in self._tx_tokens.items() if v[0] < now]:
                del self._tx_tokens[k]
            seen = self._tx_tokens.get(key)
        if seen:
            if seen[1] != fingerprint:
                raise IdempotentParameterMismatchException(
                    "Transaction request cannot include the same client token as a previous "
                    "request with different parameters."
                )
            return seen[2]
        result = super().transact_write_items(context, transact_write_items_input)
        with self._tx_lock:
            self._tx_tokens[key] = (now + _TOKEN_TTL_S, fingerprint, result)
        return result

    def on_before_stop(self):
        try:
            super().on_before_stop()
        finally:
            self.server.stop_dynamodb()


def _dispatch_table(provider: MotoDynamoDBProvider):
    """LocalStack's dispatch: provider methods, and moto directly for the operations the
    provider does not implement (CreateBackup, RestoreTableFromBackup, ImportTable, ...),
    those under the same lock."""
    forward = get_request_forwarder_http(provider.get_forward_url)

    def locked_forward(context: RequestContext, service_request=None):
        with provider.backend_lock.hold(context.operation.name):
            return forward(context, service_request)

    return ForwardingFallbackDispatcher(provider, locked_forward)


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    provider = MotoDynamoDBProvider()
    return Service.for_provider(provider, dispatch_table_factory=_dispatch_table)
