"""The plugin-host simulator: a faithful stand-in for Verlihub 1.7 and its Python plugin.

It is product code (it powers `vhctl demo`), built from ``../shared/spec/vh-plugin.md`` (F1-F70) and
``real-hub-observations.md`` (A1-A14; where they differ the observation wins). Where the real plugin
is broken or surprising, the simulator is broken or surprising in the same way. It never imports
``vhctl_hub``: it hosts scripts that do. (The demo hub, which renders our scripts, is
``vhctl.demo``, outside this package.)

Modules and their one job each:

- ``nmdc``    NMDC wire format: $Lock/$Key, escaping (F64), MyINFO build and split (F28, F63).
- ``hub``     the hub core ("the C++ side"): users, robots, registered users, counters (F67-F68),
              topic, the send primitives, and the test-facing harness (``login``, ``pyload``...).
- ``proto``   what each client message does and where each hook fires (section D, A3).
- ``commands``trigger chars, the command flow (F40-F43, A1) and the hub's own commands.
- ``hubconf`` hub config variables with Verlihub's type codes (OnSetConfig, A3), persisted.
- ``geo``     country lookups (127.x and private ranges are "L1", Local Network, A5).
- ``loop``    the single main thread: selectors over the loopback listener and client sockets, the
              timer (F36, A8) and a thread-safe ``call``/``call_soon`` hand-off used by tests/demo.
- ``users``   simulated users (no socket) driven from code; they record the exact bytes received.
- ``plugin``  the Python plugin: script slots and ids, hook dispatch and return conversion
              (F19-F23), thread rule, timings.
- ``console`` the ``!py*`` console commands with their exact replies (F5-F12, A2).
- ``interp``  the two build modes (F2-F4): single mode's shared ``__main__``, sub mode's per-script
              module isolation and PyO3's refusal to load twice (A10).
- ``vh_api``  the ``vh`` module each script imports (F14, F44-F58), bugs included.
- ``guard``   violations (thread rule F58, fatal crashes A13) and per-hook hub-thread timings.

Contract between the hub core and the plugin (both run on the hub's main thread only):

- Hub-internal strings are C++ ``std::string``s: ``str`` holding one char per wire byte (latin-1).
  The plugin converts at its edges: hook string arguments are these bytes decoded as strict UTF-8
  (F23: undecodable -> that script's hook is skipped, event allowed); vh string arguments are encoded
  UTF-8 -> ``hub_encoding`` (F53) and vh string results decoded back (F54).
- The hub calls ``plugin.hook(name, *args) -> bool`` (False = some script blocked) for script hooks,
  and ``plugin.operator_command(nick, full_command) -> bool`` at the OnOperatorCommand stage, which
  runs the ``!py*`` console before the scripts' OnOperatorCommand (F5, F7, A3).
- The vh functions call the hub's primitives (``hub.send_to_user`` ...), never the wire directly.
"""
