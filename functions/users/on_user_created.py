"""Users table stream consumer: a welcome email (SES) for every new user (INSERT).

Other events (MODIFY, REMOVE) are ignored; the event source mapping also filters on INSERT.
Partial batch failures go back through powertools' BatchProcessor, and the email is idempotent
on the stream record's eventID, so a retried batch does not re-send to users already welcomed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import idempotency
from common.aws import client
from common.email import send_email
from common.settings import SETTINGS

logger = Logger()
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)
ses = client("ses")
idempotency_config = idempotency.config("event_id")


@idempotent_function(
    data_keyword_argument="welcome",
    config=idempotency_config,
    persistence_store=idempotency.persistence_layer(),
)
def send_welcome(welcome: dict[str, str]) -> dict[str, str]:
    message_id = send_email(
        ses,
        SETTINGS.sender_email,
        welcome["email"],
        "Welcome!",
        f"Hello {welcome['name']}, your account is ready.",
    )
    logger.info("welcome email sent", extra={"user_id": welcome["user_id"]})
    return {"message_id": message_id}


def record_handler(record: DynamoDBRecord) -> dict[str, str] | None:
    if record.event_name != DynamoDBRecordEventName.INSERT or record.dynamodb is None:
        return None
    image = record.dynamodb.new_image
    return send_welcome(
        welcome={
            "event_id": record.event_id or "",
            "user_id": str(image["user_id"]),
            "email": str(image["email"]),
            "name": str(image.get("name", "")),
        }
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
