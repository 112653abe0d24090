"""vhctl's runtime inside the Verlihub hub (imported as ``vhctl_hub``; the folder is ``bundle/``).

Only this package, with fastapi, uvicorn (and httptools), requests and keyring, is installed into
the hub's venv.
"""

__version__ = "0.1.0"
