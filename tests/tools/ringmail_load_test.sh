#!/usr/bin/env bash
# ringmail-load against Postfix's smtp-sink: 2,000 messages over 20 persistent sessions
# (on 2 client shards), 2,000 pipelined, 200 with one connection per message, and LMTP;
# every run must end with exit 0 and ok=N, and prints msgs_per_sec (the generator has to
# out-run the sink). Then: failures are counted and reported with exit 1; real messages
# from a directory arrive CRLF-normalised and dot-stuffed, each with the Message-ID the
# ledger names; and STARTTLS works against a small TLS-capable test server (Python).
#
# Usage: ringmail_load_test.sh path/to/ringmail-load
# Exits 77 (skip) when smtp-sink is not installed (Debian: apt-get install postfix).
set -uo pipefail
load="$1"
sink_bin="$(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
if [ ! -x "$sink_bin" ]; then
  echo "SKIP: smtp-sink not found (Debian package postfix)"
  exit 77
fi
work="$(mktemp -d)"
chmod 755 "$work"  # smtp-sink drops to nobody and writes its dumps below here
sink_pid=""
tls_pid=""
cleanup() {
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
  [ -n "$tls_pid" ] && kill "$tls_pid" 2>/dev/null && wait "$tls_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/out "$work"/err "$work"/sink.log "$work"/tls.log; do [ -s "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }

# smtp-sink refuses to run as root without a user to switch to.
sink_user=()
[ "$(id -u)" -eq 0 ] && sink_user=(-u nobody)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_sink [smtp-sink options...]: starts smtp-sink on a free loopback port (in $port).
start_sink() {
  stop_sink
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    port_open "$port" && continue
    "$sink_bin" "${sink_user[@]}" "$@" "127.0.0.1:$port" 1000 >"$work/sink.log" 2>&1 &
    sink_pid=$!
    for _ in $(seq 1 50); do
      kill -0 "$sink_pid" 2>/dev/null || break
      port_open "$port" && return 0
      sleep 0.1
    done
    kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null; sink_pid=""
  done
  fail "could not start smtp-sink"
}
stop_sink() {
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null; sink_pid=""; fi
}

# run_load expected_rc args...: runs the generator, checks its exit code, leaves its
# summary in $work/out and its diagnostics in $work/err.
run_load() {
  local want="$1"; shift
  timeout 120 "$load" --port="$port" --timeout=20s "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "ringmail-load $* exited $rc, expected $want"
  [ "$(wc -l <"$work/out")" -eq 1 ] || fail "expected one summary line"
}
field() { tr ' ' '\n' <"$work/out" | sed -n "s/^$1=//p"; }
expect_field() { [ "$(field "$1")" = "$2" ] || fail "expected $1=$2 in: $(cat "$work/out")"; }
report() { echo "$1: $(cat "$work/out")"; }

# --- throughput: every message accepted -------------------------------------------------
start_sink -c
run_load 0 --connections=20 --messages=2000 --shards=2 --recipients=a@load.test,b@load.test,c@load.test
expect_field messages 2000; expect_field ok 2000; expect_field errors 0
report "persistent (20 sessions, 2 shards)"

run_load 0 --connections=20 --messages=2000 --pipelining --recipients=a@load.test,b@load.test --rcpts_per_message=2
expect_field ok 2000
report "pipelined, 2 recipients per message"

run_load 0 --connections=20 --messages=200 --new_connection_per_message --recipients=a@load.test
expect_field ok 200
report "new connection per message"

run_load 0 --connections=20 --messages=200 --new_connection_per_message --pipelining --recipients=a@load.test
expect_field ok 200
report "new connection per message, pipelined"
for key in seconds msgs_per_sec p50_ms p99_ms p999_ms temp_fail perm_fail; do
  [ -n "$(field "$key")" ] || fail "summary lacks $key"
done

start_sink -L
printf 'x@load.test\n# a comment\n\ny@load.test\nz@load.test\n' >"$work/rcpts"
run_load 0 --lmtp --connections=10 --messages=500 --pipelining --recipients_file="$work/rcpts" --rcpts_per_message=3
expect_field ok 500
report "LMTP, 3 recipients per message"

# --- failures are counted, reported, and make the exit code 1 ---------------------------
start_sink -r RCPT
run_load 1 --connections=4 --messages=40 --recipients=a@load.test
expect_field temp_fail 40; expect_field ok 0
grep -q 'failure count=40 stage=rcpt reply="450 ' "$work/err" || fail "no RCPT failure reported: $(cat "$work/err")"

start_sink -f .
run_load 1 --connections=4 --messages=40 --pipelining --recipients=a@load.test
expect_field perm_fail 40
grep -q 'stage=message reply="5' "$work/err" || fail "no end-of-data failure reported"

start_sink -q DATA
run_load 1 --connections=4 --messages=40 --recipients=a@load.test
expect_field errors 40

start_sink
run_load 1 --connections=2 --messages=4 --starttls --recipients=a@load.test
grep -q 'stage=starttls error="STARTTLS not offered"' "$work/err" || fail "missing STARTTLS not reported"

stop_sink
run_load 1 --connections=2 --messages=10 --recipients=a@load.test
expect_field errors 10
grep -q 'stage=connect' "$work/err" || fail "refused connections not reported"

