"""`vigil block`: executables denied before they run, on the real kernel.

Every binary here is a private copy of a system one with a random tail
appended (an ELF does not mind), so its sha256 is unique: a hash block in
these tests can never stop a binary that anything else on the host runs.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import helper


def unique_copy(src, dst, nonce):
    shutil.copyfile(src, dst)
    with open(dst, "ab") as f:
        f.write(b"\0vigil-test-" + nonce)
    os.chmod(dst, 0o755)
    return dst


def sha256(path):
    return subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True).stdout.split()[0]


def runs(path, *args):
    """True if the exec succeeded and the program ran to exit 0."""
    r = subprocess.run([path, *args], timeout=20)
    return r.returncode == 0


def denied(path):
    """True if execve failed with EPERM."""
    try:
        subprocess.run([path], timeout=20)
    except PermissionError:
        return True
    return False


def blocks(d):
    return json.loads(d.vigil("blocks", "--json").stdout)


@pytest.fixture
def work():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    # directly under /tmp: the eBPF fallback's scan looks 3 levels deep there
    w = tempfile.mkdtemp(prefix="vigil-blk-")
    nonce = os.urandom(16).hex().encode()
    os.makedirs(os.path.join(w, "bin"))
    os.makedirs(os.path.join(w, "elsewhere"))
    paths = {
        "a": unique_copy("/usr/bin/true", os.path.join(w, "bin", "blk_true"), nonce),
        "copy": unique_copy("/usr/bin/true", os.path.join(w, "elsewhere", "renamed"), nonce),
        "other": unique_copy("/usr/bin/true", os.path.join(w, "bin", "other_true"), nonce + b"x"),
        "touch": unique_copy("/usr/bin/touch", os.path.join(w, "bin", "blk_touch"), nonce),
        "sleep": unique_copy("/usr/bin/sleep", os.path.join(w, "bin", "blk_sleep"), nonce),
        "respond": os.path.join(w, "respond"),
        "dir": w,
    }
    yield paths
    shutil.rmtree(w, ignore_errors=True)


def conf(work, extra=""):
    return f"metrics_interval = 2\nresponse_dir = {work['respond']}\n{extra}"


def test_block_by_hash_denies_copies(start_vigild, work):
    d = start_vigild(conf(work))
    h = sha256(work["a"])
    assert sha256(work["copy"]) == h
    assert runs(work["a"])
    # dry run: recorded, nothing enforced
    out = d.vigil("block", "--dry-run", "--hash", h).stdout
    assert "would have blocked" in out
    assert runs(work["a"])
    assert blocks(d)["blocks"] == []

    d.vigil("block", "--hash", h)
    assert denied(work["a"])
    assert denied(work["copy"]), "a copy under another name and directory must be blocked by hash"
    assert runs(work["other"]), "a different binary must run"
    assert runs("/bin/true")
    # fanotify cannot mark the memfd mount, so a fexecve'd memfd copy gets
    # past the block: vigild hashes the image of every exec and kills one
    # with a blocked hash at once (recorded with actor block:<sha256>)
    hs = sha256(work["sleep"])
    d.vigil("block", "--hash", hs)
    t0 = time.time()
    r = subprocess.run([helper("memfd_exec"), work["sleep"], "30"], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stdout)
    assert time.time() - t0 < 5
    pid = json.loads(r.stdout.splitlines()[0])["pid"]
    # the responder records the kill once it has seen the process gone,
    # which is when our wait returned too: poll for it
    deadline = time.time() + 10
    while True:
        acts = [json.loads(x) for x in d.vigil("actions", "--json", "--store", os.path.join(d.workdir, "store"))
                .stdout.splitlines()]
        if any(a["actor"] == "block:" + hs and a["target"] == f"pid {pid}" and a["result"] == "ok"
               for a in acts):
            break
        assert time.time() < deadline, acts
        time.sleep(0.1)
    d.vigil("unblock", "--hash", hs)
    b = blocks(d)
    assert b["mode"] == "fanotify" and b["armed"]
    assert b["marks"] >= 1
    [e] = b["blocks"]
    assert e["kind"] == "hash" and e["value"] == h and e["denied"] >= 2
    # the file is root-only
    st = os.stat(os.path.join(work["respond"], "blocks"))
    assert st.st_mode & 0o777 == 0o600

    d.vigil("unblock", "--hash", h)
    assert runs(work["a"])
    assert runs(work["copy"])
    assert blocks(d)["blocks"] == []
    # bad input is refused with the reason
    r = d.vigil("block", "--hash", "1234", check=False)
    assert r.returncode != 0 and "64 hex digits" in (r.stderr + r.stdout)
    r = d.vigil("block", "--path", "relative/x", check=False)
    assert r.returncode != 0 and "absolute" in (r.stderr + r.stdout)


def test_block_by_path(start_vigild, work):
    d = start_vigild(conf(work))
    d.vigil("block", "--path", work["a"])
    assert denied(work["a"])
    assert runs(work["copy"]), "the same content elsewhere is not blocked by a path block"
    assert runs(work["other"])
    # a new file at the blocked path is blocked too
    os.unlink(work["a"])
    unique_copy("/usr/bin/true", work["a"], b"new")
    assert denied(work["a"])
    d.vigil("unblock", "--path", work["a"])
    assert runs(work["a"])


def test_block_covers_filesystems_mounted_later(start_vigild, work):
    d = start_vigild(conf(work))
    h = sha256(work["a"])
    d.vigil("block", "--hash", h)
    marks = blocks(d)["marks"]
    mnt = os.path.join(work["dir"], "mnt")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], check=True)
    try:
        # the answering thread sees the mount table change and marks it
        deadline = time.time() + 5
        while blocks(d)["marks"] <= marks:
            assert time.time() < deadline, "the new filesystem was not marked"
            time.sleep(0.05)
        late = os.path.join(mnt, "late_copy")
        shutil.copy(work["a"], late)
        assert denied(late), "a copy on a filesystem mounted after the block must be denied"
        other = os.path.join(mnt, "other")
        shutil.copy(work["other"], other)
        assert runs(other)
    finally:
        subprocess.run(["umount", "-l", mnt])


def test_blocks_survive_restart(start_vigild, work):
    d = start_vigild(conf(work))
    h = sha256(work["a"])
    d.vigil("block", "--hash", h, "--path", work["other"])
    assert denied(work["a"]) and denied(work["other"])
    d.stop()
    # vigild gone: nothing is enforced (and nothing hangs)
    assert runs(work["a"]) and runs(work["other"])
    d2 = start_vigild(conf(work))
    assert "2 blocks restored" in d2.stderr_text()
    assert denied(work["a"])
    assert denied(work["copy"])
    assert denied(work["other"])
    kinds = sorted(e["kind"] for e in blocks(d2)["blocks"])
    assert kinds == ["hash", "path"]
    d2.vigil("unblock", "--hash", h, "--path", work["other"])
    assert runs(work["a"]) and runs(work["other"])


def test_kill9_leaves_host_running(start_vigild, work):
    d = start_vigild(conf(work))
    h = sha256(work["a"])
    d.vigil("block", "--hash", h)
    assert denied(work["a"])
    # execs in flight while vigild dies must all finish
    results = []

    def storm():
        for i in range(300):
            try:
                results.append(subprocess.run([work["other"]], timeout=20).returncode)
            except subprocess.TimeoutExpired:
                results.append("hung")

    t = threading.Thread(target=storm)
    t.start()
    time.sleep(0.2)
    d.proc.kill()
    d.proc.wait(timeout=30)
    t.join(timeout=120)
    assert not t.is_alive(), "execs hung after vigild was killed"
    assert "hung" not in results and all(rc == 0 for rc in results)
    t0 = time.monotonic()
    assert runs(work["a"]), "the blocked binary runs once vigild is gone (fanotify group closed)"
    assert runs("/bin/true")
    assert runs(work["copy"])
    assert time.monotonic() - t0 < 5


def test_fallback_kills_at_exec(start_vigild, work):
    d = start_vigild(conf(work, "block_fanotify = off\n"))
    marker = os.path.join(work["dir"], "marker")
    # path block: the process never runs a user instruction
    d.vigil("block", "--path", work["touch"])
    b = blocks(d)
    assert b["mode"] == "ebpf" and b["armed"]
    r = subprocess.run([work["touch"], marker], timeout=20)
    assert r.returncode == -9, r
    assert not os.path.exists(marker), "the blocked program ran"
    assert runs(work["other"])
    d.vigil("unblock", "--path", work["touch"])
    assert not blocks(d)["armed"]
    assert runs(work["touch"], marker) and os.path.exists(marker)
    os.unlink(marker)

    # hash block: known once the scan has hashed the file (a copy elsewhere too)
    copy = unique_copy(work["touch"], os.path.join(work["dir"], "elsewhere", "t2"), b"")
    h = sha256(work["touch"])
    with open(copy, "rb+") as f:  # unique_copy appended one more tail: undo it
        f.truncate(os.path.getsize(work["touch"]))
    assert sha256(copy) == h
    d.vigil("block", "--hash", h)
    deadline = time.time() + 60
    while time.time() < deadline:
        [e] = blocks(d)["blocks"]
        if e["inodes"] >= 2:
            break
        time.sleep(0.5)
    assert e["inodes"] >= 2, e
    for p in (work["touch"], copy):
        r = subprocess.run([p, marker], timeout=20)
        assert r.returncode == -9, (p, r)
        assert not os.path.exists(marker)
    assert blocks(d)["blocks"][0]["denied"] >= 2
    d.vigil("unblock", "--hash", h)
    assert runs(copy, marker)
    # the kill program is unloaded once no block remains
    assert blocks(d)["armed"] is False
