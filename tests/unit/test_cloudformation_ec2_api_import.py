"""The cloudformation_ec2_api_import patch's import stand-in, on a fake package (no LocalStack):
one module imports two names of a heavy module without loading it; everything else is as before."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"

SCRIPT = textwrap.dedent(
    """
    import sys
    from localstack_hostmode.patches.cloudformation_ec2_api_import import Finder

    sys.meta_path.insert(0, Finder("fake.user", "fake.heavy", {"A": list, "B": dict}))
    import fake.user
    assert fake.user.A is list and fake.user.B is dict
    assert "fake.heavy" not in sys.modules, "the heavy module must not load"
    assert fake.user.later() == "real", "a name the stand-in lacks loads the real module"
    import fake.heavy
    assert fake.heavy.A == "real A" and fake.heavy.LOADS == 1
    print("ok")
    """
)


def test_the_module_gets_the_stand_in_names_and_the_heavy_module_loads_only_when_asked(
    tmp_path: Path,
) -> None:
    pkg = tmp_path / "fake"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "heavy.py").write_text('LOADS = 1\nA = "real A"\nB = "real B"\nC = "real"\n')
    (pkg / "user.py").write_text(
        "from fake.heavy import A, B\n"
        "def later():\n    import fake.heavy\n    return fake.heavy.C\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(tmp_path)])}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
