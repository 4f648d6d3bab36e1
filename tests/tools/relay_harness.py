"""Processes and probes for the relay end-to-end tests (tests/tools/relay_e2e.py).

Everything here is started and stopped by the test itself, on loopback only:
  Sink      Postfix's smtp-sink on 127.0.0.x:port, each transaction dumped to a file
            (-d), so a test can read the envelope (X-Mail-Args, X-Rcpt-Args) and the
            message the relay sent. smtp-sink announces neither STARTTLS nor SMTPUTF8.
  Ringmail  one `ringmail serve` with its own --data_dir: every listener off first (as
            ringmail_server_lib.sh does, so concurrently running tests never collide on
            a default port), then the test's flags; ready when the log says event=ready.
            Also its ringmail-admin (users, aliases, `queue list`), its spool and its
            Maildirs.
Every child gets SIGKILL when the driver dies (setpriv --pdeathsig), except smtp-sink,
which drops to "nobody" when run as root and so loses that signal (prctl(2) clears it on
a credential change): the shell wrapper kills the driver's whole process group too.
"""

import glob
import os
import re
import signal
import socket
import subprocess
import time

_PDEATH = None


def pdeath():
    global _PDEATH
    if _PDEATH is None:
        try:
            out = subprocess.run(["setpriv", "--help"], capture_output=True, text=True).stdout
        except OSError:
            out = ""
        _PDEATH = ["setpriv", "--pdeathsig", "KILL", "--"] if "--pdeathsig" in out else []
    return list(_PDEATH)


def free_port_on(addresses, tries=50):
    """One TCP port free on every address at once (the relay contacts every MX on the
    same --relay_smtp_port), and free for UDP on 127.0.0.1 too when asked."""
    for _ in range(tries):
        first = socket.socket()
        first.bind((addresses[0], 0))
        port = first.getsockname()[1]
        held = [first]
        try:
            for a in addresses[1:]:
                s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
                held.append(s)
                s.bind((a, port))
            return port
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no port free on every test address")


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_udp_port(tries=50):
    """A port free on 127.0.0.1 for UDP and for TCP alike: a DNS server (dnsmasq) binds both,
    and a port free for UDP alone may be another parallel test's TCP listener."""
    for _ in range(tries):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")


