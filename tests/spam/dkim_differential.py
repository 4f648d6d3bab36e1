#!/usr/bin/python3
"""Differential test of ringmail's DKIM and ARC against python3-dkim (dkimpy), both ways.

For each message (about 50 of the SpamAssassin corpus when build/corpus is there, else
python3-dkim's own test messages): ringmail signs (RSA-2048, then Ed25519) and dkimpy
must verify; dkimpy signs (rsa-sha256 and ed25519-sha256, relaxed/relaxed and
simple/simple) and ringmail must say pass. Messages either side refuses to sign (no
From) are counted, not compared. Exit 0 when every comparison agrees, 1 otherwise.

With "arc" as the fourth argument, ARC instead (dkim.arc_sign / dkim.arc_verify, which
need python3-authres), over the first 20 messages: ringmail seals and dkimpy verifies the
chain; dkimpy seals and ringmail verifies; two hops mixed both ways (hop 2 by the other
implementation, cv=pass); and each chain with a line appended to the body fails in both.

usage: dkim_differential.py DKIM_TOOL CORPUS_DIR WORK_DIR [dkim|arc]
"""
import glob
import os
import subprocess
import sys

import dkim

tool, corpus, work = sys.argv[1], sys.argv[2], sys.argv[3]
mode = sys.argv[4] if len(sys.argv) > 4 else "dkim"
os.makedirs(work, exist_ok=True)


def run(*args):
    return subprocess.run(args, capture_output=True, check=False)


def keypair(kind):
    path = os.path.join(work, kind + ".pem")
    if kind == "rsa":
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    else:
        run("openssl", "genpkey", "-algorithm", "ED25519", "-out", path)
    return path


def record(kind, pem):
    # The p= value: SPKI DER for RSA, the raw 32 bytes for Ed25519 (RFC 8463 §4).
    der = run("openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER").stdout
    if kind == "ed25519":
        der = der[-32:]
    import base64
    return "v=DKIM1; k=%s; p=%s" % (kind, base64.b64encode(der).decode())


def dkimpy_private(kind, pem):
    if kind == "rsa":
        return open(pem, "rb").read()
    # dkimpy wants the Ed25519 seed base64-encoded.
    der = run("openssl", "pkey", "-in", pem, "-outform", "DER").stdout
    import base64
    return base64.b64encode(der[-32:])


def messages():
    files = []
    for s in ("easy-ham-1", "hard-ham-1", "spam-2"):
        files += sorted(glob.glob(os.path.join(corpus, s, "*.txt")))[:17]
    if not files:
        files = sorted(glob.glob("/usr/lib/python3/dist-packages/dkim/tests/data/*.message"))
        files += ["/usr/lib/python3/dist-packages/dkim/tests/data/rfc6376.msg"]
    for f in files:
        data = open(f, "rb").read()
        if data.startswith(b"From "):  # the corpus' mbox separator line
            data = data.split(b"\n", 1)[1]
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        yield os.path.basename(f), data


keys = {k: keypair(k) for k in ("rsa", "ed25519")}
zone_path = os.path.join(work, "zone")
zone = {
    "rsasel._domainkey.example.org": record("rsa", keys["rsa"]),
    "edsel._domainkey.example.org": record("ed25519", keys["ed25519"]),
}
with open(zone_path, "w") as z:
    for name, txt in zone.items():
        z.write("%s TXT %s\n" % (name, txt))


def dnsfunc(name, timeout=5):
    return zone.get(name.decode().rstrip("."), "").encode() or None


stats = {"compared": 0, "skipped": 0, "disagree": 0}
msg_path = os.path.join(work, "message")


def disagree(text):
    stats["disagree"] += 1
    print("DISAGREE " + text)


