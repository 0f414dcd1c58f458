"""scripts/consumers.py: a deploy refuses to add a second consumer of the data layer's sources."""

from __future__ import annotations

from typing import Any

import pytest

import consumers
from stack import DeployError

QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders-queue"
STREAM = "arn:aws:kinesis:us-east-1:000000000000:stream/events-stream"
SOURCES = {QUEUE: "orders-queue", STREAM: "events-stream"}
SAM_SQS = {"Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {
    "Events": {"Q": {"Type": "SQS", "Properties": {"Queue": QUEUE}}}}}}}


def mapping(source: str, function: str, uuid: str = "u-1") -> dict[str, Any]:
    return {"EventSourceArn": source, "UUID": uuid,
            "FunctionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{function}"}


def test_templates_with_and_without_event_sources() -> None:
    assert consumers.has_event_sources(SAM_SQS)
    assert consumers.has_event_sources({"Resources": {"M": {
        "Type": "AWS::Lambda::EventSourceMapping"}}})
    api_only = {"Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {
        "Events": {"Get": {"Type": "Api"}}}}, "T": {"Type": "AWS::DynamoDB::Table"}}}
    assert not consumers.has_event_sources(api_only)
    assert not consumers.has_event_sources({})


def test_only_other_functions_on_shared_sources_are_foreign() -> None:
    owners = {"other-fn": "other-stack"}
    found = consumers.foreign_consumers(
        [mapping(QUEUE, "mine"), mapping(STREAM, "other-fn", "u-2"),
         mapping("arn:aws:sqs:us-east-1:000000000000:unrelated", "stranger"),
         mapping(QUEUE, "loose-fn:live", "u-3")],
        SOURCES, {"mine"}, lambda arn: owners.get(arn.rsplit(":function:", 1)[-1]))
    assert found == [consumers.Consumer("events-stream", "other-fn", "other-stack", "u-2"),
                     consumers.Consumer("orders-queue", "loose-fn", None, "u-3")]
    assert "stack other-stack" in found[0].describe()
    assert "no stack we know of" in found[1].describe()


def test_a_mapping_being_deleted_is_no_consumer() -> None:
    # a deleted stack's SQS mapping stays `Deleting` until its long poll ends
    stopping = dict(mapping(QUEUE, "gone-fn"), State="Deleting")
    assert consumers.foreign_consumers([stopping], SOURCES, set(), lambda arn: None) == []
    live = dict(mapping(QUEUE, "gone-fn"), State="Enabled")
    assert consumers.foreign_consumers([live], SOURCES, set(), lambda arn: None)


class FakeLambda:
    def __init__(self, mappings: list[dict[str, Any]], tags: dict[str, dict[str, str]]):
        self.mappings, self.tags = mappings, tags

    def get_paginator(self, name: str) -> Any:
        assert name == "list_event_source_mappings"
        mappings = self.mappings

        class Pages:
            def paginate(self) -> list[dict[str, Any]]:
                return [{"EventSourceMappings": mappings}]

        return Pages()

    def list_tags(self, Resource: str) -> dict[str, Any]:
        return {"Tags": self.tags.get(Resource, {})}


@pytest.fixture
def other_stack_consumes_the_queue(monkeypatch: pytest.MonkeyPatch) -> FakeLambda:
    fake = FakeLambda([mapping(QUEUE, "sam-app-orders")], {
        "arn:aws:lambda:us-east-1:000000000000:function:sam-app-orders":
            {consumers.STACK_TAG: "sam-app"}})
    monkeypatch.setattr(consumers, "shared_sources", lambda client: dict(SOURCES))
    monkeypatch.setattr(consumers, "_own_functions", lambda stack_name: {"second-orders"})
    monkeypatch.delenv("ALLOW_SHARED_SOURCES", raising=False)
    return fake


