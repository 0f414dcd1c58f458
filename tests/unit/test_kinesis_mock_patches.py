"""The two patches on the Kinesis mock's node command line compose (no LocalStack needed)."""

from __future__ import annotations

from typing import Any

from localstack_hostmode.patches import kinesis_mock_loopback, kinesis_mock_memory

NODE_CMD = (["/usr/bin/node", "/libs/kinesis-local/main.js"], {"KINESIS_MOCK_PLAIN_PORT": "1"})


def _original(_self: Any) -> tuple[list[str], dict[str, str]]:
    return list(NODE_CMD[0]), dict(NODE_CMD[1])


def test_memory_flag_goes_right_after_node_and_keeps_the_preload(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOSTMODE_RUN_DIR", str(tmp_path))

    # the registry applies loopback first, then memory: memory wraps loopback
    def with_preload(self: Any) -> Any:
        return kinesis_mock_loopback._shell_command_with_preload(_original, self)

    cmd, env = kinesis_mock_memory._shell_command_with_small_young_gen(with_preload, None)
    assert cmd[:2] == ["/usr/bin/node", "--max-semi-space-size=1"]
    assert cmd[2] == "--require" and cmd[3].startswith(str(tmp_path))
    assert cmd[-1] == "/libs/kinesis-local/main.js"
    assert env == NODE_CMD[1]


def test_a_java_kinesis_mock_is_left_alone() -> None:
    def java(_self: Any) -> Any:
        return ["java", "-jar", "kinesis-mock.jar"], {}

    cmd, _ = kinesis_mock_memory._shell_command_with_small_young_gen(java, None)
    assert cmd == ["java", "-jar", "kinesis-mock.jar"]
