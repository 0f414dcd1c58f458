"""Child-side runtime for the local-process Lambda executor (host mode).

Runs one Python Lambda function in its own interpreter, mirroring AWS's Python runtime
(awslambdaric): the handler is imported once (init), then each invocation is served from a
framed pipe protocol instead of the Runtime API over HTTP, which is what makes warm invokes cheap.

Stdlib only. The child runs ``python -u -s -S entrypoint.py <request fd> <response fd> <config
json>``, which loads this module under a private name and calls main(). Nothing about the
executor travels in environment variables, so the handler sees only AWS's variables and its own.

Frames (both directions): 1 byte kind, 4 bytes big-endian body length, body.
  parent -> child  b"V" invoke:   4-byte header length, header JSON, event payload bytes
                   b"C" claim (spare mode only, first frame): JSON {"env", "cwd", "config"}
  child -> parent  b"R" ready     (init done)
                   b"I" init error (body: error JSON, AWS shape); the child then exits
                   b"O" result ok / b"E" result error: 8 bytes max RSS (KiB), then the payload
                   b"L" result too large: 8 bytes max RSS (KiB), 8 bytes result size
"""

import json
import os
import sys
import time

KIND_INVOKE = b"V"
KIND_CLAIM = b"C"
KIND_READY = b"R"
KIND_INIT_ERROR = b"I"
KIND_OK = b"O"
KIND_ERROR = b"E"
KIND_TOO_LARGE = b"L"  # result over the response limit: only its size travels (8 bytes)
FRAME_HEADER_SIZE = 5

# AWS's error log line format (awslambdaric bootstrap.log_error): lines joined with CR so one
# traceback is one CloudWatch event, indentation shown with NO-BREAK SPACEs.
ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"

MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# Pure pieces (unit tested in tests/unit/test_runtime_bootstrap.py)
# ---------------------------------------------------------------------------------------------


class FaultException(Exception):
    """A runtime-detected fault with an AWS errorType (Runtime.*)."""

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    """The error document AWS's Python runtime returns (same keys, same order)."""
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def is_runtime_frame(filename, runtime_dir=_RUNTIME_DIR):
    """Frames of this runtime or of the import machinery it drives (never user code)."""
    if filename.startswith("<frozen importlib"):
        return True
    path = os.path.abspath(filename)
    if os.path.dirname(path) == runtime_dir:
        return True
    return path.endswith(os.path.join("importlib", "__init__.py"))


def user_frames(tb_tuples, runtime_dir=_RUNTIME_DIR):
    """Drop the runtime's own leading frames so the trace starts in the handler's code."""
    for i, frame in enumerate(tb_tuples):
        if not is_runtime_frame(frame[0], runtime_dir):
            return list(tb_tuples[i:])
    return []


def build_exception_error(exc, invoke_id=None, runtime_dir=_RUNTIME_DIR):
    """Error document for an exception raised by user code (handler or module init)."""
    import traceback

    tb_tuples = [
        (f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)
    ]
    frames = user_frames(tb_tuples, runtime_dir)
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), invoke_id)


def build_fault_error(fault, invoke_id=None):
    return make_error(fault.msg, fault.exception_type, fault.trace, invoke_id)


def _replace_line_indentation(line, indent_char, new_indent_char):
    count = 0
    for c in line:
        if c != indent_char:
            break
        count += 1
    return (new_indent_char * count) + line[count:]


def format_error_log(error_result):
    """The text AWS's runtime writes to the function log for an error (one CR-joined line,
    or one JSON record with AWS_LAMBDA_LOG_FORMAT=JSON)."""
    if _JSON_LOGS:
        record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                  "level": "ERROR", **error_result}
        return json.dumps(record, ensure_ascii=False) + "\n"
    description = "[ERROR]"
    error_type = error_result.get("errorType")
    if error_type:
        description += " " + error_type
    message = error_result.get("errorMessage")
    if message:
        if error_type:
            description += ":"
        description += " " + message
    lines = [description]
    stack_trace = error_result.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                for trace_line in element.splitlines():
                    lines.append(_replace_line_indentation(trace_line, " ", ERROR_LOG_IDENT))
    return ERROR_LOG_LINE_TERMINATE.join(lines) + "\n"


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
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
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


def build_sys_path(initial_path, task_root, layers, runtime_lib, version, runtime_dir=_RUNTIME_DIR):
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
# Lambda context (same attributes as awslambdaric.lambda_context.LambdaContext)
# ---------------------------------------------------------------------------------------------


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            f"Client([installation_id={self.installation_id},app_title={self.app_title},"
            f"app_version_name={self.app_version_name},app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


def make_obj_from_dict(cls, data):
    if data is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, data.get(field, None))
    return obj


class LambdaContext:
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = make_obj_from_dict(Client, self.client_context.client)
        self.identity = make_obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )


