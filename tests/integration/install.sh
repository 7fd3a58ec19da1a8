#!/bin/bash
# `make install DESTDIR=stage`, then everything from the stage: each file
# in its place; each man page renders without a warning and the
# configuration page names every key of lib/config.c; each systemd unit
# passes `systemd-analyze verify`; the installed aphlict-admin, started the
# way aphlict-admin.socket starts it (a listening UNIX socket on standard
# input, as an unprivileged user), serves a POST and /status/ through
# nginx, beside the installed aphlict-push, aphlict-notify and
# aphlict-subscribe; the SQL of the operator's guide runs against the queue
# they made; `make uninstall` leaves no file behind.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
th_init

STAGE=$TH_DIR/stage
# A make of our own, not a job of the `make check` that may be running us.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$TOP_BUILDDIR" "$@"; }

# The directories configure chose, expanded (dist/install.am).
while IFS='=' read -r name value; do
    case $name in
        prefix|bindir|datadir|docdir|mandir|schemadir|aphlictconfdir|logrotateexampledir|systemdunitdir|sysusersdir|tmpfilesdir)
            printf -v "DIR_$name" '%s' "$value" ;;
    esac
done < <(mk print-install-dirs 2>/dev/null)
like "${DIR_bindir:-}" '^/' "make print-install-dirs names bindir ($DIR_bindir)"

mk install DESTDIR="$STAGE" >"$TH_DIR/install.log" 2>&1
is "$?" 0 "make install DESTDIR=stage succeeds"

# --- each file in its place ------------------------------------------------
BIN=$STAGE$DIR_bindir
for prog in aphlict-admin aphlict-push aphlict-subscribe aphlict-notify; do
    ok test -x "$BIN/$prog" "installed: bin/$prog"
    like "$("$BIN/$prog" --help 2>&1)" "^usage: $prog" "installed: bin/$prog --help prints its usage"
done
for f in "$TOP_SRCDIR"/schema/*.sql; do
    ok cmp -s "$f" "$STAGE$DIR_schemadir/$(basename "$f")" "installed: schema/$(basename "$f")"
done
for f in nginx-admin.conf apache-admin.conf; do
    ok cmp -s "$TOP_SRCDIR/conf/$f" "$STAGE$DIR_aphlictconfdir/$f" "installed: $f in $DIR_aphlictconfdir"
done
ok cmp -s "$TOP_SRCDIR/conf/aphlict.example.json" "$STAGE$DIR_docdir/aphlict.example.json" \
    "installed: aphlict.example.json in $DIR_docdir"
for f in README.md operators-guide.md; do
    ok test -s "$STAGE$DIR_docdir/$f" "installed: $f in $DIR_docdir"
done
ok cmp -s "$TOP_SRCDIR/dist/logrotate/aphlict" "$STAGE$DIR_logrotateexampledir/aphlict" \
    "installed: the logrotate example in $DIR_logrotateexampledir"
MANS="man1/aphlict-admin.1 man1/aphlict-push.1 man1/aphlict-subscribe.1 man1/aphlict-notify.1 man5/aphlict.json.5"
for m in $MANS; do
    ok test -s "$STAGE$DIR_mandir/$m" "installed: $DIR_mandir/$m"
done
UNITS="aphlict-push.service aphlict-admin.socket aphlict-admin.service aphlict.target"
for u in $UNITS; do
    ok test -s "$STAGE$DIR_systemdunitdir/$u" "installed: $DIR_systemdunitdir/$u"
done
ok test -s "$STAGE$DIR_sysusersdir/aphlict.conf" "installed: sysusers.d/aphlict.conf"
ok test -s "$STAGE$DIR_tmpfilesdir/aphlict.conf" "installed: tmpfiles.d/aphlict.conf"
is "$(grep -l '@[a-z]*@' "$STAGE$DIR_systemdunitdir"/* 2>/dev/null)" "" "no @variable@ is left in an installed unit"
is "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$STAGE$DIR_systemdunitdir/aphlict-push.service")" "$DIR_bindir/aphlict-push" \
    "aphlict-push.service runs $DIR_bindir/aphlict-push"

# --- man pages -----------------------------------------------------------
for m in $MANS; do
    page=$STAGE$DIR_mandir/$m
    warnings=$( { MANWIDTH=80 man --warnings -l -Tutf8 "$page" >"$TH_DIR/man.out"; } 2>&1)
    is "$warnings" "" "man -l $m renders without a warning"
    like "$(col -bx <"$TH_DIR/man.out" | head -20)" '^NAME$' "... and shows its NAME section"
    is "$(groff -man -ww -z "$page" 2>&1)" "" "groff -man -ww finds nothing wrong in $m"
done
# Every key of the table in lib/config.c, and the reference keys.
keys=$(sed -n 's/^ *{ "\([a-z_.]*\)", KEY_.*/\1/p' "$TOP_SRCDIR/lib/config.c")
like "$(echo "$keys" | wc -l)" '^[1-9][0-9]+$' "lib/config.c's table lists its keys ($(echo "$keys" | wc -l))"
missing=""
for k in $keys servers logs cluster pidfile; do
    grep -qE "^\.BR? ${k//./\\.}( |\$)" "$STAGE$DIR_mandir/man5/aphlict.json.5" || missing="$missing $k"
