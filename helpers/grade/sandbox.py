"""One sandbox per submission, from bubblewrap (``bwrap``), and the channel to the agent inside.

What the sandbox gets (see README, "Grading submissions"):

* its own PID, network (loopback only), IPC and UTS namespaces; ``--die-with-parent`` and the PID
  namespace mean every process it starts (daemons, ``setsid``, forks) dies with it;
* a clean environment (no grader variables), an empty tmpfs HOME / IPYTHONDIR / TMPDIR and
  working folder, size-limited;
* read-only: the system (``/usr``, ``/etc``), the Python installation and ``helpers/`` and
  ``data/`` of the course. ``solutions/``, the output folder (gradebook, journal), the
  submissions and everything else on the machine are not mounted at all;
* limits (``prlimit``): address space, processes, file size, open files, CPU time;
* when the grader runs as root, each sandbox runs as a fresh unprivileged uid of its own (from
  200000 up) with no capabilities, so the process limit applies and counts only that sandbox;
  otherwise as the grader's own user in a user namespace (then sandboxes running side by side
  and your own processes share that user's process count).

``--unsafe`` (no bwrap on this machine) runs the agent as a plain child process with a clean
environment and a temporary HOME: the checks still run in the grader, but nothing else is
isolated.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FIRST_UID, UID_RANGE = 200_000, 1_000_000  # sandbox uids when the grader runs as root (no passwd entry needed)
HOME = "/home/student"
WORK = "/home/student/work"


class SandboxUnavailable(RuntimeError):
    """bwrap (or prlimit) is missing or cannot create namespaces here."""


@dataclass
class Limits:
    memory_bytes: int = 8 * 1024**3  # address space per process (TensorFlow reserves ~2 GiB)
    processes: int = 256  # beyond those the sandbox user already runs
    file_bytes: int = 64 * 1024**2
    tmpfs_bytes: int = 256 * 1024**2
    cpu_seconds: int = 1800
    open_files: int = 1024


def missing_tool() -> str:
    """'' when bwrap and prlimit are here, else a one-line reason."""
    for tool, package in (("bwrap", "bubblewrap"), ("prlimit", "util-linux")):
        if shutil.which(tool) is None:
            return (f"{tool} not found: install it (Debian/Ubuntu: apt-get install -y {package}) or pass "
                    "--unsafe to grade without a sandbox (student code then runs as you, with your files)")
    return ""


def _python_paths() -> list[Path]:
    """Folders the sandbox's Python needs: the interpreter, the venv, site-packages."""
    paths = {Path(sys.prefix), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    for entry in sys.path:
        p = Path(entry or ".").resolve()
        if p.is_dir() and ("site-packages" in p.parts or "dist-packages" in p.parts):
            paths.add(p)
    system = (Path("/usr"), Path("/etc"))
    out = []
    for p in sorted(paths, key=lambda q: len(q.parts)):
        if p == Path("/") or any(p.is_relative_to(s) for s in system) or any(p.is_relative_to(o) for o in out):
            continue
        out.append(p)
    return out


def _process_count(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def bwrap_command(agent_fds: tuple[int, int], info_fd: int, limits: Limits, hide: tuple[Path, ...] = ()) -> list[str]:
    """The bwrap + setpriv + prlimit command line that starts the agent."""
    root = os.geteuid() == 0
    cmd = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--info-fd", str(info_fd), "--clearenv"]
    for top in ("/usr", "/etc"):
        cmd += ["--ro-bind", top, top]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            cmd += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            cmd += ["--ro-bind", str(p), str(p)]
    # The fresh /tmp and /home come before the binds: a course or virtualenv that lives under
    # /tmp or /home (a CI clone, say) is bound on top of them instead of being hidden by them.
    cmd += ["--dev", "/dev", "--proc", "/proc",
            "--perms", "01777", "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
            "--perms", "0777", "--size", str(limits.tmpfs_bytes), "--tmpfs", "/home"]
    binds = _python_paths() + [ROOT / "helpers", ROOT / "data"]
    made: set[Path] = set()
    for target in binds:
        for parent in reversed(target.parents):
            if parent != Path("/") and parent not in made and not any(
                    parent.is_relative_to(s) for s in (Path("/usr"), Path("/etc"))):
                made.add(parent)
                cmd += ["--perms", "0755", "--dir", str(parent)]
        if target.exists():
            cmd += ["--ro-bind", str(target), str(target)]
    for hidden in (ROOT / "solutions", ROOT / ".git", *(Path(h).resolve() for h in hide)):
        if any(hidden.is_relative_to(b) for b in binds) and hidden.exists():
            cmd += ["--tmpfs", str(hidden)] if hidden.is_dir() else ["--ro-bind", "/dev/null", str(hidden)]
    cmd += ["--chdir", "/tmp"]
    env = {"HOME": HOME, "IPYTHONDIR": f"{HOME}/.ipython", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib",
           "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "DLD_STATIC_WIDGETS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONDONTWRITEBYTECODE": "1", "CUDA_VISIBLE_DEVICES": ""}
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    # bwrap as root: become a fresh unprivileged uid of its own, with no capabilities, so the process
    # limit holds and counts this sandbox's processes only (not those of sandboxes running beside it)
    uid = FIRST_UID + secrets.randbelow(UID_RANGE) if root else os.getuid()
    if root:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "setpriv", f"--reuid={uid}",
                f"--regid={uid}", "--clear-groups", "--bounding-set=-all", "--inh-caps=-all", "--"]
    else:
        cmd[1:1] = ["--unshare-user"]
    nproc = _process_count(uid) + limits.processes
    cmd += ["prlimit", f"--as={limits.memory_bytes}", f"--nproc={nproc}", f"--fsize={limits.file_bytes}",
            f"--nofile={limits.open_files}", f"--cpu={limits.cpu_seconds}", "--core=0", "--",
            sys.executable, "-m", "helpers.grade.agent", str(agent_fds[0]), str(agent_fds[1])]
    return cmd


class Sandbox:
    """A running agent: ``rfd``/``wfd`` talk to it; :meth:`interrupt`, :meth:`close`."""

    def __init__(self, limits: Limits, unsafe: bool = False, hide: tuple[Path, ...] = ()) -> None:
        to_agent_r, self.wfd = os.pipe()
        self.rfd, from_agent_w = os.pipe()
        self.unsafe = unsafe
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.errors = bytearray()
        self.agent_pid: int | None = None
        if unsafe:
            self.tmp = tempfile.TemporaryDirectory(prefix="dld-unsafe-")
            home = Path(self.tmp.name)
            env = {"HOME": str(home), "IPYTHONDIR": str(home / ".ipython"), "TMPDIR": str(home),
                   "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg",
                   "DLD_STATIC_WIDGETS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
            cmd = [sys.executable, "-m", "helpers.grade.agent", str(to_agent_r), str(from_agent_w)]
            self.proc = subprocess.Popen(cmd, env=env, cwd=home, pass_fds=(to_agent_r, from_agent_w),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, start_new_session=True)
            self.agent_pid = self.proc.pid
        else:
            info_r, info_w = os.pipe()
            cmd = bwrap_command((to_agent_r, from_agent_w), info_w, limits, hide)
            self.proc = subprocess.Popen(cmd, pass_fds=(to_agent_r, from_agent_w, info_w), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
            os.close(info_w)
            with os.fdopen(info_r, "rb") as info:
                raw = info.read(4096)
            try:
                self.init_pid = int(json.loads(raw)["child-pid"])
            except (ValueError, KeyError, TypeError):
                self.init_pid = None
        os.close(to_agent_r)
        os.close(from_agent_w)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        """Keep the first 4 KB of the sandbox's stderr (startup errors), discard the rest."""
        stream = self.proc.stderr
        assert stream is not None
        while chunk := stream.read(65536):
            if len(self.errors) < 4096:
                self.errors += chunk[: 4096 - len(self.errors)]

    def startup_error(self) -> str:
        text = bytes(self.errors).decode("utf-8", "replace").strip().splitlines()
        return text[-1][:300] if text else ""

    def _find_agent(self) -> int | None:
        if self.agent_pid is None and getattr(self, "init_pid", None):
            try:
                children = Path(f"/proc/{self.init_pid}/task/{self.init_pid}/children").read_text().split()
                self.agent_pid = int(children[0]) if children else None
            except (OSError, ValueError):
                return None
        return self.agent_pid

    def interrupt(self) -> None:
        """Ctrl-C for the agent (the student's code gets KeyboardInterrupt)."""
        pid = self._find_agent()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """Kill everything the sandbox started (the PID namespace dies with bwrap)."""
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:  # the agent exits when its channel closes; then bwrap, and the PID namespace with it
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.poll() is None or self.unsafe:
            try:
                if self.unsafe:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.kill()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.tmp is not None:
            self.tmp.cleanup()
