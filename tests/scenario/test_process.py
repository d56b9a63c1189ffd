"""Process domain scenarios: exec (and its context), fork chains, exit,
setsid, comm changes, fileless execution, namespaces, stdio, cgroups.

Every test performs the behaviour for real under the session vigild and
matches the recorded events by its own pids and paths."""
import hashlib
import json
import os
import pty
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import action, get, run_helper


PROCESS_HOOKS = ("exec", "exec_fail", "fork", "exit", "setsid", "comm", "memfd")


def process_only(vigild, text=""):
    """Config for a daemon with only the process hooks: it starts in a
    fraction of the time (the other domains' programs are not verified)."""
    hooks = json.loads(vigild.vigil("status", "--json").stdout)["hooks"]
    return text + "".join(f"hook.{h} = off\n" for h in hooks if h not in PROCESS_HOOKS)


def exec_of(pid, **extra):
    """Predicate: exec event of pid (plus dotted-field equalities)."""
    def pred(ev):
        if ev["event"]["action"] != "exec" or ev["process"]["pid"] != pid:
            return False
        return all(get(ev, k.replace("__", ".")) == v for k, v in extra.items())
    return pred


def act_of(name, pid):
    return lambda ev: ev["event"]["action"] == name and ev["process"]["pid"] == pid


# 1 ---------------------------------------------------------------------
def test_shell_chain_parents_sessions_ancestors(vigild):
    # each level runs a second command after the child so the shells fork
    # instead of exec'ing their last command in place
    script = 'bash -c "sh -c \\"sleep 0.3; :\\"; :"; :'
    p = subprocess.Popen(["bash", "-c", script], start_new_session=True)
    assert p.wait(timeout=10) == 0
    b1 = vigild.wait_for(exec_of(p.pid, process__args=["bash", "-c", script]), what="exec of bash 1")
    b2 = vigild.wait_for(lambda e: e["event"]["action"] == "exec"
                         and get(e, "process.parent.pid") == p.pid
                         and get(e, "process.args") == ["bash", "-c", 'sh -c "sleep 0.3; :"; :'],
                         what="exec of bash 2")
    sh = vigild.wait_for(lambda e: e["event"]["action"] == "exec"
                         and get(e, "process.parent.pid") == b2["process"]["pid"]
                         and get(e, "process.args") == ["sh", "-c", "sleep 0.3; :"],
                         what="exec of sh")
    sl = vigild.wait_for(lambda e: e["event"]["action"] == "exec"
                         and get(e, "process.parent.pid") == sh["process"]["pid"]
                         and get(e, "process.args") == ["sleep", "0.3"],
                         what="exec of sleep")
    chain = [b1, b2, sh, sl]
    pids = [e["process"]["pid"] for e in chain]
    assert len(set(pids)) == 4, pids
    for prev, cur in zip(chain, chain[1:]):
        assert cur["process"]["parent"]["pid"] == prev["process"]["pid"]
        # the parent context is the parent's image, not the child's
        assert cur["process"]["parent"]["args"] == prev["process"]["args"]
    for e in chain:
        assert e["process"]["session_leader"]["pid"] == p.pid
        assert e["process"]["group_leader"]["pid"] == p.pid
        assert e["vigil"]["sid"] == p.pid
    assert sl["process"]["executable"] in ("/usr/bin/sleep", "/bin/sleep")
    assert sh["process"]["executable"] in ("/usr/bin/dash", "/bin/dash")
    # ancestors of sleep: sh, bash 2, bash 1, then this test process
    anc = sl["vigil"]["ancestors"]
    assert [a["pid"] for a in anc[:4]] == [pids[2], pids[1], pids[0], os.getpid()]
    for a, e in zip(anc[:3], [sh, b2, b1]):
        assert a["executable"] == e["process"]["executable"]
        assert a["command_line"] == e["process"]["command_line"]
        assert a["args_count"] == e["process"]["args_count"]
        assert "command_line_truncated" not in a


# 2 ---------------------------------------------------------------------
def _long_args():
    return ["arg%03d-" % i + "x" * 100 for i in range(100)]  # ~10.7 KiB