def parse_client_context(raw):
    """ClientContext JSON (already base64-decoded by the executor) -> dict, AWS's fault if bad."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except Exception as e:
        raise FaultException(
            LAMBDA_CONTEXT_UNMARSHAL_ERROR, f"Unable to parse Client Context JSON: {e}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Logging (AWS's runtime puts one handler on the root logger, so basicConfig() is a no-op)
# ---------------------------------------------------------------------------------------------

_CURRENT_REQUEST_ID = None


_JSON_LOGS = False  # AWS_LAMBDA_LOG_FORMAT=JSON (LoggingConfig.LogFormat), read at init
_RECORD_ATTRIBUTES = None  # LogRecord attributes that are not "extra" fields


def json_log_record(record):
    """One `logging` record as AWS's Python runtime writes it with LogFormat JSON."""
    import logging
    import traceback

    global _RECORD_ATTRIBUTES
    if _RECORD_ATTRIBUTES is None:
        _RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
            "message", "asctime", "aws_request_id", "tenant_id", "taskName",
        }
    level = min(50, max(0, record.levelno)) // 10 * 10
    created = time.gmtime(record.created)
    result = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", created) + f".{int(record.msecs):03d}Z",
        "level": logging.getLevelName(level),
        "message": record.getMessage(),
        "logger": record.name,
        "requestId": getattr(record, "aws_request_id", None),
    }
    if record.exc_info:
        exc_type, exc, tb = record.exc_info
        result["stackTrace"] = traceback.format_tb(tb)
        result["errorType"] = exc_type.__name__
        result["errorMessage"] = str(exc)
        result["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRIBUTES and key not in result:
            result[key] = value
    return json.dumps({k: v for k, v in result.items() if v is not None},
                      ensure_ascii=False, default=str) + "\n"


def setup_logging():
    import logging

    global _JSON_LOGS
    _JSON_LOGS = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            sys.stdout.write(self.format(record))

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _CURRENT_REQUEST_ID or ""
            record.tenant_id = None
            return True

    class JsonFormatter(logging.Formatter):
        def format(self, record):
            return json_log_record(record)

    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    if _JSON_LOGS:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG"}.get(level, level)
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


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


# ---------------------------------------------------------------------------------------------
# Frame I/O
# ---------------------------------------------------------------------------------------------


def write_frame(fd, kind, *parts):
    length = sum(len(p) for p in parts)
    data = b"".join((kind, length.to_bytes(4, "big"), *parts))
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(reader, n):
    data = reader.read(n)
    if data is None or len(data) < n:
        raise EOFError
    return data


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
    the handler spawned along (our process group, when we lead it)."""
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
    global _CURRENT_REQUEST_ID
    invoke_id = header["id"]
    _CURRENT_REQUEST_ID = invoke_id
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
    sys.stdout.write(format_error_log(error))
    return KIND_ERROR, json.dumps(error, ensure_ascii=False).encode("utf-8")


def claim_spare(reader):
    """Spare mode: started ahead of need with a neutral environment and the stdlib the init
    needs already imported, this process waits for the function it will run. The claim frame
    carries that function's environment, working directory and runtime config."""
    import logging  # noqa: F401  (imported now, while nobody waits for it)

    try:
        frame_header = read_exact(reader, FRAME_HEADER_SIZE)
        body = read_exact(reader, int.from_bytes(frame_header[1:], "big"))
    except EOFError:
        _die_with_group()
    claim = json.loads(body)
    coerced_ctype = os.environ.get("LC_CTYPE")  # set by the interpreter's locale coercion
    os.environ.clear()
    os.environ.update(claim["env"])
    if coerced_ctype and "LC_CTYPE" not in os.environ:
        os.environ["LC_CTYPE"] = coerced_ctype
    time.tzset()
    os.chdir(claim["cwd"])
    return claim["config"]


def main(argv):
    request_fd, response_fd = int(argv[1]), int(argv[2])
    config = json.loads(argv[3])
    reader = os.fdopen(request_fd, "rb", buffering=1 << 16)
    if config.get("spare"):
        config = claim_spare(reader)
    sys.argv = [os.path.abspath(__file__)]
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    sys.path[:] = build_sys_path(
        sys.path, task_root, config.get("layers", []), config.get("runtime_lib"), version
    )
    if config.get("hot_reload_roots"):
        install_no_bytecode_hook(config["hot_reload_roots"])

    try:
        setup_logging()
        request_handler = load_handler(os.environ.get("_HANDLER", ""))
    except FaultException as e:
        error = build_fault_error(e)
    except Exception as e:
        error = build_exception_error(e)
    else:
        error = None
    if error is not None:
        sys.stdout.write(format_error_log(error))
        sys.stdout.flush()
        write_frame(response_fd, KIND_INIT_ERROR, json.dumps(error, ensure_ascii=False).encode())
        os._exit(1)

    write_frame(response_fd, KIND_READY)
    watch_executor(request_fd)
    while True:
        try:
            frame_header = read_exact(reader, FRAME_HEADER_SIZE)
            body = read_exact(reader, int.from_bytes(frame_header[1:], "big"))
        except EOFError:
            _die_with_group()
        header_len = int.from_bytes(body[:4], "big")
        header = json.loads(body[4 : 4 + header_len])
        kind, result = handle_invocation(
            request_handler, header, body[4 + header_len :], config.get("response_limit")
        )
        sys.stdout.flush()
        sys.stderr.flush()
        write_frame(response_fd, kind, max_rss_kib().to_bytes(8, "big"), result)


if __name__ == "__main__":
    main(sys.argv)
