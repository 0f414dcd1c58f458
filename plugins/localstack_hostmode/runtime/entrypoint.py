"""Script the runtime process starts with: imports bootstrap.py and its siblings as a package
under a private name, so their bytecode is cached (a __main__ script is compiled on every start).

The runtime's directory is never on sys.path: the handler's own `bootstrap` (or `frames`, ...)
module is not shadowed, and nothing of LocalStack or the plugin is importable from the handler.
"""

import sys

_NAME = "_lambda_hostmode_runtime"

_package = type(sys)(_NAME)
_package.__path__ = [__file__.rpartition("/")[0]]
_package.__package__ = _NAME
sys.modules[_NAME] = _package
__import__(_NAME + ".bootstrap")
sys.modules[_NAME + ".bootstrap"].main(sys.argv)