def test_a_second_stack_is_refused_with_the_consumer_named(
        other_stack_consumes_the_queue: FakeLambda) -> None:
    with pytest.raises(DeployError) as exc:
        consumers.check("second", SAM_SQS, client=lambda service: other_stack_consumes_the_queue)
    text = str(exc.value)
    assert "stack second would be a second consumer" in text
    assert "orders-queue -> function sam-app-orders (stack sam-app; mapping u-1)" in text
    assert "ALLOW_SHARED_SOURCES=1" in text


def test_allow_shared_sources_only_warns(other_stack_consumes_the_queue: FakeLambda,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ALLOW_SHARED_SOURCES", "1")
    found = consumers.check("second", SAM_SQS,
                            client=lambda service: other_stack_consumes_the_queue)
    assert [c.function for c in found] == ["sam-app-orders"]
    assert "warning: stack second would be a second consumer" in capsys.readouterr().err


def test_a_template_without_event_sources_is_not_checked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_calls(service: str) -> Any:
        raise AssertionError("no AWS call for a template without event sources")

    assert consumers.check("small", {"Resources": {}}, client=no_calls) == []


def test_a_function_still_being_created_elsewhere_is_no_owner(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # another stack mid-deploy lists its function without a physical id (CREATE_IN_PROGRESS)
    import stack as st

    class FakeCfn:
        def get_paginator(self, name: str) -> Any:
            pages = {
                "list_stacks": [{"StackSummaries": [{"StackName": "busy",
                                                     "StackStatus": "CREATE_IN_PROGRESS"}]}],
                "list_stack_resources": [{"StackResourceSummaries": [
                    {"ResourceType": "AWS::Lambda::Function", "LogicalResourceId": "NewFn",
                     "ResourceStatus": "CREATE_IN_PROGRESS"},
                    {"ResourceType": "AWS::Lambda::Function", "LogicalResourceId": "DoneFn",
                     "PhysicalResourceId": "busy-done", "ResourceStatus": "CREATE_COMPLETE"}]}],
            }[name]

            class Pages:
                def paginate(self, **_: Any) -> list[dict[str, Any]]:
                    return pages

            return Pages()

    monkeypatch.setattr(st, "client", lambda service, **_: FakeCfn())
    assert consumers._function_stacks(lambda service: FakeCfn()) == {"busy-done": "busy"}


class ListingLambda:
    """list_event_source_mappings answering each listing in turn (the last one from then on)."""

    def __init__(self, *listings: list[dict[str, Any]]) -> None:
        self.listings, self.calls = list(listings), 0

    def get_paginator(self, name: str) -> Any:
        assert name == "list_event_source_mappings"
        lam = self

        class Pages:
            def paginate(self) -> list[dict[str, Any]]:
                lam.calls += 1
                found = lam.listings.pop(0) if len(lam.listings) > 1 else lam.listings[0]
                return [{"EventSourceMappings": found}]

        return Pages()


def test_mappings_being_deleted_on_shared_sources_are_waited_for() -> None:
    # LocalStack refuses a new mapping of a function and source until the deleted one is gone
    deleting = dict(mapping(QUEUE, "app-fn"), State="Deleting")
    live = dict(mapping(STREAM, "app-fn", "u-2"), State="Enabled")
    lam = ListingLambda([deleting, live], [live])
    assert consumers.settle_deleting(lam, [deleting, live], SOURCES) == [live]
    assert lam.calls == 2


def test_nothing_being_deleted_costs_no_listing() -> None:
    lam = ListingLambda([])
    elsewhere = dict(mapping("arn:aws:sqs:us-east-1:000000000000:other", "x"), State="Deleting")
    assert consumers.settle_deleting(lam, [elsewhere], SOURCES) == [elsewhere]
    assert lam.calls == 0


def test_a_mapping_deleted_for_too_long_is_left_to_cloudformation() -> None:
    deleting = dict(mapping(QUEUE, "app-fn"), State="Deleting")
    lam = ListingLambda([deleting])
    assert consumers.settle_deleting(lam, [deleting], SOURCES, timeout=0.2) == [deleting]