# --- real messages: normalised, dot-stuffed, and named in the ledger -----------------------
mkdir -p "$work/corpus/sub" "$work/dump"
chmod 777 "$work/dump"
printf 'From someone@example.com  Thu Aug 22 12:36:23 2002\nMessage-Id: <orig@example.com>\nSubject: dots\n\n.leading dot\n..two dots\n.\nlast line\n' >"$work/corpus/one"
printf 'Subject: bare CR\r\rbody\rsecond line' >"$work/corpus/sub/two"
printf 'Subject: crlf\r\n\r\n.\r\n' >"$work/corpus/sub/three"
start_sink -d "$work/dump/%M."
run_load 0 --connections=3 --messages=30 --messages_dir="$work/corpus" --recipients=a@load.test,b@load.test \
  --ledger="$work/ledger"
expect_field ok 30
[ "$(wc -l <"$work/ledger")" -eq 30 ] || fail "expected 30 ledger lines"
[ "$(cut -d' ' -f1 "$work/ledger" | sort -u | wc -l)" -eq 30 ] || fail "Message-IDs in the ledger are not unique"
stop_sink  # flushes the dumps
# smtp-sink stores what it received after undoing the dot-stuffing, with bare LF endings.
for id in $(cut -d' ' -f1 "$work/ledger"); do
  file="$(grep -l -F "Message-ID: $id" "$work"/dump/* | head -1)"
  [ -n "$file" ] || fail "ledger names $id but the sink never got it"
done
dump_one="$(grep -l 'Subject: dots' "$work"/dump/* | head -1)"
sed -n '/^Subject: dots$/,$p' "$dump_one" >"$work/got_one"
printf 'Subject: dots\n\n.leading dot\n..two dots\n.\nlast line\n\n' >"$work/want_one"
cmp -s "$work/got_one" "$work/want_one" || fail "message one arrived altered: $(cat -A "$work/got_one")"
grep -q '^X-Original-Message-Id: <orig@example.com>$' "$dump_one" || fail "original Message-Id not renamed"
grep -q '^From someone' "$dump_one" && fail "mbox From_ line was sent"
dump_two="$(grep -l 'Subject: bare CR' "$work"/dump/* | head -1)"
sed -n '/^Subject: bare CR$/,$p' "$dump_two" | cmp -s - <(printf 'Subject: bare CR\n\nbody\nsecond line\n\n') ||
  fail "bare CR message not normalised"
echo "messages_dir and ledger: ok"

# --- STARTTLS, against a small test server that refuses MAIL before TLS ---------------------
if command -v python3 >/dev/null && command -v openssl >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null || fail "openssl req"
  cat >"$work/tls_sink.py" <<'EOF'
import socket, socketserver, ssl, sys
cert, key, port_file = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)

class Session(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        # Pipelined replies go out one by one; Nagle would hold each for a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        tls = False
        sock.sendall(b"220 tls-sink ESMTP\r\n")
        while True:
            line = reader.readline()
            if not line:
                return
            cmd = line.decode("latin-1").strip().upper()
            if cmd.startswith("EHLO"):
                offer = b"" if tls else b"250-STARTTLS\r\n"
                sock.sendall(b"250-tls-sink\r\n250-PIPELINING\r\n" + offer + b"250 8BITMIME\r\n")
            elif cmd == "STARTTLS" and not tls:
                sock.sendall(b"220 2.0.0 ready\r\n")
                sock = ctx.wrap_socket(sock, server_side=True)
                reader = sock.makefile("rb")
                tls = True
            elif cmd.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                sock.sendall(b"250 2.0.0 ok\r\n" if tls else b"530 5.7.0 STARTTLS first\r\n")
            elif cmd == "DATA":
                sock.sendall(b"354 go ahead\r\n")
                while True:
                    body = reader.readline()
                    if not body:
                        return
                    if body == b".\r\n":
                        break
                sock.sendall(b"250 2.0.0 queued\r\n")
            elif cmd == "QUIT":
                sock.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                sock.sendall(b"502 5.5.2 unknown command\r\n")

class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

with Server(("127.0.0.1", 0), Session) as server:
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()
EOF
  python3 "$work/tls_sink.py" "$work/cert.pem" "$work/key.pem" "$work/tls_port" 2>"$work/tls.log" &
  tls_pid=$!
  for _ in $(seq 1 50); do [ -s "$work/tls_port" ] && break; sleep 0.1; done
  [ -s "$work/tls_port" ] || fail "TLS test server did not start"
  port="$(cat "$work/tls_port")"
  run_load 0 --starttls --connections=5 --messages=100 --pipelining --recipients=a@load.test
  expect_field ok 100
  report "STARTTLS"
  run_load 0 --starttls --connections=5 --messages=20 --new_connection_per_message --recipients=a@load.test
  expect_field ok 20
  run_load 1 --connections=1 --messages=3 --recipients=a@load.test
  expect_field perm_fail 3  # without --starttls the server refuses MAIL: TLS really was used above
else
  echo "note: python3 or openssl missing; STARTTLS not tested"
fi

echo "ringmail-load test passed"
