"""vigild's detection wiring, with rules written here (not the shipped set):
alerts written to --alerts-out and printed on stderr, correlation alerts
with their contributing events, incidents, rule errors that do not stop the
daemon, SIGHUP reload, --no-rules, and the alert counters of `vigil status`
and the vigil_metrics event.

Every behaviour execs a copy of /bin/true under a unique name, so alerts are
matched by that name and pid: other activity on the host is recorded too.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import get

TOK = uuid.uuid4().hex[:10]


def rule_text(rid, title, level, image_endswith, tags=("attack.execution", "attack.t1059.004"), extra=""):
    return (f"title: {title}\nid: {rid}\nlevel: {level}\ntags: [{', '.join(tags)}]\n{extra}"
            "logsource: {product: linux, category: process_creation}\n"
            f"detection:\n  sel:\n    Image|endswith: '{image_endswith}'\n  condition: sel\n")


@pytest.fixture(scope="module")
def work():
    if os.geteuid() != 0:
        pytest.skip("scenario tests need root")
    d = tempfile.mkdtemp(prefix="vigil-alerts-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def marker(work, name):
    """A copy of /bin/true called NAME-TOK in work/bin; returns its path."""
    os.makedirs(os.path.join(work, "bin"), exist_ok=True)
    path = os.path.join(work, "bin", f"{name}-{TOK}")
    if not os.path.exists(path):
        shutil.copy("/bin/true", path)
    return path


def run(path, *args):
    """Runs path in a new session; returns its pid."""
    p = subprocess.Popen([path, *args], start_new_session=True)
    p.wait(timeout=10)
    return p.pid


def wait_stderr(d, text, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in d.stderr_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} on vigild's stderr within {timeout} s:\n" + d.stderr_text()[-2000:])


@pytest.fixture(scope="module")
def rules_dir(work):
    rd = os.path.join(work, "rules")
    os.makedirs(os.path.join(rd, "sub"), exist_ok=True)
    with open(os.path.join(rd, "alert.yml"), "w") as f:
        f.write(rule_text(f"t-alert-{TOK}", f"Test alert {TOK}", "high", f"/alert-{TOK}"))
    # a subdirectory, a .yaml file, a correlation referring to rules by name
    with open(os.path.join(rd, "sub", "seq.yaml"), "w") as f:
        f.write(f"title: drop\nid: t-drop-{TOK}\nname: drop{TOK}\nlevel: low\n"
                "logsource: {product: linux, category: file_event}\n"
                f"detection:\n  sel:\n    TargetFilename|endswith: '/implant-{TOK}'\n  condition: sel\n")
        f.write("---\n")
        f.write(rule_text(f"t-run-{TOK}", "run", "low", f"/implant-{TOK}", extra=f"name: run{TOK}\n"))
        f.write("---\n")
        f.write(f"title: Dropped then run {TOK}\nid: t-seq-{TOK}\nlevel: high\n"
                "tags: [attack.execution, attack.t1204.002]\n"
                f"correlation:\n  type: temporal_ordered\n  rules: [drop{TOK}, run{TOK}]\n"
                "  group-by: [path]\n  timespan: 1m\n"
                f"  aliases:\n    path:\n      drop{TOK}: TargetFilename\n      run{TOK}: Image\n")
    with open(os.path.join(rd, "crit.yml"), "w") as f:
        f.write(rule_text(f"t-crit-{TOK}", f"Critical {TOK}", "critical", f"/crit-{TOK}",
                          extra="vigil: {response: kill}\n"))
    # errors: a malformed rule, an unreadable file, an unknown correlation reference
    with open(os.path.join(rd, "bad.yml"), "w") as f:
        f.write("title: bad\nlogsource: {product: linux, category: process_creation}\n"
                "detection:\n  sel:\n    Image|nosuchmodifier: x\n  condition: sel\n")
    os.symlink(os.path.join(rd, "missing-target"), os.path.join(rd, "dangling.yml"))
    with open(os.path.join(rd, "ref.yml"), "w") as f:
        f.write(f"title: ref\nid: t-ref-{TOK}\nlevel: high\ncorrelation:\n  type: event_count\n"
                "  rules: [no-such-rule]\n  group-by: [host.name]\n  timespan: 1m\n  condition: {gte: 2}\n")
    with open(os.path.join(rd, "notes.txt"), "w") as f:
        f.write("not a rule file: ignored\n")
    return rd


@pytest.fixture(scope="module")
def vd(work, rules_dir):
    from conftest import Vigild
    wd = os.path.join(work, "vigild")
    os.makedirs(wd)
    d = Vigild(wd, extra_args=["--rules", rules_dir, "--alerts-out", os.path.join(wd, "alerts.jsonl")])
    yield d
    d.stop()


def test_rule_errors_do_not_stop_the_daemon(vd, rules_dir):
    err = vd.stderr_text()
    assert os.path.join(rules_dir, "bad.yml") + ":5: " in err and "nosuchmodifier" in err
    assert os.path.join(rules_dir, "dangling.yml") + ":1: cannot read" in err
    assert os.path.join(rules_dir, "ref.yml") + ":1: " in err and "'no-such-rule'" in err
    # alert.yml, crit.yml, ref.yml and the three of seq.yaml
    assert "vigild: 6 rules loaded (3 errors)" in err
    assert vd.proc.poll() is None


def test_alert_json_and_line(vd, work):
    exe = marker(work, "alert")
    pid = run(exe, "--flag")
    a = vd.wait_for_alert(lambda a: a["kind"] == "alert" and a["rule"]["id"] == f"t-alert-{TOK}"
                          and a["process"]["pid"] == pid, what="alert for the marker")
    assert a["rule"]["title"] == f"Test alert {TOK}"
    assert a["rule"]["level"] == "high"
    assert a["rule"]["file"].endswith("/alert.yml")
    assert a["threat"] == {"tactics": ["execution"], "techniques": ["T1059.004"]}
    assert a["process"]["executable"] == exe
    assert a["process"]["command_line"] == f"{exe} --flag"
    assert a["session"]["id"] == str(pid)  # start_new_session: it leads its own session
    assert a["user"]["id"] == "0"
    assert a["host"]["name"] == os.uname().nodename
    chain = a["process"]["chain"]
    assert chain[0] == {"pid": pid, "executable": exe, "command_line": f"{exe} --flag"}
    assert chain[1]["pid"] == os.getpid()
    assert len(a["events"]) == 1
    ev = a["events"][0]
    assert ev["event"]["action"] == "exec" and ev["process"]["pid"] == pid
    assert 0 <= a["vigil"]["latency_ns"] < 10 * 10**9
    assert "response" not in a
    wait_stderr(vd, f"ALERT high Test alert {TOK} pid={pid} {exe} session={pid} [T1059.004]")
    # the nearest benign behaviour: another name, no alert
    other = marker(work, "alertx")
    opid = run(other)
    vd.wait_for(lambda e: e["event"]["action"] == "exec" and e["process"]["pid"] == opid, what="benign exec")
    time.sleep(0.5)
    assert not [a for a in vd.alerts() if a["kind"] == "alert" and get(a, "process.pid") == opid]


def test_correlation_alert_carries_events(vd, work):
    d = os.path.join(work, "drop")
    os.makedirs(d, exist_ok=True)
    implant = os.path.join(d, f"implant-{TOK}")
    shutil.copy("/bin/true", implant)  # file_create by this process
    os.chmod(implant, 0o755)
    pid = run(implant)
    a = vd.wait_for_alert(lambda a: a["kind"] == "alert" and a["rule"]["id"] == f"t-seq-{TOK}",
                          what="correlation alert")
    assert a["rule"]["type"] == "correlation"
    assert a["correlation"]["type"] == "temporal_ordered"
    assert a["correlation"]["group"] == {"path": implant}
    assert a["process"]["pid"] == pid
    acts = [(e["event"]["action"], get(e, "file.path") or get(e, "process.executable")) for e in a["events"]]
    assert acts[-1] == ("exec", implant)
    assert acts[0][0] in ("file_create", "file_open_write") and acts[0][1] == implant
    assert a["events"][0]["process"]["pid"] == os.getpid()
    # the building blocks are low and referenced: no alerts of their own
    assert not [x for x in vd.alerts() if get(x, "rule.id") in (f"t-drop-{TOK}", f"t-run-{TOK}")]
    # running a file that was not dropped first does not fire
    os.remove(implant)


def test_incident_and_response_mark(vd, work):
    exe = marker(work, "crit")
    pid = run(exe)
    a = vd.wait_for_alert(lambda a: a["kind"] == "alert" and a["rule"]["id"] == f"t-crit-{TOK}"
                          and a["process"]["pid"] == pid, what="critical alert")
    assert a["response"] == "kill"
    inc = vd.wait_for_alert(lambda i: i["kind"] == "incident" and i["session"]["id"] == str(pid),
                            what="incident")
    assert inc["incident"]["id"].startswith("inc-")
    assert inc["incident"]["score"] >= 60
    assert inc["incident"]["status"] == "new"
    assert [m["rule"]["id"] for m in inc["members"]] == [f"t-crit-{TOK}"]
    assert inc["members"][0]["process"]["pid"] == pid
    assert inc["threat"]["tactics"] == ["execution"]
    wait_stderr(vd, f"INCIDENT score={inc['incident']['score']} session={pid} ")
    wait_stderr(vd, f"ALERT critical Critical {TOK} pid={pid} {exe} session={pid} [T1059.004] response=kill")


def test_status_and_metrics_count_alerts(vd, work):
    run(marker(work, "alert"))
    vd.wait_for_alert(lambda a: a["kind"] == "alert" and a["rule"]["id"] == f"t-alert-{TOK}")
    import json
    st = json.loads(vd.vigil("status", "--json").stdout)
    assert st["alerts_total"] >= 1 and st["rules_loaded"] == 6
    assert " alerts, " in vd.vigil("status").stdout
    m = vd.wait_for(lambda e: e["event"]["action"] == "vigil_metrics"
                    and get(e, "vigil.metrics.alerts_total", 0) >= 1, timeout=10, what="metrics with alerts")
    assert "incidents_total" in m["vigil"]["metrics"]


def test_sighup_reloads_rules(vd, work, rules_dir):
    exe = marker(work, "later")
    pid = run(exe)
    vd.wait_for(lambda e: e["event"]["action"] == "exec" and e["process"]["pid"] == pid, what="exec")
    time.sleep(0.3)
    assert not [a for a in vd.alerts() if get(a, "process.pid") == pid]
    with open(os.path.join(rules_dir, "later.yml"), "w") as f:
        f.write(rule_text(f"t-later-{TOK}", f"Later {TOK}", "medium", f"/later-{TOK}"))
    vd.proc.send_signal(signal.SIGHUP)
    wait_stderr(vd, "vigild: 7 rules loaded (3 errors) on reload")
    deadline = time.time() + 10
    while True:  # the output thread takes the new engine with its next event
        pid = run(exe)
        try:
            vd.wait_for_alert(lambda a: a["kind"] == "alert" and a["rule"]["id"] == f"t-later-{TOK}"
                              and a["process"]["pid"] == pid, timeout=1)
            break
        except AssertionError:
            if time.time() > deadline:
                raise
    assert vd.proc.poll() is None


def test_no_rules(start_vigild, work):
    d = start_vigild(extra_args=["--no-rules"])
    exe = marker(work, "alert")
    pid = run(exe)
    d.wait_for(lambda e: e["event"]["action"] == "exec" and e["process"]["pid"] == pid, what="exec")
    assert "rules loaded" not in d.stderr_text()
    assert not os.path.exists(d.alerts_path)
