"""Fixtures for the runtime tests: simulated hubs in both plugin modes, rendered scripts, configs.

Scripts are rendered like `vhctl install` renders them: ``templates/hub_api.py`` via
``vhctl.render.render`` and this folder's ``fixture_script.py`` via ``render_text``. The fixture
components (``fixture_components.py``) are copied next to the scripts as ``vhctl_fixture.py`` so
that, in sub-interpreter mode, every script slot imports its own copy, as a real sub-interpreter
would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.runtime import Scripts


@pytest.fixture
def scripts(tmp_path: Path) -> Scripts:
    return Scripts(tmp_path)
