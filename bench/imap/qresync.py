#!/usr/bin/env python3
"""QRESYNC resync measurement (issue 11, "Benchmark"), one server at a time.

  qresync.py prepare --port N     a client's cache: UIDVALIDITY, HIGHESTMODSEQ, UIDs
  qresync.py change  --port N     another session: FLAGS on 100 messages, 10 expunged
  qresync.py measure --port N --mode qresync|uidfetch [--runs 7]
prepare/change read and write the state file (--state). measure opens a fresh session
per run (LOGIN, ENABLE QRESYNC for mode qresync, not timed) and times from the first
byte of the resync command(s) to the last byte of the tagged reply:
  qresync   SELECT INBOX (QRESYNC (uidvalidity modseq 1:maxuid))
  uidfetch  SELECT INBOX, then UID FETCH 1:* (FLAGS) (what a client without QRESYNC does)
Prints one JSON line: mode, runs, bytes received (median), ms (median, min, max), and the
counts of VANISHED UIDs and FETCH lines seen (to show both servers told the same).
"""
import argparse
import json
import random
import re
import socket
import statistics
import time


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.n = 0
        self.read_until(b"\r\n")

    def read_until(self, end):
        while end not in self.buf:
            d = self.s.recv(1 << 20)
            if not d:
                raise RuntimeError("closed")
            self.buf += d
        i = self.buf.index(end) + len(end)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def cmd(self, text):
        """Returns (response bytes including the tagged line, tagged line)."""
        self.n += 1
        tag = f"q{self.n}".encode()
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        marker = b"\r\n" + tag + b" "
        data = bytearray(b"\r\n" + self.buf)  # a CRLF in front so the first line matches too
        self.buf = b""
        scan = 0
        # Our responses carry no literals (FLAGS, MODSEQ, VANISHED): look for the tag.
        while True:
            i = data.find(marker, scan)
            if i >= 0:
                j = data.find(b"\r\n", i + 2)
                if j >= 0:
                    tagged = bytes(data[i + 2 : j]).decode()
                    resp = bytes(data[2 : j + 2])
                    self.buf = bytes(data[j + 2 :])
                    if not tagged.split(" ", 2)[1].startswith("OK"):
                        raise RuntimeError(f"{text[:60]} -> {tagged}")
                    return resp, tagged
            else:
                scan = max(0, len(data) - len(marker))
            d = self.s.recv(1 << 20)
            if not d:
                raise RuntimeError("closed")
            data += d


def login(port, user, password):
    c = Conn(port)
    c.cmd(f'LOGIN "{user}" "{password}"')
    return c


def prepare(a, state):
    c = login(a.port, a.user, a.password)
    c.cmd("ENABLE QRESYNC")
    resp, _ = c.cmd("SELECT INBOX")
    text = resp.decode()
    state["uidvalidity"] = int(re.search(r"\[UIDVALIDITY (\d+)\]", text).group(1))
    state["highestmodseq"] = int(re.search(r"\[HIGHESTMODSEQ (\d+)\]", text).group(1))
    resp, _ = c.cmd("UID SEARCH ALL")
    uids = [int(x) for x in resp.decode().split("\r\n")[0].split()[2:]]
    state["uids"] = len(uids)
    state["maxuid"] = max(uids)
    rnd = random.Random(11)
    picks = rnd.sample(uids, 110)
    state["flag_uids"] = sorted(picks[:100])
    state["expunge_uids"] = sorted(picks[100:])
    c.cmd("LOGOUT")


def change(a, state):
    c = login(a.port, a.user, a.password)
    c.cmd("SELECT INBOX")
    for u in state["flag_uids"]:
        c.cmd(f"UID STORE {u} +FLAGS.SILENT (\\Flagged)")
    for u in state["expunge_uids"]:
        c.cmd(f"UID STORE {u} +FLAGS.SILENT (\\Deleted)")
    c.cmd("UID EXPUNGE " + ",".join(str(u) for u in state["expunge_uids"]))
    c.cmd("LOGOUT")


def measure(a, state):
    samples, sizes, seen = [], [], None
    for _ in range(a.runs):
        c = login(a.port, a.user, a.password)
        if a.mode == "qresync":
            c.cmd("ENABLE QRESYNC")
            t0 = time.perf_counter()
            resp, _ = c.cmd(f"SELECT INBOX (QRESYNC ({state['uidvalidity']} {state['highestmodseq']} 1:{state['maxuid']}))")
            ms = (time.perf_counter() - t0) * 1000
        else:
            t0 = time.perf_counter()
            r1, _ = c.cmd("SELECT INBOX")
            r2, _ = c.cmd("UID FETCH 1:* (FLAGS)")
            ms = (time.perf_counter() - t0) * 1000
            resp = r1 + r2
        c.cmd("LOGOUT")
        text = resp.decode()
        fetch_lines = text.count(" FETCH (")
        van = 0
        for m in re.finditer(r"\* VANISHED \(EARLIER\) (\S+)", text):
            for part in m.group(1).split(","):
                lo, _, hi = part.partition(":")
                van += int(hi or lo) - int(lo) + 1
        seen = {"fetch_lines": fetch_lines, "vanished_uids": van}
        samples.append(ms)
        sizes.append(len(resp))
    print(json.dumps({"mode": a.mode, "runs": a.runs, "bytes": int(statistics.median(sizes)),
                      "ms_median": round(statistics.median(samples), 2), "ms_min": round(min(samples), 2),
                      "ms_max": round(max(samples), 2), **seen}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["prepare", "change", "measure"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="john@example.org")
    ap.add_argument("--password", default="pw-john")
    ap.add_argument("--state", required=True)
    ap.add_argument("--mode", default="qresync")
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    state = {}
    if a.action != "prepare":
        with open(a.state) as f:
            state = json.load(f)
    {"prepare": prepare, "change": change, "measure": measure}[a.action](a, state)
    if a.action != "measure":
        with open(a.state, "w") as f:
            json.dump(state, f)


if __name__ == "__main__":
    main()
