#!/bin/bash
# Fault injection (issue 6): under a steady, bounded load through nginx,
# SIGSTOP/SIGCONT and SIGKILL each program and restart nginx; afterwards
# every message answered 200 is in the queue, and listeners that stayed
# connected, or reconnected and replayed, have every one of them. Then a
# queue on a filesystem that fills up: 503, no corruption, and service
# again by itself once there is space.
. "$(dirname "$0")/../lib/harness.sh"
th_init
th_stack_nginx
th_start_push "$TH_DIR/aphlict.json"
export TH_DIR PUSH_PORT ADMIN_PORT
# The Python half posts and listens; it asks for each fault by writing the
# next step's name to $TH_DIR/fault, and waits for $TH_DIR/fault.done.
(
    step=0
    for _ in $(seq 1200); do
        if [ -f "$TH_DIR/fault" ]; then
            f=$(cat "$TH_DIR/fault"); rm -f "$TH_DIR/fault"
            case $f in
                stop-admin) kill -STOP "$ADMIN_PID"; sleep 1; kill -CONT "$ADMIN_PID" ;;
                stop-push) kill -STOP "$PUSH_PID"; sleep 1; kill -CONT "$PUSH_PID" ;;
                restart-nginx) th_stop "$NGINX_PID"; th_start_nginx "$ADMIN_PORT" >/dev/null; echo "$NGINX_PID" > "$TH_DIR/nginx.pid" ;;
                kill-admin) kill -KILL "$ADMIN_PID"; sleep 0.3; th_start_admin "$TH_DIR/aphlict.json"; echo "$ADMIN_PID" > "$TH_DIR/admin.pid" ;;
                kill-push) kill -KILL "$PUSH_PID"; sleep 0.3; th_start_push "$TH_DIR/aphlict.json"; echo "$PUSH_PID" > "$TH_DIR/push.pid" ;;
                end) touch "$TH_DIR/fault.done"; exit 0 ;;
            esac
            step=$((step + 1))
            touch "$TH_DIR/fault.done"
        fi
        sleep 0.1
    done
) &
faulter=$!
th_py "$TOP_SRCDIR/tests/integration/faults.py"
wait "$faulter"
for f in nginx admin push; do [ -f "$TH_DIR/$f.pid" ] && th_track "$(cat "$TH_DIR/$f.pid")"; done
ADMIN_PID=$(cat "$TH_DIR/admin.pid" 2>/dev/null || echo "$ADMIN_PID")
PUSH_PID=$(cat "$TH_DIR/push.pid" 2>/dev/null || echo "$PUSH_PID")
is "$(th_sql "PRAGMA integrity_check")" ok "the queue passes SQLite's integrity check after the faults"

# --- a full filesystem ----------------------------------------------------------
th_stop "$ADMIN_PID"
FULL=$TH_DIR/full
mkdir -p "$FULL"
if mount -t tmpfs -o size=2m tmpfs "$FULL" 2>"$TH_DIR/mount.err"; then
    chmod 755 "$FULL"
    th_config "$TH_DIR/full.json" '{
      "servers": [{"type": "admin", "port": '"$ADMIN_PORT"', "listen": "127.0.0.1"}],
      "admin.socket_mode": "0666", "queue.path": "'"$FULL"'/queue.db"
    }'
    th_start_admin "$TH_DIR/full.json"
    post() { curl -sS -o "$TH_DIR/body" -w '%{http_code}' -d "{\"subscribers\":[\"PHID-USER-f\"],\"pad\":\"$PAD\",\"key\":\"$1\"}" "http://127.0.0.1:$ADMIN_PORT/"; }
    PAD=$(head -c 3000 /dev/zero | tr '\0' x)
    is "$(post first)" 200 "a queue on a 2 MiB filesystem takes a message"
    dd if=/dev/zero of="$FULL/filler" bs=64k count=40 2>/dev/null   # fill what is left
    codes=""
    for i in $(seq 200); do c=$(post "fill-$i"); codes="$codes $c"; [ "$c" = 503 ] && break; done
    like "$codes" '503$' "once the filesystem is full, a post answers 503"
    like "$(cat "$TH_DIR/body")" 'queue unavailable: .*(full|disk)' "... saying the queue is full"
    accepted=$(printf '%s\n' $codes | grep -c 200)
    rm -f "$FULL/filler"
    is "$(post after)" 200 "with space again, posts answer 200 without a restart"
    is "$(sqlite3 "$FULL/queue.db" "PRAGMA integrity_check")" ok "the full-disk queue passes the integrity check"
    is "$(sqlite3 "$FULL/queue.db" "SELECT count(*) FROM messages")" "$((accepted + 2))" \
        "every post answered 200 is in it, no other ($accepted during the fill)"
    th_stop "$ADMIN_PID"
    umount "$FULL"
else
    echo "not ok $((TH_N + 1)) - a tmpfs could not be mounted for the full-disk case: $(cat "$TH_DIR/mount.err")"
    TH_N=$((TH_N + 1)); TH_FAILED=$((TH_FAILED + 1))
fi
th_done
