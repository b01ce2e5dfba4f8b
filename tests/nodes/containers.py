"""A real podman for the container provider's tests, with nothing from a registry.

The engine's settings go to a temporary folder (`CONTAINERS_CONF`, `CONTAINERS_STORAGE_CONF`:
vfs storage, cgroupfs, file events), so the tests neither need nor touch the machine's podman
set-up. The image is made here: a root filesystem of this machine's bash, tar, coreutils and the
libraries they link (`ldd`), imported with `podman import`. Some machines (VMs with hybrid
cgroups, no CAP_SYS_RESOURCE) need runc instead of crun and limits no higher than the caller's:
the first settings with which a container runs are kept; none: the tests skip, saying why.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

IMAGE = "localhost/osci-test:1"
PROGRAMS = ("bash", "sh", "tar", "cat", "mkdir", "rm", "sleep", "ls", "env", "touch", "grep", "tr", "echo")


@dataclass
class Podman:
    root: Path
    env: dict[str, str]  # CONTAINERS_CONF and CONTAINERS_STORAGE_CONF for every process using it
    runtime: str
    image: str = IMAGE

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", *args],
            capture_output=True, text=True, timeout=timeout, check=check, env={**os.environ, **self.env},
        )  # fmt: skip

    def containers(self, provider: str | None = None) -> list[str]:
        """Ids of the containers there are (of one provider: its label)."""
        args = ["ps", "-a", "-q", "--no-trunc"]
        if provider is not None:
            args += ["--filter", f"label=osci.provider={provider}"]
        return self.run(*args).stdout.split()

    def close(self) -> None:
        self.run("rm", "-a", "-f", "-t", "0", check=False)


def _limits() -> list[str]:
    """Ulimits no higher than this process's hard limits (podman's defaults may be higher, and
    raising a limit needs CAP_SYS_RESOURCE)."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nofile = 1048576 if nofile == resource.RLIM_INFINITY else min(nofile, 1048576)
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    return [f"nofile={nofile}:{nofile}", f"nproc={nproc}:{nproc}"]


def _write_conf(root: Path, runtime: str) -> dict[str, str]:
    conf = root / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{root}/storage"\nrunroot = "{root}/run"\n'
    )
    ulimits = ", ".join(f'"{u}"' for u in _limits())
    (conf / "containers.conf").write_text(
        f"[containers]\ndefault_ulimits = [{ulimits}]\n"
        f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "{runtime}"\n'
        f'tmp_dir = "{root}/tmp"\n'
    )
    return {"CONTAINERS_CONF": str(conf / "containers.conf"), "CONTAINERS_STORAGE_CONF": str(conf / "storage.conf")}


def _rootfs_tar(target: Path) -> None:
    """bash, tar and coreutils of this machine with the libraries they load, as a tarball."""
    files: set[str] = set()
    for name in PROGRAMS:
        path = shutil.which(name)
        if path is None:
            continue
        files.add(path)
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        files.update(re.findall(r"(/\S+) \(0x", out))
    with tarfile.open(target, "w") as tar:
        for folder in ("tmp", "osci"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777
            tar.addfile(info)
        for link, where in (("bin", "usr/bin"), ("sbin", "usr/sbin")):
            if Path(f"/{link}").is_symlink():
                info = tarfile.TarInfo(link)
                info.type, info.linkname = tarfile.SYMTYPE, where
                tar.addfile(info)
        for path in sorted(files):
            real = os.path.realpath(path)
            tar.add(real, arcname=path.lstrip("/"), recursive=False)


def make_podman(root: Path) -> Podman | str:
    """A working podman with the test image, or why there is none."""
    if shutil.which("podman") is None:
        return "podman is not installed (Debian: apt-get install podman; scripts/test.sh does it)"
    if os.geteuid() != 0:
        return "the container tests run rootful podman: run them as root"
    root.mkdir(parents=True, exist_ok=True)
    rootfs = root / "rootfs.tar"
    _rootfs_tar(rootfs)
    problems = []
    for runtime in ("crun", "runc"):
        if shutil.which(runtime) is None:
            problems.append(f"{runtime}: not installed")
            continue
        podman = Podman(root, _write_conf(root, runtime), runtime)
        try:
            podman.run("import", "-q", str(rootfs), IMAGE)
            ran = podman.run("run", "--rm", "--network=none", IMAGE, "bash", "-c", "echo ok", check=False)
        except (subprocess.SubprocessError, OSError) as exc:
            problems.append(f"{runtime}: {exc}")
            continue
        if ran.returncode == 0 and ran.stdout.strip() == "ok":
            return podman
        lines = ran.stderr.strip().splitlines() or [f"exit status {ran.returncode}"]
        problems.append(f"{runtime}: {lines[-1]}")
    return "podman cannot run a container here (" + "; ".join(problems) + ")"
