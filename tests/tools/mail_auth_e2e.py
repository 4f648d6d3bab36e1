#!/usr/bin/env python3
"""Mail authentication end to end (issue 16 "Done when"): two `ringmail serve`, a.test on
127.0.0.2 and b.test on 127.0.0.3, find each other through a private dnsmasq on 127.0.0.1
that also serves their SPF, DKIM and DMARC records.

  1. alice@a.test submits to A; A signs with DKIM (RSA and Ed25519 keys made by
     `ringmail-admin dkim keygen`) and relays to B, which files the message for bob with
     one Authentication-Results: mx.b.test; spf=pass, dkim=pass (both signatures),
     dmarc=pass. Debian's python3-dkim verifies the stored copy on its own.
  2. alice submits to fwd@b.test, an alias of B for carol@a.test: B seals the message with
     ARC and forwards it; A files it for carol with arc=pass and dmarc=pass (DKIM survives;
     SPF of a.test fails for B's address, as forwarding does), and python3-dkim's
     arc_verify agrees.
  3. Mail straight to B's port 25 from 127.0.0.1: a From of a p=reject domain whose SPF
     fails gets 550 5.7.1; a p=quarantine one goes to Junk; an Authentication-Results
     claiming to be B's own is removed (one header of B's, ours).

Every process is started and stopped here; every wait is bounded.
"""

import argparse
import email
import os
import re
import smtplib
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relay_dns  # noqa: E402
from relay_harness import Ringmail, free_port_on, free_tcp_ports, free_udp_port, wait_for  # noqa: E402

PASSED = 0
FAILED = []
RUN = str(int(time.time()))


def check(name, cond, why=""):
    global PASSED
    if cond:
        PASSED += 1
        print(f"ok   {name}", flush=True)
    else:
        FAILED.append(name)
        print(f"FAIL {name}" + (f": {why}" if why else ""), flush=True)
    return cond


def tls_context():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def message(frm, to, subject, extra_headers=""):
    return (f"From: Alice <{frm}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n{extra_headers}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Hello,\r\n\r\nthis is {subject}.\r\n-- \r\nAlice\r\n").encode()


def submit(host, port, user, password, frm, rcpt, subject):
    try:
        with smtplib.SMTP(host, port, timeout=30) as s:
            s.ehlo("client.a.test")
            s.starttls(context=tls_context())
            s.ehlo("client.a.test")
            s.login(user, password)
            s.sendmail(frm, [rcpt], message(frm, rcpt, subject))
        return True, ""
    except (smtplib.SMTPException, OSError) as e:
        return False, f"{type(e).__name__}: {e}"


def send_mx(host, port, helo, frm, rcpt, subject, extra_headers="", envelope_from=None):
    """Unauthenticated mail on port 25; returns (code, text) of the reply to DATA."""
    try:
        with smtplib.SMTP(host, port, timeout=30, source_address=("127.0.0.1", 0)) as s:
            s.ehlo(helo)
            s.mail(envelope_from or frm)
            code, text = s.rcpt(rcpt)
            if code != 250:
                return code, text.decode(errors="replace")
            code, text = s.data(message(frm, rcpt, subject, extra_headers))
            return code, text.decode(errors="replace")
    except (smtplib.SMTPException, OSError) as e:
        return 0, f"{type(e).__name__}: {e}"


def dkim_record(admin_output):
    """(name, value) of the TXT record `ringmail-admin dkim keygen` prints: the name ends in
    ._domainkey.<domain>, the value is the quoted strings joined."""
    name = re.search(r"([A-Za-z0-9_.-]+\._domainkey\.[A-Za-z0-9.-]+)", admin_output)
    strings = re.findall(r'"([^"]*)"', admin_output)
    value = "".join(strings) if strings else ""
    if "v=DKIM1" not in value:
        m = re.search(r"(v=DKIM1;[^\n\"]*)", admin_output)
        value = m.group(1).strip() if m else ""
    return (name.group(1).rstrip(".") if name else ""), value


def find_message(server, address, subject, folder="", timeout=30):
    needle = f"Subject: {subject}".encode()

    def look():
        base = server.maildir(address, folder)
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, f), "rb") as fh:
                    data = fh.read()
                if needle in data:
                    return data
        return None

    found = []
    wait_for(lambda: found.append(look()) or found[-1] is not None, timeout, 0.2)
    return found[-1] if found else None


def header_values(data, name):
    msg = email.message_from_bytes(data)
    return [re.sub(r"\s+", " ", str(v)).strip() for v in msg.get_all(name, [])]


