"""The one registry of host mode's patches to LocalStack's own code.

Every change host mode makes to LocalStack's behaviour (as opposed to the plugins it adds) is a
``HostPatch`` in its own module of this package: what it changes, why, the localstack-core
versions its code was verified against, and the environment variable that turns it off. The
``on_infra_start`` hook in hooks.py calls ``apply_all()``, which applies each patch once (an
``early`` patch, one that must act before LocalStack imports its request chain, is applied by
the ``on_runtime_create`` hook's ``apply_early()``):

* on a localstack-core version not in the patch's ``verified_on`` it is skipped with a warning
  (a pin bump must not silently apply code written against another release's internals);
* with its opt-out variable set to ``0`` in LocalStack's environment it is skipped (logged);
* otherwise its ``apply`` runs; patches replace functions and methods through LocalStack's own
  ``localstack.utils.patch.Patch``, so ``Patch.applied_patches`` lists them too. Each replacement
  takes effect when its module is first imported (``patch_function``), not at start-up.

The outcome of every patch is logged in one line and kept in ``REGISTRY.outcomes``.

No LocalStack import at module level: the registry is unit-tested without LocalStack installed.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

LOG = logging.getLogger(__name__)

# One module per patch, each with a module-level PATCH; applied in this order. A patch applied
# later wraps the earlier ones: cloudformation_lambda_waits' short waits reach the calls that
# cloudformation_lambda_updates makes.
PATCH_MODULES = (
    "cloudformation_lambda_updates",
    "cloudformation_lambda_waits",
    "cloudformation_concurrent_resources",
    "cloudformation_in_memory_clients",
    "lambda_code_archive_reuse",
    "lambda_version_state_events",
    "kinesis_mock_loopback",
    "lambda_pollers_shutdown",
    "gateway_loop_stop",
    "lambda_log_group",
    "lambda_delete_failed_functions",
    "lambda_invocation_context",
    "lambda_environment_bound",
    "apigateway_request_too_large",
    "sqs_fifo_group_concurrency",
    "esm_sqs_long_polling",
    "esm_stream_parameters",
    "esm_stream_bisect",
    "esm_stream_record_age",
    "esm_last_processing_result",
    "esm_stream_wake",
    "esm_stream_idle_wait",  # after esm_stream_wake: it wraps that patch's worker factory
    "backend_start_polling",
    "kinesis_mock_memory",
    "gateway_keep_alive",
    "gateway_thread_handoffs",
    "uid_without_syscall",
    "request_log_buffer",
    "lambda_log_shipping",
    "lambda_metrics_batching",
    "apigateway_lambda_in_memory",
    "lambda_env_timers",
    "moto_dispatch_caches",
    "stepfunctions_batch_import",
    "cloudformation_ec2_api_import",
    "sfn_jsonpath_cache",
    "sfn_task_clients",
    "sfn_lambda_in_memory",
    "sfn_program_cache",
    "dynamodb_stream_order",
    "lambda_code_url_client",
    "dynamodb_expired_items",
    "kinesis_mock_code_cache",
    "gc_freeze_at_start",
    "service_start_wait",
    "botocore_shared_data",
    "botocore_shared_models",
    "runtime_ready_poll",
    "openapi_validation_lazy",
    "protocol_parser_cache",
    "werkzeug_lazy_builders",
    # last: its start-up thread imports the Kinesis mock's module, which the patches above
    # (loopback, memory, code cache, backend polling) must already be registered for
    "kinesis_mock_prestart",
)

APPLIED = "applied"
SKIPPED_VERSION = "skipped (not verified on this localstack-core)"
SKIPPED_OPT_OUT = "skipped (opted out)"


@dataclass(frozen=True)
class HostPatch:
    """One change to LocalStack's code; see the module docstring."""

    name: str
    changes: str  # what LocalStack does differently, in one sentence
    why: str  # what went wrong without it
    verified_on: tuple[str, ...]  # localstack-core versions whose code the patch was checked on
    opt_out: str | None  # env var that skips the patch when set to "0"; None: no opt-out
    apply: Callable[[], None]  # imports LocalStack lazily and applies the Patch(es)
    early: bool = False  # applied at on_runtime_create (apply_early), before LocalStack's imports


