"""An SQS event source mapping long-polls its queue and polls again at once, as AWS's pollers do.

Why: LocalStack 4.14.0's ``SqsPoller.poll_events``
(services/lambda_/event_source_mapping/pollers/sqs_poller.py) short-polls when
``MaximumBatchingWindowInSeconds`` is 0 (the default; the app's orders mapping) and raises
``EmptyPollResultsException`` on an empty poll; ``EsmWorker.poller_loop`` (esm_worker.py) then
waits 0.5-1.5 s (``ExponentialBackoff`` capped by LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_
POLL_SEC: 1 s from the launcher, 10 s LocalStack's default), and after every batch it waits
LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC (1 s). A message sent to an idle queue waited for
the next short poll (``POST /orders`` -> PROCESSING: p50 566 ms), and a queue with more than one
batch waiting was drained one batch a second.

What changes, for a mapping run by LocalStack's ``EsmWorker`` (``poller_loop`` hands its stop
event to the poller):
- with a window of 0, ReceiveMessage is a long poll of ``IDLE_POLL_S`` (5 s), which returns as
  soon as a message is there (AWS's pollers wait 20 s; a shorter wait bounds how long a stopped
  mapping's poll stays open, and costs one request per 5 s of an idle queue); a window > 0
  keeps LocalStack's call (it waits the window; over 20 s through LocalStack's override header);
- the poller polls again at once after a batch and after an empty long poll (the wait happened
  in the queue). An empty poll that came back without waiting (under ``MIN_WAIT_S``, e.g. a
  queue shut down) raises ``EmptyPollResultsException`` as before: the worker backs off, never a
  busy loop. Errors propagate to the worker's error backoff as before;
- each poll is LocalStack's own ``poll_events`` with the poller's client wrapped, so processing
  stays LocalStack's: mini-batches, FIFO batches split by group (sqs_fifo_group_concurrency runs
  the groups in parallel), filters, ReportBatchItemFailures, deletes;
- after a poll raised (an error, or an empty poll that did not wait), the first poll that works
  returns to the worker, so its error and empty-poll backoffs are reset as after any successful
  ``poll_events`` (then it waits its poll interval once, 1 s);
- stopping: a mapping that is disabled, updated or deleted stops its worker, whose stop event
  ends the loop after the poll in flight. That poll may still return messages (up to
  ``IDLE_POLL_S`` after the stop): they are made visible again at once
  (ChangeMessageVisibility 0, their receive count stays one higher) and never invoked, so no
  message is consumed after DeleteEventSourceMapping or a disabling update returned. At
  LocalStack shutdown the SQS provider shuts its queues down, which ends every long poll.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_ESM_SQS_LONG_POLL=0`` (LocalStack's short polls and waits).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)

ESM = "localstack.services.lambda_.event_source_mapping"
LONG_POLL_S = 20  # ReceiveMessage's maximum WaitTimeSeconds
IDLE_POLL_S = 5  # without a batching window: how long a stopped mapping's last poll may stay open
MIN_WAIT_S = 0.2  # an empty poll back sooner did not wait: the worker's backoff applies
VISIBILITY_BATCH = 10  # ChangeMessageVisibilityBatch's entry limit
_STOP = "_hostmode_stop_event"
_RECOVERING = "_hostmode_poll_raised"


def wait_seconds(window: int) -> int:
    """ReceiveMessage's WaitTimeSeconds for a mapping's batching window."""
    return IDLE_POLL_S if window <= 0 else min(window, LONG_POLL_S)


def release(client: Any, queue_url: str, messages: list[dict]) -> None:
    """Make messages received after the mapping stopped visible again, uninvoked."""
    for start in range(0, len(messages), VISIBILITY_BATCH):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                   for i, m in enumerate(messages[start:start + VISIBILITY_BATCH])]
        try:
            client.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as e:  # the queue may be gone: its messages with it
            LOG.debug("could not release %d messages of %s: %s", len(entries), queue_url, e)


class LongPollClient:
    """A poller's SQS client whose ReceiveMessage long-polls; what a poll brings back after the
    mapping stopped is released and reported as nothing. Everything else is the client's."""

    def __init__(self, client: Any, window: Callable[[], int], stop: threading.Event) -> None:
        self._client, self._window, self._stop = client, window, stop

    def receive_message(self, **kwargs: Any) -> dict:
        kwargs["WaitTimeSeconds"] = wait_seconds(self._window())
        response = self._client.receive_message(**kwargs)
        if self._stop.is_set():
            release(self._client, kwargs["QueueUrl"], response.get("Messages") or [])
            return {}
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def consume(poll_once: Callable[[], None], stop: threading.Event, empty: type[Exception],
            recovering: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
    """Run ``poll_once`` (it raises ``empty`` on an empty poll) until ``stop`` is set, with no
    wait in between. Raises ``empty`` after an empty poll that did not wait (the worker backs
    off) and whatever a poll raises; when ``recovering`` (the last call raised), returns after
    the first poll that works so that the worker resets its backoffs."""
    while not stop.is_set():
        started = clock()
        try:
            poll_once()
        except empty:
            if stop.is_set():
                return
            if clock() - started < MIN_WAIT_S:
                raise
        if recovering:
            return


def _long_polls(poll_events: Any, self: Any) -> None:
    stop = getattr(self, _STOP, None)
    if stop is None:  # a poller not run by an EsmWorker: LocalStack's way
        return poll_events(self)
    from localstack.services.lambda_.event_source_mapping.pollers.poller import (
        EmptyPollResultsException,
    )

    if not isinstance(self.source_client, LongPollClient):
        self.source_client = LongPollClient(
            self.source_client, lambda: self.maximum_batching_window or 0, stop)
    try:
        consume(lambda: poll_events(self), stop, EmptyPollResultsException,
                recovering=getattr(self, _RECOVERING, False))
    except Exception:
        setattr(self, _RECOVERING, True)
        raise
    setattr(self, _RECOVERING, False)


def _loop_with_stop_event(poller_loop: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    # the worker's one shutdown event: start() clears it, stop()/delete()/shutdown set it
    setattr(self.poller, _STOP, self._shutdown_event)
    return poller_loop(self, *args, **kwargs)


def apply() -> None:
    patch_function(f"{ESM}.pollers.sqs_poller", "SqsPoller.poll_events", _long_polls)
    patch_function(f"{ESM}.esm_worker", "EsmWorker.poller_loop", _loop_with_stop_event)


PATCH = HostPatch(
    name="esm_sqs_long_polling",
    changes=(
        "an SQS event source mapping long-polls (WaitTimeSeconds 5 with no batching window) "
        "and polls again at once after a batch or an empty long poll"
    ),
    why="an idle queue was short-polled every 0.5-1.5 s and a busy one drained a batch a second",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_ESM_SQS_LONG_POLL",
    apply=apply,
)
