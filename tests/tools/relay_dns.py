"""A loopback DNS server for the relay end-to-end tests, and a tiny resolver to check it.

Dnsmasq (Debian package dnsmasq-base: the binary alone, no system service) serves the
test zone on 127.0.0.1:<port>, started and stopped by the test itself:
  --mx-host      MX records (RFC 5321 5.1: preference order, then the hosts' A records)
  --host-record  A records of the MX hosts and of domains without MX (the implicit MX)
  --dns-rr       raw records: the null MX of RFC 7505 ("MX 0 ." = preference 0, the
                 root name), which --mx-host cannot write
  --local=/test/ answers for the whole zone itself (NXDOMAIN / no data for the rest)
instead of forwarding to an upstream there is none of (--no-resolv).

query(): a DNS question over UDP with the standard library only (RFC 1035 4.1), so the
harness can show that the server answers as the scenarios need before ringmail asks.
"""

import os
import pwd
import random
import socket
import struct
import subprocess
import time

TYPE_A = 1
TYPE_MX = 15
TYPE_AAAA = 28


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _read_name(msg, pos):
    """Returns (name, position after the name in the record), following compression."""
    labels = []
    end = None
    for _ in range(128):  # bounded: a pointer loop in a hostile answer cannot hang us
        n = msg[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | msg[pos + 1]
            continue
        labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    return ".".join(labels), (end if end is not None else pos)


def query(server, port, name, qtype, timeout=2.0):
    """Returns (rcode, answers): answers as [(type, value)] where value is an IP for A/AAAA
    and (preference, host) for MX ('' for the root, i.e. a null MX)."""
    qid = random.randrange(65536)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name) + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (server, port))
        while True:
            msg, _ = s.recvfrom(4096)
            if len(msg) >= 12 and struct.unpack(">H", msg[:2])[0] == qid:
                break
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    pos = 12
    for _ in range(qd):
        _, pos = _read_name(msg, pos)
        pos += 4
    answers = []
    for _ in range(an):
        _, pos = _read_name(msg, pos)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
        pos += 10
        rdata = msg[pos:pos + rdlen]
        if rtype == TYPE_A:
            answers.append((rtype, socket.inet_ntop(socket.AF_INET, rdata)))
        elif rtype == TYPE_AAAA:
            answers.append((rtype, socket.inet_ntop(socket.AF_INET6, rdata)))
        elif rtype == TYPE_MX:
            host, _ = _read_name(msg, pos + 2)
            answers.append((rtype, (struct.unpack(">H", rdata[:2])[0], host)))
        pos += rdlen
    return flags & 0xF, answers


class Dnsmasq:
    """dnsmasq in the foreground on 127.0.0.1:port, killed by stop() (and by the kernel if
    the driver dies first: setpriv --pdeathsig)."""

    def __init__(self, port, log_path, mx=(), hosts=(), null_mx=(), local_zone="test", txt=(), extra_args=()):
        """mx: (domain, host, preference); hosts: (name, ipv4); null_mx: domains;
        txt: (name, text): one TXT record each, cut into 255-byte character-strings (RFC
        1035 3.3.14) as zone files must for DKIM keys."""
        self.port = port
        self.log_path = log_path
        args = [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
            "--conf-file=/dev/null", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--log-queries", "--log-facility=-", "--cache-size=0", f"--local=/{local_zone}/",
            # as root dnsmasq would drop to "nobody"; staying root needs no extra setup
            f"--user={pwd.getpwuid(os.geteuid()).pw_name}",
            "--pid-file=",  # no /run/dnsmasq/dnsmasq.pid to write (or to collide on)
        ]
        args += [f"--mx-host={d},{h},{p}" for d, h, p in mx]
        args += [f"--host-record={n},{ip}" for n, ip in hosts]
        # RFC 7505 null MX: RDATA = preference 0 (00 00) and the root name (00).
        args += [f"--dns-rr={d},{TYPE_MX},000000" for d in null_mx]
        for name, text in txt:
            pieces = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
            # On the command line dnsmasq takes quotes literally; a comma separates strings.
            assert "," not in text, f"TXT text with a comma cannot be passed to dnsmasq: {text}"
            args.append(f"--txt-record={name}," + ",".join(pieces))
        args += list(extra_args)
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(_pdeath() + args, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, probe_name, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                query("127.0.0.1", self.port, probe_name, TYPE_A, timeout=0.3)
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _pdeath():
    try:
        out = subprocess.run(["setpriv", "--help"], capture_output=True, text=True).stdout
    except OSError:
        return []
    return ["setpriv", "--pdeathsig", "KILL", "--"] if "--pdeathsig" in out else []
