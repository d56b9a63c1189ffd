"""vigild as a daemon: context from /proc for processes it did not see
start, `vigil status` and filters, rate caps, configuration errors and
reload, single instance, clean detach on SIGTERM and SIGKILL, self-metrics
and the permissions of its run directory."""
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BUILD, get

PROCESS_HOOKS = ("exec", "exec_fail", "fork", "exit", "setsid", "comm", "memfd")


def process_only(vigild, text=""):
    """Config for a daemon with only the process hooks: it starts in a
    fraction of the time (the other domains' programs are not verified)."""
    hooks = json.loads(vigild.vigil("status", "--json").stdout)["hooks"]
    return text + "".join(f"hook.{h} = off\n" for h in hooks if h not in PROCESS_HOOKS)


def _wait(cond, timeout, what):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _status(d):
    return json.loads(d.vigil("status", "--json").stdout)


def _run(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    p.wait(timeout=20)
    return p.pid


def _flushed(d):
    """Runs a marker process and waits for its exit event: every event
    produced before it has then been written."""
    pid = _run(["/bin/true"])
    d.wait_for(lambda e: e["event"]["action"] == "exit" and e["process"]["pid"] == pid,
               what="marker exit")


# 15 --------------------------------------------------------------------
def test_process_started_before_vigild(vigild, start_vigild):
    script = "read x; /bin/true; sleep 0.5"
    p = subprocess.Popen(["bash", "-c", script], stdin=subprocess.PIPE)
    try:
        _wait(lambda: os.path.realpath(f"/proc/{p.pid}/exe").endswith("/bash"), 5, "bash to start")
        d = start_vigild(process_only(vigild))
        p.stdin.write(b"go\n")
        p.stdin.flush()
        ex = d.wait_for(lambda e: e["event"]["action"] == "exec"
                        and get(e, "process.parent.pid") == p.pid
                        and get(e, "process.args") == ["/bin/true"], what="exec of /bin/true")
        # all of this came from /proc: vigild never saw bash start
        assert ex["process"]["parent"]["executable"] in ("/usr/bin/bash", "/bin/bash")
        assert ex["process"]["parent"]["args"] == ["bash", "-c", script]
        assert ex["process"]["parent"]["command_line"] == "bash -c " + script
        assert ex["vigil"]["ancestors"][0]["pid"] == p.pid
        assert ex["vigil"]["ancestors"][0]["command_line"] == "bash -c " + script
        fk = d.wait_for(lambda e: e["event"]["action"] == "fork" and e["process"]["pid"] == p.pid
                        and get(e, "vigil.child.pid") == ex["process"]["pid"], what="fork by bash")
        assert fk["process"]["executable"] in ("/usr/bin/bash", "/bin/bash")
        assert fk["process"]["args"] == ["bash", "-c", script]
        assert fk["process"]["parent"]["pid"] == os.getpid()
    finally:
        p.stdin.close()
        p.wait(timeout=10)


# 16 --------------------------------------------------------------------
def test_status_and_exe_filter(vigild):
    text = vigild.vigil("status").stdout
    rows = {line.split()[0]: line.split() for line in text.splitlines()[2:] if line.strip()}
    for hook in ("exec", "exec_fail", "fork", "exit", "setsid", "comm", "memfd"):
        assert rows[hook][1] == "yes", text
    _run(["/bin/true"])
    st = _status(vigild)
    assert st["pid"] == vigild.proc.pid
    assert st["hooks"]["exec"]["active"] is True
    assert st["hooks"]["exec"]["events"] > 0
    assert st["events_total"] >= st["hooks"]["exec"]["events"]

    sleep = os.path.realpath(shutil.which("sleep"))
    before = st["hooks"]["exit"]["filtered"]
    vigild.vigil("filter", "add", "exe", sleep)
    try:
        assert f"exe {sleep}" in vigild.vigil("filter", "list").stdout
        pids = [_run([sleep, "0.01"]) for _ in range(3)]
        _flushed(vigild)
        st = _status(vigild)
        assert st["hooks"]["exit"]["filtered"] >= before + 3
        assert st["hooks"]["exec"]["filtered"] >= 3
        assert vigild.find_all(lambda e: e["process"]["pid"] in pids
                               and e["event"]["action"] in ("exit", "exec")
                               and get(e, "process.executable") == sleep) == []
        assert vigild.find_all(lambda e: e["process"]["pid"] in pids
                               and e["event"]["action"] == "exit") == []
    finally:
        vigild.vigil("filter", "del", "exe", sleep)
    assert f"exe {sleep}" not in vigild.vigil("filter", "list").stdout
    pid = _run([sleep, "0.01"])
    ev = vigild.wait_for(lambda e: e["event"]["action"] == "exit" and e["process"]["pid"] == pid,
                         what="exit of sleep after the filter is gone")
    assert ev["process"]["executable"] == sleep
    # a bad request is refused with a reason
    r = vigild.vigil("filter", "add", "exe", "/nonexistent/vigil", check=False)
    assert r.returncode != 0 and "No such file" in r.stderr


# 17 --------------------------------------------------------------------
def test_rate_cap(vigild):
    loop = ["bash", "-c", "for i in $(seq 200); do /bin/true; done"]
    before = _status(vigild)["hooks"]["fork"]["dropped_rate_limited"]
    vigild.vigil("filter", "rate", "fork", "10")
    try:
        assert "rate fork 10" in vigild.vigil("filter", "list").stdout
        _run(loop)
        st = _status(vigild)
        assert st["hooks"]["fork"]["dropped_rate_limited"] > before
        assert st["drops_total"] >= st["hooks"]["fork"]["dropped_rate_limited"]
    finally:
        vigild.vigil("filter", "rate", "fork", "0")
    capped = _status(vigild)["hooks"]["fork"]["dropped_rate_limited"]
    _run(loop)
    assert _status(vigild)["hooks"]["fork"]["dropped_rate_limited"] == capped
    r = vigild.vigil("filter", "rate", "nosuchhook", "5", check=False)
    assert r.returncode != 0 and "unknown" in r.stderr


# 18 --------------------------------------------------------------------
def _vigild_with_config(text):
    work = tempfile.mkdtemp(prefix="vigil-test-")
    conf = os.path.join(work, "bad.conf")
    with open(conf, "w") as f:
        f.write(text)
    try:
        r = subprocess.run([os.path.join(BUILD, "vigild"), "--config", conf,
                            "--events-out", os.path.join(work, "ev.jsonl"),
                            "--run-dir", os.path.join(work, "run")],
                           capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return conf, r


def test_config_errors():
    conf, r = _vigild_with_config("# test\nmetrics_interval = 2\nargv_max = banana\n")
    assert r.returncode != 0
    assert f"{conf}:3:" in r.stderr and "argv_max" in r.stderr and "banana" in r.stderr
    assert "ready" not in r.stderr
    conf, r = _vigild_with_config("metrics_interval = 2\nno_such_key = 1\n")
    assert r.returncode != 0
    assert f"{conf}:2:" in r.stderr and "no_such_key" in r.stderr
    conf, r = _vigild_with_config("ringbuf_mb = 3\n")
    assert r.returncode != 0 and f"{conf}:1:" in r.stderr and "ringbuf_mb" in r.stderr


def test_sighup_reload(vigild, start_vigild):
    d = start_vigild(process_only(vigild, "metrics_interval = 2\n"))
    with open(d.config_path, "w") as f:
        f.write("metrics_interval = 2\nenv_max = -4\n")
    d.proc.send_signal(signal.SIGHUP)
    _wait(lambda: "reload refused" in d.stderr_text(), 10, "reload refused")
    assert f"{d.config_path}:2:" in d.stderr_text()
    assert d.proc.poll() is None
    pid = _run(["/bin/true"])
    d.wait_for(lambda e: e["event"]["action"] == "exec" and e["process"]["pid"] == pid,
               what="exec after a refused reload")
    assert "path /tmp/x/" not in d.vigil("filter", "list").stdout

    with open(d.config_path, "w") as f:
        f.write("metrics_interval = 2\nignore_path = /tmp/x/\n")
    d.proc.send_signal(signal.SIGHUP)
    _wait(lambda: "configuration reloaded" in d.stderr_text(), 10, "configuration reloaded")
    assert d.proc.poll() is None
    assert "path /tmp/x/" in d.vigil("filter", "list").stdout


# 19 --------------------------------------------------------------------
def test_single_instance(vigild):
    work = tempfile.mkdtemp(prefix="vigil-test-")
    try:
        r = subprocess.run([os.path.join(BUILD, "vigild"), "--config", vigild.config_path,
                            "--events-out", os.path.join(work, "ev.jsonl"),
                            "--run-dir", vigild.run_dir],
                           capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert r.returncode != 0
    assert "another vigild is running" in r.stderr
    # the first one is untouched and still answers
    assert vigild.proc.poll() is None
    assert _status(vigild)["pid"] == vigild.proc.pid


# 20 --------------------------------------------------------------------
def _prog_ids():
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return {p["id"]: p.get("name", "") for p in json.loads(out)}


def _held_prog_ids(pid):
    """BPF program ids referenced by the open fds (programs, links) of pid."""
    ids = set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def test_programs_detached_on_sigterm_and_sigkill(start_vigild):
    if shutil.which("bpftool") is None:
        import pytest
        pytest.skip("bpftool not installed")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        before = _prog_ids()
        d = start_vigild()
        ours = _held_prog_ids(d.proc.pid)
        after = _prog_ids()
        assert ours, "vigild holds no BPF programs"
        assert ours <= set(after) - set(before)
        assert all(after[i].startswith("vg_") for i in ours), {i: after[i] for i in ours}
        # the `ready` line counts what is attached
        n = int(d.stderr_text().split("ready (")[1].split()[0])
        assert len(ours) >= n
        rc = d.stop(sig)
        if sig == signal.SIGTERM:
            assert rc == 0
            assert "vigild: stopped" in d.stderr_text()
        else:
            assert rc == -signal.SIGKILL
        _wait(lambda: not (ours & set(_prog_ids())), 15, f"programs to go after {sig.name}")
        # the host keeps running processes normally
        assert subprocess.run(["/bin/true"], timeout=10).returncode == 0


# 21 --------------------------------------------------------------------
def test_self_metrics(vigild):
    ev = vigild.wait_for(lambda e: e["event"]["action"] == "vigil_metrics", timeout=6,
                         what="vigil_metrics")
    m = ev["vigil"]["metrics"]
    assert ev["event"]["kind"] == "metric"
    assert m["rss_kib"] > 0
    assert m["events_total"] > 0
    assert m["written"] > 0
    # one per metrics_interval (2 s): a later one has moved on
    ev2 = vigild.wait_for(lambda e: e["event"]["action"] == "vigil_metrics"
                          and e["@timestamp"] > ev["@timestamp"], timeout=6, what="second vigil_metrics")
    assert ev2["vigil"]["metrics"]["events_total"] >= m["events_total"]


# 22 --------------------------------------------------------------------
def test_run_dir_and_socket_modes(vigild):
    st = os.stat(vigild.run_dir)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
    sock = os.stat(os.path.join(vigild.run_dir, "vigild.sock"))
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
    assert sock.st_uid == 0
    lock = os.stat(os.path.join(vigild.run_dir, "vigild.lock"))
    assert stat.S_IMODE(lock.st_mode) == 0o600
    with open(os.path.join(vigild.run_dir, "vigild.lock")) as f:
        assert int(f.read().strip()) == vigild.proc.pid


def _thread_policies(pid):
    """{tid: scheduling policy} of every thread of pid (field 41 of stat)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(tid)] = int(fields[41 - 3])  # fields after "comm)" start at field 3
    return out


SCHED_OTHER, SCHED_BATCH = 0, 3


def test_batch_scheduling(start_vigild):
    # the event threads (the sensor's, which is the main thread, and the
    # output thread) run under SCHED_BATCH; the API and responder threads,
    # created before the switch, keep the normal policy
    d = start_vigild()
    pol = _thread_policies(d.proc.pid)
    assert pol[d.proc.pid] == SCHED_BATCH, pol
    assert sum(1 for p in pol.values() if p == SCHED_BATCH) >= 2, pol
    assert any(p == SCHED_OTHER for p in pol.values()), pol
    d.vigil("status")  # the API thread still answers
    # batch_scheduling = off: every thread keeps the normal policy
    d2 = start_vigild("metrics_interval = 2\nbatch_scheduling = off\n")
    assert set(_thread_policies(d2.proc.pid).values()) == {SCHED_OTHER}


def _file_storm(tmp_path, count=20000):
    """The benchmark's file storm: create, write, rename, unlink; 3 events an op."""
    storm = tmp_path / "storm"
    storm.mkdir()
    subprocess.run([os.path.join(BUILD, "bench", "workload"), "file", "--count", str(count), "--dir", str(storm)],
                   check=True, stdout=subprocess.DEVNULL, timeout=120)


def test_queue_bytes_bound(start_vigild, tmp_path):
    """With the output blocked (events go to a FIFO nobody reads), a file
    storm fills the queue to its byte bound (queue_max_mb = 1): the rest is
    dropped and counted per hook, memory stays bounded, and once the FIFO is
    read again vigild carries on."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    fifo = str(tmp_path / "events.fifo")
    os.mkfifo(fifo, 0o600)
    # a reader end that never reads, so vigild's open does not wait
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    done = threading.Event()
    try:
        d = start_vigild("metrics_interval = 0\nqueue_max_mb = 1\n",
                         extra_args=["--events-out", fifo, "--no-store", "--no-rules"])
        rss0 = _status(d)["rss_kib"]
        _file_storm(tmp_path)
        deadline = time.time() + 10
        while True:
            st = _status(d)
            dropped = sum(h["dropped_userspace"] for h in st["hooks"].values())
            if dropped > 0 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert dropped > 0, st
        assert st["drops_total"] >= dropped
        assert st["queue_bytes"] <= 1 << 20, st
        # 60,000 events of a few hundred bytes each were not all kept
        assert st["rss_kib"] - rss0 < 32 * 1024, (rss0, st["rss_kib"])
        # drain: vigild writes again, and a new exec comes through
        os.set_blocking(rfd, True)
        marker = str(tmp_path / "marker")
        shutil.copy("/bin/true", marker)

        def run_marker():
            while not done.is_set():
                subprocess.run([marker])
                time.sleep(0.2)
        threading.Thread(target=run_marker, daemon=True).start()
        got, buf, t_end = False, b"", time.time() + 30
        while time.time() < t_end and not got:
            chunk = os.read(rfd, 1 << 20)
            if not chunk:
                break
            buf = (buf + chunk)[-(1 << 20):]
            got = marker.encode() in buf
        assert got, "no event of the marker after the FIFO was drained"
    finally:
        done.set()
        os.close(rfd)  # before the fixture stops vigild: blocked on the FIFO, it gets EPIPE, not a hang


def test_storm_polling(start_vigild, tmp_path):
    """During an event storm vigild reads the ring on a short timer and the
    BPF side stops sending wakeups (an IPI per wakeup); the mode ends with
    the storm, and nothing is lost meanwhile."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    d = start_vigild("metrics_interval = 0\n", extra_args=["--no-store", "--no-rules"])
    before = _status(d)
    _file_storm(tmp_path)
    time.sleep(1)
    during = _status(d)
    assert during["storm_polls"] > before["storm_polls"], (before, during)
    # idle again: the mode has ended (in it, vigild polls every 5 ms)
    time.sleep(1)
    idle = _status(d)
    assert idle["storm_polls"] - during["storm_polls"] < 50, (during, idle)
    # every file event of the storm was recorded: none dropped, and a lone
    # exec right after it is delivered
    assert idle["drops_total"] == before["drops_total"], idle
    marker = str(tmp_path / "after-storm")
    shutil.copy("/bin/true", marker)
    subprocess.run([marker], check=True)
    d.wait_for(lambda ev: ev.get("event", {}).get("action") == "exec"
               and ev.get("process", {}).get("executable") == marker, timeout=30, what="exec after the storm")
