"""DynamoDB without Java: LocalStack's own DynamoDB provider on a moto server backend.

LocalStack's provider forwards every DynamoDB request over HTTP to a DynamoDB Local (Java)
server and does streams, TTL bookkeeping and ARN rewriting itself. This module keeps that
provider and swaps only the backend for ``python -m moto.server`` from the same virtualenv
(the process: dynamodb_server.py), and shapes the backend's answers like AWS's
(dynamodb_shapes.py).

Selected with ``PROVIDER_OVERRIDE_DYNAMODB=moto`` (entry point ``dynamodb:moto`` in the
``localstack.aws.provider`` namespace, see plugins/pyproject.toml).

Limits: moto keeps tables in memory only (PERSISTENCE does not cover DynamoDB here), and all
LocalStack accounts share moto's single account (regions stay separate).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.api.dynamodb import (
    BatchExecuteStatementOutput,
    BatchWriteItemInput,
    BatchWriteItemOutput,
    CreateTableInput,
    CreateTableOutput,
    DeleteItemInput,
    DeleteItemOutput,
    DescribeTableOutput,
    ExecuteStatementInput,
    ExecuteStatementOutput,
    ExecuteTransactionInput,
    ExecuteTransactionOutput,
    GetItemInput,
    GetItemOutput,
    IdempotentParameterMismatchException,
    PartiQLBatchRequest,
    ReturnConsumedCapacity,
    TableName,
    TransactionCanceledException,
    TransactWriteItemsInput,
    TransactWriteItemsOutput,
    UpdateItemInput,
    UpdateItemOutput,
    UpdateTableInput,
    UpdateTableOutput,
)
from localstack.aws.connect import connect_to
from localstack.aws.forwarder import ForwardingFallbackDispatcher
from localstack.constants import INTERNAL_AWS_SECRET_ACCESS_KEY
from localstack.services.dynamodb.provider import (
    DynamoDBProvider,
    ValidationException,
    get_store,
)
from localstack.services.dynamodb.server import DynamodbServer
from localstack.services.dynamodb.utils import SchemaExtractor
from localstack.services.dynamodbstreams import dynamodbstreams_api
from localstack.services.plugins import Service, aws_provider

from localstack_hostmode.dynamodb_forward import backend_proxy
from localstack_hostmode.dynamodb_partiql import PartiQLError
from localstack_hostmode.dynamodb_partiql_run import Runner
from localstack_hostmode.dynamodb_server import MotoDynamodbServer, ReadWriteLock
from localstack_hostmode.dynamodb_shapes import shape_response
from localstack_hostmode.dynamodb_validation import check_batch_write, check_key

LOG = logging.getLogger(__name__)

# AWS keeps a transaction's ClientRequestToken for 10 minutes
_TOKEN_TTL_S = 600.0
_STREAM_ACTIVE_TIMEOUT_S = 10.0


class MotoDynamoDBProvider(DynamoDBProvider):
    """LocalStack's DynamoDB provider (streams, TTL, ARNs) on a moto backend.

    Besides swapping the backend (whose requests it serialises, see
    dynamodb_server.ReadWriteLock) it closes these gaps seen against AWS:
    - a table with a stream accepts writes as soon as CreateTable returns (LocalStack backs
      the stream with a Kinesis stream that is created asynchronously; records written before
      it is ACTIVE were lost), so CreateTable/UpdateTable wait for that stream;
    - DescribeTable returns IndexArn for secondary indexes (moto omits it);
    - TransactWriteItems honours ClientRequestToken (moto ignores it): a retried transaction
      with the same token and request is not applied twice, a different request with the same
      token is an IdempotentParameterMismatchException;
    - UpdateTable keeps a new TableClass;
    - PartiQL runs on the item operations (dynamodb_partiql*.py), not on moto's engine;
    - keys of the wrong type and invalid batches are refused (dynamodb_validation.py).
    Every answer is then shaped like AWS's (``_shaped``, dynamodb_shapes.py).
    """

    def __init__(self) -> None:
        super().__init__()
        self._tx_tokens: dict[tuple[str, str, str], tuple[float, str, dict]] = {}
        self._tx_lock = threading.Lock()
        self.backend_lock = ReadWriteLock()
        # upstream's proxy sends through `requests`; the same hop over http.client, or in
        # memory to moto's app when it runs in this process (dynamodb_forward.py)
        self.server.proxy = backend_proxy(self.server.url, self.server.wsgi_app)

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
        # a table of that name deleted a moment ago may still be in the schema cache
        SchemaExtractor.invalidate_table_schema(create_table_input["TableName"],
                                                context.account_id, context.region)
        if (create_table_input.get("StreamSpecification") or {}).get("StreamEnabled"):
            self._wait_for_stream(context, create_table_input["TableName"])
        return result

    def update_table(
        self, context: RequestContext, update_table_input: UpdateTableInput
    ) -> UpdateTableOutput:
        result = super().update_table(context, update_table_input)
        if (update_table_input.get("StreamSpecification") or {}).get("StreamEnabled"):
            self._wait_for_stream(context, update_table_input["TableName"])
        if table_class := update_table_input.get("TableClass"):
            self._keep_table_class(context, update_table_input["TableName"], table_class,
                                   result["TableDescription"])
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

    # -- validation that moto skips ---------------------------------------------------------

    @staticmethod
    def _table(context: RequestContext, table_name: str) -> dict | None:
        try:
            schema = SchemaExtractor.get_table_schema(table_name.split(":table/")[-1],
                                                      context.account_id, context.region)
        except Exception:  # no such table: the backend answers ResourceNotFoundException
            return None
        return (schema or {}).get("Table")

    def _check_key(self, context: RequestContext, request: dict) -> None:
        if problem := check_key(request.get("Key"), self._table(context, request["TableName"])):
            raise ValidationException(problem)

    def get_item(self, context: RequestContext, get_item_input: GetItemInput) -> GetItemOutput:
        self._check_key(context, get_item_input)
        return super().get_item(context, get_item_input)

    def delete_item(
        self, context: RequestContext, delete_item_input: DeleteItemInput
    ) -> DeleteItemOutput:
        self._check_key(context, delete_item_input)
        return super().delete_item(context, delete_item_input)

    def update_item(
        self, context: RequestContext, update_item_input: UpdateItemInput
    ) -> UpdateItemOutput:
        self._check_key(context, update_item_input)
        return super().update_item(context, update_item_input)

    def batch_write_item(
        self, context: RequestContext, batch_write_item_input: BatchWriteItemInput
    ) -> BatchWriteItemOutput:
        problem = check_batch_write(batch_write_item_input["RequestItems"],
                                    lambda name: self._table(context, name))
        if problem:
            raise ValidationException(problem)
        return super().batch_write_item(context, batch_write_item_input)

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

    # -- table class -------------------------------------------------------------------------

    @staticmethod
    def _keep_table_class(context: RequestContext, table_name: str, table_class: str,
                          description: dict) -> None:
        # LocalStack records an UpdateTable's TableClass only when DynamoDB Local refuses the
        # update as "Nothing to update"; moto accepts it, so it was lost
        store = get_store(context.account_id, context.region)
        store.table_definitions.setdefault(table_name, {})["TableClass"] = table_class
        description["TableClassSummary"] = {"TableClass": table_class,
                                            "LastUpdateDateTime": datetime.now(UTC)}
        SchemaExtractor.invalidate_table_schema(table_name, context.account_id, context.region)

    # -- PartiQL -----------------------------------------------------------------------------

    @staticmethod
    def _partiql(context: RequestContext) -> Runner:
        """Runs statements as item operations through the gateway (so streams see them)."""
        client = connect_to(aws_access_key_id=context.account_id,
                            aws_secret_access_key=INTERNAL_AWS_SECRET_ACCESS_KEY,
                            region_name=context.region).dynamodb
        return Runner(client)

    def execute_statement(
        self, context: RequestContext, execute_statement_input: ExecuteStatementInput
    ) -> ExecuteStatementOutput:
        request = execute_statement_input
        if request.get("Parameters", None) == []:  # what the JS SDK sends; AWS refuses it
            raise ValidationException(
                "1 validation error detected: Value '[]' at 'parameters' failed to satisfy "
                "constraint: Member must have length greater than or equal to 1")
        with _partiql_errors():
            return self._partiql(context).run(
                request["Statement"], request.get("Parameters"), limit=request.get("Limit"),
                next_token=request.get("NextToken"),
                consistent_read=bool(request.get("ConsistentRead")))

    def batch_execute_statement(
        self, context: RequestContext, statements: PartiQLBatchRequest,
        return_consumed_capacity: ReturnConsumedCapacity = None, **kwargs,
    ) -> BatchExecuteStatementOutput:
        with _partiql_errors():
            return BatchExecuteStatementOutput(Responses=self._partiql(context).batch(statements))

    def execute_transaction(
        self, context: RequestContext, execute_transaction_input: ExecuteTransactionInput
    ) -> ExecuteTransactionOutput:
        request = execute_transaction_input
        with _partiql_errors():
            return self._partiql(context).transaction(request["TransactStatements"],
                                                      request.get("ClientRequestToken"))

    def on_before_stop(self):
        try:
            super().on_before_stop()
        finally:
            self.server.stop_dynamodb()


@contextlib.contextmanager
def _partiql_errors() -> Iterator[None]:
    """A statement's failure as DynamoDB's own error (moto's engine answered 500s)."""
    try:
        yield
    except PartiQLError as e:
        if e.code == "TransactionCanceledException":
            reasons = e.reasons or []
            codes = ", ".join(reason.get("Code", "None") for reason in reasons)
            raise TransactionCanceledException(
                "Transaction cancelled, please refer cancellation reasons for specific reasons "
                f"[{codes}]", CancellationReasons=reasons) from e
        raise CommonServiceException(e.code, e.message, status_code=400) from e


def _shaped(operation: str, handler):
    """``handler`` whose answer is shaped like AWS's (see dynamodb_shapes.py)."""

    def call(context: RequestContext, service_request=None):
        response = handler(context, service_request)

        def lookup(table_name: str) -> dict | None:
            return SchemaExtractor.get_table_schema(table_name, context.account_id,
                                                    context.region)

        return shape_response(operation, service_request or {}, response, lookup)

    return call


def _dispatch_table(provider: MotoDynamoDBProvider):
    """LocalStack's dispatch: provider methods, and moto directly for the operations the
    provider does not implement (CreateBackup, RestoreTableFromBackup, ImportTable, ...),
    those under the same lock; every answer shaped like AWS's."""
    def locked_forward(context: RequestContext, service_request=None):
        with provider.backend_lock.hold(context.operation.name):
            return provider.server.proxy(context, service_request)

    table = ForwardingFallbackDispatcher(provider, locked_forward)
    return {operation: _shaped(operation, handler) for operation, handler in table.items()}


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    provider = MotoDynamoDBProvider()
    return Service.for_provider(provider, dispatch_table_factory=_dispatch_table)
