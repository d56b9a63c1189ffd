"""Privilege domain: credential changes, ptrace, kernel modules, mounts,
BPF program loads and signals, recorded by a real vigild on this kernel.

Every behaviour is really performed (a SUID binary run by an unprivileged
user, a debugger attach, module syscalls, a tmpfs mount, a BPF program
load, kill(1)) and matched by the pids and paths it used.
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import VM_WRITEV, action, get, helper, run_helper

NOBODY = 65534


def _is(pid):
    return lambda ev: ev["process"]["pid"] == pid


def _run_as(uid, path, *args):
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", path, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def test_setuid_binary_gains_root(vigild):
    """A SUID-root copy run by nobody: exec with euid 0, then setuid(0)."""
    work = tempfile.mkdtemp(prefix="vigil-suid-", dir="/tmp")
    try:
        os.chmod(work, 0o755)
        path = os.path.join(work, "setuid_root")
        shutil.copy(helper("setuid_root"), path)
        os.chown(path, 0, 0)

        # Not SUID yet: setuid(0) by nobody fails, and that attempt is recorded.
        os.chmod(path, 0o755)
        r = _run_as(NOBODY, path)
        assert r.returncode == 1, r.stdout + r.stderr
        out = json.loads(r.stdout.splitlines()[0])
        assert out["errno"] == 1  # EPERM
        ev = vigild.wait_for(
            lambda e: action("cred_change")(e) and _is(out["pid"])(e)
            and get(e, "vigil.creds.syscall") == "setuid",
            what="failed setuid(0) cred_change")
        assert ev["event"]["outcome"] == "failure"
        assert get(ev, "error.code") == "EPERM"
        assert get(ev, "vigil.creds.old_uid.real") == NOBODY
        assert get(ev, "vigil.creds.new_uid.real") == NOBODY
        assert get(ev, "vigil.creds.gained_root") is False

        # SUID root: the exec already runs with euid 0, setuid(0) makes it whole.
        os.chmod(path, 0o4755)
        r = _run_as(NOBODY, path)
        assert r.returncode == 0, r.stdout + r.stderr
        out = json.loads(r.stdout.splitlines()[0])
        pid = out["pid"]
        assert out["uid_before"] == NOBODY and out["euid_before"] == 0
        ev = vigild.wait_for(
            lambda e: action("cred_change")(e) and _is(pid)(e)
            and get(e, "vigil.creds.syscall") == "setuid",
            what="setuid cred_change")
        assert ev["event"]["outcome"] == "success"
        assert get(ev, "vigil.creds.old_uid.real") == NOBODY
        assert get(ev, "vigil.creds.old_uid.effective") == 0
        assert get(ev, "vigil.creds.new_uid.real") == 0
        assert get(ev, "vigil.creds.new_uid.saved") == 0
        assert get(ev, "vigil.creds.gained_root") is True
        # setgid(0) follows and is recorded as its own change
        ev = vigild.wait_for(
            lambda e: action("cred_change")(e) and _is(pid)(e)
            and get(e, "vigil.creds.syscall") == "setgid",
            what="setgid cred_change")
        assert get(ev, "vigil.creds.old_gid.real") == NOBODY
        assert get(ev, "vigil.creds.new_gid.real") == 0

        # setpriv execs in the same process first: match the second exec
        ex = vigild.wait_for(lambda e: action("exec")(e) and _is(pid)(e)
                             and get(e, "process.executable") == path, what="exec of the SUID copy")
        assert get(ex, "process.real_user.id") == NOBODY
        assert get(ex, "process.user.id") == 0
        assert get(ex, "vigil.exec.setuid") is True
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_setfsuid(vigild):
    """setfsuid returns the old fsuid, not 0/-errno: success and failure
    are still told apart."""
    code = ("import ctypes, os\n"
            "l = ctypes.CDLL(None)\n"
            "print(os.getpid(), l.setfsuid(12345), l.setfsuid(0), flush=True)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    pid = int(r.stdout.split()[0])
    ev = vigild.wait_for(
        lambda e: action("cred_change")(e) and _is(pid)(e)
        and get(e, "vigil.creds.new_uid.fs") == 12345, what="setfsuid(12345)")
    assert get(ev, "vigil.creds.syscall") == "setfsuid"
    assert get(ev, "vigil.creds.old_uid.fs") == 0
    assert get(ev, "vigil.creds.new_uid.real") == 0
    assert ev["event"]["outcome"] == "success"

    # nobody cannot take fsuid 0: nothing changes, the attempt is a failure
    r = _run_as(NOBODY, sys.executable, "-c", code.replace("12345", "0"))
    pid = int(r.stdout.split()[0])
    ev = vigild.wait_for(
        lambda e: action("cred_change")(e) and _is(pid)(e)
        and get(e, "vigil.creds.syscall") == "setfsuid", what="failed setfsuid(0)")
    assert ev["event"]["outcome"] == "failure"
    assert get(ev, "vigil.creds.new_uid.fs") == NOBODY


def test_ptrace_attach(vigild):
    out, _ = run_helper("ptrace_attach")
    assert out["rc"] == 0 and out["stopped"] == 1
    ev = vigild.wait_for(
        lambda e: action("ptrace")(e) and _is(out["tracer"])(e)
        and get(e, "vigil.ptrace.request_name") == "PTRACE_ATTACH", what="PTRACE_ATTACH")
    assert get(ev, "vigil.target.pid") == out["target"]
    assert get(ev, "vigil.target.executable") == helper("ptrace_attach")
    assert ev["event"]["outcome"] == "success"

    out, _ = run_helper("ptrace_attach", "--seize")
    ev = vigild.wait_for(
        lambda e: action("ptrace")(e) and _is(out["tracer"])(e)
        and get(e, "vigil.ptrace.request_name") == "PTRACE_SEIZE", what="PTRACE_SEIZE")
    assert get(ev, "vigil.target.pid") == out["target"]
    # PTRACE_INTERRUPT and PTRACE_DETACH are debugger chatter, not recorded
    vigild.barrier()
    chatter = vigild.find_all(lambda e: action("ptrace")(e) and _is(out["tracer"])(e)
                              and get(e, "vigil.ptrace.request") in (0x4207, 17))
    assert chatter == []


def test_process_vm_writev_and_readv(vigild):
    """Writing or reading another process's memory with process_vm_writev or
    process_vm_readv is recorded as a ptrace event (request_name, ret the
    bytes moved), the failed attempt on a missing pid too."""
    victim = subprocess.Popen(["sleep", "30"])
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        r = subprocess.run([sys.executable, "-c", VM_WRITEV, str(victim.pid), str(gone.pid)],
                           capture_output=True, text=True, timeout=30)
        out = json.loads(r.stdout)
        assert out["read"] == 8 and out["written"] == 8 and out["bad"] == -1, out

        def call(name, t):
            return vigild.wait_for(lambda e: action("ptrace")(e) and _is(out["pid"])(e)
                                   and get(e, "vigil.ptrace.request_name") == name
                                   and get(e, "vigil.target.pid") == t, what=f"{name} to {t}")
        ok, bad, rd = call("process_vm_writev", victim.pid), call("process_vm_writev", gone.pid), \
            call("process_vm_readv", victim.pid)
        assert get(ok, "vigil.ptrace.request") == 0x10000
        assert get(ok, "vigil.ret") == 8 and ok["event"]["outcome"] == "success"
        assert get(ok, "vigil.target.executable") in ("/usr/bin/sleep", "/bin/sleep")
        assert bad["event"]["outcome"] == "failure"
        assert get(rd, "vigil.ptrace.request") == 0x10001 and get(rd, "vigil.ret") == 8
        vigild.barrier()
        assert len(vigild.find_all(lambda e: action("ptrace")(e) and _is(out["pid"])(e))) == 3
    finally:
        victim.kill()
        victim.wait()


PROC_MEM_READ = r"""
import json, os, sys
pid = int(sys.argv[1])
with open("/proc/%d/maps" % pid) as f:
    addr = next(int(l.split("-")[0], 16) for l in f if "[stack]" in l)