def free_tcp_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_listening(addr, port, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((addr.strip("[]"), port), timeout=0.5) as s:
                s.settimeout(2)
                s.recv(512)  # the greeting; then hang up without a transaction
                s.sendall(b"QUIT\r\n")
            return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_for(predicate, timeout, step=0.1):
    """Polls predicate() until it returns something true or timeout seconds pass."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(step)


class Sink:
    """smtp-sink on addr:port; transactions dumped to <work>/sink-<name>/."""

    def __init__(self, work, name, addr, port, flags=()):
        self.name = name
        self.addr = addr
        self.port = port
        self.dump_dir = os.path.join(work, f"sink-{name}")
        os.makedirs(self.dump_dir, exist_ok=True)
        os.chmod(self.dump_dir, 0o777)  # smtp-sink writes as "nobody" when started as root
        self.log_path = os.path.join(work, f"sink-{name}.log")
        self.proc = None
        self.flags = list(flags)

    def start(self, flags=None):
        if flags is not None:
            self.flags = list(flags)
        binary = "smtp-sink" if _which("smtp-sink") else "/usr/sbin/smtp-sink"
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        args = [binary] + user + ["-h", f"{self.name}.sink.test", "-d", os.path.join(self.dump_dir, "%H%M%S.")]
        args += self.flags + [f"{self.addr}:{self.port}", "128"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(pdeath() + args, stdout=log, stderr=subprocess.STDOUT)
        if not wait_listening(self.addr, self.port):
            raise RuntimeError(f"smtp-sink {self.name} not listening on {self.addr}:{self.port}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, flags):
        self.stop()
        self.start(flags)

    def transactions(self):
        """Every dumped transaction: {'mail': 'FROM:<...> ...', 'rcpts': ['TO:<...>', ...],
        'text': the whole file as text, 'message': what the client sent after DATA}."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.dump_dir, "*"))):
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            text = data.decode("utf-8", "replace")
            mail = ""
            rcpts = []
            lines = text.split("\n")
            i = 0
            while i < len(lines) and not lines[i].startswith("Received:"):
                line = lines[i]
                if line.startswith("X-Mail-Args: "):
                    mail = line[len("X-Mail-Args: "):]
                elif line.startswith("X-Rcpt-Args: "):
                    rcpts.append(line[len("X-Rcpt-Args: "):])
                i += 1
            # smtp-sink's own Received: is three lines (see smtp-sink(1), DUMP FILE FORMAT)
            message = "\n".join(lines[i + 3:]) if i < len(lines) else ""
            out.append({"path": path, "mail": mail, "rcpts": rcpts, "text": text, "message": message})
        return out

    def with_subject(self, subject):
        needle = f"Subject: {subject}"
        return [t for t in self.transactions() if needle in t["message"]]


class Ringmail:
    """One `ringmail serve` with its own data directory."""

    ALL_LISTENERS_OFF = ["--smtp_port=0", "--lmtp_port=0", "--imap_port=0", "--imaps_port=0", "--pop3_port=0",
                         "--pop3s_port=0", "--managesieve_port=0", "--submission_port=0", "--submissions_port=0"]
    TEST_FLAGS = ["--spam_scan=false", "--shards=2", "--shutdown_grace=1s", "--log_level=info"]

    def __init__(self, binary, admin, work, name, flags, listen="127.0.0.1"):
        self.binary = binary
        self.admin_binary = admin
        self.name = name
        self.data_dir = os.path.join(work, f"data-{name}")
        self.log_path = os.path.join(work, f"{name}.log")
        self.flags = list(flags)
        self.listen = listen
        self.proc = None
        self.log_offset = 0

    def start(self, ready_timeout=10.0):
        try:
            self.log_offset = os.path.getsize(self.log_path)
        except OSError:
            self.log_offset = 0
        args = [self.binary, "serve"] + self.ALL_LISTENERS_OFF + [f"--listen_address={self.listen}"]
        args += self.TEST_FLAGS + [f"--data_dir={self.data_dir}"] + self.flags
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(pdeath() + args, stdout=log, stderr=subprocess.STDOUT)
        ok = wait_for(lambda: "event=ready" in self.log_since_start() or self.proc.poll() is not None,
                      ready_timeout, 0.05)
        if not ok or self.proc.poll() is not None:
            raise RuntimeError(f"ringmail {self.name} did not start; log tail:\n" + self.log_tail(20))

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_since_start(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n):
        return "\n".join(self.log_text().splitlines()[-n:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout=15.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit status (124 if killed)."""
        if not self.alive():
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return 124

    def admin(self, *args, stdin=None, timeout=30):
        return subprocess.run([self.admin_binary, f"--data_dir={self.data_dir}"] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=timeout)

    def must_admin(self, *args, stdin=None):
        r = self.admin(*args, stdin=stdin)
        if r.returncode != 0:
            raise RuntimeError(f"ringmail-admin {' '.join(args)}: {r.returncode} {r.stderr.strip()}")
        return r.stdout

    def queue_list(self):
        """`ringmail-admin queue list` parsed: [{'id', 'sender', 'recipients': [(status,
        address, rest_of_line)]}], or None when the command failed."""
        r = self.admin("queue", "list")
        if r.returncode != 0:
            return None
        return parse_queue_listing(r.stdout)

    def flush(self):
        """`ringmail-admin queue flush` when the running server takes it (the control
        channel another engineer is writing); False when it does not exist yet."""
        r = self.admin("queue", "flush")
        return r.returncode == 0

    def spool_files(self):
        return sorted(glob.glob(os.path.join(self.data_dir, "queue", "*", "*.msg")))

    def maildir(self, address, folder=""):
        local, domain = address.split("@")
        base = os.path.join(self.data_dir, "vmail", domain, local, "Maildir")
        if folder:
            base = os.path.join(base, "." + folder)
        return base

    def messages(self, address):
        """(path, bytes) of every message in the user's INBOX new/ and cur/."""
        out = []
        base = self.maildir(address)
        for sub in ("new", "cur"):
            for path in sorted(glob.glob(os.path.join(base, sub, "*"))):
                try:
                    with open(path, "rb") as f:
                        out.append((path, f.read()))
                except OSError:
                    pass
        return out

    def all_mail_containing(self, needle):
        """Paths of every file anywhere under the mail root that contains needle."""
        hits = []
        for root, _, files in os.walk(os.path.join(self.data_dir, "vmail")):
            for name in files:
                path = os.path.join(root, name)
                if os.sep + "tmp" + os.sep in path or not re.search(r"/(new|cur)/", path):
                    continue
                try:
                    with open(path, "rb") as f:
                        if needle.encode() in f.read():
                            hits.append(path)
                except OSError:
                    pass
        return hits


def parse_queue_listing(text):
    """Reads tools/ringmail-admin/queue_command.cc's listing: per message a line
    "<id>  <size>  <date> <time>  <sender>" then "    <status>  <address>  ..." per
    recipient, blocks separated by blank lines, then "-- ..."."""
    messages = []
    current = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("--"):
            current = None
            continue
        if not line.startswith(" "):
            fields = line.split()
            current = {"id": fields[0], "sender": fields[-1] if len(fields) >= 5 else "", "recipients": [],
                       "line": line}
            messages.append(current)
        elif current is not None and not line.strip().startswith("("):
            parts = line.split(None, 2)
            if len(parts) >= 2:
                current["recipients"].append((parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return messages


def _which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if os.access(os.path.join(d, name), os.X_OK):
            return True
    return False
