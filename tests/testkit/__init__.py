"""What the tests share: real CLI runs, simulated hubs with our scripts loaded, the Matterbridge
stand-in's helpers, the secrets scan. An importable package (pytest puts ``tests/`` on the path,
pyproject.toml's ``pythonpath``), so that no test reaches another folder through ``sys.path``."""