def test_long_argv_complete(vigild):
    args = _long_args()
    assert sum(len(a) + 1 for a in args) >= 10 * 1024
    p = subprocess.run(["/bin/echo", *args], stdout=subprocess.DEVNULL, timeout=10)
    ev = vigild.wait_for(lambda e: e["event"]["action"] == "exec"
                         and get(e, "process.executable") in ("/usr/bin/echo", "/bin/echo")
                         and get(e, "process.args", [None, None])[1] == args[0]
                         and e["process"]["parent"]["pid"] == os.getpid(), what="exec of echo")
    assert p.returncode == 0
    assert ev["process"]["args"] == ["/bin/echo", *args]
    assert ev["process"]["args_count"] == len(args) + 1
    assert "args_truncated" not in ev["process"]
    assert ev["process"]["command_line"] == " ".join(["/bin/echo", *args])


def test_long_argv_truncated_with_argv_max(vigild, start_vigild):
    d = start_vigild(process_only(vigild, "argv_max = 1024\n"))
    args = _long_args()
    subprocess.run(["/bin/echo", *args], stdout=subprocess.DEVNULL, timeout=10, check=True)
    ev = d.wait_for(lambda e: e["event"]["action"] == "exec"
                    and get(e, "process.args", [None, None])[1] == args[0]
                    and e["process"]["parent"]["pid"] == os.getpid(), what="exec of echo")
    got = ev["process"]["args"]
    assert ev["process"].get("args_truncated") is True
    assert 2 <= len(got) < len(args) + 1
    assert len("\0".join(got)) <= 1024
    assert got[:-1] == ["/bin/echo", *args][:len(got) - 1]
    assert ["/bin/echo", *args][len(got) - 1].startswith(got[-1])


def test_long_ancestor_command_line_capped(vigild):
    """Under a parent with a 10 KiB command line, the child's exec event
    carries the parent in full as process.parent and capped among its
    ancestors; the parent's own exec event has all of it."""
    args = _long_args()
    script = "/bin/true; : " + " ".join(args)
    subprocess.run(["bash", "-c", script], timeout=10, check=True)
    full = "bash -c " + script
    ex = vigild.wait_for(lambda e: e["event"]["action"] == "exec"
                         and get(e, "process.executable") in ("/usr/bin/true", "/bin/true")
                         and get(e, "process.parent.command_line") == full, what="exec of true under bash")
    anc = ex["vigil"]["ancestors"][0]
    assert anc["pid"] == ex["process"]["parent"]["pid"]
    assert anc["command_line_truncated"] is True
    assert anc["args_count"] == 3
    assert "args" not in anc
    assert 1000 <= len(anc["command_line"].encode()) <= 1024
    assert full.startswith(anc["command_line"])
    own = vigild.wait_for(exec_of(anc["pid"], process__command_line=full), what="exec of bash")
    assert own["process"]["args"] == ["bash", "-c", script]


# 3 ---------------------------------------------------------------------
def test_memfd_exec(vigild):
    out, _ = run_helper("memfd_exec")
    pid = out["pid"]
    # the helper's own exec comes first; the fexecve'd image runs as argv ["true"]
    ev = vigild.wait_for(exec_of(pid, process__args=["true"]), what="exec from memfd")
    assert ev["vigil"]["exec"]["memfd"] is True
    assert ev["vigil"]["exec"]["fileless"] is True
    assert ev["process"]["executable"].startswith("/memfd:vigil-test"), ev["process"]["executable"]
    mf = vigild.wait_for(act_of("memfd_create", pid), what="memfd_create")
    assert mf["file"]["name"] == "vigil-test"
    assert mf["vigil"]["memfd"]["fd"] == out["fd"]


