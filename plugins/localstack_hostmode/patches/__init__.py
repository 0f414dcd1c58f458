"""Host mode's patches to LocalStack's own code: one module per patch, one registry (registry.py)
that applies each once, only on the localstack-core versions it was verified on."""

from .registry import HostPatch, apply_all, apply_early

__all__ = ["HostPatch", "apply_all", "apply_early"]
