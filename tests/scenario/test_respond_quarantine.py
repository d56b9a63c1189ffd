"""Response: `vigil quarantine` moves a file into vigild's root-only store,
non-executable, with everything needed to put it back; `vigil restore`
puts it back exactly (content, owner, mode with set-id bits, timestamps);
`vigil quarantined` lists the store. Refusals (directories, symlinks,
devices, an occupied path) and dry runs leave everything in place."""
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import get

ATIME_NS = 1_600_000_000_123_456_789
MTIME_NS = 1_500_000_000_987_654_321
# struct vfs_cap_data, revision 2, effective: permitted = cap_net_raw (13)
FCAP = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)


def store_dir(vigild):
    return os.path.join(vigild.workdir, "store", "respond", "quarantine")


def actions(vigild):
    r = vigild.vigil("actions", "--json", "--store", os.path.join(vigild.workdir, "store"))
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def find_action(vigild, action, target, result):
    deadline = time.time() + 5
    while time.time() < deadline:
        for a in actions(vigild):
            if a.get("action") == action and a.get("target") == target and a.get("result", "").startswith(result):
                return a
        time.sleep(0.05)
    raise AssertionError(f"no {action} {target} {result} in vigil actions")


def quarantine(vigild, path):
    r = vigild.vigil("quarantine", path)
    m = re.search(r"as (\S+) \(sha256 ([0-9a-f]{64}), (\d+) bytes\)", r.stdout)
    assert m, r.stdout
    return m.group(1), m.group(2)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="vigil-q-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_payload(path, content, uid=1234, gid=2345, mode=0o4755):
    with open(path, "wb") as f:
        f.write(content)
    os.chown(path, uid, gid)
    os.chmod(path, mode)  # after chown, which clears set-id bits
    os.utime(path, ns=(ATIME_NS, MTIME_NS))