# 4 ---------------------------------------------------------------------
def test_dev_shm_exec(vigild):
    path = f"/dev/shm/vigil-test-{os.getpid()}"
    shutil.copy("/bin/true", path)
    try:
        os.chmod(path, 0o755)
        p = subprocess.run([path], timeout=10)
        assert p.returncode == 0
        ev = vigild.wait_for(lambda e: e["event"]["action"] == "exec"
                             and get(e, "process.executable") == path, what="exec from /dev/shm")
        assert ev["vigil"]["exec"]["tmpfs"] is True
        assert ev["vigil"]["exec"]["fileless"] is True
        assert ev["vigil"]["exec"]["memfd"] is False
        assert ev["process"]["parent"]["pid"] == os.getpid()
    finally:
        os.unlink(path)
    # an ordinary binary is none of these
    p = subprocess.Popen(["/bin/true"])
    p.wait(timeout=10)
    ev = vigild.wait_for(exec_of(p.pid), what="exec of /bin/true")
    assert ev["vigil"]["exec"]["tmpfs"] is False
    assert ev["vigil"]["exec"]["fileless"] is False


# 5 ---------------------------------------------------------------------
def test_deleted_binary_exec(vigild):
    out, _ = run_helper("deleted_exec")
    ev = vigild.wait_for(exec_of(out["pid"], process__args=["true"]), what="exec of a deleted file")
    assert ev["vigil"]["exec"]["deleted"] is True
    assert ev["vigil"]["exec"]["fileless"] is True
    assert ev["vigil"]["exec"]["execveat"] is True
    assert ev["process"]["executable"] == out["path"]


# 6 ---------------------------------------------------------------------
def test_comm_change_kworker(vigild):
    out, _ = run_helper("rename_comm", "--proc", "innocent", "--sleep", "0")
    pid = out["pid"]
    first = vigild.wait_for(lambda e: act_of("comm_change", pid)(e)
                            and e["vigil"]["comm"]["new"] == "[kworker/0:1]", what="comm_change by prctl")
    assert first["vigil"]["comm"]["old"] == "rename_comm"
    assert first["vigil"]["comm"]["kernel_thread_like"] is True
    second = vigild.wait_for(lambda e: act_of("comm_change", pid)(e)
                             and e["vigil"]["comm"]["new"] == "innocent", what="comm_change by /proc")
    assert second["vigil"]["comm"]["old"] == "[kworker/0:1]"
    assert second["vigil"]["comm"]["kernel_thread_like"] is False
    vigild.wait_for(act_of("exit", pid), what="exit of rename_comm")
    # exec renames the process too: that must not be reported
    assert vigild.find_all(lambda e: act_of("comm_change", pid)(e)
                           and e["vigil"]["comm"]["new"] == "rename_comm") == []
    p = subprocess.Popen(["/bin/true"])
    p.wait(timeout=10)
    vigild.wait_for(act_of("exit", p.pid), what="exit of /bin/true")
    assert vigild.find_all(act_of("comm_change", p.pid)) == []


# 7 ---------------------------------------------------------------------
def test_exec_failure_enoent(vigild):
    path = f"/nonexistent/vigil-{os.getpid()}/prog"
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(path, [path])
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 127
    ev = vigild.wait_for(act_of("exec_failed", pid), what="exec_failed")
    assert ev["file"]["path"] == path
    assert ev["error"]["code"] == "ENOENT"
    assert ev["event"]["outcome"] == "failure"


EXECVEAT_NR = {"x86_64": 322, "aarch64": 281}


@pytest.mark.skipif(os.uname().machine not in EXECVEAT_NR, reason="execveat number unknown here")
def test_execveat_failure_names_its_path(vigild):
    """A failed execveat(dirfd, path) is recorded with path, its second
    argument (read at exit from the argument registers)."""
    import ctypes
    name = f"vigil-missing-{os.getpid()}"
    dirfd = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY)
    pid = os.fork()
    if pid == 0:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            argv = (ctypes.c_char_p * 2)(name.encode(), None)
            envp = (ctypes.c_char_p * 1)(None)
            libc.syscall(ctypes.c_long(EXECVEAT_NR[os.uname().machine]), ctypes.c_long(dirfd),
                         name.encode(), argv, envp, ctypes.c_long(0))
        finally:
            os._exit(127)
    os.close(dirfd)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 127
    ev = vigild.wait_for(act_of("exec_failed", pid), what="exec_failed of execveat")
    assert ev["file"]["path"] == name
    assert ev["error"]["code"] == "ENOENT"