def localstack_version() -> str | None:
    """The installed localstack-core version, or None when it is not installed."""
    try:
        return version("localstack-core")
    except PackageNotFoundError:
        return None


def patch_function(module: str, qualname: str, replacement: Callable[..., Any]) -> None:
    """Replace ``qualname`` (e.g. ``"Poller.stop"``) of LocalStack's ``module`` with
    ``replacement``, called with the original first (``localstack.utils.patch.Patch.function``).

    Applied when ``module`` is first imported (at once if it already is), right after its code
    ran, so every importer sees the patched function: importing the patched modules at start-up
    (API Gateway's handlers, the Lambda service) cost ~0.2 of LocalStack's ~1.1 CPU-s boot, for
    services a session may never call. wrapt (a LocalStack dependency) provides the post-import
    hook."""
    def apply_to(loaded: Any) -> None:
        from localstack.utils.patch import Patch

        target: Any = loaded
        for attribute in qualname.split("."):
            target = getattr(target, attribute)
        Patch.function(target, replacement).apply()
        LOG.debug("patched %s.%s", module, qualname)

    on_import(module, apply_to)


def on_import(module: str, apply: Callable[[Any], None]) -> None:
    """Call ``apply(module object)`` when LocalStack's ``module`` is first imported (at once if
    it is), right after its code ran: for patches that replace module attributes or classes'
    methods, so that applying them does not import the module at start-up (see patch_function)."""
    import wrapt

    wrapt.register_post_import_hook(apply, module)


def load_patches(modules: Iterable[str] = PATCH_MODULES) -> tuple[HostPatch, ...]:
    """The PATCH of each module of this package named in ``modules``."""
    return tuple(importlib.import_module(f"{__package__}.{name}").PATCH for name in modules)


class PatchRegistry:
    """Applies its patches once each and remembers what became of them."""

    def __init__(self, patches: Iterable[HostPatch]) -> None:
        self.patches = tuple(patches)
        self.outcomes: dict[str, str] = {}  # patch name -> APPLIED / SKIPPED_*

    def apply_all(self, installed: str | None, early_only: bool = False) -> dict[str, str]:
        """Apply every patch not handled yet (only the ``early`` ones with ``early_only``), on
        localstack-core ``installed``."""
        pending = [p for p in self.patches
                   if p.name not in self.outcomes and (p.early or not early_only)]
        for patch in pending:
            self.outcomes[patch.name] = self._apply(patch, installed)
        if pending and not early_only:  # one line for all, at on_infra_start
            LOG.info("host-mode patches on localstack-core %s: %s", installed, self.summary())
        return dict(self.outcomes)

    def summary(self) -> str:
        """E.g. ``applied: a, b; skipped (opted out): c``."""
        by_outcome: dict[str, list[str]] = {}
        for name, outcome in self.outcomes.items():
            by_outcome.setdefault(outcome, []).append(name)
        return "; ".join(f"{outcome}: {', '.join(names)}" for outcome, names in by_outcome.items())

    @staticmethod
    def _apply(patch: HostPatch, installed: str | None) -> str:
        if installed not in patch.verified_on:
            LOG.warning(
                "host-mode patch %s skipped: verified on localstack-core %s, this is %s",
                patch.name,
                ", ".join(patch.verified_on),
                installed,
            )
            return SKIPPED_VERSION
        if patch.opt_out and os.environ.get(patch.opt_out, "1") == "0":
            LOG.info("host-mode patch %s skipped: %s=0", patch.name, patch.opt_out)
            return SKIPPED_OPT_OUT
        patch.apply()
        LOG.debug("host-mode patch %s applied: %s", patch.name, patch.changes)
        return APPLIED


REGISTRY: PatchRegistry | None = None


def _registry() -> PatchRegistry:
    global REGISTRY
    if REGISTRY is None:
        REGISTRY = PatchRegistry(load_patches())
    return REGISTRY


def apply_all() -> dict[str, str]:
    """Apply the registered patches (once) on the installed localstack-core."""
    return _registry().apply_all(localstack_version())


def apply_early() -> dict[str, str]:
    """Apply the ``early`` patches (once): at on_runtime_create, before LocalStack imports its
    request chain; apply_all() then applies the others."""
    return _registry().apply_all(localstack_version(), early_only=True)
