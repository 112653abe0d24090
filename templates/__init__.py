"""Templates of the hub scripts and of the matterbridge.toml snippet (rendered by `vhctl render`).

``hub_api.py`` and ``matterbridge.py`` hold only what is their own: the first lines of the header
that tells an operator what loading the script does. What every hub script shares comes from the
fragments, one source each, pasted in by ``vhctl.render`` at a ``# @include NAME@`` line:
``_shared_header.txt`` (the effects every script's loading has) and ``_shared_loader.py`` (the venv
and Python checks, the import of the runtime, the registration, the hooks). A name that starts with
``_`` is a fragment, never a script by itself.
"""
