"""Lambda's Invocations/Errors metrics reach CloudWatch in batches, from one thread.

Why: after every invocation LocalStack 4.14.0's ``LambdaVersionManager.invoke``
(services/lambda_/invocation/version_manager.py) starts a thread that sends one
``PutMetricData`` (``record_cw_metric_invocation``, metrics.py) through the gateway; CloudWatch
stores each datum with its own SQLite connection and commit. A GIL-sampling profile (py-spy
--gil) of back-to-back warm invokes put those threads and the gateway serving them at ~10-15% of
LocalStack's busy time, all of it competing with the next request.

What changes: the invocation hands its datum to a queue (no thread per invocation); one daemon
thread sends what arrived within ``BATCH_WINDOW_S`` as one ``PutMetricData`` per account and
region. Datums of the same metric, function and second are sent as one datum with
``Values=[1]`` and ``Counts=[n]``, which CloudWatch stores as the same ``n`` rows (Sum and
SampleCount unchanged) in one commit. Namespace, names, dimensions and values are upstream's
(``AWS/Lambda``, ``Invocations``, ``Errors``, ``FunctionName``); they show up in CloudWatch
within ``BATCH_WINDOW_S`` (AWS: about a minute).

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_LAMBDA_METRICS_BATCHING=0``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from .lambda_log_shipping import QUIET_WAITS
from .registry import HostPatch, on_import

LOG = logging.getLogger(__name__)

_VERSION_MANAGER = "localstack.services.lambda_.invocation.version_manager"
_THREAD_PREFIX = "record-cloudwatch-metric"
BATCH_WINDOW_S = 0.5
MAX_DATUMS = 1000  # PutMetricData: datums per request
NAMESPACE = "AWS/Lambda"

# (account, region, metric name, function name, unix second)
Datum = tuple[str, str, str, str, int]


def metric_requests(datums: list[Datum]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """PutMetricData's MetricData per (account, region): one datum per metric, function and
    second, counted."""
    counts = Counter(datums)
    requests: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (account, region, metric, function, second), n in counts.items():
        requests.setdefault((account, region), []).append({
            "MetricName": metric,
            "Dimensions": [{"Name": "FunctionName", "Value": function}],
            "Timestamp": datetime.fromtimestamp(second, UTC),
            "Values": [1.0],
            "Counts": [float(n)],
        })
    return requests


class MetricShipper:
    """The one thread that sends the queued datums."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Datum] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, account: str, region: str, metric: str, function: str) -> None:
        self._queue.put((account, region, metric, function, int(time.time())))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="lambda-metrics-shipper")
                    self._thread.start()

    def _drain(self) -> list[Datum]:
        datums = [self._queue.get()]
        if QUIET_WAITS:
            # sleep out the window, then take what is queued: a get with a timeout woke this
            # thread for every invocation's datum (a GIL hand-off each, as lambda_log_shipping)
            time.sleep(BATCH_WINDOW_S)
            while True:
                try:
                    datums.append(self._queue.get_nowait())
                except queue.Empty:
                    return datums
        deadline = time.monotonic() + BATCH_WINDOW_S
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                datums.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return datums

    def _run(self) -> None:
        while True:
            for (account, region), data in metric_requests(self._drain()).items():
                try:
                    self._send(account, region, data)
                except Exception as e:  # as upstream: a lost metric is logged, never raised
                    LOG.debug("Failed to send CloudWatch metrics for Lambda invocations: %s", e)

    @staticmethod
    def _send(account: str, region: str, data: list[dict[str, Any]]) -> None:
        from localstack.aws.connect import connect_to
        from localstack.utils.bootstrap import is_api_enabled

        if not is_api_enabled("cloudwatch"):
            return
        client = connect_to(aws_access_key_id=account, region_name=region).cloudwatch
        for start in range(0, len(data), MAX_DATUMS):
            client.put_metric_data(Namespace=NAMESPACE, MetricData=data[start:start + MAX_DATUMS])


SHIPPER = MetricShipper()


def _record_invocation(function_name: str, account_id: str, region_name: str) -> None:
    SHIPPER.add(account_id, region_name, "Invocations", function_name)


def _record_error(function_name: str, account_id: str, region_name: str) -> None:
    SHIPPER.add(account_id, region_name, "Invocations", function_name)
    SHIPPER.add(account_id, region_name, "Errors", function_name)


def apply() -> None:
    # when the Lambda service's version manager is first imported, not at start-up
    on_import(_VERSION_MANAGER, _patch_version_manager)


def _patch_version_manager(module: Any) -> None:
    from localstack.utils.patch import Patch

    start_thread = module.start_thread

    def start_thread_unless_metric(fn: Any, *args: Any, name: str | None = None, **kwargs: Any):
        if name and name.startswith(_THREAD_PREFIX):
            return fn()  # now only a queue put: no thread needed
        return start_thread(fn, *args, name=name, **kwargs)

    # the names version_manager imported (patching their defining modules would not reach it)
    Patch(module, "record_cw_metric_invocation", _record_invocation).apply()
    Patch(module, "record_cw_metric_error", _record_error).apply()
    Patch(module, "start_thread", start_thread_unless_metric).apply()


PATCH = HostPatch(
    name="lambda_metrics_batching",
    changes=(
        "Lambda's Invocations/Errors metrics are queued and sent by one thread, one "
        f"PutMetricData per account and region every {BATCH_WINDOW_S} s at most"
    ),
    why=(
        "a thread and a PutMetricData (one SQLite commit) per invocation competed with the next "
        "request for the CPU and the GIL"
    ),
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_LAMBDA_METRICS_BATCHING",
    apply=apply,
)