def test_quarantine_and_exact_restore(vigild, workdir):
    path = os.path.join(workdir, "payload")
    shutil.copyfile("/bin/true", path)
    with open(path, "rb") as f:
        content = f.read()
    make_payload(path, content)
    assert subprocess.run([path]).returncode == 0  # runnable before
    # vigild hashes what runs (reading it moves its atime): let that be
    # done before the timestamps are set for the round trip
    vigild.wait_for(lambda e: e["event"]["action"] == "exec" and get(e, "process.executable") == path,
                    what="exec of the payload")
    time.sleep(0.2)
    # a file capability (cap_net_raw, effective) and a user xattr: chown
    # drops the capability, so restore must set it back after the owner
    os.setxattr(path, "security.capability", FCAP)
    os.setxattr(path, "user.vigil.test", b"kept")
    os.utime(path, ns=(ATIME_NS, MTIME_NS))
    before = os.lstat(path)

    qid, sha = quarantine(vigild, path)
    assert sha == hashlib.sha256(content).hexdigest()
    assert not os.path.lexists(path)
    with pytest.raises(FileNotFoundError):
        subprocess.run([path])

    # stored root-only, read-only, never executable
    entry = os.path.join(store_dir(vigild), qid)
    stored = os.path.join(entry, "file")
    assert stat.S_IMODE(os.stat(store_dir(vigild)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o700
    st = os.stat(stored)
    assert stat.S_IMODE(st.st_mode) == 0o400
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert not os.access(stored, os.X_OK)
    with pytest.raises(OSError):  # the capability went with the owner
        os.getxattr(stored, "security.capability")
    with pytest.raises(PermissionError):
        subprocess.run([stored])

    listed = vigild.vigil("quarantined").stdout
    line = next(l for l in listed.splitlines() if l.startswith(qid))
    assert path in line and sha in line and str(len(content)) in line

    a = find_action(vigild, "quarantine", path, "ok")
    assert a["detail"]["id"] == qid and a["detail"]["sha256"] == sha
    ev = vigild.wait_for(lambda e: e["event"]["action"] == "response"
                         and get(e, "vigil.response.action") == "quarantine"
                         and get(e, "vigil.response.target") == path, what="quarantine event")
    assert get(ev, "vigil.response.result") == "ok"

    r = vigild.vigil("restore", qid)
    assert f"restored {qid} to {path}" in r.stdout
    after = os.lstat(path)  # before reading: reading would move atime
    assert stat.S_ISREG(after.st_mode)
    assert stat.S_IMODE(after.st_mode) == 0o4755
    assert (after.st_uid, after.st_gid) == (1234, 2345)
    assert after.st_mtime_ns == MTIME_NS == before.st_mtime_ns
    assert after.st_atime_ns == ATIME_NS
    assert after.st_size == before.st_size
    assert os.getxattr(path, "security.capability") == FCAP
    assert os.getxattr(path, "user.vigil.test") == b"kept"
    with open(path, "rb") as f:
        assert f.read() == content
    assert subprocess.run([path]).returncode == 0  # runnable again
    assert not os.path.exists(entry)
    assert qid not in vigild.vigil("quarantined").stdout
    find_action(vigild, "restore", path, "ok")

    r = vigild.vigil("restore", qid, check=False)
    assert r.returncode != 0 and "no quarantined file" in r.stderr


def test_restore_refuses_an_occupied_path(vigild, workdir):
    path = os.path.join(workdir, "twice")
    make_payload(path, b"first\n", mode=0o640)
    qid, _ = quarantine(vigild, path)
    with open(path, "wb") as f:
        f.write(b"someone else's\n")
    r = vigild.vigil("restore", qid, check=False)
    assert r.returncode != 0 and "exists" in r.stderr and "--force" in r.stderr
    with open(path, "rb") as f:
        assert f.read() == b"someone else's\n"
    find_action(vigild, "restore", path, "refused: ")
    vigild.vigil("restore", "--force", qid)
    with open(path, "rb") as f:
        assert f.read() == b"first\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_quarantine_refusals(vigild, workdir):
    # a directory
    r = vigild.vigil("quarantine", workdir, check=False)
    assert r.returncode != 0 and "is a directory" in r.stderr
    # a symlink: its target stays where it is
    target = os.path.join(workdir, "target")
    make_payload(target, b"x", mode=0o755)
    link = os.path.join(workdir, "link")
    os.symlink(target, link)
    r = vigild.vigil("quarantine", link, check=False)
    assert r.returncode != 0 and "symbolic link" in r.stderr and target in r.stderr
    assert os.path.islink(link) and os.path.exists(target)
    # a device (made here: never point this at a real /dev node)
    dev = os.path.join(workdir, "null")
    os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    r = vigild.vigil("quarantine", dev, check=False)
    assert r.returncode != 0 and "not a regular file" in r.stderr
    assert stat.S_ISCHR(os.lstat(dev).st_mode)
    # relative, missing
    r = vigild.vigil("quarantine", "payload", check=False)
    assert r.returncode != 0 and "absolute" in r.stderr
    r = vigild.vigil("quarantine", os.path.join(workdir, "missing"), check=False)
    assert r.returncode != 0 and "No such file" in r.stderr
    find_action(vigild, "quarantine", workdir, "refused: ")
    find_action(vigild, "quarantine", dev, "refused: ")


def test_quarantine_dry_run(vigild, workdir):
    path = os.path.join(workdir, "dry")
    make_payload(path, b"dry\n")
    before = set(os.listdir(store_dir(vigild))) if os.path.isdir(store_dir(vigild)) else set()
    r = vigild.vigil("quarantine", "--dry-run", path)
    assert r.stdout.startswith("dry run: would quarantine " + path), r.stdout
    assert os.path.exists(path)
    after = set(os.listdir(store_dir(vigild))) if os.path.isdir(store_dir(vigild)) else set()
    assert after == before
    find_action(vigild, "quarantine", path, "dry-run")


def test_quarantine_across_filesystems(vigild):
    """A file on another filesystem (tmpfs) is copied, synced, unlinked."""
    if os.stat("/dev/shm").st_dev == os.stat(vigild.workdir).st_dev:
        pytest.skip("/dev/shm is on the store's filesystem")
    d = tempfile.mkdtemp(prefix="vigil-q-", dir="/dev/shm")
    try:
        path = os.path.join(d, "payload")
        make_payload(path, b"on tmpfs\n", mode=0o2711)
        qid, _ = quarantine(vigild, path)
        assert not os.path.lexists(path)
        assert find_action(vigild, "quarantine", path, "ok")["detail"]["stored"] == "copy"
        vigild.vigil("restore", qid)
        st = os.lstat(path)
        assert stat.S_IMODE(st.st_mode) == 0o2711
        assert (st.st_uid, st.st_gid) == (1234, 2345)
        assert (st.st_atime_ns, st.st_mtime_ns) == (ATIME_NS, MTIME_NS)
        with open(path, "rb") as f:
            assert f.read() == b"on tmpfs\n"
        assert os.listdir(d) == ["payload"]  # no temporary left behind
    finally:
        shutil.rmtree(d, ignore_errors=True)
