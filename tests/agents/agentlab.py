"""Real `osci agent` processes for the agent provider's tests, each in its own network namespace
joined to this one by a veth pair (so its network can be cut and restored), or on loopback
where namespaces cannot be made (the fixture says which)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from nodes.sshhosts import VethNamespace, netns_works  # noqa: F401  (netns_works: re-exported for the fixture)


def make_token(data_dir: Path, name: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "osci", "token", "create", name, "--kind", "agent", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


class AgentProcess:
    """`osci agent` with its own token; in a network namespace when `index` is given one."""

    def __init__(self, root: Path, server_port: int, data_dir: Path, name: str, index: int, netns: bool,
                 label: str = "pool", provides: str = "", slots: int = 1) -> None:  # fmt: skip
        self.name = name
        self.root = root / name
        self.root.mkdir(parents=True, exist_ok=True)
        self.token = make_token(data_dir, name)
        self.netns = f"oa{os.getpid() % 100000}n{index}" if netns else None
        self.veth = f"oa{os.getpid() % 100000}v{index}"
        self.link = VethNamespace(self.netns, self.veth, f"10.214.{index}") if self.netns else None
        if self.link:
            self.server_url = f"http://{self.link.local}:{server_port}"
        else:
            self.server_url = f"http://127.0.0.1:{server_port}"
        self.label, self.provides, self.slots = label, provides, slots
        self.log_path = self.root / "agent.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [
            sys.executable, "-m", "osci", "agent", "--server", self.server_url, "--label", self.label,
            "--slots", str(self.slots), "--workdir", str(self.root / "work"), "-v",
        ]  # fmt: skip
        if self.provides:
            argv += ["--provides", self.provides]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        env = dict(os.environ, OSCI_AGENT_TOKEN=self.token)
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(10)

    def cut(self) -> None:
        assert self.link
        self.link.cut()

    def restore(self) -> None:
        assert self.link
        self.link.restore()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.link:
            self.link.delete()
