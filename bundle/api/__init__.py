"""The hub's REST API component (``KNOWN_COMPONENTS["api"]``): what hub_api.py runs.

Modules, one job each:
- ``component`` the runtime component: `!api` commands, start/stop, status;
- ``webstack``  imports FastAPI/uvicorn once on the hub thread (A10) or records why it cannot;
- ``server``    one uvicorn server on its own thread that really frees its port on stop;
- ``app``       the FastAPI routes (the only module that imports FastAPI/pydantic);
- ``views``     JSON bodies rendered once per hub snapshot, not per request;
- ``auth``      the bearer-token rule and keeping the keyring's token current;
- ``sse``       ``/api/events`` from the runtime's event feed;
- ``metrics``   ``/metrics`` in the Prometheus text format.

Importing this package does not import FastAPI: the component registers (and answers `!api`) even
where FastAPI cannot be imported.
"""

from vhctl_hub.api.component import ApiComponent

__all__ = ["ApiComponent"]
