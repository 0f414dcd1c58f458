"""patches/cloudformation_in_memory_clients.py (no LocalStack): the factories it installs
short-circuit every client they make, after the base factory's own hook, and only theirs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from localstack_hostmode.patches import cloudformation_in_memory_clients as patch
from localstack_hostmode.patches import registry


class BaseFactory:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def _get_client_post_hook(self, client: Any) -> Any:
        client.hooks = ["base"]
        return client


def test_the_subclass_short_circuits_after_the_base_hook(monkeypatch) -> None:
    monkeypatch.setattr(patch, "_short_circuit",
                        lambda client: (client.hooks.append("in-memory"), client)[1])
    factory = patch.in_memory_factory_class(BaseFactory)(use_ssl=False)
    client = factory._get_client_post_hook(SimpleNamespace())
    assert client.hooks == ["base", "in-memory"]
    assert isinstance(factory, BaseFactory) and factory.kwargs == {"use_ssl": False}
    assert type(factory).__name__ == "InMemoryBaseFactory"
    # the base class (whose instances other services share) is untouched
    assert BaseFactory()._get_client_post_hook(SimpleNamespace()).hooks == ["base"]


def test_registered_with_its_opt_out() -> None:
    assert "cloudformation_in_memory_clients" in registry.PATCH_MODULES
    assert patch.PATCH.opt_out == "HOSTMODE_CFN_IN_MEMORY"
    assert patch.PATCH.verified_on == ("4.14.0",)
