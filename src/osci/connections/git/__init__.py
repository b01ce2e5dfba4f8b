"""The `git` connection driver: plain git repositories, polled or notified by a hook."""

from osci.connections.git.connection import GitConnection

CONNECTION = GitConnection

__all__ = ["CONNECTION", "GitConnection"]
