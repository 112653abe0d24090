"""``python -m vhctl.sim.matterbridge``: the stand-in as a process of its own, until killed.

SIGTERM and SIGINT end it at once with no cleanup, as they end Matterbridge (M53, M80): the kernel
closes every socket, so streams stop without their final chunk and WebSockets without a close frame.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from vhctl.sim.matterbridge.server import MatterbridgeStandIn


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vhctl.sim.matterbridge",
                                description="A Matterbridge api account stand-in on loopback.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4242)
    p.add_argument("--token-env", metavar="VAR", help="environment variable holding the token")
    p.add_argument("--gateway", default="gateway1")
    p.add_argument("--account", default="api.vhctl")
    p.add_argument("--buffer", type=int, default=1000)
    p.add_argument("--chatter", type=float, metavar="SECONDS",
                   help="simulated remote users say a line this often")
    p.add_argument("--seed", type=int)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            print(f"error: environment variable {args.token_env} is empty or not set", file=sys.stderr)
            return 2
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # die like Matterbridge, no KeyboardInterrupt
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        mb = MatterbridgeStandIn(args.host, args.port, token=token, gateway=args.gateway,
                                 account=args.account, buffer=args.buffer, seed=args.seed).start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    if args.chatter:
        mb.start_chatter(args.chatter, args.seed)
    print(f"listening on {mb.url}", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
