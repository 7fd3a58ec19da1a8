# stack.sh - shell functions that write the configuration of, and start,
# the parts of a node: nginx or Apache in front of aphlict-admin, and the
# push daemon. Sourced by tools/quickstart and by the tests, so that both
# run the stack the same way, from the snippets shipped in conf/.
#
# Every function takes the directory to keep state in ($1) and writes only
# below it; every process is started in the foreground of a background job
# and its PID is printed, so the caller can stop exactly what it started.

STACK_TOP=${STACK_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

# stack_nginx_conf DIR LISTEN PORT ADMIN_SOCKET [SSL_CERT SSL_KEY] [EXTRA]:
# writes DIR/nginx.conf serving the admin API on LISTEN:PORT.
stack_nginx_conf() {
    local dir=$1 listen=$2 port=$3 sock=$4 cert=${5:-} key=${6:-} extra=${7:-}
    mkdir -p "$dir/logs" "$dir/tmp"
    local ssl=""
    if [ -n "$cert" ]; then
        ssl="ssl_certificate $cert; ssl_certificate_key $key; ssl_protocols TLSv1.2 TLSv1.3;"
        listen="$listen:$port ssl"
    else
        listen="$listen:$port"
    fi
    local user=""
    [ "$(id -u)" = 0 ] && user="user root root;"
    cat > "$dir/nginx.conf" <<CONF
# Written by tools/stack.sh: nginx in front of aphlict-admin.
$user
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    fastcgi_temp_path $dir/tmp/fastcgi;
    proxy_temp_path $dir/tmp/proxy;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    types { text/html html; application/javascript js; }
    server {
        listen $listen;
        $ssl
        $extra
$(sed -e "s|@ADMIN_SOCKET@|$sock|" -e "s|include fastcgi_params;|include /etc/nginx/fastcgi_params;|" \
      -e 's/^/        /' "$STACK_TOP/conf/nginx-admin.conf")
    }
}
CONF
}

# stack_apache_conf DIR LISTEN PORT ADMIN_SOCKET: writes DIR/apache.conf.
stack_apache_conf() {
    local dir=$1 listen=$2 port=$3 sock=$4
    mkdir -p "$dir/logs" "$dir/run"
    local mods=/usr/lib/apache2/modules
    local user=""
    # Apache refuses to run its children as root; www-data then needs the
    # FastCGI socket to be reachable (admin.socket_mode).
    [ "$(id -u)" = 0 ] && user="User www-data
Group www-data"
    cat > "$dir/apache.conf" <<CONF
# Written by tools/stack.sh: Apache (mod_proxy_fcgi) in front of aphlict-admin.
ServerRoot "$dir"
ServerName localhost
Listen $listen:$port
PidFile $dir/run/apache.pid
DefaultRuntimeDir $dir/run
Mutex file:$dir/run default
ErrorLog $dir/logs/error.log
LogLevel warn
$user
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule proxy_module $mods/mod_proxy.so
LoadModule proxy_fcgi_module $mods/mod_proxy_fcgi.so
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
<VirtualHost $listen:$port>
$(sed -e "s|@ADMIN_SOCKET@|$sock|" "$STACK_TOP/conf/apache-admin.conf")
</VirtualHost>
CONF
}

# stack_wait_port HOST PORT [SECONDS]: waits until something accepts there.
stack_wait_port() {
    local host=$1 port=$2 limit=${3:-10} i
    for ((i = 0; i < limit * 20; i++)); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "stack: nothing listens on $host:$port after ${limit}s" >&2
    return 1
}

# stack_wait_socket PATH [SECONDS]: waits until the UNIX socket exists.
stack_wait_socket() {
    local path=$1 limit=${2:-10} i
    for ((i = 0; i < limit * 20; i++)); do
        [ -S "$path" ] && return 0
        sleep 0.05
    done
    echo "stack: no socket at $path after ${limit}s" >&2
    return 1
}
