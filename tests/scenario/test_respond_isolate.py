"""Network isolation and freezing (vigil isolate/release/freeze/thaw).

The network used: loopback, and two network namespaces this test creates,
each joined to the root namespace by a veth pair with addresses we assign:
vgt-srv (10.213.1.2, a TCP listener: "the internet") and vgt-mgmt
(10.213.2.2, the management address, allowed with isolate_allow). Nothing
leaves the machine.

Every test undoes what it did in finally blocks (release --all, thaw --all,
and as a last resort removing our pins, which detaches the links), so a
failure never leaves this host isolated.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import Vigild

PY = "/usr/bin/python3"
SRV = ("10.213.1.2", 18080)
MGMT = ("10.213.2.2", 18081)
SRV6 = ("fd00:213:1::2", 18080)
MGMT6 = ("fd00:213:2::2", 18081)
# namespace: (root side v4, namespace side v4, root side v6, namespace side v6, port)
NETNS = {"vgt-srv": ("10.213.1.1", "10.213.1.2", "fd00:213:1::1", "fd00:213:1::2", SRV[1]),
         "vgt-mgmt": ("10.213.2.1", "10.213.2.2", "fd00:213:2::1", "fd00:213:2::2", MGMT[1])}

# Reads "HOST PORT" lines and answers ok / eperm / timeout / err:ERRNO for a
# TCP connect to each (2 s bound), so one process can be asked before and
# after it is isolated.
WORKER = r"""
import socket, sys
print("ready", flush=True)
for line in sys.stdin:
    host, port = line.split()
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        r = "ok"
    except PermissionError:
        r = "eperm"
    except socket.timeout:
        r = "timeout"
    except OSError as e:
        r = "err:%d" % e.errno
    finally:
        s.close()
    print(r, flush=True)
"""

LISTENER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
"""

COUNTER = r"""
import sys, time
n = 0
while True:
    n += 1
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(n))
    import os
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(0.01)
"""


def sh(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=check)


def cg2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            if parts[sep + 1] == "cgroup2" and parts[3] == "/":
                return parts[4]
    return None


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def delete_netns():
    for ns in NETNS:
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", ns + "-h", check=False)


@pytest.fixture(scope="module")
def netns():
    if os.geteuid() != 0:
        pytest.skip("scenario tests need root")
    delete_netns()
    listeners = []
    try:
        for ns, (host_addr, ns_addr, host6, ns6, port) in NETNS.items():
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", ns + "-h", "type", "veth", "peer", "name", ns + "-n")
            sh("ip", "link", "set", ns + "-n", "netns", ns)
            sh("ip", "addr", "add", host_addr + "/30", "dev", ns + "-h")
            sh("ip", "link", "set", ns + "-h", "up")
            sh("ip", "-n", ns, "addr", "add", ns_addr + "/30", "dev", ns + "-n")
            sh("ip", "addr", "add", host6 + "/64", "dev", ns + "-h", "nodad")
            sh("ip", "-n", ns, "addr", "add", ns6 + "/64", "dev", ns + "-n", "nodad")
            sh("ip", "-n", ns, "link", "set", ns + "-n", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            listeners.append(subprocess.Popen(["ip", "netns", "exec", ns, PY, "-c", LISTENER, str(port)]))
        for addr in (SRV, MGMT, SRV6, MGMT6):
            deadline = time.time() + 10
            while probe(addr) != "ok":
                assert time.time() < deadline, f"listener {addr} not reachable"
                time.sleep(0.1)
        yield
    finally:
        for p in listeners:
            p.kill()
            p.wait()
        delete_netns()


@pytest.fixture(scope="module")
def loopback():
    """A TCP listener on 127.0.0.1 and ::1 (any address, in fact) in this (root) namespace."""
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 0))
    s.listen(64)
    stop = []

    def serve():
        while not stop:
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                return

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield ("127.0.0.1", s.getsockname()[1])
    stop.append(1)
    s.close()


