"""A Kinesis event source mapping honours ``StartingPosition=AT_TIMESTAMP``, and stream pollers
see the mapping's ``BisectBatchOnFunctionError`` (used by esm_stream_bisect.py).

Why: LocalStack 4.14.0's ``EsmWorkerFactory.get_esm_worker``
(services/lambda_/event_source_mapping/esm_worker_factory.py) builds the stream poller's
parameters without ``StartingPositionTimestamp`` and ``BisectBatchOnFunctionError``, and
``KinesisPoller.initialize_shards`` passes the timestamp as ``StartingSequenceNumber``: an
AT_TIMESTAMP mapping failed every poll with ``KeyError: 'StartingPositionTimestamp'`` and never
invoked its function.

What changes: after the factory built a stream poller, the two values of the mapping are copied
into its stream parameters; ``initialize_shards`` of an AT_TIMESTAMP mapping asks for
``AT_TIMESTAMP`` iterators with ``Timestamp``. Every other mapping is untouched.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
No opt-out: without it AT_TIMESTAMP mappings do not work at all.
"""

from __future__ import annotations

import logging
from typing import Any

from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)

ESM = "localstack.services.lambda_.event_source_mapping"
CARRIED = ("StartingPositionTimestamp", "BisectBatchOnFunctionError")


def _with_dropped_parameters(get_esm_worker: Any, self: Any) -> Any:
    worker = get_esm_worker(self)
    parameters = getattr(worker.poller, "source_parameters", None) or {}
    stream = (parameters.get("KinesisStreamParameters")
              or parameters.get("DynamoDBStreamParameters"))
    if stream is not None:
        for name in CARRIED:
            if self.esm_config.get(name) is not None:
                stream[name] = self.esm_config[name]
    return worker


def _at_timestamp_shards(initialize_shards: Any, self: Any) -> dict[str, str]:
    parameters = self.stream_parameters
    if parameters.get("StartingPosition") != "AT_TIMESTAMP":
        return initialize_shards(self)
    description = self.source_client.describe_stream(StreamARN=self.source_arn)
    description = description["StreamDescription"]
    if description["StreamStatus"] != "ACTIVE":
        LOG.warning("Stream %s is not active. Current status: %s", self.source_arn,
                    description["StreamStatus"])
        return {}
    return {
        shard["ShardId"]: self.source_client.get_shard_iterator(
            StreamARN=self.source_arn, ShardId=shard["ShardId"],
            ShardIteratorType="AT_TIMESTAMP", Timestamp=parameters["StartingPositionTimestamp"],
        )["ShardIterator"]
        for shard in description["Shards"]
    }


def apply() -> None:
    patch_function(f"{ESM}.esm_worker_factory", "EsmWorkerFactory.get_esm_worker",
                   _with_dropped_parameters)
    patch_function(f"{ESM}.pollers.kinesis_poller", "KinesisPoller.initialize_shards",
                   _at_timestamp_shards)


PATCH = HostPatch(
    name="esm_stream_parameters",
    changes=(
        "stream event source pollers get the mapping's StartingPositionTimestamp and "
        "BisectBatchOnFunctionError; Kinesis AT_TIMESTAMP iterators use the timestamp"
    ),
    why="an AT_TIMESTAMP Kinesis mapping failed every poll (KeyError) and never invoked",
    verified_on=("4.14.0",),
    opt_out=None,
    apply=apply,
)
