"""moto_dispatch_caches: the memoised lookups answer what moto's own functions answer, computed
once (without LocalStack or moto)."""

from __future__ import annotations

from localstack_hostmode.patches.moto_dispatch_caches import cached_method_names, cached_module_list


def test_module_list_is_scanned_once_and_iterates_the_same_names_every_call() -> None:
    scans = []

    def list_of_moto_modules():
        scans.append(1)
        yield from ("dynamodb", "s3", "sqs")

    cached = cached_module_list(list_of_moto_modules)

    assert "dynamodb" in cached() and "kinesis" not in cached()
    assert list(cached()) == ["dynamodb", "s3", "sqs"] == list(cached())
    assert len(scans) == 1


def test_method_names_are_listed_once_per_class_and_each_caller_gets_its_own_list() -> None:
    listed = []

    class A:
        def get_item(self): ...

    class B:
        def put_item(self): ...

    def method_names_from_class(clazz):
        listed.append(clazz)
        return [n for n, v in vars(clazz).items() if callable(v)]

    cached = cached_method_names(method_names_from_class)
    first = cached(A)
    first.append("mutated")

    assert cached(A) == ["get_item"] and cached(B) == ["put_item"]
    assert listed == [A, B]
