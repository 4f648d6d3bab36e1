# Sourced by imap_dovecot_check.sh and imap_mbsync_test.sh: a private, rootless Dovecot
# 2.3 IMAP server (Debian's dovecot-imapd) on 127.0.0.1, used to validate the IMAP test
# tools against a server that real clients trust. Nothing system-wide is touched: every
# path (base_dir, state, log, Maildirs, certificate) is under $work, the master runs as
# `nobody` when we are root (Dovecot refuses mail access as root), and no chroot is used.
# One user: john@example.org / pw-john (static passdb: any user name with that password
# gets its own Maildir under $vmail/<domain>/<user>/Maildir, as ringmail lays them out).
#
# Needs from the caller: $work (an empty directory), functions fatal MESSAGE.
# Sets: dovecot_imap_port, dovecot_imaps_port, vmail, as_user (a command prefix that runs
# as the mail user), dovecot_conf. Call dovecot_start, and dovecot_stop from the trap.
# Optional: DOVECOT_POP3=1 also serves POP3 (Debian's dovecot-pop3d; installed when
# missing) on dovecot_pop3_port (STLS) and dovecot_pop3s_port (implicit TLS), with one
# POP3 session per mailbox (pop3_lock_session) and the default UIDL format spelled out.

dovecot_install() {
  local packages=(dovecot-core dovecot-imapd)
  [ "${DOVECOT_POP3:-}" = 1 ] && packages+=(dovecot-pop3d)
  if ! command -v dovecot >/dev/null || [ ! -e /usr/lib/dovecot/imap ] ||
     { [ "${DOVECOT_POP3:-}" = 1 ] && [ ! -e /usr/lib/dovecot/pop3 ]; }; then
    echo "dovecot not found: installing ${packages[*]}" >&2
    local sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    if ! { "${sudo_cmd[@]}" apt-get update -qq &&
           "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; } ||
       ! command -v dovecot >/dev/null; then
      echo "SKIP: Dovecot cannot be installed" >&2
      exit 77
    fi
  fi
}

dovecot_free_ports() {  # [COUNT], default 2
  python3 - "${1:-2}" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*(s.getsockname()[1] for s in socks))
EOF
}

dovecot_start() {
  dovecot_install
  chmod 755 "$work"
  if [ "$(id -u)" -eq 0 ]; then
    chown nobody:nogroup "$work"
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$work")
    run_user=nobody
  else
    as_user=(env HOME="$HOME")
    run_user="$(id -un)"
  fi
  local uid gid
  uid=$(id -u "$run_user")
  gid=$(id -g "$run_user")
  vmail="$work/vmail"
  dovecot_conf="$work/dovecot.conf"
  "${as_user[@]}" mkdir -p "$vmail" "$work/run" "$work/tls" || fatal "cannot create the Dovecot work directory"
  "${as_user[@]}" openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" >/dev/null 2>&1 || fatal "openssl req (test certificate)"
  local protocols=imap pop3_conf=""
  if [ "${DOVECOT_POP3:-}" = 1 ]; then
    # All four at once: ports picked in two calls could coincide.
    read -r dovecot_imap_port dovecot_imaps_port dovecot_pop3_port dovecot_pop3s_port < <(dovecot_free_ports 4)
    export dovecot_pop3_port dovecot_pop3s_port
    protocols="imap pop3"
    pop3_conf="
# DOVECOT_POP3=1: one POP3 session per mailbox, as ringmail has ([IN-USE]); the default
# UIDL format (UID and UIDVALIDITY in hex), written out because tests compare it.
pop3_lock_session = yes
pop3_uidl_format = %08Xu%08Xv
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = $dovecot_pop3_port
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $dovecot_pop3s_port
    ssl = yes
  }
}"
  else
    read -r dovecot_imap_port dovecot_imaps_port < <(dovecot_free_ports)
  fi
  cat >"$dovecot_conf" <<EOF
# Private rootless Dovecot for the IMAP test tools: loopback only, no system paths.
protocols = $protocols
listen = 127.0.0.1
base_dir = $work/run
state_dir = $work/run
log_path = $work/dovecot.log
info_log_path = $work/dovecot.log
default_internal_user = $run_user
default_internal_group = $(id -gn "$run_user")
default_login_user = $run_user
ssl = yes
ssl_cert = <$work/tls/cert.pem
ssl_key = <$work/tls/key.pem
# Loopback counts as secure in Dovecot unless the client's address differs from ours:
# the tests connect from 127.0.0.2, so LOGINDISABLED before STARTTLS is really tested.
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:$vmail/%d/%n/Maildir
mail_uid = $uid
mail_gid = $gid
first_valid_uid = 0
first_valid_gid = 0
imap_idle_notify_interval = 1 secs
mailbox_list_index = yes
# A test server: no fsync, so filling 5,000 messages takes seconds, not minutes.
mail_fsync = never
passdb {
  driver = static
  args = password=pw-john
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$vmail/%d/%n
}
namespace inbox {
  separator = /
  inbox = yes
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = create
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
  mailbox Junk {
    special_use = \\Junk
    auto = create
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $dovecot_imap_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $dovecot_imaps_port
    ssl = yes
  }
}
service anvil {
  chroot =
}$pop3_conf
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
EOF
  chmod 644 "$dovecot_conf"
  "${as_user[@]}" dovecot -c "$dovecot_conf" 2>"$work/dovecot.start.err" ||
    { cat "$work/dovecot.start.err" "$work/dovecot.log" 2>/dev/null; fatal "dovecot -c $dovecot_conf did not start"; }
  local _
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $dovecot_imap_port), timeout=1).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$work/dovecot.log" 2>/dev/null
  fatal "Dovecot did not listen on 127.0.0.1:$dovecot_imap_port within 10 s"
}

dovecot_stop() {
  [ -n "${dovecot_conf:-}" ] && [ -e "$dovecot_conf" ] || return 0
  local pid
  pid="$(cat "$work/run/master.pid" 2>/dev/null)"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do dovecot_gone "$pid" && break; sleep 0.1; done
  if ! dovecot_gone "$pid"; then
    kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 1 50); do dovecot_gone "$pid" && break; sleep 0.1; done
  fi
  # A restart in the same $work (imap_metadata_dovecot.sh) must not find the old pid file:
  # Dovecot takes a pid that still answers kill(pid, 0) for a running master.
  rm -f "$work/run/master.pid"
}

# True when `pid` has exited: no such process, or a zombie nobody reaped (a container's
# init may not reap the daemonized master, and kill -0 succeeds on a zombie).
dovecot_gone() {
  [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