# 8 ---------------------------------------------------------------------
def test_exit_code_and_signal(vigild):
    p = subprocess.Popen(["sh", "-c", "exit 3"])
    assert p.wait(timeout=10) == 3
    ev = vigild.wait_for(act_of("exit", p.pid), what="exit 3")
    assert ev["vigil"]["exit_code"] == 3
    assert "exit_signal" not in ev["vigil"]
    k = subprocess.Popen(["sleep", "30"])
    vigild.wait_for(exec_of(k.pid), what="exec of sleep")
    k.kill()
    assert k.wait(timeout=10) == -9
    ev = vigild.wait_for(act_of("exit", k.pid), what="exit by SIGKILL")
    assert ev["vigil"]["exit_signal"] == 9
    assert ev["vigil"]["exit_signal_name"] == "SIGKILL"
    assert ev["vigil"]["exit_code"] == -1


# 9 ---------------------------------------------------------------------
def test_setsid(vigild):
    p = subprocess.Popen(["setsid", "sleep", "0.1"])
    assert p.wait(timeout=10) == 0
    first = vigild.wait_for(exec_of(p.pid), what="exec of setsid")
    assert first["process"]["session_leader"]["pid"] != p.pid
    ev = vigild.wait_for(act_of("setsid", p.pid), what="setsid")
    assert ev["vigil"]["ret"] == p.pid
    assert ev["process"]["session_leader"]["pid"] == p.pid
    later = vigild.wait_for(lambda e: exec_of(p.pid)(e) and e["process"]["args"] == ["sleep", "0.1"],
                            what="exec of sleep after setsid")
    assert later["process"]["session_leader"]["pid"] == p.pid
    assert later["process"]["group_leader"]["pid"] == p.pid


# 10 --------------------------------------------------------------------
def test_sha256_of_copied_binary(vigild):
    d = tempfile.mkdtemp(prefix="vigil-hash-")
    try:
        path = os.path.join(d, "true-copy")
        shutil.copy("/bin/true", path)
        with open(path, "ab") as f:  # a unique file: no cached hash can answer
            f.write(os.urandom(32))
        os.chmod(path, 0o755)
        want = hashlib.sha256(open(path, "rb").read()).hexdigest()
        p = subprocess.Popen([path])
        assert p.wait(timeout=10) == 0
        ev = vigild.wait_for(exec_of(p.pid), what="exec of the copy")
        assert ev["process"]["executable"] == path
        assert get(ev, "process.hash.sha256") == want
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_sha256_of_large_binary_follows(vigild):
    """A binary over 16 MiB is hashed off the event path: its exec event goes
    out at once without the hash, an exe_hash event follows with it, and the
    next exec of the same file carries it (from the cache)."""
    d = tempfile.mkdtemp(prefix="vigil-hash-big-")
    try:
        path = os.path.join(d, "true-big")
        shutil.copy("/bin/true", path)
        with open(path, "ab") as f:
            f.write(os.urandom(24 << 20))
        os.chmod(path, 0o755)
        want = hashlib.sha256(open(path, "rb").read()).hexdigest()
        p = subprocess.Popen([path])
        assert p.wait(timeout=10) == 0
        ev = vigild.wait_for(exec_of(p.pid), what="exec of the large copy")
        assert get(ev, "process.hash.sha256") is None
        h = vigild.wait_for(lambda e: e["event"]["action"] == "exe_hash"
                            and get(e, "vigil.exe_hash.pid") == p.pid, timeout=20, what="its exe_hash event")
        assert get(h, "vigil.exe_hash.executable") == path
        assert get(h, "vigil.exe_hash.sha256") == want
        assert get(h, "vigil.exe_hash.start_ns") == ev["process"]["start_ns"]
        q = subprocess.Popen([path])
        assert q.wait(timeout=10) == 0
        again = vigild.wait_for(exec_of(q.pid), what="the second exec")
        assert get(again, "process.hash.sha256") == want
    finally:
        shutil.rmtree(d, ignore_errors=True)


