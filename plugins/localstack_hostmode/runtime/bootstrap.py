"""Child-side runtime for the local-process Lambda executor (host mode).

Runs one Python Lambda function in its own interpreter, mirroring AWS's Python runtime
(awslambdaric): the handler is imported once (init), then each invocation is served from a
framed pipe protocol (frames.py) instead of the Runtime API over HTTP, which is what makes warm
invokes cheap.

Stdlib only. The child runs ``python -u -s -S entrypoint.py <request fd> <response fd> <config
json>``, which loads this package under a private name and calls main(). Nothing about the
executor travels in environment variables, so the handler sees only AWS's variables and its own.
The sibling modules: frames (the pipe protocol), errors (AWS's error documents), context (the
handler's context object), logs (the function log's format).
"""

import json
import os
import sys
import time

from . import logs, sealing
from .context import LambdaContext, parse_client_context
from .errors import (
    BUILT_IN_MODULE_CONFLICT,
    HANDLER_NOT_FOUND,
    IMPORT_MODULE_ERROR,
    MALFORMED_HANDLER_NAME,
    MARSHAL_ERROR,
    RUNTIME_DIR,
    UNMARSHAL_ERROR,
    USER_CODE_SYNTAX_ERROR,
    FaultException,
    aws_path,
    build_exception_error,
    build_fault_error,
    set_code_locations,
)
from .frames import (
    KIND_ERROR,
    KIND_INIT_ERROR,
    KIND_OK,
    KIND_PRELOADED,
    KIND_READY,
    KIND_TOO_LARGE,
    decode_invoke,
    read_frame,
    result_parts,
    write_frame,
)


def split_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {e}") from None
    return modname, fname


def load_handler(handler):
    """Import the handler like awslambdaric._get_handler, with the same fault types/messages."""
    import importlib

    modname, fname = split_handler(handler)
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                BUILT_IN_MODULE_CONFLICT,
                f"Cannot use built-in module {modname} as a handler module",
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            IMPORT_MODULE_ERROR, f"Unable to import module '{modname}': {e}"
        ) from None
    except SyntaxError as e:
        trace = [f'  File "{aws_path(e.filename or "")}" Line {e.lineno}\n    {e.text}']
        raise FaultException(
            USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{modname}': {e}", trace
        ) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            HANDLER_NOT_FOUND, f"Handler '{fname}' missing on module '{modname}'"
        ) from None


def _json_default(obj):
    # AWS's runtime encodes with simplejson(use_decimal): DynamoDB Decimals come out as numbers.
    if type(obj).__name__ == "Decimal":
        if obj.is_nan():
            return float("nan")
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=True, default=_json_default)


def marshal_response(response):
    """Handler result -> response bytes (AWS: bytes pass through, everything else is JSON)."""
    if isinstance(response, bytes):
        return response
    try:
        return _ENCODER.encode(response).encode("utf-8")
    except Exception as e:
        raise FaultException(MARSHAL_ERROR, f"Unable to marshal response: {e}") from None


def unmarshal_request(payload):
    try:
        return json.loads(payload)
    except Exception as e:
        raise FaultException(UNMARSHAL_ERROR, f"Unable to unmarshal input: {e}") from None


def build_sys_path(initial_path, task_root, layers, runtime_lib, version, runtime_dir=RUNTIME_DIR):
    """The handler's sys.path: code, layers as /opt/python provides them, stdlib, bundled SDK.

    Layers are listed last-wins, like extracting them into /opt in order. The interpreter's own
    entries (PYTHONPATH from the function's environment, then the stdlib) keep their order;
    the runtime's directory is never on it.
    """
    path = [task_root]
    for layer in reversed(layers):
        path.append(os.path.join(layer, "python", "lib", f"python{version}", "site-packages"))
        path.append(os.path.join(layer, "python"))
    for entry in initial_path:
        if entry and os.path.abspath(entry) != runtime_dir and entry not in path:
            path.append(entry)
    if runtime_lib:
        path.append(runtime_lib)
    return path


# ---------------------------------------------------------------------------------------------
# Hot reload: code under these roots is always compiled from source (no .pyc read or written),
# since a pyc's second-granularity mtime can hide an edit saved in the same second.
# ---------------------------------------------------------------------------------------------


def install_no_bytecode_hook(roots):
    from importlib.machinery import (
        BYTECODE_SUFFIXES,
        EXTENSION_SUFFIXES,
        SOURCE_SUFFIXES,
        ExtensionFileLoader,
        FileFinder,
        SourceFileLoader,
        SourcelessFileLoader,
    )

    class SourceOnlyLoader(SourceFileLoader):
        def path_stats(self, path):
            raise OSError("hot reload: bytecode cache disabled")

    details = [
        (ExtensionFileLoader, EXTENSION_SUFFIXES),
        (SourceOnlyLoader, SOURCE_SUFFIXES),
        (SourcelessFileLoader, BYTECODE_SUFFIXES),
    ]
    prefixes = tuple(os.path.join(r, "") for r in roots)

    def hook(path):
        if path in roots or path.startswith(prefixes):
            return FileFinder(path, *details)
        raise ImportError("not a hot-reload path")

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()