done
is "$missing" "" "aphlict.json(5) has an entry for every key"

# --- systemd units ----------------------------------------------------------
# Copies whose programs are the staged ones; man: links resolve in the stage.
mkdir -p "$TH_DIR/units"
for u in $UNITS; do
    sed "s|$DIR_bindir/|$BIN/|g" "$STAGE$DIR_systemdunitdir/$u" >"$TH_DIR/units/$u"
done
verify=$(cd "$TH_DIR/units" && MANPATH=$STAGE$DIR_mandir systemd-analyze verify $UNITS 2>&1)
is "$?:$verify" "0:" "systemd-analyze verify passes for $UNITS"
unit_key() { sed -n "s/^$2=//p" "$TH_DIR/units/$1" | head -1; }
is "$(unit_key aphlict-push.service User)" aphlict "aphlict-push.service runs as the user aphlict"
is "$(unit_key aphlict-push.service Restart)" on-failure "... restarts on failure"
is "$(unit_key aphlict-push.service ExecReload)" '/bin/kill -HUP $MAINPID' "... and reloads with SIGHUP"
is "$(unit_key aphlict-admin.service StandardInput)" socket "aphlict-admin.service takes its socket on standard input"
is "$(unit_key aphlict-admin.socket Accept)" no "aphlict-admin.socket: Accept=no (one process, the listening socket)"
is "$(unit_key aphlict-admin.socket SocketGroup)" www-data "... a socket the group www-data may connect to"

# sysusers.d makes the user the units name; tmpfiles.d then gives it the
# reference file's pid directory and log (in a root of the test's own).
ROOT=$TH_DIR/root
mkdir -p "$ROOT/etc"
: >"$ROOT/etc/passwd"
echo 'adm:x:4:' >"$ROOT/etc/group"
systemd-sysusers --root="$ROOT" "$STAGE$DIR_sysusersdir/aphlict.conf" >"$TH_DIR/sysusers.log" 2>&1
is "$?:$(cut -d: -f1,6 "$ROOT/etc/passwd")" "0:aphlict:/var/lib/aphlict" "systemd-sysusers makes the user aphlict from sysusers.d/aphlict.conf"
systemd-tmpfiles --root="$ROOT" --create "$STAGE$DIR_tmpfilesdir/aphlict.conf" >"$TH_DIR/tmpfiles.log" 2>&1
status=$?
uid=$(awk -F: '$1 == "aphlict" { print $3 }' "$ROOT/etc/passwd")
is "$status:$(stat -c %u "$ROOT/var/tmp/aphlict/pid" 2>&1):$(stat -c %u:%a "$ROOT/var/log/aphlict.log" 2>&1)" "0:$uid:$uid:640" \
    "systemd-tmpfiles gives aphlict the reference pid directory and log file"

