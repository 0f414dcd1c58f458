"""The runtime's error documents, as AWS's Python runtime (awslambdaric) builds them.

Stdlib only (runs in the function's interpreter)."""

import os

MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

# every module of this runtime lives here: its frames are never the user's
RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))

AWS_TASK_ROOT = "/var/task"
AWS_LAYERS_ROOT = "/opt"
# (real directory, the path AWS shows for it): the function's code and its layers, set by the
# bootstrap. Without the sandbox the code is not at /var/task, but stack traces show it there
# (and layers under /opt), as AWS does; LAMBDA_TASK_ROOT stays the real directory.
_CODE_LOCATIONS = []


def set_code_locations(task_root, layers):
    """Report frames of task_root as /var/task and of each layer as /opt (last layer first,
    as /opt is the layers extracted in order)."""
    locations = [(task_root, AWS_TASK_ROOT)]
    locations += [(layer, AWS_LAYERS_ROOT) for layer in reversed(layers)]
    _CODE_LOCATIONS[:] = [
        (os.path.join(os.path.realpath(real), ""), aws)
        for real, aws in locations
        if real and os.path.realpath(real) != aws
    ]


def aws_path(filename):
    """The path AWS shows for a file of the function's code or layers; others are unchanged."""
    real = os.path.realpath(filename) if os.path.isabs(filename) else filename
    for prefix, aws in _CODE_LOCATIONS:
        if real.startswith(prefix):
            return aws + "/" + real[len(prefix):]
    return filename


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


def is_runtime_frame(filename, runtime_dir=RUNTIME_DIR):
    """Frames of this runtime or of the import machinery it drives (never user code)."""
    if filename.startswith("<frozen importlib"):
        return True
    path = os.path.abspath(filename)
    if os.path.dirname(path) == runtime_dir:
        return True
    return path.endswith(os.path.join("importlib", "__init__.py"))


def user_frames(tb_tuples, runtime_dir=RUNTIME_DIR):
    """Drop the runtime's own leading frames so the trace starts in the handler's code."""
    for i, frame in enumerate(tb_tuples):
        if not is_runtime_frame(frame[0], runtime_dir):
            return list(tb_tuples[i:])
    return []


def build_exception_error(exc, invoke_id=None, runtime_dir=RUNTIME_DIR):
    """Error document for an exception raised by user code (handler or module init)."""
    import traceback

    tb_tuples = [
        (f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)
    ]
    frames = [
        (aws_path(filename), *rest) for filename, *rest in user_frames(tb_tuples, runtime_dir)
    ]
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), invoke_id)


def build_fault_error(fault, invoke_id=None):
    return make_error(fault.msg, fault.exception_type, fault.trace, invoke_id)
