"""Lab hosts for the static provider's tests: real OpenSSH servers (Debian's openssh-server).

Each host is an `sshd` in its own network namespace joined to this one by a veth pair (so its
network can be cut and restored), or, where namespaces cannot be made, on a loopback port (the
fixture says which on stdout). Every session on host N has OSCI_TEST_HOST=N in its environment
(sshd's SetEnv), so a reset command can tell the hosts apart although they share one filesystem.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def sshd_available() -> bool:
    return Path(SSHD).is_file() and shutil.which("ssh-keygen") is not None


def netns_works() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    name = f"osci-probe-{os.getpid()}"
    ok = subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return ok


def _run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True)


class VethNamespace:
    """A network namespace joined to this one by a veth pair on `<subnet>.0/30`: `veth`
    (`<subnet>.1`) here, `eth0` (`<subnet>.2`) there. Its link can be cut and restored."""

    def __init__(self, name: str, veth: str, subnet: str) -> None:
        self.name, self.veth = name, veth
        self.local, self.address = f"{subnet}.1", f"{subnet}.2"
        _run("ip", "netns", "add", name)
        _run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        _run("ip", "addr", "add", f"{self.local}/30", "dev", veth)
        _run("ip", "link", "set", veth, "up")
        _run("ip", "-n", name, "addr", "add", f"{self.address}/30", "dev", "eth0")
        _run("ip", "-n", name, "link", "set", "eth0", "up")
        _run("ip", "-n", name, "link", "set", "lo", "up")

    def cut(self) -> None:
        _run("ip", "link", "set", self.veth, "down")

    def restore(self) -> None:
        _run("ip", "link", "set", self.veth, "up")

    def delete(self) -> None:
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SshHost:
    def __init__(self, root: Path, name: str, index: int, client_pub: str, netns: bool) -> None:
        self.root = root / name
        self.root.mkdir(parents=True)
        (self.root / "home").mkdir()
        self.name = name
        self.netns = f"osci{os.getpid() % 100000}h{index}" if netns else None
        self.veth = f"ov{os.getpid() % 100000}h{index}"  # the host side, at most 15 characters
        if self.netns:
            self.address, self.port = f"10.213.{index}.2", 22
        else:
            self.address, self.port = "127.0.0.1", _free_port()
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.root / "hostkey"))
        (self.root / "authorized_keys").write_text(client_pub)
        (self.root / "authorized_keys").chmod(0o600)
        (self.root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress {self.address}\nHostKey {self.root / 'hostkey'}\n"
            f"PidFile {self.root / 'sshd.pid'}\nAuthorizedKeysFile {self.root / 'authorized_keys'}\n"
            "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPrintMotd no\nLogLevel ERROR\nMaxStartups 50\n"
            # its own HOME: the sessions never read the real user's dotfiles (they may hang)
            f"SetEnv OSCI_TEST_HOST={name} HOME={self.root / 'home'}\n"
        )
        self.process: subprocess.Popen | None = None
        self.link = VethNamespace(self.netns, self.veth, f"10.213.{index}") if self.netns else None

    def known_hosts_line(self) -> str:
        key = (self.root / "hostkey.pub").read_text().split()
        where = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        return f"{where} {key[0]} {key[1]}\n"

    def start(self) -> None:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
        argv = [SSHD, "-D", "-e", "-f", str(self.root / "sshd_config")]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        log = (self.root / "sshd.log").open("a")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"sshd {self.name} exited: {(self.root / 'sshd.log').read_text()}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"sshd {self.name} did not listen on {self.address}:{self.port}")

    def kill_sshd(self) -> None:
        """sshd dies: the listener and every session it forked, with SIGKILL."""
        if self.process is None:
            return
        pids = _descendants(self.process.pid)
        for pid in [self.process.pid, *pids]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def cut(self) -> None:
        """Cut the host's network (namespaces only)."""
        assert self.link
        self.link.cut()

    def restore(self) -> None:
        assert self.link
        self.link.restore()

    def close(self) -> None:
        self.kill_sshd()
        if self.link:
            self.link.delete()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Lab:
    """A set of SSH hosts sharing one client key; `yaml(...)` is a static provider for them."""

    def __init__(self, root: Path, count: int, netns: bool) -> None:
        self.root = root
        self.netns = netns
        root.mkdir(parents=True, exist_ok=True)
        self.key = root / "client_key"
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key))
        pub = (root / "client_key.pub").read_text()
        self.hosts: list[SshHost] = []
        try:
            for index in range(count):
                self.hosts.append(SshHost(root / "hosts", f"h{index}", index + 1, pub, netns))
            for host in self.hosts:
                host.start()
        except BaseException:
            self.close()
            raise
        self.known_hosts = root / "known_hosts"
        self.known_hosts.write_text("".join(h.known_hosts_line() for h in self.hosts))

    def host(self, name: str) -> SshHost:
        return next(h for h in self.hosts if h.name == name)

    def provider_yaml(self, label: str = "lab", indent: str = "", **settings: object) -> str:
        lines = [
            "- provider:",
            "    name: lab",
            "    driver: static",
            f"    key: {self.key}",
            f"    known-hosts: {self.known_hosts}",
            "    username: root",
            f"    workdir: {self.root / 'remote'}",
        ]
        lines += [f"    {key}: {value}" for key, value in settings.items()]
        lines.append("    hosts:")
        for host in self.hosts:
            lines.append(
                f"      - {{name: {host.name}, host: {host.address}, port: {host.port}, label: {label}}}"
            )
        return "\n".join(indent + line for line in lines) + "\n"

    def close(self) -> None:
        for host in self.hosts:
            host.close()
