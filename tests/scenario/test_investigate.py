"""Investigation from the store: one real login-like session run under a
vigild with its own store (--store), then `vigil session`, `vigil tree`,
`vigil events` (pid, text, field=value, time and limit filters), `vigil
alerts`, `vigil incidents` and `vigil incident` (text, DOT, JSON) read the
store directly, with no daemon involved.

The session: `setsid bash -c '...'` (its sid is the pid of setsid, which
becomes bash) runs id, writes a file, reads /etc/shadow with cat (an alert
of the shipped rules), chmods and renames the file, connects to a local
listener through bash's /dev/tcp (the reverse-shell rule) and sleeps.
Everything is matched by that session's own pids and paths.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import BUILD, Vigild, get

TAG = uuid.uuid4().hex[:8]
FILE = f"/tmp/vigil-inv-{TAG}"


def vigil(store, *args, check=True):
    r = subprocess.run([os.path.join(BUILD, "vigil"), *args, "--store", store], capture_output=True, text=True,
                       timeout=30, env={**os.environ, "NO_COLOR": "1"})
    if check and r.returncode != 0:
        raise AssertionError(f"vigil {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Session:
    pass


@pytest.fixture(scope="module")
def sess():
    if os.geteuid() != 0:
        pytest.skip("scenario tests need root")
    work = tempfile.mkdtemp(prefix="vigil-inv-")
    store = os.path.join(work, "store")
    d = Vigild(work, extra_args=("--store", store, "--alerts-out", os.path.join(work, "alerts.jsonl")))
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    port = lst.getsockname()[1]
    got = []

    def accept():
        lst.settimeout(10)
        try:
            c, _ = lst.accept()
            got.append(c.recv(100))
            c.close()
        except OSError:
            pass

    t = threading.Thread(target=accept)
    t.start()
    script = (f"cd /tmp; id; echo x > {FILE}; cat /etc/shadow > /dev/null; chmod 700 {FILE}; "
              f"mv {FILE} {FILE}.moved; exec 3<>/dev/tcp/127.0.0.1/{port}; echo hi >&3; sleep 0.3")
    p = subprocess.Popen(["setsid", "bash", "-c", script], stdout=subprocess.DEVNULL)
    p.wait(timeout=20)
    t.join(timeout=15)
    lst.close()
    s = Session()
    s.d, s.work, s.store, s.sid, s.port, s.script = d, work, store, p.pid, port, script
    try:
        assert got == [b"hi\n"], "the session did not reach the listener"
        # the sensor saw it all (the events-out file) ...
        s.sleep_exit = d.wait_for(lambda e: e["event"]["action"] == "exit" and e["process"]["pid"] == s.sid,
                                  timeout=15, what="exit of the session leader")
        cat = d.wait_for(lambda e: e["event"]["action"] == "exec" and get(e, "vigil.sid") == s.sid
                         and e["process"]["executable"].endswith("/cat"), what="cat exec")
        s.cat_pid = cat["process"]["pid"]
        s.id_pid = d.wait_for(lambda e: e["event"]["action"] == "exec" and get(e, "vigil.sid") == s.sid
                              and e["process"]["executable"].endswith("/id"), what="id exec")["process"]["pid"]
        s.alert = d.wait_for_alert(lambda a: a["kind"] == "alert" and get(a, "process.pid") == s.cat_pid,
                                   timeout=15, what="alert for cat /etc/shadow")
        # ... and the store has it once flushed (at most the flush interval
        # later), the alert row in state.db too (written apart from the stream)
        stored_until(store, ["events", "--pid", str(s.sid)], lambda e: e["event"]["action"] == "exit",
                     "the leader's exit never reached the store")
        stored_until(store, ["alerts"], lambda a: get(a, "process.pid") == s.cat_pid,
                     "the alert never reached state.db")
        yield s
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)
        for f in (FILE, FILE + ".moved"):
            if os.path.exists(f):
                os.unlink(f)


def stored_until(store, args, pred, why, timeout=20):
    """Polls `vigil ARGS --json` on the store until a line matches pred."""
    deadline = time.time() + timeout
    while True:
        r = vigil(store, *args, "--json", check=False)
        if r.returncode == 0 and any(pred(x) for x in json_lines(r.stdout)):
            return
        if time.time() > deadline:
            raise AssertionError(f"{why}: {r.stderr}")
        time.sleep(0.3)


def positions(text, needles):
    """Line index of the first line containing each needle, in order after
    the previous one; fails naming the first missing needle."""
    lines = text.splitlines()
    out, start = [], 0
    for n in needles:
        for i in range(start, len(lines)):
            if all(part in lines[i] for part in n):
                out.append(i)
                start = i + 1
                break
        else:
            raise AssertionError(f"no line with {n} after line {start} in:\n{text}")
    return out


def test_session_timeline(sess):
    r = vigil(sess.store, "session", str(sess.sid))
    out = r.stdout
    assert f"Session {sess.sid}" in out.splitlines()[0]
    # the login: the leader's exec, its user and tty
    assert f"login    {sess.sid} bash -c" in out
    assert "user     root (uid 0)" in out
    s, c, f = str(sess.sid), str(sess.cat_pid), FILE
    positions(out, [
        (s, "exec", "/usr/bin/bash -c"),
        (str(sess.id_pid), "exec", "/usr/bin/id"),
        ("file_create", f),
        (c, "exec", "/usr/bin/cat /etc/shadow"),
        (c, "file_read_sensitive", "/etc/shadow"),
        ("ALERT", sess.alert["rule"]["title"]),
        ("file_chmod", f, "0700"),
        ("file_rename", f"{f} -> {f}.moved"),
        (s, "connect", f"127.0.0.1:{sess.port}"),
        (s, "exec", "/usr/bin/sleep 0.3"),
        (s, "exit", "exit code 0"),
    ])
    # time order
    times = [line[:23] for line in out.splitlines() if line[:4].isdigit()]
    assert times == sorted(times) and len(times) >= 10


def test_session_json(sess):
    lines = json_lines(vigil(sess.store, "session", str(sess.sid), "--json").stdout)
    head, events = lines[0], lines[1:]
    assert head["kind"] == "session" and head["id"] == sess.sid
    assert head["leader"]["pid"] == sess.sid and head["leader"]["executable"] == "/usr/bin/bash"
    assert head["user"]["id"] == 0
    assert all(get(e, "vigil.sid") == sess.sid for e in events)
    stamps = [e["@timestamp"] for e in events]
    assert stamps == sorted(stamps)
    actions = {e["event"]["action"] for e in events}
    assert {"exec", "fork", "exit", "file_create", "file_read_sensitive", "file_chmod", "file_rename",
            "connect"} <= actions
    assert any(e["event"]["action"] == "connect" and get(e, "destination.port") == sess.port for e in events)


def test_tree_pid(sess):
    out = vigil(sess.store, "tree", str(sess.sid)).stdout
    lines = out.splitlines()
    assert lines[0].startswith(f"Process {sess.sid}")
    # ancestors first (the test's own python among them), then the tree
    root = positions(out, [(f"{sess.sid} /usr/bin/setsid",)])[0]
    assert any("python" in line for line in lines[1:root])
    i_exec, i_id, i_cat, i_alert = positions(out, [
        ("exec /usr/bin/bash", "bash -c"),
        (f"\u2500 {sess.id_pid} /usr/bin/id",),
        (f"\u2500 {sess.cat_pid} /usr/bin/cat", "cat /etc/shadow"),
        ("! ALERT", sess.alert["rule"]["title"]),
    ])
    assert i_alert == i_cat + 1
    assert "[exit 0]" in lines[i_cat]


def test_tree_session_json(sess):
    doc = json.loads(vigil(sess.store, "tree", "--session", str(sess.sid), "--json").stdout)
    assert doc["kind"] == "tree" and doc["session"] == sess.sid
    roots = [r for r in doc["roots"] if r["pid"] == sess.sid]
    assert len(roots) == 1
    root = roots[0]
    assert [x["executable"] for x in root["execs"]] == ["/usr/bin/bash", "/usr/bin/sleep"]
    kids = {c["pid"]: c for c in root["children"]}
    assert kids[sess.id_pid]["executable"] == "/usr/bin/id"
    cat = kids[sess.cat_pid]
    assert cat["executable"] == "/usr/bin/cat" and cat["command_line"] == "cat /etc/shadow"
    assert cat["exit_code"] == 0
    assert any(a["title"] == sess.alert["rule"]["title"] for a in cat["alerts"])


def test_events_filters(sess):
    st = sess.store
    # --pid
    evs = json_lines(vigil(st, "events", "--pid", str(sess.cat_pid), "--json").stdout)
    assert evs and all(e["process"]["pid"] == sess.cat_pid for e in evs)
    assert {"exec", "file_read_sensitive", "exit"} <= {e["event"]["action"] for e in evs}
    # --grep: command line or path
    evs = json_lines(vigil(st, "events", "--grep", f"vigil-inv-{TAG}", "--json").stdout)
    assert any(e["event"]["action"] == "file_create" and get(e, "file.path") == FILE for e in evs)
    assert any(e["event"]["action"] == "file_rename" and get(e, "file.path") == FILE + ".moved" for e in evs)
    assert all(f"vigil-inv-{TAG}" in (get(e, "process.command_line", "") + get(e, "file.path", "")) for e in evs)
    # FIELD=VALUE, with --session
    evs = json_lines(vigil(st, "events", "--session", str(sess.sid), "event.action=connect",
                           f"destination.port={sess.port}", "--json").stdout)
    assert len(evs) == 1 and evs[0]["process"]["pid"] == sess.sid
    assert get(evs[0], "destination.ip") == "127.0.0.1"
    # --remote
    evs = json_lines(vigil(st, "events", "--remote", "127.0.0.1", "--session", str(sess.sid), "--json").stdout)
    assert evs and all("127.0.0.1" in (get(e, "destination.ip", ""), get(e, "source.ip", "")) for e in evs)
    # --exe
    evs = json_lines(vigil(st, "events", "--exe", "/usr/bin/id", "--session", str(sess.sid), "--json").stdout)
    assert evs and all(e["process"]["pid"] == sess.id_pid for e in evs)
    # time range: --since relative and RFC3339 --until before the session
    evs = json_lines(vigil(st, "events", "--session", str(sess.sid), "--since", "10m", "--json").stdout)
    assert len(evs) >= 10
    first = min(e["@timestamp"] for e in evs)
    assert vigil(st, "events", "--session", str(sess.sid), "--until", "2000-01-01T00:00:00Z", "--json").stdout == ""
    evs = json_lines(vigil(st, "events", "--session", str(sess.sid), "--since", first, "--limit", "2",
                           "--json").stdout)
    assert len(evs) == 2 and evs[0]["@timestamp"] == first
    # the readable form: aligned columns
    out = vigil(st, "events", "--pid", str(sess.cat_pid)).stdout.splitlines()
    assert out[0].split() == ["TIME", "SID", "PID", "PROCESS", "ACTION", "DETAIL"]
    col = out[0].index("ACTION")
    assert any(line[col:].startswith("file_read_sensitive") and "/etc/shadow" in line for line in out[1:])
    # bad input
    assert vigil(st, "events", "--since", "yesterday-ish", check=False).returncode == 2


def test_alerts_and_incident(sess):
    st = sess.store
    alerts = json_lines(vigil(st, "alerts", "--json").stdout)
    mine = [a for a in alerts if get(a, "process.pid") == sess.cat_pid]
    assert mine and mine[0]["rule"]["id"] == sess.alert["rule"]["id"] and mine[0]["id"] > 0
    assert vigil(st, "alerts", "--level", "critical", "--json").stdout.count(f'"pid":{sess.cat_pid},') == 0
    out = vigil(st, "alerts", "--since", "10m").stdout
    assert any(str(sess.cat_pid) in line and sess.alert["rule"]["title"] in line for line in out.splitlines())
    # the incident holding the alert
    inc_id = mine[0].get("incident_id")
    deadline = time.time() + 10
    while not inc_id and time.time() < deadline:
        time.sleep(0.5)
        inc_id = next((a.get("incident_id") for a in json_lines(vigil(st, "alerts", "--json").stdout)
                       if a["id"] == mine[0]["id"]), None)
    assert inc_id, "the alert was not linked to an incident"
    incs = json_lines(vigil(st, "incidents", "--json").stdout)
    assert any(get(i, "incident.id") == inc_id for i in incs)
    doc = json.loads(vigil(st, "incident", inc_id, "--json").stdout)
    assert doc["id"] == inc_id and get(doc, "incident.kind") == "incident"
    assert any(a["id"] == mine[0]["id"] for a in doc["alerts"])
    nodes = {n["id"]: n for n in doc["graph"]["nodes"]}
    edges = doc["graph"]["edges"]
    cat = [n for n in nodes.values() if n["type"] == "process" and n["pid"] == sess.cat_pid]
    leader = [n for n in nodes.values() if n["type"] == "process" and n["pid"] == sess.sid]
    assert cat and leader and mine[0]["id"] in cat[0]["alerts"]
    assert {"from": leader[0]["id"], "to": cat[0]["id"], "type": "exec"}.items() <= \
        next(e for e in edges if e["from"] == leader[0]["id"] and e["to"] == cat[0]["id"]).items()
    assert any(e["from"] == cat[0]["id"] and e["to"] == "f:/etc/shadow" and e["type"] == "read" for e in edges)
    assert any(e["to"] == f"a:127.0.0.1:{sess.port}" and e["type"] == "connect" for e in edges)
    assert any(e["to"] == f"f:{FILE}.moved" and e["type"] == "rename" and e.get("old_path") == FILE for e in edges)
    assert nodes[f"a:127.0.0.1:{sess.port}"]["port"] == sess.port
    dot = vigil(st, "incident", inc_id, "--dot").stdout
    assert dot.startswith(f'digraph "{inc_id}"') and dot.rstrip().endswith("}")
    assert f'"{cat[0]["id"]}" [label="{sess.cat_pid}\\n/usr/bin/cat' in dot and "color=red" in dot
    assert f'"{cat[0]["id"]}" -> "f:/etc/shadow" [label="read"]' in dot
    text = vigil(st, "incident", inc_id[:12]).stdout  # a prefix is enough
    assert text.startswith(f"Incident {inc_id}")
    positions(text, [("Alerts",), (sess.alert["rule"]["title"],), ("Provenance",),
                     (f"{sess.cat_pid} /usr/bin/cat",), ("read", "/etc/shadow")])
    assert vigil(st, "incident", "inc-does-not-exist", check=False).returncode == 1