# 11 --------------------------------------------------------------------
def test_ld_preload_and_ssh_connection(vigild):
    env = dict(os.environ)
    env["LD_PRELOAD"] = "/tmp/nonexistent-vigil.so"
    env["SSH_CONNECTION"] = "10.1.2.3 5555 10.4.5.6 22"
    p = subprocess.Popen(["/bin/true"], env=env, stderr=subprocess.DEVNULL)
    assert p.wait(timeout=10) == 0
    ev = vigild.wait_for(exec_of(p.pid), what="exec with LD_PRELOAD")
    ev_vars = ev["process"].get("env_vars", [])
    assert "LD_PRELOAD=/tmp/nonexistent-vigil.so" in ev_vars
    assert "SSH_CONNECTION=10.1.2.3 5555 10.4.5.6 22" in ev_vars
    # an environment without them reports neither
    clean = {k: v for k, v in env.items() if k not in ("LD_PRELOAD", "SSH_CONNECTION")}
    q = subprocess.Popen(["/bin/true"], env=clean)
    q.wait(timeout=10)
    ev = vigild.wait_for(exec_of(q.pid), what="exec without LD_PRELOAD")
    assert "env_vars" not in ev["process"]


def test_ld_preload_after_a_large_environment(vigild):
    """LD_PRELOAD placed after 6 KiB of other variables (beyond env_max)."""
    env = {"PATH": "/usr/bin:/bin", "FILLER": "f" * 6000,
           "LD_PRELOAD": "/tmp/nonexistent-vigil.so"}
    p = subprocess.Popen(["/bin/true"], env=env, stderr=subprocess.DEVNULL)
    assert p.wait(timeout=10) == 0
    ev = vigild.wait_for(exec_of(p.pid), what="exec with LD_PRELOAD")
    assert "LD_PRELOAD=/tmp/nonexistent-vigil.so" in ev["process"].get("env_vars", [])


# 12 --------------------------------------------------------------------
def test_pid_and_mount_namespaces(vigild):
    if shutil.which("unshare") is None:
        pytest.skip("unshare not installed")
    p = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", "/bin/true; sleep 0.2"])
    assert p.wait(timeout=10) == 0
    sh = vigild.wait_for(lambda e: e["event"]["action"] == "exec"
                         and get(e, "process.parent.pid") == p.pid
                         and get(e, "process.args") == ["sh", "-c", "/bin/true; sleep 0.2"],
                         what="exec of sh in the namespace")
    ev = vigild.wait_for(lambda e: e["event"]["action"] == "exec"
                         and get(e, "process.parent.pid") == sh["process"]["pid"]
                         and get(e, "process.args") == ["/bin/true"], what="exec of /bin/true inside")
    host_pidns = os.stat("/proc/self/ns/pid").st_ino
    host_mntns = os.stat("/proc/self/ns/mnt").st_ino
    assert sh["process"]["vpid"] == 1
    assert ev["process"]["vpid"] != ev["process"]["pid"]
    assert 1 < ev["process"]["vpid"] < 100
    assert ev["vigil"]["pidns"] != host_pidns
    assert ev["vigil"]["mntns"] != host_mntns
    assert ev["vigil"]["pidns"] == sh["vigil"]["pidns"]
    # the unshare process itself stays in the host namespaces
    un = vigild.wait_for(exec_of(p.pid), what="exec of unshare")
    assert un["vigil"]["pidns"] == host_pidns
    assert un["process"]["vpid"] == un["process"]["pid"]


