"""Simulated remote users for the demo: a few people on other platforms saying a line now and then.

A newcomer running ``vhctl demo`` sees ``[irc] <alice> ...`` arrive in hub chat with no Matterbridge
installed. The lines are harmless on purpose except one, which carries the NMDC-special ``$`` and
``|`` that Matterbridge passes through untouched (M50), so the demo shows the hub side coping.
"""

from __future__ import annotations

import asyncio
import random

from vhctl.sim.matterbridge.router import Router

# (username, protocol, channel, account): the source fields a real bridge of each kind sets (M14).
USERS = (
    ("alice", "irc", "#dchub", "irc.demo"),
    ("bob", "matrix", "#dchub:matrix.org", "matrix.demo"),
    ("carol", "discord", "general", "discord.demo"),
    ("dave", "telegram", "dchub", "telegram.demo"),
)

LINES = (
    "hello from the other side",
    "anyone sharing the new Debian ISOs?",
    "the hub looks busy tonight",
    "brb, coffee",
    "does the search work for you?",
    "nice to see the bridge up again 👍",
    "price is $5 | not a protocol command",
)


async def run(router: Router, interval: float, seed: int | None) -> None:
    """Forever: wait ``interval`` seconds, then one random user says one random line."""
    rng = random.Random(seed)
    while True:
        await asyncio.sleep(interval)
        username, protocol, channel, account = rng.choice(USERS)
        router.inject(text=rng.choice(LINES), username=username, protocol=protocol,
                      channel=channel, account=account)