def max_rss_kib():
    """Peak RSS of this process image in KiB (VmHWM: ru_maxrss would carry over the
    executor's own size across fork and exec on Linux)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss // 1024 if sys.platform == "darwin" else rss
    except Exception:
        return 0


def _die_with_group():
    """The executor is gone (LocalStack stopped or crashed): never outlive it, and take what
    the handler spawned along: every descendant (those in a session of their own too: we are
    their subreaper), then our process group, when we lead it."""
    sealing.kill_descendants(os.getpid())
    if os.getpgid(0) == os.getpid():
        os.killpg(0, 9)
    os._exit(0)


def watch_executor(request_fd):
    """Exit as soon as the executor's end of the request pipe closes, even mid-invocation."""
    import select
    import threading

    def watch():
        poller = select.poll()
        poller.register(request_fd, 0)  # hang-up and errors only, never data
        while True:
            for _fd, events in poller.poll():
                if events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    _die_with_group()

    threading.Thread(target=watch, name="lambda-executor-watchdog", daemon=True).start()


# ---------------------------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------------------------


def handle_invocation(request_handler, header, payload, response_limit=None):
    """Run one invocation; returns (kind, body bytes). Exceptions that are not Exception
    (SystemExit, KeyboardInterrupt) propagate and end the process, as on AWS."""
    invoke_id = header["id"]
    logs.set_request_id(invoke_id)
    trace_id = header.get("trace")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        context = LambdaContext(
            invoke_id,
            parse_client_context(header.get("cc")),
            None,
            header["deadline"],
            header.get("arn"),
        )
        event = unmarshal_request(payload)
        result = marshal_response(request_handler(event, context))
        if response_limit is not None and len(result) > response_limit:
            return KIND_TOO_LARGE, len(result).to_bytes(8, "big")
        return KIND_OK, result
    except FaultException as e:
        error = build_fault_error(e, invoke_id)
    except Exception as e:
        error = build_exception_error(e, invoke_id)
    sys.stdout.write(logs.format_error_log(error))
    return KIND_ERROR, json.dumps(error, ensure_ascii=False).encode("utf-8")


def claim_spare(reader, response_fd=None, preload_spec=None):
    """Spare mode: started ahead of need with a neutral environment and the stdlib the init
    needs already imported, this process waits for the function it will run. The claim frame
    carries that function's environment, working directory and runtime config.

    With a preload spec, the spare first imports the function's likely dependencies from the
    layers and runtime SDK it will have, and reports what those imports depended on
    (preload.py) in a "P" frame, before it waits."""
    import logging  # noqa: F401  (imported now, while nobody waits for it)

    if os.path.isdir("/var/.spare"):  # a spare sandbox (jail.py): ctypes imported now too
        from . import jail  # noqa: F401
    if preload_spec and response_fd is not None:
        from .preload import preload

        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        path = build_sys_path(
            sys.path, "", preload_spec.get("layers", []), preload_spec.get("runtime_lib"), version
        )[1:]  # the task root is not known yet
        report = preload(preload_spec, path)
        write_frame(response_fd, KIND_PRELOADED, json.dumps(report).encode())
    try:
        _kind, body = read_frame(reader)
    except EOFError:
        _die_with_group()
    claim = json.loads(body)
    jail_spec = claim["config"].get("jail")
    if jail_spec:  # a spare sandbox: becomes the function's before any of its code runs
        from . import jail

        jail.enter(jail_spec)
    coerced_ctype = os.environ.get("LC_CTYPE")  # set by the interpreter's locale coercion
    os.environ.clear()
    os.environ.update(claim["env"])
    if coerced_ctype and "LC_CTYPE" not in os.environ:
        os.environ["LC_CTYPE"] = coerced_ctype
    time.tzset()
    os.chdir(jail_spec["cwd"] if jail_spec else claim["cwd"])
    return claim["config"]


def main(argv):
    sealing.become_subreaper()
    try:
        serve(argv)
    finally:  # the handler raised SystemExit: what it started ends with it
        sealing.kill_descendants(os.getpid())


def serve(argv):
    request_fd, response_fd = int(argv[1]), int(argv[2])
    config = json.loads(argv[3])
    for name in config.get("unset_env", ()):  # the executor's marker (lambda_runtime/process.py)
        os.environ.pop(name, None)
    reader = os.fdopen(request_fd, "rb", buffering=1 << 16)
    if config.get("spare"):
        config = claim_spare(reader, response_fd, config.get("preload"))
    sys.argv = [os.path.abspath(__file__)]
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    sys.path[:] = build_sys_path(
        sys.path, task_root, config.get("layers", []), config.get("runtime_lib"), version
    )
    set_code_locations(task_root, config.get("layers", []))
    if config.get("hot_reload_roots"):
        install_no_bytecode_hook(config["hot_reload_roots"])

    try:
        logs.setup_logging()
        request_handler = load_handler(os.environ.get("_HANDLER", ""))
    except FaultException as e:
        error = build_fault_error(e)
    except Exception as e:
        error = build_exception_error(e)
    else:
        error = None
    if error is not None:
        sys.stdout.write(logs.format_error_log(error))
        sys.stdout.flush()
        write_frame(response_fd, KIND_INIT_ERROR, json.dumps(error, ensure_ascii=False).encode())
        sealing.kill_descendants(os.getpid())
        os._exit(1)

    write_frame(response_fd, KIND_READY)
    watch_executor(request_fd)
    while True:
        try:
            _kind, body = read_frame(reader)
        except EOFError:
            _die_with_group()
        header, payload = decode_invoke(body)
        kind, result = handle_invocation(
            request_handler, header, payload, config.get("response_limit")
        )
        sys.stdout.flush()
        sys.stderr.flush()
        write_frame(response_fd, kind, *result_parts(max_rss_kib(), result))

