"""The end-to-end environment renders through a cache of its own (issue 13).

The scripts call `python -m cfgen`; with the developer's ~/.cache/cfgen a stale
entry could be deployed. base_env gives every e2e run a private cache folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from e2e_support import base_env


def test_e2e_renders_never_touch_the_home_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**base_env(tmp_path), "HOME": str(home)}
    assert Path(env["CFGEN_CACHE_DIR"]).is_relative_to(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "cfgen"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert len(list(Path(env["CFGEN_CACHE_DIR"]).glob("*.txt"))) == 1
    assert not (home / ".cache").exists()
