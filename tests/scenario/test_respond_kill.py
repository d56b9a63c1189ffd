"""Response: `vigil kill` of a process, a tree and a login session, through
the real daemon, on real processes; never of a process that reused a pid,
never of pid 1 or vigild; dry runs touch nothing. Every action is checked
in the audit trail (`vigil actions`) and as a "response" event.

Every process here is started by the test; cleanup signals only those
(their own process groups), never anything found by name."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import get, helper

HZ = os.sysconf("SC_CLK_TCK")


def stat_of(pid):
    """(state, ppid, sid, start ticks) of pid, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[3]), int(fields[19])


def alive(pid):
    st = stat_of(pid)
    return st is not None and st[0] not in "ZX"


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children(pid):
    return [p for p in all_pids() if (st := stat_of(p)) and st[1] == pid and st[0] not in "ZX"]


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def session_members(sid):
    return [p for p in all_pids() if (st := stat_of(p)) and st[2] == sid and st[0] not in "ZX"]


def wait_until(cond, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def start_ns_from_exec(vigild, pid):
    ev = vigild.wait_for(lambda e: e["event"]["action"] == "exec" and e["process"]["pid"] == pid,
                         what=f"exec of {pid}")
    return ev["process"]["start_ns"]


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_mine(p):
    """Kills a Popen of ours through a pidfd (never a reused pid)."""
    if p.poll() is None:
        try:
            fd = os.pidfd_open(p.pid)
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            os.close(fd)
        except ProcessLookupError:
            pass
    p.wait(timeout=10)


def actions(vigild):
    r = vigild.vigil("actions", "--json", "--store", os.path.join(vigild.workdir, "store"))
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def find_action(vigild, **want):
    """The recorded action whose fields equal want (result: prefix match)."""
    def match(a):
        for k, v in want.items():
            if k == "result":
                if not a.get("result", "").startswith(v):
                    return False
            elif a.get(k) != v:
                return False
        return True
    return wait_until(lambda: next((a for a in actions(vigild) if match(a)), None), timeout=5,
                      what=f"action {want}")


def response_event(vigild, **want):
    return vigild.wait_for(lambda e: e["event"]["action"] == "response"
                           and all(get(e, "vigil.response." + k) == v for k, v in want.items()),
                           what=f"response event {want}")


def test_kill_one_process_reports_it(vigild):
    p = subprocess.Popen(["sleep", "1000"])
    try:
        start = start_ns_from_exec(vigild, p.pid)
        r = vigild.vigil("kill", f"{p.pid}@{start}")
        assert r.stdout.startswith("killed 1 process:"), r.stdout
        assert f"{p.pid} " in r.stdout and "sleep" in r.stdout
        assert p.wait(timeout=5) == -signal.SIGKILL
        a = find_action(vigild, action="kill", target=f"pid {p.pid}", result="ok")
        assert a["actor"].startswith("cli")
        killed = a["detail"]["killed"]
        assert [k["pid"] for k in killed] == [p.pid]
        assert killed[0]["exe"].endswith("/sleep")
        assert killed[0]["start_ns"] == start
        response_event(vigild, action="kill", target=f"pid {p.pid}", result="ok")
    finally:
        kill_mine(p)


def test_kill_tree(vigild):
    # outer bash (O) -> sleep (bystander in the same session), bash B1;
    # B1 -> sleep, bash B2; B2 -> sleep, sleep. The tree of B1 is 5 processes.
    inner = 'sleep 1000 & bash -c "sleep 1000 & sleep 1000 & wait" & wait'
    outer = subprocess.Popen(["bash", "-c", f"sleep 1000 & bash -c '{inner}' & wait"], start_new_session=True)
    try:
        wait_until(lambda: len(descendants(outer.pid)) == 6, what="6 descendants")
        kids = children(outer.pid)
        b1 = next(k for k in kids if children(k))
        bystander = next(k for k in kids if k != b1)
        tree = [b1] + descendants(b1)
        assert len(tree) == 5
        start = stat_of(b1)[3] * (10**9 // HZ)

        dry = vigild.vigil("kill", "--tree", "--dry-run", f"{b1}@{start}")
        assert dry.stdout.startswith("dry run: would kill 5 processes"), dry.stdout
        assert all(alive(p) for p in tree)

        r = vigild.vigil("kill", "--tree", f"{b1}@{start}")
        assert r.stdout.startswith("killed 5 processes:"), r.stdout
        for p in tree:
            assert f"{p} " in r.stdout
        wait_until(lambda: not any(alive(p) for p in tree), timeout=3, what="the tree gone")
        assert alive(outer.pid) and alive(bystander)

        a = find_action(vigild, action="kill", target=f"tree of pid {b1}", result="ok")
        assert sorted(k["pid"] for k in a["detail"]["killed"]) == sorted(tree)
        assert a["detail"]["scope"] == "tree"
        d = find_action(vigild, action="kill", target=f"tree of pid {b1}", result="dry-run")
        assert sorted(k["pid"] for k in d["detail"]["would_kill"]) == sorted(tree)
    finally:
        kill_group(outer.pid)
        outer.wait(timeout=10)


def test_kill_session(vigild):
    # a login-like session: the leader, a job, a daemonised orphan (its
    # parent exited: no longer in the leader's tree, still in the session),
    # and a nested shell with a child
    script = 'sleep 1000 & (sleep 1000 &) ; bash -c "sleep 1000 & wait" & wait'
    leader = subprocess.Popen(["setsid", "bash", "-c", script])
    unrelated = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        sid = leader.pid
        members = wait_until(lambda: (m := session_members(sid)) and len(m) == 5 and m, what="5 members")
        orphan = [p for p in members if p != sid and p not in descendants(sid)]
        assert len(orphan) == 1, "the daemonised sleep left the leader's tree"

        r = vigild.vigil("kill", "--session", str(sid))
        assert r.stdout.startswith("killed 5 processes:"), r.stdout
        wait_until(lambda: not any(alive(p) for p in members), timeout=3, what="the session gone")
        assert session_members(sid) == []
        assert alive(unrelated.pid)
        assert leader.wait(timeout=5) == -signal.SIGKILL

        a = find_action(vigild, action="kill", target=f"session {sid}", result="ok")
        assert sorted(k["pid"] for k in a["detail"]["killed"]) == sorted(members)
        response_event(vigild, action="kill", target=f"session {sid}")
    finally:
        kill_group(leader.pid)
        leader.wait(timeout=10)
        kill_mine(unrelated)


def spawn_at(pid):
    """A sleeping process of ours created at pid (real pid reuse)."""
    p = subprocess.Popen([helper("spawn_at_pid"), str(pid), "60"], stdout=subprocess.PIPE, text=True)
    out = json.loads(p.stdout.readline())
    return p, out


def test_kill_refuses_reused_pid(vigild):
    for attempt in range(5):
        old = subprocess.Popen(["sleep", "1000"])
        old_start = start_ns_from_exec(vigild, old.pid)
        pid = old.pid
        time.sleep(0.1)  # the new owner starts several clock ticks later
        kill_mine(old)
        new, out = spawn_at(pid)
        if out["clone3"]["rc"] == pid:
            break
        new.wait(timeout=10)
        # the pid was taken again in between by someone else: try another
        assert out["clone3"]["error"] == "EEXIST", out
    else:
        pytest.fail("could not reuse a pid in 5 attempts")
    try:
        assert alive(pid)
        new_start = stat_of(pid)[3] * (10**9 // HZ)
        assert new_start > old_start

        for args in (["kill", f"{pid}@{old_start}"], ["kill", "--tree", f"{pid}@{old_start}"]):
            r = vigild.vigil(*args, check=False)
            assert r.returncode != 0
            assert f"pid {pid} is now another process" in r.stderr, r.stderr
            assert f"expected {old_start}" in r.stderr
        time.sleep(0.2)
        assert alive(pid) and new.poll() is None, "the new owner of the pid must live"
        find_action(vigild, action="kill", target=f"pid {pid}", result="refused: pid")

        # the new owner, named with its own start time, can be killed
        r = vigild.vigil("kill", f"{pid}@{new_start}")
        assert r.stdout.startswith("killed 1 process"), r.stdout
        assert new.wait(timeout=5) == 128 + signal.SIGKILL
    finally:
        kill_mine(new)


def test_kill_refuses_pid1_and_vigild(vigild):
    for pid, why in ((1, "pid 1"), (vigild.proc.pid, "vigild itself")):
        for args in (["kill", str(pid)], ["kill", "--tree", str(pid)]):
            r = vigild.vigil(*args, check=False)
            assert r.returncode != 0
            assert why in r.stderr, r.stderr
    assert vigild.proc.poll() is None
    assert vigild.vigil("ping").returncode == 0
    find_action(vigild, action="kill", target="pid 1", result="refused: ")
    find_action(vigild, action="kill", target=f"pid {vigild.proc.pid}", result="refused: ")


def test_kill_dry_run_and_signal(vigild):
    p = subprocess.Popen(["sleep", "1000"])
    try:
        r = vigild.vigil("kill", "--dry-run", str(p.pid))
        assert r.stdout.startswith("dry run: would kill 1 process"), r.stdout
        time.sleep(0.2)
        assert p.poll() is None
        find_action(vigild, action="kill", target=f"pid {p.pid}", result="dry-run")

        r = vigild.vigil("kill", "--signal", "TERM", str(p.pid))
        assert r.stdout.startswith("sent TERM to 1 process"), r.stdout
        assert p.wait(timeout=5) == -signal.SIGTERM
        a = find_action(vigild, action="kill", target=f"pid {p.pid}", result="ok")
        assert a["detail"]["signal"] == "TERM"

        r = vigild.vigil("kill", str(p.pid), check=False)
        assert r.returncode != 0 and "no such process" in r.stderr
    finally:
        kill_mine(p)


def test_kill_tree_while_it_forks(vigild):
    # the root forks as fast as it can while we kill: members are stopped
    # first and /proc re-read until nobody new appears, so none survives
    root = subprocess.Popen(["bash", "-c", "for i in $(seq 3000); do sleep 1000 & done; wait"],
                            start_new_session=True)
    try:
        wait_until(lambda: len(children(root.pid)) >= 30, what="30 children")
        r = vigild.vigil("kill", "--tree", str(root.pid))
        n = int(re.match(r"killed (\d+) processes", r.stdout).group(1))
        assert n >= 31
        time.sleep(0.3)
        assert session_members(root.pid) == [], "a fork escaped the kill"
        assert root.wait(timeout=5) == -signal.SIGKILL
    finally:
        kill_group(root.pid)
        root.wait(timeout=10)


def test_kill_session_while_it_double_forks(vigild):
    # daemonising children (fork, fork, parent exits) leave the leader's
    # tree at once; the session still holds them all
    leader = subprocess.Popen(["setsid", "bash", "-c", "for i in $(seq 1000); do (sleep 1000 &); done; wait"])
    try:
        wait_until(lambda: len(session_members(leader.pid)) >= 20, what="20 members")
        r = vigild.vigil("kill", "--session", str(leader.pid))
        assert re.match(r"killed \d+ processes", r.stdout), r.stdout
        time.sleep(0.3)
        assert session_members(leader.pid) == [], "a double fork escaped the kill"
    finally:
        kill_group(leader.pid)
        leader.wait(timeout=10)