class Worker:
    def __init__(self):
        self.p = subprocess.Popen([PY, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def connect(self, addr):
        self.p.stdin.write(f"{addr[0]} {addr[1]}\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def stop(self):
        self.p.kill()
        self.p.wait()


def probe(addr):
    """A connect from a fresh process in the root namespace and cgroup."""
    w = Worker()
    try:
        return w.connect(addr)
    finally:
        w.stop()


def ours_in_bpftool():
    """Names of our programs and maps the kernel still has, and cgroup links to them."""
    found = []
    progs = json.loads(sh("bpftool", "-j", "prog", "show").stdout or "[]")
    ids = set()
    for p in progs:
        if p.get("name", "").startswith("vgiso_"):
            found.append("prog " + p["name"])
            ids.add(p["id"])
    for m in json.loads(sh("bpftool", "-j", "map", "show").stdout or "[]"):
        if m.get("name", "").startswith("vgiso_"):
            found.append("map " + m["name"])
    for link in json.loads(sh("bpftool", "-j", "link", "show").stdout or "[]"):
        if link.get("prog_id") in ids:
            found.append(f"link {link['id']}")
    return found


def assert_nothing_left(pin_dir):
    deadline = time.time() + 10
    while True:
        left = ours_in_bpftool()
        if not left:
            break
        assert time.time() < deadline, f"still loaded after release: {left}"
        time.sleep(0.2)
    assert not os.path.exists(os.path.join(pin_dir, "isolate")), os.listdir(pin_dir)
    assert not os.path.exists(pin_dir) or os.listdir(pin_dir) == []
    assert not our_cgroups(), our_cgroups()


def own_cgroup(orig, pid):
    """Where vigil puts a process isolated or frozen alone: a child of its cgroup."""
    return f"{orig.rstrip('/')}/vigil-pid-{pid}"


def our_cgroups():
    """vigil's per-process cgroups anywhere in the cgroup2 tree (paths)."""
    cg2 = cg2_mount()
    out = []
    for root, dirs, _ in os.walk(cg2) if cg2 else ():
        out += [os.path.join(root, d) for d in dirs if d.startswith("vigil-pid-")]
    return out


def last_resort(pin_dir):
    """Whatever a failed test left: removing the pins frees (and so detaches)
    the links; processes in our cgroups go back to the parent, thawed."""
    shutil.rmtree(pin_dir, ignore_errors=True)
    for path in sorted(our_cgroups(), key=len, reverse=True):
        try:
            with open(os.path.join(path, "cgroup.freeze"), "w") as f:
                f.write("0")
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids = f.read().split()
            for pid in pids:
                with open(os.path.join(os.path.dirname(path), "cgroup.procs"), "w") as f:
                    f.write(pid)
            os.rmdir(path)
        except OSError:
            pass


class Env:
    """A vigild whose isolation pins and state are this test's own."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="vigil-test-iso-")
        self.pin_dir = "/sys/fs/bpf/vigil-test-" + uuid.uuid4().hex[:8]
        self.config = (f"metrics_interval = 2\nresponse_mode = off\n"
                       f"isolate_allow = 10.213.2.0/30\nisolate_allow = fd00:213:2::/64\n"
                       f"bpf_pin_dir = {self.pin_dir}\n")
        self.d = None
        self.start()

    def start(self):
        # no detection: only the isolation commands matter here
        self.d = Vigild(self.work, self.config, extra_args=("--no-rules",))

    def vigil(self, *args, check=True):
        return self.d.vigil(*args, check=check)

    def close(self):
        try:
            if self.d and self.d.proc.poll() is None:
                self.vigil("release", "--all", check=False)
                self.vigil("thaw", "--all", check=False)
                self.d.stop()
            if self.d:
                err = self.d.stderr_text()
                assert "Sanitizer" not in err and "runtime error" not in err, err[-4000:]
        finally:
            last_resort(self.pin_dir)
            shutil.rmtree(self.work, ignore_errors=True)


@pytest.fixture
def env():
    if os.geteuid() != 0:
        pytest.skip("scenario tests need root")
    e = Env()
    try:
        yield e
    finally:
        e.close()


def test_host_isolation(env, netns, loopback):
    assert probe(SRV) == "ok"
    try:
        r = env.vigil("isolate", "--host")
        assert "isolated host" in r.stdout
        # refused before anything leaves: connect4 returns EPERM at once
        assert probe(SRV) == "eperm"
        assert probe(SRV6) == "eperm"
        assert probe(loopback) == "ok"
        assert probe(("::1", loopback[1])) == "ok"
        assert probe(MGMT) == "ok"
        # with neighbour discovery to do again (its multicast solicitations
        # are not to the management address)
        sh("ip", "neigh", "flush", "dev", "vgt-mgmt-h")
        sh("ip", "-n", "vgt-mgmt", "neigh", "flush", "dev", "vgt-mgmt-n")
        assert probe(MGMT6) == "ok"
        assert probe(MGMT) == "ok"
        out = env.vigil("isolations").stdout
        assert "host  isolated since" in out and "10.213.2.0/30" in out
        js = json.loads(env.vigil("isolations", "--json").stdout)
        assert js["targets"][0]["kind"] == "host" and js["denied"]["connect4"] >= 1
    finally:
        env.vigil("release", "--host", check=False)
    assert probe(SRV) == "ok" and probe(SRV6) == "ok"
    assert "nothing is isolated" in env.vigil("isolations").stdout
    assert_nothing_left(env.pin_dir)


def test_process_isolation(env, netns, loopback):
    a, b = Worker(), Worker()
    orig = cgroup_of(a.p.pid)
    try:
        assert a.connect(SRV) == "ok"
        env.vigil("isolate", "--pid", str(a.p.pid))
        assert cgroup_of(a.p.pid) == own_cgroup(orig, a.p.pid)
        assert a.connect(SRV) == "eperm"
        assert a.connect(loopback) == "ok"
        assert a.connect(MGMT) == "ok"
        # the other process, in the cgroup a came from, keeps the network
        assert cgroup_of(b.p.pid) == orig
        assert b.connect(SRV) == "ok"
        assert probe(SRV) == "ok"
        out = env.vigil("isolations").stdout
        assert f"pid {a.p.pid}  isolated since" in out
        env.vigil("release", "--pid", str(a.p.pid))
        assert cgroup_of(a.p.pid) == orig
        assert a.connect(SRV) == "ok"
        assert_nothing_left(env.pin_dir)
    finally:
        env.vigil("release", "--all", check=False)
        a.stop()
        b.stop()


def test_isolation_survives_restart(env, netns, loopback):
    a = Worker()
    orig = cgroup_of(a.p.pid)
    try:
        env.vigil("isolate", "--pid", str(a.p.pid))
        env.vigil("isolate", "--host")
        assert a.connect(SRV) == "eperm" and probe(SRV) == "eperm"
        # vigild dies without a chance to clean up; the pinned links stay
        env.d.proc.send_signal(signal.SIGKILL)
        env.d.proc.wait()
        env.d.stderr.close()
        assert a.connect(SRV) == "eperm" and probe(SRV) == "eperm"
        assert a.connect(MGMT) == "ok" and probe(loopback) == "ok"
        env.start()
        err = env.d.stderr_text()
        assert "host is isolated" in err and f"pid {a.p.pid} is isolated" in err
        out = env.vigil("isolations").stdout
        assert "host  isolated since" in out and f"pid {a.p.pid}  isolated since" in out
        assert a.connect(SRV) == "eperm" and probe(SRV) == "eperm"
        # a new isolation after the restart shares the pinned allow list
        c = Worker()
        try:
            env.vigil("isolate", "--pid", str(c.p.pid))
            assert c.connect(MGMT) == "ok" and c.connect(SRV) == "eperm"
        finally:
            c.stop()
        r = env.vigil("release", "--all")
        assert "released host" in r.stdout and f"released pid {a.p.pid}" in r.stdout
        assert probe(SRV) == "ok" and a.connect(SRV) == "ok"
        assert cgroup_of(a.p.pid) == orig
        assert_nothing_left(env.pin_dir)
    finally:
        env.vigil("release", "--all", check=False)
        a.stop()


def counter_value(path):
    with open(path) as f:
        return int(f.read() or 0)


def test_freeze_thaw(env):
    path = os.path.join(env.work, "counter")
    p = subprocess.Popen([PY, "-c", COUNTER, path])
    orig = cgroup_of(p.pid)
    try:
        deadline = time.time() + 5
        while not os.path.exists(path):
            assert time.time() < deadline
            time.sleep(0.02)
        r = env.vigil("freeze", "--pid", str(p.pid))
        assert "froze" in r.stdout
        cg = cgroup_of(p.pid)
        assert cg == own_cgroup(orig, p.pid)
        with open(os.path.join(cg2_mount(), cg.lstrip("/"), "cgroup.events")) as f:
            assert "frozen 1" in f.read()
        v1 = counter_value(path)
        time.sleep(0.5)
        assert counter_value(path) == v1, "counter advanced while frozen"
        assert f"pid {p.pid}  frozen since" in env.vigil("isolations").stdout
        env.vigil("thaw", "--pid", str(p.pid))
        time.sleep(0.3)
        assert counter_value(path) > v1, "counter did not resume"
        assert cgroup_of(p.pid) == orig
        assert "nothing is isolated or frozen" in env.vigil("isolations").stdout
        assert not our_cgroups(), our_cgroups()
    finally:
        env.vigil("thaw", "--all", check=False)
        p.kill()
        p.wait()


def test_freeze_and_isolate_refusals(env):
    for args, why in ((("freeze", "--pid", "1"), "pid 1"),
                      (("freeze", "--pid", str(env.d.proc.pid)), "vigild itself"),
                      (("freeze", "--cgroup", "/"), "root cgroup"),
                      (("freeze", "--host"), "never frozen"),
                      (("isolate", "--cgroup", "/"), "use --host"),
                      (("isolate", "--pid", "1"), "pid 1"),
                      (("release", "--host"), "not isolated"),
                      (("thaw", "--pid", "1"), "not frozen")):
        r = env.vigil(*args, check=False)
        assert r.returncode != 0 and why in (r.stdout + r.stderr), (args, r.stdout, r.stderr)
    # a cgroup holding vigild (here: the one vigild runs in) is never frozen
    own = cgroup_of(env.d.proc.pid)
    if own != "/":
        r = env.vigil("freeze", "--cgroup", own, check=False)
        assert r.returncode != 0 and "vigild" in r.stderr + r.stdout


def test_dry_run_and_cgroup(env, netns):
    r = env.vigil("isolate", "--host", "--dry-run")
    assert "would isolate host" in r.stdout
    assert probe(SRV) == "ok"
    assert not ours_in_bpftool()
    # a whole existing cgroup (as a container's would be) isolated and frozen
    cg2 = cg2_mount()
    name = "vgt-cg-" + uuid.uuid4().hex[:6]
    path = os.path.join(cg2, name)
    os.mkdir(path)
    w = Worker()
    try:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(w.p.pid))
        assert w.connect(SRV) == "ok"
        env.vigil("isolate", "--cgroup", "/" + name)
        assert w.connect(SRV) == "eperm" and w.connect(MGMT) == "ok"
        assert probe(SRV) == "ok"
        env.vigil("freeze", "--cgroup", path)  # the full path works too
        with open(os.path.join(path, "cgroup.events")) as f:
            assert "frozen 1" in f.read()
        env.vigil("thaw", "--cgroup", "/" + name)
        env.vigil("release", "--cgroup", "/" + name)
        assert w.connect(SRV) == "ok"
        assert cgroup_of(w.p.pid) == "/" + name
        assert_nothing_left(env.pin_dir)
    finally:
        env.vigil("release", "--all", check=False)
        env.vigil("thaw", "--all", check=False)
        w.stop()
        try:
            with open(os.path.join(cg2, "cgroup.procs"), "w") as f:
                f.write(str(w.p.pid))
        except OSError:
            pass
        try:
            os.rmdir(path)
        except OSError:
            pass
