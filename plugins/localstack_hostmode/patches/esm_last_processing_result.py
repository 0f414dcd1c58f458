"""A Kinesis or DynamoDB Streams mapping reports its last batch in ``LastProcessingResult``.

Why: LocalStack 4.14.0 sets ``LastProcessingResult`` to "No records processed" when a stream
mapping is created (services/lambda_/event_source_mapping/esm_config_factory.py) and never
changes it: GetEventSourceMapping said no record had been processed after thousands had, and
after the function failed on every batch (AWS: "OK", "PROBLEM: Function call failed").

What changes: the mapping's event processor, after each invocation of a batch, writes "OK" or
"PROBLEM: Function call failed" into the mapping's entry in LocalStack's Lambda store (where
GetEventSourceMapping and ListEventSourceMappings read it). SQS mappings have no such field and
are untouched; so is everything else the processor does.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
No opt-out: it only changes a field that could not change before.
"""

from __future__ import annotations

from typing import Any

from .registry import HostPatch, patch_function

ESM = "localstack.services.lambda_.event_source_mapping"
OK = "OK"
FAILED = "PROBLEM: Function call failed"
_REPORTER = "_hostmode_report_result"


def _with_result_reporter(get_esm_worker: Any, self: Any) -> Any:
    worker = get_esm_worker(self)
    processor = getattr(worker.poller, "processor", None)
    if processor is not None and "LastProcessingResult" in self.esm_config:
        uuid, store = self.esm_config["UUID"], worker._state.event_source_mappings

        def report(result: str) -> None:
            entry = store.get(uuid)  # gone once the mapping is deleted
            if entry is not None:
                entry["LastProcessingResult"] = result

        setattr(processor, _REPORTER, report)
    return worker


def _process_and_report(process_events_batch: Any, self: Any, input_events: Any) -> None:
    report = getattr(self, _REPORTER, None)
    if report is None:
        return process_events_batch(self, input_events)
    try:
        process_events_batch(self, input_events)
    except Exception:
        report(FAILED)
        raise
    report(OK)
    return None


def apply() -> None:
    patch_function(f"{ESM}.esm_worker_factory", "EsmWorkerFactory.get_esm_worker",
                   _with_result_reporter)
    patch_function(f"{ESM}.esm_event_processor", "EsmEventProcessor.process_events_batch",
                   _process_and_report)


PATCH = HostPatch(
    name="esm_last_processing_result",
    changes="a stream mapping's LastProcessingResult says OK or PROBLEM after each batch",
    why='it said "No records processed" forever, whatever the mapping had processed',
    verified_on=("4.14.0",),
    opt_out=None,
    apply=apply,
)