def ar_of(data, authserv_id):
    return [v for v in header_values(data, "Authentication-Results") if v.lower().startswith(authserv_id.lower())]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ringmail", required=True)
    p.add_argument("--admin", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()
    work = args.work
    a_ip, b_ip = "127.0.0.2", "127.0.0.3"
    port = free_port_on([a_ip, b_ip])
    (sub_port,) = free_tcp_ports(1)
    dns_port = free_udp_port()
    servers = []
    dns = None
    try:
        def ringmail(name, ip, hostname, extra):
            r = Ringmail(args.ringmail, args.admin, work, name,
                         [f"--hostname={hostname}", f"--smtp_port={port}", f"--dns_servers=127.0.0.1:{dns_port}",
                          f"--relay_smtp_port={port}", f"--relay_bind_address={ip}", "--mail_auth_check_local",
                          "--queue_minimal_backoff=1s",
                          "--queue_maximal_backoff=2s"] + extra, listen=ip)
            servers.append(r)
            return r

        a = ringmail("a", a_ip, "mx.a.test", [f"--submission_port={sub_port}"])
        b = ringmail("b", b_ip, "mx.b.test", [])
        a.must_admin("domain", "add", "a.test")
        a.must_admin("user", "add", "alice@a.test", stdin="pw-alice\n")
        a.must_admin("user", "add", "carol@a.test", stdin="pw-carol\n")
        b.must_admin("domain", "add", "b.test")
        b.must_admin("user", "add", "bob@b.test", stdin="pw-bob\n")
        b.must_admin("alias", "add", "fwd@b.test", "carol@a.test")

        records = []
        for server, domain, kind in [(a, "a.test", "rsa"), (a, "a.test", "ed25519"), (b, "b.test", "rsa")]:
            out = server.must_admin("dkim", "keygen", domain, f"--type={kind}")
            name, value = dkim_record(out)
            check(f"dkim keygen {domain} {kind} prints its TXT record", name.endswith("._domainkey." + domain)
                  and f"k={kind}" in value.replace(" ", "") and "p=" in value, out)
            records.append((name, value))
        listing = a.must_admin("dkim", "list")
        check("dkim list shows both keys of a.test", listing.count("a.test") >= 2, listing)

        txt = records + [
            ("a.test", "v=spf1 ip4:127.0.0.2 -all"), ("mx.a.test", "v=spf1 a -all"),
            ("_dmarc.a.test", "v=DMARC1; p=reject; adkim=s; aspf=r"),
            ("b.test", "v=spf1 ip4:127.0.0.3 -all"), ("mx.b.test", "v=spf1 a -all"),
            ("_dmarc.b.test", "v=DMARC1; p=none"),
            ("evil.test", "v=spf1 -all"), ("_dmarc.evil.test", "v=DMARC1; p=reject"),
            ("quarantine.test", "v=spf1 -all"), ("_dmarc.quarantine.test", "v=DMARC1; p=quarantine"),
        ]
        zone = dict(txt)
        for _ in range(5):
            dns = relay_dns.Dnsmasq(dns_port, os.path.join(work, "dnsmasq.log"),
                                    mx=[("a.test", "mx.a.test", 10), ("b.test", "mx.b.test", 10)],
                                    hosts=[("mx.a.test", a_ip), ("mx.b.test", b_ip)], txt=txt,
                                    # a name whose server is down: SERVFAIL, as a broken zone gives
                                    extra_args=["--server=/broken.evil.test/127.0.0.1#9"])
            if dns.wait_ready("mx.a.test"):
                break
            dns.stop()
            dns = None
            dns_port = free_udp_port()
            for s in servers:
                s.flags = [f if not f.startswith("--dns_servers=") else f"--dns_servers=127.0.0.1:{dns_port}"
                           for f in s.flags]
        if not check("dnsmasq serves the test zone", dns is not None):
            return 1

        a.start()
        b.start()
        check("both servers ready", a.alive() and b.alive())

        def dnsfunc(name, timeout=5):
            v = zone.get(name.decode().rstrip(".") if isinstance(name, bytes) else name.rstrip("."))
            return v.encode() if v else b""

        try:
            import dkim  # python3-dkim (scripts/install-deps.sh)
        except ImportError:
            dkim = None
        check("python3-dkim is there to check our signatures and seals", dkim is not None, sys.executable)

        # 1. submission -> DKIM signed -> relay -> checked at B
        subject = f"auth-e2e-signed-{RUN}"
        ok, why = submit(a_ip, sub_port, "alice@a.test", "pw-alice", "alice@a.test", "bob@b.test", subject)
        check("A accepts alice's submission", ok, why)
        data = find_message(b, "bob@b.test", subject)
        if check("B filed the relayed message for bob", data is not None, b.log_tail(15)):
            sigs = header_values(data, "DKIM-Signature")
            check("the message carries two DKIM signatures of a.test (rsa and ed25519)",
                  len(sigs) == 2 and all("d=a.test" in s.replace(" ", "") for s in sigs)
                  and any("a=rsa-sha256" in s.replace(" ", "") for s in sigs)
                  and any("a=ed25519-sha256" in s.replace(" ", "") for s in sigs), str(sigs))
            ars = ar_of(data, "mx.b.test")
            ar = ars[0] if ars else ""
            check("B added exactly one Authentication-Results", len(ars) == 1, str(ars))
            check("spf=pass for smtp.mailfrom=alice@a.test", re.search(r"spf=pass[^;]*smtp\.mailfrom=\S*a\.test", ar), ar)
            check("dkim=pass for header.d=a.test, twice", len(re.findall(r"dkim=pass[^;]*header\.d=a\.test", ar)) == 2, ar)
            check("dmarc=pass header.from=a.test", re.search(r"dmarc=pass[^;]*header\.from=a\.test", ar), ar)
            if dkim is not None:
                raw = data.split(b"\r\n\r\n", 1)[0] if b"\r\n" in data else data
                check("python3-dkim verifies our signatures (first and second)",
                      dkim.DKIM(data).verify(idx=0, dnsfunc=dnsfunc) and dkim.DKIM(data).verify(idx=1, dnsfunc=dnsfunc),
                      raw[:600])

        # 2. forwarded through an alias to a remote domain: ARC
        subject = f"auth-e2e-forwarded-{RUN}"
        ok, why = submit(a_ip, sub_port, "alice@a.test", "pw-alice", "alice@a.test", "fwd@b.test", subject)
        check("A accepts the message for fwd@b.test", ok, why)
        data = find_message(a, "carol@a.test", subject, timeout=45)
        if check("the forwarded message came back to carol@a.test", data is not None,
                 a.log_tail(10) + "\n" + b.log_tail(10)):
            check("B sealed it: ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results i=1",
                  all(any("i=1" in v.replace(" ", "") for v in header_values(data, h))
                      for h in ("ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results")),
                  str(header_values(data, "ARC-Seal")))
            ars = ar_of(data, "mx.a.test")
            ar = ars[0] if ars else ""
            check("A: arc=pass", re.search(r"\barc=pass", ar), ar)
            check("A: dkim=pass header.d=a.test (the signature survived forwarding)",
                  re.search(r"dkim=pass[^;]*header\.d=a\.test", ar), ar)
            check("A: dmarc=pass (aligned DKIM)", re.search(r"dmarc=pass", ar), ar)
            check("A: spf is not pass (B's address is not in a.test's record)",
                  re.search(r"spf=(fail|softfail)", ar), ar)
            aar = header_values(data, "ARC-Authentication-Results")
            check("B's ARC-Authentication-Results says what B found (dkim=pass, dmarc=pass)",
                  aar and "dkim=pass" in aar[0] and "dmarc=pass" in aar[0], str(aar))
            if dkim is not None:
                cv, results, reason = dkim.arc_verify(data, dnsfunc=dnsfunc)
                check("python3-dkim's arc_verify: cv=pass", cv == b"pass", f"{cv} {reason} {results}")

        # 3. straight to B's MX: DMARC policies, forged Authentication-Results
        subject = f"auth-e2e-spoof-{RUN}"
        code, text = send_mx(b_ip, port, "spoofer.test", "ceo@evil.test", "bob@b.test", subject)
        check("p=reject and SPF fail: 550 5.7.1", code == 550 and "5.7.1" in text, f"{code} {text}")
        check("... and nothing was filed", find_message(b, "bob@b.test", subject, timeout=1) is None)

        subject = f"auth-e2e-temperror-{RUN}"
        code, text = send_mx(b_ip, port, "spoofer.test", "ceo@evil.test", "bob@b.test", subject,
                             envelope_from="bounce@broken.evil.test")
        check("p=reject, but the aligned SPF check met a DNS failure: accepted, not refused", code == 250,
              f"{code} {text}")
        data = find_message(b, "bob@b.test", subject)
        ars = ar_of(data, "mx.b.test") if data else []
        check("... with spf=temperror and dmarc=temperror", ars and "spf=temperror" in ars[0]
              and "dmarc=temperror" in ars[0], str(ars))

        subject = f"auth-e2e-quarantine-{RUN}"
        code, text = send_mx(b_ip, port, "spoofer.test", "news@quarantine.test", "bob@b.test", subject)
        check("p=quarantine: accepted", code == 250, f"{code} {text}")
        data = find_message(b, "bob@b.test", subject, folder="Junk", timeout=10)
        check("... into bob's Junk", data is not None)

        subject = f"auth-e2e-forged-{RUN}"
        forged = "Authentication-Results: MX.B.TEST (forged); dkim=pass header.d=paypal.test\r\n"
        code, text = send_mx(b_ip, port, "friend.test", "someone@friend.test", "bob@b.test", subject, forged)
        check("a message with a forged Authentication-Results is accepted", code == 250, f"{code} {text}")
        data = find_message(b, "bob@b.test", subject)
        if check("... and filed", data is not None):
            ars = ar_of(data, "mx.b.test")
            check("the forged header is gone; B's own says spf=none", len(ars) == 1 and "paypal" not in ars[0]
                  and "spf=none" in ars[0], str(ars))
    finally:
        for s in servers:
            s.stop()
        if dns:
            dns.stop()
    print(f"{PASSED} passed, {len(FAILED)} failed" + (": " + ", ".join(FAILED) if FAILED else ""))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
