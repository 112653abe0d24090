"""Fixture components for the runtime tests (copied next to the hub scripts as vhctl_fixture.py).

``Echo`` listens on a real TCP port (like the API will), counts what the hub tells it and has chat
commands; ``Bridge`` is a second component with its own command word. Both keep what they saw in
lists the tests read back through the script's globals.
"""

from __future__ import annotations

import socket

from vhctl_hub.commands import CommandSet
from vhctl_hub.component import Component


class Echo(Component):
    name = "echo"
    needs_cache = True
    word = "echo"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ticks = 0
        self.chats = []
        self.starts = 0
        self.stops = 0
        self.sock = None
        self.port = None

    def commands(self):
        cmds = CommandSet(self.word, min_class=self.ctx.settings.api.command_class, summary="test component")

        @cmds.sub("say", "<text>", "post the text in main chat")
        def say(call):
            self.ctx.hub.main_chat("EchoBot", call.text)
            return None

        @cmds.sub("status", "", "tell whether it runs")
        def status(call):
            return f"{self.name} runs on port {self.port}"

        @cmds.sub("later", "", "reply from a background thread")
        def later(call):
            self.ctx.start_thread(lambda: call.reply("late reply"), "later")
            return None

        @cmds.sub("boom", "", "fail")
        def boom(call):
            raise ValueError("boom")

        return cmds

    def start(self):
        self.starts += 1
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        self.sock.bind(("127.0.0.1", self.ctx.settings.api.port))
        self.sock.listen(5)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.ctx.status.set(port=self.port)
        self.ctx.start_thread(self._serve, "serve", self.sock)

    def _serve(self, sock):
        while not self.ctx.stopping.is_set() and self.sock is sock:
            try:
                conn, _ = sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.sendall(f"{self.name}\n".encode())
            conn.close()

    def stop(self):
        self.stops += 1
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()

    def on_tick(self, now):
        self.ticks += 1

    def on_chat(self, nick, text):
        self.chats.append((nick, text))

    def status(self):
        return {"ticks": self.ticks, "token": "must-not-appear"}


class Bridge(Echo):
    name = "fixbridge"
    needs_cache = False
    word = "fixbridge"

    def start(self):
        self.starts += 1
        self.port = None


class Broken(Echo):
    name = "broken"

    def start(self):
        raise ImportError("PyO3 modules do not yet support subinterpreters, see https://github.com/PyO3/pyo3/issues/576")
