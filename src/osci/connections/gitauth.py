"""Git over HTTP(S) with a token or password, kept out of URLs, arguments and logs.

git reads extra configuration from `GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_n` /
`GIT_CONFIG_VALUE_n` (git 2.31+), so the credentials go to the git process in its environment
as an `http.<git-url>/.extraHeader`: sent only to that host and path, invisible in `ps`,
and never part of a URL that could end up in a message, an event or the API. Shared by the
drivers whose repositories are fetched over HTTP (Gerrit, GitHub, GitLab).
"""

from __future__ import annotations

import base64


def basic_auth_env(git_url: str, user: str, password: str) -> dict[str, str]:
    """The variables to add to a git command's environment for repositories under `git_url`."""
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{git_url.rstrip('/')}/.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {credentials}",
        "GIT_TERMINAL_PROMPT": "0",  # a refused token fails instead of waiting for a password
    }
