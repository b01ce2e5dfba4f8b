"""The `gitlab` connection driver: webhooks in, commit statuses and merge request notes out."""

from osci.connections.gitlab.connection import GitLabConnection

CONNECTION = GitLabConnection

__all__ = ["CONNECTION", "GitLabConnection"]
