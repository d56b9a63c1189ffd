"""Scenario test fixtures: a real vigild on the real kernel.

One daemon serves the whole session (`vigild` fixture); tests that need
their own daemon (a custom config, a process started before vigild) use
`start_vigild`. Events are matched by predicate, never by position: other
activity on the host is recorded too.
"""
import json
import os
import socket
import shutil
import subprocess
import tempfile
import time

import pytest

BUILD = os.environ.get("VIGIL_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
BUILD = os.path.abspath(BUILD)
HELPERS = os.path.join(BUILD, "helpers")


def helper(name):
    return os.path.join(HELPERS, name)


class Vigild:
    def __init__(self, workdir, config_text=None, extra_args=(), env=None):
        self.workdir = workdir
        self.run_dir = os.path.join(workdir, "run")
        self.events_path = os.path.join(workdir, "events.jsonl")
        self.stderr_path = os.path.join(workdir, "vigild.stderr")
        self.config_path = os.path.join(workdir, "vigild.conf")
        config_text = config_text or "metrics_interval = 2\n"
        # isolation pins live in bpffs, shared by every daemon on the host:
        # each test daemon gets its own pin directory
        if "bpf_pin_dir" not in config_text:
            config_text += "\nbpf_pin_dir = /sys/fs/bpf/" + os.path.basename(workdir) + "\n"
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self._offset = 0
        self._events = []
        # alerts/incidents, when started with --alerts-out self.alerts_path
        self.alerts_path = os.path.join(workdir, "alerts.jsonl")
        self._alert_offset = 0
        self._alerts = []
        args = [os.path.join(BUILD, "vigild"), "--config", self.config_path,
                "--events-out", self.events_path, "--run-dir", self.run_dir, *extra_args]
        # each test daemon gets its own store: the default one has one writer
        if not any(a in ("--store", "--no-store") or str(a).startswith("--store=") for a in extra_args):
            args += ["--store", os.path.join(workdir, "store")]
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     env={**os.environ, **env} if env else None)
        deadline = time.time() + 60
        while time.time() < deadline:
            text = self.stderr_text()
            if "vigild: ready" in text:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("vigild exited early:\n" + text)
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("vigild not ready within 60 s:\n" + self.stderr_text())

    def stderr_text(self):
        with open(self.stderr_path) as f:
            return f.read()

    def _read_new(self):
        try:
            with open(self.events_path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        # keep a partial last line for the next read
        end = data.rfind(b"\n")
        if end < 0:
            return
        self._offset += end + 1
        for line in data[:end].split(b"\n"):
            if line:
                self._events.append(json.loads(line))

    def events(self):
        self._read_new()
        return list(self._events)

    def wait_for(self, pred, timeout=10.0, what="event"):
        """First event matching pred, waiting up to timeout seconds."""
        deadline = time.time() + timeout
        seen = 0
        while True:
            self._read_new()
            for ev in self._events[seen:]:
                try:
                    if pred(ev):
                        return ev
                except (KeyError, TypeError, IndexError):
                    pass
            seen = len(self._events)
            if time.time() > deadline:
                raise AssertionError(f"no {what} within {timeout} s ({len(self._events)} events seen)")
            time.sleep(0.05)

    def barrier(self, timeout=10.0):
        """Returns once every event that happened before the call is in
        events-out: records share one ring, read and written in the order
        they were reserved, so once the exec of a marker made now shows
        up, nothing earlier is still on its way. For checks that something
        was NOT recorded (the exec hook must be on)."""
        token = f"vigil-barrier-{os.getpid()}-{time.monotonic_ns()}"
        p = subprocess.run(["/bin/sh", "-c", ":", token], timeout=10)
        assert p.returncode == 0
        self.wait_for(lambda e: e["event"]["action"] == "exec" and token in e["process"].get("args", []),
                      timeout=timeout, what="the barrier's exec")

    def find_all(self, pred):
        self._read_new()
        out = []
        for ev in self._events:
            try:
                if pred(ev):
                    out.append(ev)
            except (KeyError, TypeError, IndexError):
                pass
        return out

    def alerts(self):
        """Alerts and incidents written so far to alerts_path (JSON objects)."""
        try:
            with open(self.alerts_path, "rb") as f:
                f.seek(self._alert_offset)
                data = f.read()
        except FileNotFoundError:
            return list(self._alerts)
        end = data.rfind(b"\n")
        if end >= 0:
            self._alert_offset += end + 1
            for line in data[:end].split(b"\n"):
                if line:
                    self._alerts.append(json.loads(line))
        return list(self._alerts)

    def wait_for_alert(self, pred, timeout=10.0, what="alert"):
        """First alert/incident matching pred, waiting up to timeout seconds."""
        deadline = time.time() + timeout
        while True:
            for a in self.alerts():
                try:
                    if pred(a):
                        return a
                except (KeyError, TypeError, IndexError):
                    pass
            if time.time() > deadline:
                raise AssertionError(f"no {what} within {timeout} s ({len(self._alerts)} alerts seen)")
            time.sleep(0.05)

    def vigil(self, *args, check=True):
        r = subprocess.run([os.path.join(BUILD, "vigil"), "--run-dir", self.run_dir, *args],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"vigil {' '.join(args)} failed: {r.stderr}")
        return r

    def stop(self, sig=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        return self.proc.returncode


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (just released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(ev, dotted, default=None):
    """ev['a']['b']['c'] for 'a.b.c', or default."""
    cur = ev
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def clean_env(home):
    """The environment for a test's shell: HOME is an empty directory and
    the caller's PATH tools are gone. `bash -i` reads ~/.bashrc, and this
    machine's root runs pyenv init from it: two dozen more shells, all with
    the test's socket as stdin, each one an alert and an automatic action."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_", "PYENV", "BASH_ENV"))}
    env.update({"HOME": home, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HISTFILE": os.path.join(home, ".bash_history")})
    return env


def action(name):
    return lambda ev: ev["event"]["action"] == name


@pytest.fixture(scope="session")
def vigild():
    if os.geteuid() != 0:
        pytest.skip("scenario tests need root")
    work = tempfile.mkdtemp(prefix="vigil-test-")
    d = Vigild(work)
    yield d
    d.stop()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def start_vigild():
    started = []

    def start(config_text=None, extra_args=(), env=None):
        work = tempfile.mkdtemp(prefix="vigil-test-")
        d = Vigild(work, config_text, extra_args, env)
        started.append((d, work))
        return d

    yield start
    for d, work in started:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)


def run_helper(name, *args, user=None, check=True, timeout=30):
    """Runs a test helper; returns (its JSON line, CompletedProcess)."""
    cmd = [helper(name), *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{name} exited {r.returncode}: {r.stdout} {r.stderr}")
    first = r.stdout.strip().splitlines()[0] if r.stdout.strip() else "{}"
    return json.loads(first), r


# process_vm_writev into the process argv[1]: python, run with -c
VM_WRITEV = r"""
import ctypes, json, os, sys
pid = int(sys.argv[1])
with open("/proc/%d/maps" % pid) as f:
    addr = next(int(l.split("-")[0], 16) for l in f if "[stack]" in l)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
libc = ctypes.CDLL(None, use_errno=True)
libc.process_vm_readv.restype = libc.process_vm_writev.restype = ctypes.c_ssize_t
buf = ctypes.create_string_buffer(8)
local, remote = iovec(ctypes.cast(buf, ctypes.c_void_p), 8), iovec(ctypes.c_void_p(addr), 8)
# read the first word of its stack, put it back; then (a second pid) a
# write to a process that is gone
r = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
w = libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
bad = (libc.process_vm_writev(int(sys.argv[2]), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
       if len(sys.argv) > 2 else None)
print(json.dumps({"pid": os.getpid(), "read": r, "written": w, "bad": bad}))
"""
