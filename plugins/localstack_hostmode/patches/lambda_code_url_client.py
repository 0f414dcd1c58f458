"""GetFunction signs its code URL with one kept S3 client per endpoint instead of a new one
per call.

Why: LocalStack 4.14.0's ``S3Code.generate_presigned_url``
(services/lambda_/invocation/lambda_models.py), which every GetFunction answer calls for
``Code.Location``, builds a new boto3 S3 client (endpoint rules, service model, signer) just
to sign one URL: 15-26 ms here against 0.7 ms with a kept client. CloudFormation waits for a
function by polling GetFunction (every 20-50 ms with cloudformation_lambda_waits), so in a
full deploy ~10% of LocalStack's samples (py-spy) were this client build.

What changes: the client is made once per endpoint URL and kept (botocore clients are
thread-safe; the credentials are LocalStack's fixed internal ones); the URL is signed as
before, with the object's version when it has one.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_LAMBDA_CODE_URL_CLIENT=0``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .registry import HostPatch, patch_function

MODULE = "localstack.services.lambda_.invocation.lambda_models"


class ClientsByEndpoint:
    """One client per endpoint URL, made on first use."""

    def __init__(self, make: Callable[[str], Any]) -> None:
        self.make = make
        self.lock = threading.Lock()
        self.clients: dict[str, Any] = {}

    def get(self, endpoint_url: str) -> Any:
        with self.lock:
            client = self.clients.get(endpoint_url)
            if client is None:
                client = self.clients[endpoint_url] = self.make(endpoint_url)
            return client


def _internal_s3_client(endpoint_url: str) -> Any:
    import boto3
    from localstack import config
    from localstack.constants import AWS_REGION_US_EAST_1, INTERNAL_AWS_SECRET_ACCESS_KEY

    # the arguments of LocalStack's own S3Code.generate_presigned_url
    return boto3.client(
        "s3",
        region_name=AWS_REGION_US_EAST_1,
        aws_access_key_id=config.INTERNAL_RESOURCE_ACCOUNT,
        aws_secret_access_key=INTERNAL_AWS_SECRET_ACCESS_KEY,
        endpoint_url=endpoint_url,
    )


CLIENTS = ClientsByEndpoint(_internal_s3_client)


def presigned_url(_original: Any, code: Any, endpoint_url: str) -> str:
    params = {"Bucket": code.s3_bucket, "Key": code.s3_key}
    if code.s3_object_version:
        params["VersionId"] = code.s3_object_version
    return CLIENTS.get(endpoint_url).generate_presigned_url("get_object", Params=params)


def apply() -> None:
    patch_function(MODULE, "S3Code.generate_presigned_url", presigned_url)


PATCH = HostPatch(
    name="lambda_code_url_client",
    changes="GetFunction signs Code.Location with one kept S3 client per endpoint",
    why="every GetFunction built a new boto3 S3 client to sign one URL (15-26 ms each), and "
        "CloudFormation polls GetFunction while it waits for a function",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_LAMBDA_CODE_URL_CLIENT",
    apply=apply,
)