# 13 --------------------------------------------------------------------
def test_stdio_kinds(vigild):
    p = subprocess.Popen(["/bin/true"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    p.communicate(timeout=10)
    ev = vigild.wait_for(exec_of(p.pid), what="exec with a pipe")
    stdio = ev["vigil"]["stdio"]
    assert stdio["stdin"]["type"] == "char_device"
    assert stdio["stdin"]["path"] == "/dev/null"
    assert stdio["stdout"]["type"] == "pipe"

    master, slave = pty.openpty()
    try:
        q = subprocess.Popen(["/bin/true"], stdin=slave, stdout=slave, stderr=slave)
        q.wait(timeout=10)
        ev = vigild.wait_for(exec_of(q.pid), what="exec on a pty")
        tty_path = os.ttyname(slave)
    finally:
        os.close(slave)
        os.close(master)
    stdio = ev["vigil"]["stdio"]
    assert [stdio[k]["type"] for k in ("stdin", "stdout", "stderr")] == ["tty", "tty", "tty"]
    assert stdio["stdin"]["path"] == tty_path


# 14 --------------------------------------------------------------------
def _cgroup2_root():
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[2] == "cgroup2":
                return parts[1]
    return None


def test_cgroup_and_container_id(vigild):
    p = subprocess.Popen(["/bin/true"])
    p.wait(timeout=10)
    ev = vigild.wait_for(exec_of(p.pid), what="exec of /bin/true")
    assert isinstance(ev["vigil"]["cgroup"], str) and ev["vigil"]["cgroup"].startswith("/")
    assert ev["vigil"]["cgroup_id"] > 0

    root = _cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 mount")
    cid = hashlib.sha256(str(time.time()).encode()).hexdigest()
    cg = os.path.join(root, f"docker-{cid}.scope")
    try:
        os.mkdir(cg)
    except OSError as e:
        pytest.skip(f"cannot create a cgroup: {e}")
    child = None
    try:
        child = subprocess.Popen(["sh", "-c", "read x; exec /bin/true"], stdin=subprocess.PIPE)
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(child.pid))
        child.communicate(b"go\n", timeout=10)
        assert child.returncode == 0
        ev = vigild.wait_for(lambda e: exec_of(child.pid)(e) and e["process"]["args"] == ["/bin/true"],
                             what="exec inside the container cgroup")
        assert get(ev, "container.id") == cid
        assert get(ev, "container.runtime.name") == "docker"
        assert ev["vigil"]["cgroup"] == f"/docker-{cid}.scope"
        assert ev["vigil"]["cgroup_id"] == os.stat(cg).st_ino
    finally:
        if child and child.poll() is None:
            child.kill()
            child.wait()
        for _ in range(50):
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)


# 10/11/14, the hard way ------------------------------------------------
def test_context_of_a_process_already_gone(vigild, start_vigild):
    """vigild is stopped while a short-lived process runs in a container
    cgroup and exits; when it resumes, /proc has nothing left about the
    process. Its exec event must still carry the sha256 of the binary, the
    LD_PRELOAD hidden after 6 KiB of environment, and the container id."""
    d = start_vigild(process_only(vigild, "metrics_interval = 0\nringbuf_mb = 64\n"))
    root = _cgroup2_root()
    tmp = tempfile.mkdtemp(prefix="vigil-gone-")
    cid = hashlib.sha256(tmp.encode() + os.urandom(8)).hexdigest()
    cg = os.path.join(root, f"docker-{cid}.scope") if root else None
    try:
        if cg:
            os.mkdir(cg)
        path = os.path.join(tmp, "true-copy")
        shutil.copy("/bin/true", path)
        with open(path, "ab") as f:
            f.write(os.urandom(32))
        os.chmod(path, 0o755)
        want = hashlib.sha256(open(path, "rb").read()).hexdigest()
        env = {"PATH": "/usr/bin:/bin", "FILLER": "f" * 6000, "LD_PRELOAD": "/tmp/nonexistent-vigil.so"}
        child = subprocess.Popen(["sh", "-c", f"read x; exec {path}"], stdin=subprocess.PIPE,
                                 env=env, stderr=subprocess.DEVNULL)
        if cg:
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(child.pid))
        d.proc.send_signal(signal.SIGSTOP)
        try:
            child.communicate(b"go\n", timeout=10)  # runs, exits and is reaped
            assert child.returncode == 0
            assert not os.path.exists(f"/proc/{child.pid}")
        finally:
            d.proc.send_signal(signal.SIGCONT)
        ev = d.wait_for(lambda e: exec_of(child.pid)(e) and e["process"]["args"] == [path],
                        what="exec of the copy")
        assert get(ev, "process.hash.sha256") == want
        assert "LD_PRELOAD=/tmp/nonexistent-vigil.so" in ev["process"].get("env_vars", [])
        if cg:
            assert get(ev, "container.id") == cid
            assert get(ev, "container.runtime.name") == "docker"
            assert ev["vigil"]["cgroup"] == f"/docker-{cid}.scope"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if cg:
            for _ in range(50):
                try:
                    os.rmdir(cg)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
