"""Templates of the hub scripts and of the matterbridge.toml snippet (rendered by `vhctl render`)."""
