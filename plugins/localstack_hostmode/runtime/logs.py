"""The function log as AWS's Python runtime writes it: the root logger's handler (text or
LogFormat JSON) and the error lines. Stdlib only; `logging` is imported only when init needs it.

AWS's runtime puts one handler on the root logger, so the handler's basicConfig() is a no-op.
"""

import json
import os
import sys
import time

# AWS's error log line format (awslambdaric bootstrap.log_error): lines joined with CR so one
# traceback is one CloudWatch event, indentation shown with NO-BREAK SPACEs.
ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"

_CURRENT_REQUEST_ID = None
_JSON_LOGS = False  # AWS_LAMBDA_LOG_FORMAT=JSON (LoggingConfig.LogFormat), read at init
_RECORD_ATTRIBUTES = None  # LogRecord attributes that are not "extra" fields


def set_request_id(request_id):
    """The request id the log records of the running invocation carry."""
    global _CURRENT_REQUEST_ID
    _CURRENT_REQUEST_ID = request_id


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
