"""The plugin's tests use the shared fixtures of ``tests/conftest.py`` (``make_hub``, ``hub``: real
hubs in both build modes, zero violations at teardown) and the helpers in ``testkit/plugin.py``."""

