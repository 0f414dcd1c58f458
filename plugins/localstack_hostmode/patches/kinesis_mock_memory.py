"""The Kinesis mock (node) runs with a 1 MB young generation instead of V8's 16 MB default.

Why: the mock (kinesis-local 0.5.2, Scala.js) is started for the first Kinesis call or table
stream, i.e. on every `make up` (init-aws.sh creates both), and idles at ~115 MB RSS. V8's
young-generation semi-spaces are sized for throughput a local stream of test records never
needs; at 1 MB the idle mock measured ~10 MB less (same streams and records), and its old
generation is left alone (capping it made the mock run out of memory at start-up).

What changes, in LocalStack 4.14.0's services/kinesis/kinesis_mock_server.py:
``KinesisMockNodeServer._create_shell_command`` puts ``--max-semi-space-size=1`` after node
(the loopback patch's ``--require`` preload stays).

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_KINESIS_SMALL_HEAP=0``.
"""

from __future__ import annotations

from typing import Any

from .registry import HostPatch, patch_function

NODE_FLAGS = ("--max-semi-space-size=1",)


def _shell_command_with_small_young_gen(create_shell_command: Any, self: Any) -> Any:
    cmd, env = create_shell_command(self)
    if cmd and str(cmd[0]).endswith("node"):
        cmd = [cmd[0], *NODE_FLAGS, *cmd[1:]]
    return cmd, env


def apply() -> None:
    patch_function("localstack.services.kinesis.kinesis_mock_server",
                   "KinesisMockNodeServer._create_shell_command",
                   _shell_command_with_small_young_gen)


PATCH = HostPatch(
    name="kinesis_mock_memory",
    changes="the Kinesis mock's node runs with --max-semi-space-size=1 (a 1 MB young generation)",
    why="the idle mock held ~10 MB of young-generation space a local stream never needs",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_KINESIS_SMALL_HEAP",
    apply=apply,
)
