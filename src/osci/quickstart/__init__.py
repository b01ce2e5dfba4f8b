"""`osci quickstart`: an example repository, a configuration and a running server, in one command."""