# its own memory first (runtimes do this): not recorded
with open("/proc/self/mem", "rb") as m:
    pass
with open("/proc/%d/mem" % pid, "rb") as m:
    m.seek(addr)
    n = len(m.read(8))
print(json.dumps({"pid": os.getpid(), "read": n}))
"""


def test_proc_mem_read_of_another_process(vigild):
    """Opening /proc/PID/mem of another process for reading (credential
    dumpers read sshd's this way) is a sensitive read; /proc/self/mem is not."""
    victim = subprocess.Popen(["sleep", "30"])
    try:
        r = subprocess.run([sys.executable, "-c", PROC_MEM_READ, str(victim.pid)],
                           capture_output=True, text=True, timeout=30)
        out = json.loads(r.stdout)
        assert out["read"] == 8, out
        path = f"/proc/{victim.pid}/mem"
        vigild.wait_for(lambda e: action("file_read_sensitive")(e) and _is(out["pid"])(e)
                        and get(e, "file.path") == path, what="read of " + path)
        vigild.barrier()
        mine = vigild.find_all(lambda e: action("file_read_sensitive")(e) and _is(out["pid"])(e))
        assert [get(e, "file.path") for e in mine] == [path]
    finally:
        victim.kill()
        victim.wait()


def test_ptrace_attach_in_pid_namespace(vigild):
    """Inside a pid namespace the tracer names its target by a namespace
    pid; the event carries the target's host pid."""
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", helper("ptrace_attach")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.splitlines()[0])
    ev = vigild.wait_for(
        lambda e: action("ptrace")(e) and get(e, "process.vpid") == out["tracer"]
        and get(e, "process.executable") == helper("ptrace_attach")
        and get(e, "vigil.ptrace.request_name") == "PTRACE_ATTACH"
        and e["process"]["pid"] != out["tracer"], what="PTRACE_ATTACH in a pid namespace")
    target = get(ev, "vigil.target.pid")
    assert target != out["target"]  # a host pid, not the namespace one
    assert get(ev, "vigil.target.executable") == helper("ptrace_attach")
    fork = vigild.wait_for(lambda e: action("fork")(e) and _is(ev["process"]["pid"])(e)
                           and get(e, "vigil.child.pid") == target, what="fork of the tracee")
    assert fork


def test_module_syscalls(vigild):
    out, _ = run_helper("init_module_garbage")
    pid = out["pid"]
    assert out["init_module"]["rc"] < 0

    def mod(name, act):
        return vigild.wait_for(
            lambda e: action(act)(e) and _is(pid)(e) and get(e, "vigil.module.syscall") == name,
            what=f"{act} {name}")

    ev = mod("init_module", "module_load")
    assert get(ev, "error.code") == out["init_module"]["error"]
    assert ev["event"]["outcome"] == "failure"
    assert get(ev, "vigil.module.image_size") == 64

    ev = mod("finit_module", "module_load")
    assert get(ev, "vigil.module.path") == out["finit_path"]
    assert get(ev, "error.code") == out["finit_module"]["error"]

    ev = mod("delete_module", "module_unload")
    assert get(ev, "vigil.module.name") == out["delete_name"]
    assert get(ev, "vigil.module.flags") == os.O_NONBLOCK
    assert get(ev, "error.code") == out["delete_module"]["error"]


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="int $0x80 is x86_64 only")
def test_module_syscall_through_32bit_entry(vigild):
    """The sys_exit fallback must read 32-bit syscall numbers as such:
    init_module via int $0x80 (nr 128) is recorded with its arguments, and
    a 32-bit rt_sigprocmask (nr 175, init_module's 64-bit number) is not,
    nor is a 32-bit select (nr 82, rename's 64-bit number) a file rename."""
    out, _ = run_helper("init_module_garbage", "--int80")
    pid = out["pid"]
    assert out["int80_sigprocmask"]["rc"] == -22
    ev = vigild.wait_for(lambda e: action("module_load")(e) and _is(pid)(e), what="int80 init_module")
    assert get(ev, "vigil.module.syscall") == "init_module"
    assert get(ev, "vigil.module.image_size") == 64
    assert get(ev, "vigil.module.args") == ""
    assert get(ev, "vigil.ret") == out["int80_init_module"]["rc"]
    # the exit event comes after both calls: by then a false record would be in
    vigild.wait_for(lambda e: action("exit")(e) and _is(pid)(e), what="helper exit")
    assert len(vigild.find_all(lambda e: e["event"]["action"].startswith("module_") and _is(pid)(e))) == 1
    assert out["int80_select"]["rc"] == -14
    assert vigild.find_all(lambda e: action("file_rename")(e) and _is(pid)(e)) == []