def dkim_round(name, data):
    with open(msg_path, "wb") as m:
        m.write(data)
    # ringmail signs, dkimpy verifies.
    for kind, selector in (("rsa", "rsasel"), ("ed25519", "edsel")):
        r = run(tool, "sign", keys[kind], "example.org", selector, msg_path)
        if r.returncode != 0:
            stats["skipped"] += 1
            continue
        stats["compared"] += 1
        if not dkim.verify(r.stdout + data, dnsfunc=dnsfunc):
            disagree("%s: ringmail %s signature not verified by dkimpy" % (name, kind))
    # dkimpy signs, ringmail verifies.
    for kind, selector, algo in (("rsa", "rsasel", b"rsa-sha256"), ("ed25519", "edsel", b"ed25519-sha256")):
        for canon in ((b"relaxed", b"relaxed"), (b"simple", b"simple")):
            try:
                sig = dkim.sign(data, selector.encode(), b"example.org", dkimpy_private(kind, keys[kind]),
                                canonicalize=canon, signature_algorithm=algo)
            except Exception:  # dkimpy refuses e.g. a message without From
                stats["skipped"] += 1
                continue
            with open(msg_path, "wb") as m:
                m.write(sig + data)
            r = run(tool, "verify", zone_path, msg_path)
            stats["compared"] += 1
            out = r.stdout.decode(errors="replace").strip()
            if not out.startswith("pass"):
                disagree("%s: dkimpy %s %s signature: ringmail says %r" % (name, kind, canon[0].decode(), out))


def ours_seal(data, chain):
    with open(msg_path, "wb") as m:
        m.write(data)
    r = run(tool, "arc-seal", keys["rsa"], "example.org", "rsasel", "mx.example.org", chain, msg_path)
    return r.stdout + data if r.returncode == 0 else None


def dkimpy_seal(data, chain):
    # dkimpy takes the AAR payload (and cv= from its arc= result) from our A-R field.
    ar = b"Authentication-Results: relay.example.org; spf=pass smtp.mailfrom=example.org"
    if chain != "none":
        ar += b"; arc=" + chain.encode()
    msg = ar + b"\r\n" + data
    try:
        fields = dkim.arc_sign(msg, b"rsasel", b"example.org", open(keys["rsa"], "rb").read(), b"relay.example.org")
    except Exception as e:  # no From, ...
        return None
    return b"".join(fields) + msg if fields else None


def ours_verify(data):
    with open(msg_path, "wb") as m:
        m.write(data)
    return run(tool, "arc-verify", zone_path, msg_path).stdout.decode(errors="replace").strip()


def arc_round(name, data):
    cases = (("ringmail seals", [ours_seal]), ("dkimpy seals", [dkimpy_seal]),
             ("dkimpy then ringmail", [dkimpy_seal, ours_seal]), ("ringmail then dkimpy", [ours_seal, dkimpy_seal]))
    for label, sealers in cases:
        msg = data
        for hop, sealer in enumerate(sealers):
            msg = sealer(msg, "none" if hop == 0 else "pass") if msg is not None else None
        if msg is None:
            stats["skipped"] += 1
            continue
        stats["compared"] += 1
        cv, _, comment = dkim.arc_verify(msg, dnsfunc=dnsfunc)
        ours = ours_verify(msg)
        if cv != b"pass" or ours.split()[:2] != ["pass", str(len(sealers))]:
            disagree("%s: %s: dkimpy cv=%s (%s), ringmail %r" % (name, label, cv.decode(), comment, ours))
        # The same chain with a line added to the body: both must fail it.
        stats["compared"] += 1
        tampered = msg + b"appended\r\n"
        cv, _, comment = dkim.arc_verify(tampered, dnsfunc=dnsfunc)
        ours = ours_verify(tampered)
        if cv != b"fail" or not ours.startswith("fail"):
            disagree("%s: %s, body changed: dkimpy cv=%s (%s), ringmail %r" % (name, label, cv.decode(), comment, ours))


for count, (name, data) in enumerate(messages()):
    if mode == "arc":
        if count == 20:
            break
        arc_round(name, data)
    else:
        dkim_round(name, data)
print("%s differential: %d compared, %d skipped, %d disagreements" %
      (mode, stats["compared"], stats["skipped"], stats["disagree"]))
sys.exit(1 if stats["disagree"] or stats["compared"] == 0 else 0)
