"""Script the runtime process starts with: loads bootstrap.py from its cached bytecode.

A __main__ script is compiled on every start; a module's .pyc is cached. Loaded under a private
name (never sys.path) so the handler's own `bootstrap` module, if any, is not shadowed.
"""

import _frozen_importlib_external as _external
import sys

_NAME = "_lambda_hostmode_bootstrap"
_PATH = __file__.rpartition("/")[0] + "/bootstrap.py"

_module = type(sys)(_NAME)
_module.__file__ = _PATH
sys.modules[_NAME] = _module
exec(_external.SourceFileLoader(_NAME, _PATH).get_code(_NAME), _module.__dict__)
_module.main(sys.argv)