# --- the logrotate example --------------------------------------------------
if command -v logrotate >/dev/null; then
    sed 's/ aphlict adm$/ root root/' "$STAGE$DIR_logrotateexampledir/aphlict" >"$TH_DIR/logrotate.conf"
    logrotate -d -s "$TH_DIR/logrotate.state" "$TH_DIR/logrotate.conf" >"$TH_DIR/logrotate.out" 2>&1
    is "$(grep -c '^error' "$TH_DIR/logrotate.out")" 0 "logrotate -d reads the example without an error"
fi

# --- the installed programs, started as the units start them ---------------
NPORT=$(th_port)
CPORT=$(th_port)
DEAD=$(th_port)
# A node that lists itself and a peer that is down ("node 2"), so that the
# guide's cluster queries have rows to read.
th_config "$TH_DIR/aphlict.json" '{
  "servers": [
    {"type": "client", "port": '"$CPORT"', "listen": "127.0.0.1"},
    {"type": "admin", "port": '"$NPORT"', "listen": "127.0.0.1"}
  ],
  "logs": [],
  "cluster": [
    {"host": "127.0.0.1", "port": '"$NPORT"', "protocol": "http"},
    {"host": "127.0.0.1", "port": '"$DEAD"', "protocol": "http"}
  ]
}'
# The services' user: an unprivileged one (aphlict in the units; nobody here).
RUN_USER=nobody
RUN_GROUP=$(id -gn nobody)
chown "$RUN_USER:$RUN_GROUP" "$TH_DIR/state"
# setpriv execs the program, so that $! of "${AS_USER[@]} ... &" is the program
# itself (a shell function run in the background would be a subshell whose
# death leaves the program running).
AS_USER=(setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups --)

# What aphlict-admin.socket and aphlict-admin.service say (SocketMode,
# Backlog, ExecStart with the stage's paths); the socket itself is made in
# the test's directory instead of ListenStream's /run/aphlict.
SOCK=$TH_DIR/run/admin.sock
mkdir -p "$TH_DIR/run"
MODE=$(unit_key aphlict-admin.socket SocketMode)
BACKLOG=$(unit_key aphlict-admin.socket Backlog)
read -r -a EXEC <<<"$(unit_key aphlict-admin.service ExecStart | sed "s|/etc/aphlict/aphlict.json|$TH_DIR/aphlict.json|")"
is "${EXEC[0]}" "$BIN/aphlict-admin" "aphlict-admin.service's ExecStart is the installed aphlict-admin"
# As systemd does for Accept=no + StandardInput=socket: bind and listen,
# then exec the service with the listening socket as file descriptor 0.
/usr/bin/python3 - "$SOCK" "$MODE" "${BACKLOG:-128}" setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups -- \
    "${EXEC[@]}" --state-dir "$TH_DIR/state" <<'PY' >>"$TH_DIR/admin.log" 2>&1 &
import os, socket, sys
path, mode, backlog, argv = sys.argv[1], int(sys.argv[2], 8), int(sys.argv[3]), sys.argv[4:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, mode)
s.listen(backlog)
os.dup2(s.fileno(), 0)
os.execvp(argv[0], argv)
PY
ADMIN_PID=$!
th_track "$ADMIN_PID"
stack_wait_socket "$SOCK" 10
th_start_nginx "$NPORT" "$SOCK"
URL=http://127.0.0.1:$NPORT

"${AS_USER[@]}" "$BIN/aphlict-push" --config "$TH_DIR/aphlict.json" --state-dir "$TH_DIR/state" >>"$TH_DIR/push.log" 2>&1 &
PUSH_PID=$!
th_track "$PUSH_PID"
stack_wait_port 127.0.0.1 "$CPORT" 10
for _ in $(seq 100); do
    th_http GET "$URL/status/"
    [ "$HTTP_CODE" = 200 ] && break
    sleep 0.1
