"""The event store under a real vigild: kill -9 at random moments loses
nothing older than the flush interval and leaves nothing corrupt; a full
disk pauses writing (counted, reported) while vigild keeps running, and
writing resumes when space returns; truncated and bit-flipped segments are
reported and skipped while the rest stays queryable; a disk that stops
answering (frozen) holds up neither alerts nor automatic kills."""
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BUILD, Vigild, get
from test_respond_active import Listener, end, reverse_shell

PROCESS_HOOKS = ("exec", "exec_fail", "fork", "exit")
FLUSH_MS = 400


def process_only(vigild, text=""):
    """Only the process hooks: the daemon starts in a fraction of the time."""
    hooks = json.loads(vigild.vigil("status", "--json").stdout)["hooks"]
    return text + "".join(f"hook.{h} = off\n" for h in hooks if h not in PROCESS_HOOKS)


def stored(store, *args):
    """Events in the store (vigil events --json, no daemon), and its stderr."""
    r = subprocess.run([os.path.join(BUILD, "vigil"), "events", "--store", store, "--json", *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()], r.stderr


def wait(cond, timeout, what):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class ExecLoop:
    """Runs a uniquely named copy of /bin/true over and over, at most
    `limit` times."""

    def __init__(self, workdir, name, limit=None):
        self.path = os.path.join(workdir, name)
        self.limit = limit
        shutil.copy("/bin/true", self.path)
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        n = 0
        while not self.stop.is_set() and (self.limit is None or n < self.limit):
            subprocess.run([self.path])
            n += 1

    def end(self):
        self.stop.set()
        self.t.join(timeout=10)


def start(workdir, store, config, extra=()):
    os.makedirs(workdir, exist_ok=True)
    return Vigild(workdir, config, ["--store", store, "--no-rules", *extra])


def kill9(d):
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    d.stderr.close()


def execs_of(events, path):
    return {(get(e, "process.pid"), e["@timestamp"]) for e in events
            if get(e, "event.action") == "exec" and get(e, "process.executable") == path}


def test_kill9_loses_only_the_last_flush_interval(vigild):
    config = process_only(vigild, f"metrics_interval = 1\nstore_flush_ms = {FLUSH_MS}\n")
    top = tempfile.mkdtemp(prefix="vigil-store-crash-")
    store = os.path.join(top, "store")
    rng = random.Random()
    must = {}  # exe path -> execs that had to survive
    try:
        for it in range(4):
            d = start(os.path.join(top, f"run{it}"), store, config)
            loop = ExecLoop(top, f"vgcrash-true-{os.getpid()}-{it}")
            time.sleep(rng.uniform(1.0, 3.0))
            # what vigild has written by now (events-out is flushed per
            # batch, right where the store appends) must survive a kill
            # one flush interval (and a margin for the fsync, which a
            # busy CI disk can stretch past half a second) later
            old = execs_of(d.events(), loop.path)
            time.sleep(FLUSH_MS / 1000 + 1.5 + rng.uniform(0, 0.5))
            kill9(d)
            loop.end()
            assert len(old) > 5, f"iteration {it}: too few execs recorded ({len(old)})"
            assert len(execs_of(d.events(), loop.path)) >= len(old)
            must[loop.path] = old
            got, err = stored(store)
            assert err == "", err
            for path, want in must.items():
                have = execs_of(got, path)
                missing = want - have
                assert not missing, f"iteration {it}: {len(missing)} of {len(want)} flushed execs of {path} lost"
        # a clean start and stop after the last kill: everything is still
        # there once, and the store reads cleanly
        d = start(os.path.join(top, "final"), store, config)
        assert d.stop() == 0
        got, err = stored(store)
        assert err == "", err
        for path, want in must.items():
            have = execs_of(got, path)
            assert want <= have
            mine = [e for e in got if get(e, "event.action") == "exec" and get(e, "process.executable") == path]
            assert len(mine) == len(have), "an event was stored twice"
        ts = [e["@timestamp"] for e in got]
        assert ts == sorted(ts)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def store_status(d):
    return json.loads(d.vigil("status", "--json").stdout)["store"]


def flood(workdir, tag, n):
    """n file creations and deletions (file events carry the path)."""
    sub = os.path.join(workdir, tag)
    os.makedirs(sub, exist_ok=True)
    for i in range(n):
        p = os.path.join(sub, f"{tag}-{i}")
        with open(p, "w"):
            pass
        os.unlink(p)


def test_full_disk_pauses_and_resumes(vigild):
    top = tempfile.mkdtemp(prefix="vigil-store-full-")
    mnt = os.path.join(top, "store")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", mnt], check=True)
    d = None
    try:
        hooks = json.loads(vigild.vigil("status", "--json").stdout)["hooks"]
        keep = ("exec", "exit", "fork", "open", "unlink")
        config = "metrics_interval = 1\nstore_flush_ms = 200\nstore_segment_mb = 1\n" + \
            "".join(f"hook.{h} = off\n" for h in hooks if h not in keep)
        d = start(os.path.join(top, "run"), mnt, config)
        wait(lambda: store_status(d)["enabled"], 10, "the store")
        # leave ~150 KiB free, then flood
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - 150 * 1024))
        work = os.path.join(top, "work")
        os.makedirs(work)
        for round_ in range(60):
            flood(work, f"vgfull-a{round_}", 300)
            s = store_status(d)
            if s["disk_full"] and s["dropped_disk_full"] > 0:
                break
        s = wait(lambda: (lambda s: s["disk_full"] and s["dropped_disk_full"] > 0 and s)(store_status(d)),
                 20, "disk_full and dropped events")
        assert s["write_errors"] >= 1
        assert "disk full" in d.stderr_text()
        assert d.stderr_text().count("vigild: store: disk full") == 1, d.stderr_text()
        # vigild keeps running and keeps writing JSON elsewhere
        marker = os.path.join(work, "vgfull-during")
        open(marker, "w").close()
        d.wait_for(lambda e: get(e, "file.path") == marker, what="an event while the disk is full")
        m = d.wait_for(lambda e: get(e, "event.action") == "vigil_metrics"
                       and get(e, "vigil.metrics.store.disk_full") is True, timeout=10,
                       what="metrics showing the full disk")
        assert get(m, "vigil.metrics.store.dropped_disk_full") > 0
        assert d.proc.poll() is None
        # space returns: writing resumes by itself
        os.unlink(filler)
        s = wait(lambda: (lambda s: not s["disk_full"] and s)(store_status(d)), 15, "writing to resume")
        written = s["events_written"]
        flood(work, "vgfull-after", 200)
        after = os.path.join(work, "vgfull-after", "vgfull-after-199")
        d.wait_for(lambda e: get(e, "file.path") == after, what="the last event after resuming")
        wait(lambda: store_status(d)["events_written"] > written + 200, 10, "events written after resuming")
        assert "writing to " in d.stderr_text() and "resumed" in d.stderr_text()
        assert d.stop() == 0
        d = None
        got, err = stored(mnt)
        assert err == "", err
        paths = {get(e, "file.path") for e in got}
        assert after in paths
        assert sum(1 for p in paths if p and "/vgfull-after-" in p) >= 190
    finally:
        if d:
            d.stop()
        subprocess.run(["umount", mnt])
        shutil.rmtree(top, ignore_errors=True)


