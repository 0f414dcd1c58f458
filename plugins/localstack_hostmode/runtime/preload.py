"""A spare runtime imports the function's likely dependencies before it is claimed.

A cold start of a function using boto3 and Powertools spends most of its ~0.3 s of CPU importing
them. A spare (started ahead of need, see lambda_runtime/spares.py) imports them while nobody
waits, from the layers and runtime SDK it will have, then tells the executor what that import
depended on, so the executor hands it only to a function for which the result is the same as
importing them itself:

* "modules": every top-level module the preload added to sys.modules: a function whose own code
  directory has one of these names (its own urllib3, a `json.py`) would have imported its own,
  so it gets no preloaded spare;
* "env": every environment variable the imports read, with the value they saw (None: unset):
  the function's environment must have the same (e.g. Powertools reads AWS_EXECUTION_ENV and
  POWERTOOLS_DEBUG at import; botocore expands ~ from HOME).

Stdlib only (runs in the function's interpreter before the handler exists).
"""

import contextlib
import importlib
import os
import sys
import time

_MISSING = object()


@contextlib.contextmanager
def recording_env_reads(reads):
    """Record in `reads` the variables looked up in os.environ (item access, get, `in`,
    os.getenv) and the values seen."""
    environ_type = type(os.environ)
    original_getitem = environ_type.__getitem__
    original_contains = environ_type.__contains__

    def getitem(self, key):
        try:
            value = original_getitem(self, key)
        except KeyError:
            reads.setdefault(key, None)
            raise
        reads.setdefault(key, value)
        return value

    def contains(self, key):
        found = original_contains(self, key)
        if not found:
            reads.setdefault(key, None)
        elif key not in reads:
            reads[key] = original_getitem(self, key)
        return found

    environ_type.__getitem__ = getitem
    environ_type.__contains__ = contains
    try:
        yield reads
    finally:
        environ_type.__getitem__ = original_getitem
        environ_type.__contains__ = original_contains


def preload(spec, path):
    """Import spec["modules"] with sys.path `path` and spec["env"] set; returns the report
    (see the module docstring). A module that fails to import is left out, with what it
    imported before it failed."""
    saved_path = list(sys.path)
    saved_env = dict(os.environ)
    before = {name.partition(".")[0] for name in sys.modules}
    reads = {}
    os.environ.update(spec.get("env") or {})
    time.tzset()
    sys.path[:] = path
    try:
        with recording_env_reads(reads):
            for name in spec.get("modules") or []:
                try:
                    importlib.import_module(name)
                except Exception:
                    pass  # the function will meet the same error in its own import
    finally:
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_env)
        time.tzset()
    added = {name.partition(".")[0] for name in list(sys.modules)} - before
    return {"env": reads, "modules": sorted(added)}
