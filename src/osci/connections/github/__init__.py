"""The `github` connection driver: webhooks in; check runs, commit statuses and comments out."""

from osci.connections.github.connection import GitHubConnection

CONNECTION = GitHubConnection

__all__ = ["CONNECTION", "GitHubConnection"]
