"""The plugin-host simulator: a faithful stand-in for Verlihub 1.7 and its Python plugin.

It is product code (it powers `vhctl demo`), built from ``../shared/spec/vh-plugin.md`` (F1-F70) and
``real-hub-observations.md`` (A1-A14; where they differ the observation wins). Where the real plugin
is broken or surprising, the simulator is broken or surprising in the same way. It never imports
``vhctl_hub``: it hosts scripts that do. (The demo hub, which renders our scripts, is
``vhctl.demo``, outside this package.)

Modules and their one job each, lowest first (a module imports only modules above it in this
list, never one below; ``tests/foundation/test_layering.py`` holds the simulator to that):

- ``nmdc``    NMDC wire format: $Lock/$Key, escaping (F64), MyINFO build and split (F28, F63).
- ``hubconf`` hub config variables with Verlihub's type codes (OnSetConfig, A3), persisted.
- ``geo``     country lookups (127.x and private ranges are "L1", Local Network, A5).
- ``loop``    the single main thread: selectors over the loopback listener and client sockets, the
              timer (F36, A8) and a thread-safe ``call``/``call_soon`` hand-off used by tests/demo.
- ``syssite`` Debian's dist-packages stand-ins on the hub's ``sys.path`` (A19).
- ``model``   the hub's records (user, connection, registration, ban) and codes (close reasons...).
- ``state``   what the hub knows: the user list, connections, registrations, counters (F67, F68),
              config, and the lookups over them.
- ``welcome`` the hub-security bot's texts: banner, MOTD, "Your information", ``!help`` (A15, A16).
- ``sending`` the send primitives (to one, to all, by class or mode, PMs, OpChat) and the send
              cache flushed at each tick (A4).
- ``connections`` opening and closing connections with their hooks (A3), dropping all (A13, A18),
              login timeouts and keep-alives.
- ``moderation`` kicks, bans, the ban list that refuses logins, restrictions (F49.34, F49.35,
              F49.53).
- ``roster``  what scripts change: robots, MyINFO edits, registrations, topic, config (F49).
- ``flood``   main-chat flood protection (A17).
- ``login``   the login handshake and each of its outcomes (accepted, or refused and why).
- ``commands``trigger chars, the command flow (F40-F43, A1) and the hub's own commands.
- ``proto``   every other client message and where each hook fires (section D, A3).
- ``guard``   violations (thread rule F58, fatal crashes A13) and per-hook hub-thread timings.
- ``slot``    one script slot of the plugin (shared by the four modules below).
- ``interp``  the two build modes (F2-F4): single mode's shared ``__main__``, sub mode's per-script
              module isolation and PyO3's refusal to load twice (A10).
- ``vh_text`` hub strings <-> Python in ``hub_encoding`` (F53, F54), ``vh.Encode``/``vh.Decode``.
- ``vh_api``  the ``vh`` module each script imports (F14, F44-F58), bugs included.
- ``console`` the ``!py*`` console commands with their exact replies (F5-F12, A2).
- ``plugin``  the Python plugin: script slots and ids, hook dispatch and return conversion
              (F19-F23), thread rule, timings.
- ``users``   simulated users (no socket) driven from code; they record the exact bytes received.
- ``hub``     ``Hub``: builds the parts above with their collaborators, runs the lifecycle (start,
              ``!quit``, SIGTERM, crash) and is the harness tests and the demo drive (``login``,
              ``command``, ``pyload``...).

Contract between the hub core and the plugin (both run on the hub's main thread only):

- Hub-internal strings are C++ ``std::string``s: ``str`` holding one char per wire byte (latin-1).
  The plugin converts at its edges: hook string arguments are these bytes decoded as strict UTF-8
  (F23: undecodable -> that script's hook is skipped, event allowed); vh string arguments are encoded
  UTF-8 -> ``hub_encoding`` (F53) and vh string results decoded back (F54).
- The hub calls ``plugin.hook(name, *args) -> bool`` (False = some script blocked) for script hooks,
  and ``plugin.operator_command(nick, full_command) -> bool`` at the OnOperatorCommand stage, which
  runs the ``!py*`` console before the scripts' OnOperatorCommand (F5, F7, A3).
- The vh functions call the hub parts' primitives (``hub.sender.send_to_user``, ``hub.state``
  ...), never the wire directly.
"""
