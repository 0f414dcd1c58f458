"""Sending email through SES from the verified sender."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from common.errors import ServiceUnavailableError


class EmailError(ServiceUnavailableError):
    """SES refused or failed to send; the caller's retry policy decides what happens next."""


def send_email(ses: Any, sender: str, to: str, subject: str, text: str) -> str:
    try:
        response = ses.send_email(
            Source=sender,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
            },
        )
    except ClientError as e:
        raise EmailError(
            f"could not send email ({e.response['Error'].get('Code', 'unknown')})"
        ) from e
    return str(response["MessageId"])
