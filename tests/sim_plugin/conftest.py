"""The plugin's tests use the shared fixtures of ``tests/conftest.py`` (``make_hub``, ``hub``: real
hubs in both build modes, zero violations at teardown) and the helpers in ``plugin_helpers.py``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
