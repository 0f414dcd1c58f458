"""Fixture handlers for tests/integration/test_executor*.py (one module, many entry points)."""

import json
import logging
import os
import subprocess
import sys
import time
import uuid

# imported before this module (by a preloaded spare): the stdlib above imports neither
PRELOADED = sorted(m for m in ("boto3", "pydantic") if m in sys.modules)
COUNTER = 0
LOADED_AT = time.time()
# which runtime process answered (sandboxed, every runtime has the same pid in its namespace)
PROCESS = uuid.uuid4().hex
print("init: probe module imported")


class OrderRejected(Exception):
    """A typed domain error: its class name must reach the caller as errorType."""


def echo(event, context):
    return event


def info(event, context):
    global COUNTER
    COUNTER += 1
    importable = {}
    for name in ("localstack", "pytest", "moto", "localstack_hostmode", "boto3", "layerlib"):
        try:
            module = __import__(name)
            importable[name] = getattr(module, "__file__", None) or "namespace"
        except ImportError:
            importable[name] = None
    cc = context.client_context
    return {
        "counter": COUNTER,
        "preloaded": PRELOADED,
        "pid": os.getpid(),
        "process": PROCESS,
        "cwd": os.getcwd(),
        "file": __file__,
        "sys_path": sys.path,
        "executable": sys.executable,
        "version": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "env": dict(os.environ),
        "importable": importable,
        "context": {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "identity": None
            if context.identity is None
            else {"cognito_identity_id": context.identity.cognito_identity_id},
            "client_context": None
            if cc is None
            else {
                "custom": cc.custom,
                "env": cc.env,
                "client": None
                if cc.client is None
                else {
                    "installation_id": cc.client.installation_id,
                    "app_title": cc.client.app_title,
                },
            },
        },
        "root_handlers": len(logging.getLogger().handlers),
    }


def fail(event, context):
    raise OrderRejected(event.get("message", "order rejected"))


def exit_process(event, context):
    how = event.get("how", "sys.exit")
    print(f"about to exit via {how}")
    if how == "sys.exit":
        sys.exit(event.get("code", 1))
    if how == "os._exit":
        os._exit(event.get("code", 3))
    os.kill(os.getpid(), 9)


def sleep(event, context):
    started = time.time()
    print(f"sleeping {event['seconds']}s")
    time.sleep(event["seconds"])
    return {"pid": os.getpid(), "process": PROCESS, "started": started, "ended": time.time()}


def unmarshallable(event, context):
    return {"items": {1, 2, 3}}


def big_response(event, context):
    print("generating bytes")
    return "a" * event["size"]


def payload_size(event, context):
    return {"length": len(json.dumps(event))}


def logs(event, context):
    print("line from print")
    sys.stderr.write("line from stderr\n")
    os.write(1, b"line from fd 1\n")
    subprocess.run(["echo", "line from a subprocess"], check=True)
    logging.getLogger().warning("line from logging")
    logging.getLogger("app").error("error from a named logger")
    return {"ok": True}


def decimal_result(event, context):
    from decimal import Decimal

    return {"int": Decimal("3"), "float": Decimal("1.5")}


def sdk_call(event, context):
    """Reaches LocalStack through AWS_ENDPOINT_URL with the runtime-bundled boto3."""
    import boto3

    return {
        "account": boto3.client("sts").get_caller_identity()["Account"],
        "boto3": boto3.__file__,
    }


def spawn_grandchild(event, context):
    """Leaves a background process behind: stopping the environment must take it down too."""
    child = subprocess.Popen(["sleep", "300"])
    return {"pid": os.getpid(), "grandchild": child.pid}


def use_layers(event, context):
    import layerlib
    import layerpkg

    return {"layerlib": layerlib.WHO, "layerpkg": layerpkg.WHO, "sys_path": sys.path}


def use_pythonpath(event, context):
    import ppmod

    return {"ppmod": ppmod.WHO, "pid": os.getpid(), "process": PROCESS}


def allocate(event, context):
    """Hold `mb` MiB of written (resident) memory, and report the process's peak."""
    blob = b"\x01" * (event["mb"] << 20)
    print(f"holding {len(blob) >> 20} MiB", flush=True)
    time.sleep(event.get("hold_s", 0))
    print("released", flush=True)
    with open("/proc/self/status") as f:  # VmHWM: ru_maxrss carries over the forking parent's
        peak_kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return {"held_mb": len(blob) >> 20, "pid": os.getpid(), "process": PROCESS,
            "max_rss_mb": peak_kib >> 10}


def print_lines(event, context):
    for line in event["lines"]:
        print(line)
    return {"printed": len(event["lines"])}


def pid(event, context):
    return {"pid": os.getpid(), "process": PROCESS}


ACTIONS = {
    "echo": echo,
    "pid": pid,
    "info": info,
    "fail": fail,
    "exit": exit_process,
    "sleep": sleep,
    "unmarshallable": unmarshallable,
    "big_response": big_response,
    "payload_size": payload_size,
    "logs": logs,
    "decimal": decimal_result,
    "allocate": allocate,
    "print_lines": print_lines,
}


def dispatch(event, context):
    """One function, many behaviours: {"action": "<name>", ...} picks the entry point."""
    return ACTIONS[event.get("action", "info")](event, context)
