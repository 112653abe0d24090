"""The Matterbridge chat bridge: the hub's main chat <-> one Matterbridge API account.

Modules, one job each: ``link`` (the live address, gateway and token), ``relay`` (what crosses in
each direction and how it is made safe), ``outbox`` (hub lines waiting for Matterbridge, and their
spool on disk), ``poster`` (POST /api/message from a thread), ``reader`` (the WebSocket, or the
stream as a fallback, from a thread), ``ringread`` (what a gap left in Matterbridge's buffer),
``inlet`` (Matterbridge's messages on their way to main chat: deduplicated, batched),
``handover`` (the gapless ``!pyreload``), ``gatewaycheck`` (is the gateway name right?),
``backoff``, ``persist`` (settings changed from chat written back to the config file), ``secret``
(the token in the keyring), ``report`` (status text), ``chatcommands`` (the ``!bridge`` commands:
parsing, the class rule, the replies) and ``component`` (lifecycle and hooks).

``BridgeComponent`` is imported on first use (when the script loads it), so that the pure parts
(``gatewaycheck``) can be imported where the bridge's network libraries are not installed: the CLI.
"""

from typing import Any

__all__ = ["BridgeComponent"]


def __getattr__(name: str) -> Any:
    if name == "BridgeComponent":
        from vhctl_hub.bridge.component import BridgeComponent

        return BridgeComponent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