def test_corrupt_segments_are_reported_and_skipped(vigild):
    config = process_only(vigild, "metrics_interval = 0\n")
    top = tempfile.mkdtemp(prefix="vigil-store-corrupt-")
    store = os.path.join(top, "store")
    try:
        paths = []
        for it in range(3):
            # each run of vigild leaves one sealed segment
            d = start(os.path.join(top, f"run{it}"), store, config)
            exe = os.path.join(top, f"vgseg-true-{it}")
            shutil.copy("/bin/true", exe)
            for _ in range(300):
                subprocess.run([exe])
            d.wait_for(lambda e: get(e, "process.executable") == exe and get(e, "event.action") == "exit",
                       what="the last exec")
            assert d.stop() == 0
            paths.append(exe)
        segs = sorted(f for f in os.listdir(store) if f.endswith(".vgs"))
        assert len(segs) == 3, segs
        got, err = stored(store)
        assert err == ""
        counts = [len(execs_of(got, p)) for p in paths]
        assert all(c >= 300 for c in counts), counts
        # segment 1: flip a byte in the middle; segment 2: cut it in two
        s1, s2 = (os.path.join(store, segs[0]), os.path.join(store, segs[1]))
        with open(s1, "r+b") as f:
            f.seek(os.path.getsize(s1) // 2)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0x40]))
        os.truncate(s2, os.path.getsize(s2) * 2 // 3)
        got, err = stored(store)
        lines = err.splitlines()
        assert any(l.startswith(s1 + ": block ") for l in lines), err
        assert any(l.startswith(s2 + ": block ") for l in lines), err
        assert len(lines) <= 4, err
        after = [len(execs_of(got, p)) for p in paths]
        # the damaged segments lose some blocks, not everything
        assert 0 < after[0] < counts[0] + 1 and 0 < after[1] < counts[1], (counts, after)
        assert after[0] + after[1] < counts[0] + counts[1]
        assert after[2] == counts[2]
        # look-ups through the index still work on what is left
        one = next(e for e in got if get(e, "process.executable") == paths[2])
        sid = get(one, "vigil.sid")
        by_sid, _ = stored(store, "--session", str(sid))
        assert any(e["@timestamp"] == one["@timestamp"] for e in by_sid)
        assert all(get(e, "vigil.sid") == sid for e in by_sid)
        by_pid, _ = stored(store, "--pid", str(get(one, "process.pid")))
        assert any(e["@timestamp"] == one["@timestamp"] for e in by_pid)
        # a new writer starts a new segment and leaves the damage alone
        d = start(os.path.join(top, "run-after"), store, config)
        assert d.stop() == 0
        got2, err3 = stored(store)
        assert [len(execs_of(got2, p)) for p in paths] == after
    finally:
        shutil.rmtree(top, ignore_errors=True)


SHM_RULE = "e3014f56-c4c6-428d-9a55-a036e4eb1d0d"  # Execution from /dev/shm
SHELL_RULE = "7a413cd8-a1af-4737-b25c-5e149c4e84b4"  # shell with a socket as stdin/stdout


def test_frozen_store_holds_up_neither_alerts_nor_kills(vigild):
    """The filesystem under the store is frozen (fsfreeze: every write and
    fsync there waits until it thaws), as a stalled or saturated disk would.
    Alerts and automatic kills go on at once; events wait in memory, counted
    in `vigil status`; once the disk thaws they all reach the store, and
    the kills are in the audit trail."""
    top = tempfile.mkdtemp(prefix="vigil-store-frozen-")
    img, mnt = os.path.join(top, "store.img"), os.path.join(top, "store")
    os.makedirs(mnt)
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True)
    subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
    frozen, d, lst, shells = False, None, None, []
    shm = f"/dev/shm/vgfrozen-{os.getpid()}"
    try:
        work = os.path.join(top, "run")
        os.makedirs(work)
        # the bound on what waits for the store is far above what this test
        # makes, whatever the ancestors' argv weigh on the exec events
        d = Vigild(work, "response_mode = on\nresponse_max_per_min = 1000\nmetrics_interval = 1\n"
                   f"store_flush_ms = {FLUSH_MS}\nqueue_max_mb = 1024\n",
                   ["--store", mnt, "--alerts-out", os.path.join(work, "alerts.jsonl")])
        wait(lambda: store_status(d)["events_written"] > 0, 15, "the store's first write")
        subprocess.run(["fsfreeze", "--freeze", mnt], check=True)
        frozen = True
        # events for more than a flush interval: a store written from the
        # detection path would be stuck in the frozen disk by now
        loop = ExecLoop(top, f"vgfrozen-true-{os.getpid()}", limit=1000)
        time.sleep(FLUSH_MS / 1000 * 3)
        loop.end()
        wait(lambda: store_status(d)["queued"] > 0, 10, "events waiting for the store")
        written = store_status(d)["events_written"]

        shutil.copy("/bin/true", shm)
        subprocess.run([shm], check=True)
        d.wait_for_alert(lambda a: a["rule"]["id"] == SHM_RULE
                         and any(get(e, "process.executable") == shm for e in a["events"]),
                         timeout=5, what="the /dev/shm alert while the store is frozen")
        lst = Listener()
        for _ in range(2):
            p = reverse_shell(d, lst.port)
            shells.append(p)
            try:
                rc = p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise AssertionError("a reverse shell was not killed within 5 s while the store is frozen")
            assert rc == -signal.SIGKILL, rc
        assert store_status(d)["events_written"] == written, "written to a frozen filesystem?"

        held = store_status(d)
        subprocess.run(["fsfreeze", "--unfreeze", mnt], check=True)
        frozen = False
        wait(lambda: (lambda s: s["queued"] == 0 and s["events_written"] > written)(store_status(d)),
             15, "the store to catch up")
        assert store_status(d)["dropped_backlog"] == 0, f"while frozen: {held}"
        assert d.stop() == 0
        d = None
        got, err = stored(mnt)
        assert err == "", err
        assert any(get(e, "event.action") == "exec" and get(e, "process.executable") == shm for e in got)
        killed = {p.pid for p in shells}
        r = subprocess.run([os.path.join(BUILD, "vigil"), "actions", "--json", "--store", mnt],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        acts = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        logged = {int(a["target"].split()[1]) for a in acts
                  if a["action"] == "kill" and a["actor"] == "rule:" + SHELL_RULE and a["result"] == "ok"}
        assert killed <= logged, (killed, acts)
    finally:
        if frozen:
            subprocess.run(["fsfreeze", "--unfreeze", mnt], check=False)
        for p in shells:
            end(p)
        if lst:
            lst.close()
        if d:
            d.stop()
        if os.path.exists(shm):
            os.unlink(shm)
        subprocess.run(["umount", mnt], check=False)
        shutil.rmtree(top, ignore_errors=True)