done
is "$HTTP_CODE" 200 "GET /status/ through nginx answers 200 with the installed push daemon running"
is "$(th_json_get "$HTTP_BODY" version)" 7 "... with the protocol version"
is "$(stat -c %a "$SOCK")" "${MODE#0}" "the socket has the unit's SocketMode ($MODE)"
is "$(readlink "/proc/$ADMIN_PID/exe")" "$BIN/aphlict-admin" "the process the socket was handed to is the installed aphlict-admin"
is "$(stat -c %U "/proc/$ADMIN_PID")" "$RUN_USER" "... running as $RUN_USER"
like "$(cat "$TH_DIR/admin.log")" 'listening on the socket passed as standard input' "... serving the socket on its standard input"

"$BIN/aphlict-subscribe" --count 1 --timeout 20 "ws://127.0.0.1:$CPORT/" PHID-USER-installed \
    >"$TH_DIR/frames" 2>"$TH_DIR/subscribe.err" &
SUB_PID=$!
th_track "$SUB_PID"
for _ in $(seq 100); do grep -q '# connected' "$TH_DIR/subscribe.err" && break; sleep 0.1; done
receipt=$("$BIN/aphlict-notify" "$URL/" PHID-USER-installed 2>&1)
is "$?" 0 "the installed aphlict-notify publishes through nginx"
is "$receipt" "{\"fingerprint\":\"$(th_sql 'SELECT fingerprint FROM node')\"}" "... and prints this node's receipt"
th_wait_exit "$SUB_PID" 20
is "$TH_STATUS" 0 "the installed aphlict-subscribe got the frame"
like "$(cat "$TH_DIR/frames")" '"PHID-USER-installed"' "... the message published"
th_http POST "$URL/?instance=acme" '{"type":"notification","subscribers":["PHID-USER-installed"]}'
is "$HTTP_CODE" 200 "POST /?instance=acme through nginx answers 200"
th_http GET "$URL/status/"
is "$(th_json_get "$HTTP_BODY" messages.in)" "$(th_sql "SELECT messages_in FROM instance_counters WHERE instance = 'default'")" \
    "/status/ shows the queue's counters"
like "$(th_json_get "$HTTP_BODY" history.size)" '^[1-9]' "... and the message held for replay"
is "$(stat -c %U "$TH_DIR/state/queue.db")" "$RUN_USER" "the queue belongs to the services' user"

# --- the operator's guide: every sql block runs against this queue --------
for _ in $(seq 100); do
    [ "$(th_count "SELECT count(*) FROM peers WHERE fingerprint IS NOT NULL")" -ge 1 ] 2>/dev/null && break
    sleep 0.1
done
is "$(th_count "SELECT is_self FROM peers WHERE url = 'http://127.0.0.1:$NPORT/'")" 1 "the relay found itself in the cluster list"
like "$(th_count "SELECT messages_behind FROM peer_status WHERE url = 'http://127.0.0.1:$DEAD/'")" '^[1-9]' \
    "the peer that is down is behind"
GUIDE=$STAGE$DIR_docdir/operators-guide.md
awk -v dir="$TH_DIR/sql" 'BEGIN { system("mkdir -p " dir) }
    /^```sql/ { n++; f = sprintf("%s/%02d.sql", dir, n); inside = 1; next }
    /^```/ { inside = 0; next }
    inside { print > f }' "$GUIDE"
nsql=$(ls "$TH_DIR/sql" | wc -l)
like "$nsql" '^[1-9]' "the operator's guide has sql blocks ($nsql)"
for f in "$TH_DIR"/sql/*.sql; do
    out=$(sqlite3 -readonly -bail -batch "$TH_DIR/state/queue.db" <"$f" 2>&1)
    status=$?
    is "$status:$(printf '%s' "$out" | grep -ciE '^(error|parse error|runtime error)')" "0:0" \
       "guide query $(basename "$f" .sql) runs: $(grep -v '^--' "$f" | head -1 | cut -c1-60)"
done

# --- uninstall -----------------------------------------------------------------
th_stop "$PUSH_PID"
th_stop "$ADMIN_PID"
mk uninstall DESTDIR="$STAGE" >"$TH_DIR/uninstall.log" 2>&1
is "$?" 0 "make uninstall DESTDIR=stage succeeds"
is "$(find "$STAGE" \( -type f -o -type l \) | head -5)" "" "... and leaves no file behind"

th_done