def test_mount_umount(vigild):
    work = tempfile.mkdtemp(prefix="vigil-mnt-", dir="/tmp")
    mounted = False
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "vigiltest", work],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        mounted = True
        r = subprocess.run(["umount", work], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        mounted = False
        ev = vigild.wait_for(lambda e: action("mount")(e) and get(e, "vigil.mount.target") == work,
                             what="mount event")
        assert get(ev, "vigil.mount.fstype") == "tmpfs"
        assert get(ev, "vigil.mount.source") == "vigiltest"
        assert ev["event"]["outcome"] == "success"
        assert get(ev, "process.name") == "mount"
        ev = vigild.wait_for(lambda e: action("umount")(e) and get(e, "vigil.mount.target") == work,
                             what="umount event")
        assert ev["event"]["outcome"] == "success"
        assert get(ev, "process.name") == "umount"
    finally:
        if mounted:
            subprocess.run(["umount", "-l", work], timeout=30)
        os.rmdir(work)


libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _sys(nr, *args):
    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    r = libc.syscall(ctypes.c_long(nr), *args)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def test_new_mount_api(vigild):
    """fsopen/fsconfig/fsmount then move_mount, relative to a dir fd."""
    work = tempfile.mkdtemp(prefix="vigil-mnt-", dir="/tmp")
    os.mkdir(os.path.join(work, "m"))
    dfd = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
    target = os.path.join(work, "m")
    mounted = False
    try:
        fs = _sys(430, b"tmpfs", 0)                                   # fsopen
        _sys(431, fs, 1, b"source", b"vigilnew", 0)                   # FSCONFIG_SET_STRING
        _sys(431, fs, 6, None, None, 0)                               # FSCONFIG_CMD_CREATE
        mfd = _sys(432, fs, 0, 0)                                     # fsmount
        _sys(429, mfd, b"", dfd, b"m", 4)                             # move_mount F_EMPTY_PATH
        mounted = True
        os.close(mfd)
        os.close(fs)
        ev = vigild.wait_for(lambda e: action("mount")(e) and get(e, "vigil.mount.target") == target
                             and _is(os.getpid())(e), what="move_mount event")
        assert get(ev, "vigil.mount.fstype") == "tmpfs"
        assert get(ev, "vigil.mount.source") == "vigilnew"
        assert ev["event"]["outcome"] == "success"
    finally:
        if mounted:
            subprocess.run(["umount", target], timeout=30)
        os.close(dfd)
        shutil.rmtree(work, ignore_errors=True)


def test_signals_to_other_processes(vigild):
    got = []
    old = signal.signal(signal.SIGUSR1, lambda *a: got.append(1))
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        # a signal to oneself is no cross-process event
        os.kill(os.getpid(), signal.SIGUSR1)
        for sig in ("STOP", "CONT", "TERM"):
            r = subprocess.run(["kill", f"-{sig}", str(sleeper.pid)], timeout=30)
            assert r.returncode == 0
        sleeper.wait(timeout=10)
        assert sleeper.returncode == -signal.SIGTERM

        def sig_ev(num):
            return vigild.wait_for(
                lambda e: action("signal")(e) and get(e, "vigil.target.pid") == sleeper.pid
                and get(e, "vigil.signal.number") == num, what=f"signal {num}")

        for num, name in ((19, "SIGSTOP"), (18, "SIGCONT"), (15, "SIGTERM")):
            ev = sig_ev(num)
            assert get(ev, "vigil.signal.name") == name
            assert get(ev, "process.name") == "kill"
            assert ev["process"]["pid"] != sleeper.pid
            assert get(ev, "vigil.signal.code") == 0  # SI_USER
        assert get(ev, "vigil.target.executable") == shutil.which("sleep")
        # the self-signal came first; nothing recorded it
        assert got == [1]
        assert vigild.find_all(lambda e: action("signal")(e)
                               and get(e, "vigil.target.pid") == os.getpid()) == []
        # the SIGCHLD the kernel sent us when sleep died is not a signal event
        assert vigild.find_all(lambda e: action("signal")(e)
                               and get(e, "vigil.signal.number") == 17) == []
    finally:
        signal.signal(signal.SIGUSR1, old)
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_bpf_prog_load(vigild):
    """A socket filter (mov r0, 0; exit) loaded through bpf(BPF_PROG_LOAD)."""
    insns = (ctypes.c_uint8 * 16)(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0)
    lic = ctypes.create_string_buffer(b"GPL")
    attr = (ctypes.c_uint8 * 128)()
    ctypes.c_uint32.from_buffer(attr, 0).value = 1          # BPF_PROG_TYPE_SOCKET_FILTER
    ctypes.c_uint32.from_buffer(attr, 4).value = 2          # insn_cnt
    ctypes.c_uint64.from_buffer(attr, 8).value = ctypes.addressof(insns)
    ctypes.c_uint64.from_buffer(attr, 16).value = ctypes.addressof(lic)
    ctypes.memmove(ctypes.addressof(attr) + 48, b"vigiltest", 9)  # prog_name
    fd = _sys(321, 5, attr, 128)
    os.close(fd)
    ev = vigild.wait_for(lambda e: action("bpf_prog_load")(e) and _is(os.getpid())(e)
                         and get(e, "vigil.bpf.prog_name") == "vigiltest", what="bpf_prog_load")
    assert get(ev, "vigil.bpf.prog_type") == 1
    assert get(ev, "vigil.bpf.insn_cnt") == 2
    assert get(ev, "vigil.ret") == fd
    assert ev["event"]["outcome"] == "success"
