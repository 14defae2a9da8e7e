# tests/helpers/cgi.bash — a private nginx + fcgiwrap running a CGI program
# (vr-cache cgi) for bats tests. Source it and call from setup_file/teardown_file:
#
#   load helpers/cgi             # or: source "$BATS_TEST_DIRNAME/helpers/cgi.bash"
#   setup_file() {
#       export VR_STORE=$BATS_FILE_TMPDIR/store VR_CONFIG=$BATS_FILE_TMPDIR/vr.conf
#       CGI_STATIC_ROOT=$FIXTURES CGI_MEDIA_ROOT=$FIXTURES cgi_start "$VR_CACHE" cgi
#   }
#   teardown_file() { cgi_stop; }
#
# cgi_start PROGRAM [ARG...]
#     Writes the CGI script $CGI_DIR/cgi (two lines: #!/bin/sh and
#     exec PROGRAM ARG...; with PROGRAM alone and named vr-cache*, ARG is
#     `cgi`), starts fcgiwrap on unix:$CGI_DIR/fcgi.sock (restricted to that
#     script) and /usr/sbin/nginx on three random free ports of 127.0.0.1,
#     all as the current user (`user root;` when root), config, pid, logs,
#     sockets, caches and temp paths under $BATS_FILE_TMPDIR/cgi (a mktemp -d
#     directory when that is unset).
#
#   Read by cgi_start (set them before; each is optional):
#     VR_STORE VR_CONFIG  passed to the script as fastcgi_param when set (the
#                         script's environment is built, not inherited: an
#                         unset one is absent)
#     CGI_ENV             a bash array of NAME=VALUE more fastcgi_params,
#                         e.g. CGI_ENV=(VR_LOG=debug ASAN_OPTIONS=detect_leaks=0)
#                         set on a line of its own (as a prefix,
#                         CGI_ENV=(...) cgi_start, it is no array)
#     CGI_PREFIX          the location(s) served by the script, space
#                         separated (default /videos/)
#     CGI_STATIC_ROOT     served as plain files at /static/ (default an empty
#                         $CGI_DIR/static)
#     CGI_MEDIA_ROOT      served as plain files at /media/, for a vr config
#                         whose origin is $CGI_MEDIA_URL (default an empty
#                         $CGI_DIR/media); origins may as well be directories
#     CGI_WORKERS         fcgiwrap processes, so concurrent requests (default 4)
#     CGI_RATE            limit_rate of the throttled server (default 500k,
#                         nginx units: 500k = 512000 bytes/s per connection)
#     CGI_PROXY_HONOR_CACHE_CONTROL=1  the caching proxy obeys the script's
#                         Cache-Control/Expires (default: ignores them, so
#                         every 200/206 is fresh for 1 s; nginx counts whole
#                         seconds, so 1 to 2 s: sleep 2.1 before expecting
#                         a revalidation)
#
#   Exported after:
#     CGI_URL        http://127.0.0.1:PORT — the main server:
#                      PREFIX...   the script (fastcgi_buffering off: what it
#                                  writes streams on; PATH_INFO = the decoded
#                                  request path, e.g. /videos/a.mp4;
#                                  SCRIPT_NAME empty; QUERY_STRING,
#                                  REQUEST_METHOD, REQUEST_URI, HTTP_RANGE,
#                                  HTTP_IF_*, HTTP_ORIGIN (every request
#                                  header as HTTP_*) as RFC 3875 says). nginx
#                                  passes the script's status and headers
#                                  on and does no Range of its own here.
#                      /static/    CGI_STATIC_ROOT, plain nginx (ETag, Range)
#                      /media/     CGI_MEDIA_ROOT, plain nginx
#                      /__cgi_generation  the config generation (cgi_reload)
#     CGI_PROXY_URL  http://127.0.0.1:PORT — nginx proxy_cache in front of
#                    CGI_URL (every path): proxy_cache_revalidate on,
#                    proxy_cache_valid 200 206 1s; X-Cache-Status tells
#                    HIT/MISS/EXPIRED/REVALIDATED. It asks CGI_URL without
#                    Range/If-* on a miss, and with If-None-Match /
#                    If-Modified-Since (from the cached ETag/Last-Modified)
#                    once the entry is older than 1 s. A client's Range is
#                    cut from the cached whole (206) only when the script
#                    sent Content-Length; else the answer is 200.
#     CGI_SLOW_URL   http://127.0.0.1:PORT — as CGI_URL (same paths, same
#                    script) with limit_rate CGI_RATE on every response.
#                    nginx sends the first second's worth at once, then
#                    paces; the script's output is buffered here
#                    (fastcgi_buffering on: nginx 1.22 does not rate-limit
#                    an unbuffered upstream). For a smooth throttle in the
#                    browser, play.mjs --throttle is better.
#     CGI_MEDIA_URL  $CGI_URL/media/
#     CGI_DIR        the private directory; in it:
#                      cgi            the CGI script
#                      access.log     one JSON object a request, every server:
#                                     {"srv":"main|proxy|slow","method","uri",
#                                     "status","bytes","range","if_none_match",
#                                     "if_modified_since","if_range","origin",
#                                     "cache","rt"} (jq -c reads it; "status"
#                                     and "bytes" are numbers)
#                      fcgiwrap.log   the script's stderr (and fcgiwrap's)
#                      error.log      nginx's
#     CGI_PORT CGI_PROXY_PORT CGI_SLOW_PORT CGI_STATIC_ROOT CGI_MEDIA_ROOT
#
# cgi_reload
#     Rewrites the config from the variables above as they are now (another
#     VR_CONFIG, CGI_ENV...), reloads nginx and returns once the new workers
#     answer. Same ports, same fcgiwrap.
# cgi_log [SRV]
#     Prints access.log (only the lines of server SRV: main, proxy or slow).
# cgi_stop
#     Stops nginx and fcgiwrap (and any CGI still running) and waits until
#     they are gone. Safe to call twice.
#
# Notes:
#   - fcgiwrap passes the script's output on in 8 KiB blocks (libfcgi's
#     stream buffer): a body streams as it is written, but less than 8 KiB
#     (headers included) waits for more output or the script's exit.
#   - The script's environment: PATH, HOME, LANG=C.UTF-8, TMPDIR and the
#     sanitizer options (ASAN/UBSAN/LSAN/MSAN_OPTIONS) of the caller, then
#     the fastcgi_params (the RFC 3875 ones, VR_STORE, VR_CONFIG, CGI_ENV).
#   - Values go into nginx.conf inside double quotes: a value with " \ $ ; or
#     a newline is refused.
#
# Background processes are started with fd 3 closed so bats does not wait on
# them, and with stdio away from the terminal.

CGI_NGINX_BIN=${CGI_NGINX_BIN:-/usr/sbin/nginx}
CGI_FCGIWRAP_BIN=${CGI_FCGIWRAP_BIN:-/usr/sbin/fcgiwrap}

# Succeeds when any IPv4/IPv6 socket uses local port $1 (any state).
_cgi_port_in_use() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" 'FNR > 1 && toupper(substr($2, length($2) - 4)) == p { found = 1 } END { exit !found }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Prints a random port in 20000..60000 that no socket uses and that is not
# among the arguments.
_cgi_free_port() {
	local port tries=0 p taken
	while [ "$tries" -lt 200 ]; do
		tries=$((tries + 1))
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		taken=0
		for p in "$@"; do
			[ "$p" = "$port" ] && taken=1
		done
		[ "$taken" -eq 0 ] || continue
		if ! _cgi_port_in_use "$port"; then
			echo "$port"
			return 0
		fi
	done
	echo "cgi.bash: no free port found in 20000-60000" >&2
	return 1
}

# Fails (with a message) when $2 cannot sit inside double quotes in nginx.conf.
_cgi_conf_safe() {
	case $2 in
	*'"'* | *\\* | *'$'* | *';'* | *$'\n'*)
		echo "cgi_start: $1 has characters nginx.conf cannot carry: $2" >&2
		return 1
		;;
	esac
}

# The fastcgi_param lines of the script's request, for $1 = the path
# variable (PATH_INFO). Reads VR_STORE, VR_CONFIG, CGI_ENV.
_cgi_params() {
	local path_var=$1 buffering=$2 kv name value
	cat <<EOF
			fastcgi_pass unix:$CGI_DIR/fcgi.sock;
			fastcgi_buffering $buffering;
			fastcgi_request_buffering on;
			fastcgi_read_timeout 120s;
			fastcgi_param SCRIPT_FILENAME "$CGI_DIR/cgi";
			fastcgi_param SCRIPT_NAME "";
			fastcgi_param PATH_INFO $path_var;
			fastcgi_param QUERY_STRING \$query_string;
			fastcgi_param REQUEST_METHOD \$request_method;
			fastcgi_param CONTENT_TYPE \$content_type;
			fastcgi_param CONTENT_LENGTH \$content_length;
			fastcgi_param REQUEST_URI \$request_uri;
			fastcgi_param DOCUMENT_URI \$document_uri;
			fastcgi_param REQUEST_SCHEME \$scheme;
			fastcgi_param SERVER_PROTOCOL \$server_protocol;
			fastcgi_param GATEWAY_INTERFACE CGI/1.1;
			fastcgi_param SERVER_SOFTWARE nginx/\$nginx_version;
			fastcgi_param REMOTE_ADDR \$remote_addr;
			fastcgi_param REMOTE_PORT \$remote_port;
			fastcgi_param SERVER_ADDR \$server_addr;
			fastcgi_param SERVER_PORT \$server_port;
			fastcgi_param SERVER_NAME \$host;
			fastcgi_param REDIRECT_STATUS 200;
EOF
	for name in VR_STORE VR_CONFIG; do
		if [ -n "${!name+set}" ]; then
			value=${!name}
			_cgi_conf_safe "$name" "$value" || return 1
			printf '\t\t\tfastcgi_param %s "%s";\n' "$name" "$value"
		fi
	done
	# ${CGI_ENV[@]} is a scalar's value too, as one item.
	for kv in ${CGI_ENV[@]+"${CGI_ENV[@]}"}; do
		name=${kv%%=*}
		value=${kv#*=}
		if [ "$name" = "$kv" ] || ! [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
			echo "cgi_start: CGI_ENV item is not NAME=VALUE: $kv" >&2
			return 1
		fi
		_cgi_conf_safe "$name" "$value" || return 1
		printf '\t\t\tfastcgi_param %s "%s";\n' "$name" "$value"
	done
}

# The locations every server but the proxy has: the script at each prefix,
# /static/, /media/. $1: fastcgi_buffering (on|off).
_cgi_locations() {
	local prefix
	for prefix in ${CGI_PREFIX:-/videos/}; do
		printf '\t\tlocation %s {\n' "$prefix"
		# shellcheck disable=SC2016 # nginx's $uri
		_cgi_params '$uri' "$1" || return 1
		printf '\t\t}\n'
	done
	cat <<EOF
		location /static/ {
			alias "$CGI_STATIC_ROOT/";
		}
		location /media/ {
			alias "$CGI_MEDIA_ROOT/";
		}
		location = /__cgi_generation {
			default_type text/plain;
			return 200 "$CGI_GENERATION\n";
		}
EOF
}

# Writes $CGI_DIR/nginx.conf for ports $1 (main) $2 (proxy) $3 (slow).
_cgi_write_conf() {
	local port=$1 proxy_port=$2 slow_port=$3 user_line='' locations slow_locations ignore=''
	if [ "$(id -u)" -eq 0 ]; then
		user_line='user root;'
	fi
	if [ "${CGI_PROXY_HONOR_CACHE_CONTROL:-0}" != 1 ]; then
		ignore='proxy_ignore_headers Cache-Control Expires;'
	fi
	# nginx 1.22 applies no limit_rate to an unbuffered upstream response,
	# so the throttled server buffers the script's output (in memory, then
	# in fastcgi_temp) and sends it on at CGI_RATE.
	locations=$(_cgi_locations off) || return 1
	slow_locations=$(_cgi_locations on) || return 1
	cat >"$CGI_DIR/nginx.conf.new" <<EOF
# Generated by tests/helpers/cgi.bash (generation $CGI_GENERATION); a private
# nginx in front of fcgiwrap for the vr tests.
$user_line
daemon on;
master_process on;
worker_processes 1;
pid "$CGI_DIR/nginx.pid";
error_log "$CGI_DIR/error.log";

events {
	worker_connections 512;
}

http {
	client_body_temp_path "$CGI_DIR/client_body_temp";
	proxy_temp_path "$CGI_DIR/proxy_temp";
	fastcgi_temp_path "$CGI_DIR/fastcgi_temp";
	uwsgi_temp_path "$CGI_DIR/uwsgi_temp";
	scgi_temp_path "$CGI_DIR/scgi_temp";

	log_format cgi_json escape=json '{"srv":"\$cgi_srv","method":"\$request_method",'
		'"uri":"\$request_uri","status":\$status,"bytes":\$body_bytes_sent,'
		'"range":"\$http_range","if_none_match":"\$http_if_none_match",'
		'"if_modified_since":"\$http_if_modified_since","if_range":"\$http_if_range",'
		'"origin":"\$http_origin","cache":"\$upstream_cache_status","rt":\$request_time}';
	access_log "$CGI_DIR/access.log" cgi_json;

	types {
		video/mp4 mp4 m4v m4s;
		audio/mp4 m4a;
		video/webm webm;
		video/mp2t ts;
		video/x-matroska mkv;
		application/vnd.apple.mpegurl m3u8;
		application/dash+xml mpd;
		application/json json;
		text/html html;
		text/plain txt;
		application/octet-stream bin;
	}
	default_type application/octet-stream;
	sendfile on;
	chunked_transfer_encoding on;

	proxy_cache_path "$CGI_DIR/proxy_cache" levels=1:2 keys_zone=vr_cgi_cache:1m
		max_size=1g inactive=10m use_temp_path=off;

	server {
		listen 127.0.0.1:$port;
		server_name localhost;
		set \$cgi_srv main;
$locations
	}

	server {
		listen 127.0.0.1:$slow_port;
		server_name localhost;
		set \$cgi_srv slow;
		limit_rate ${CGI_RATE:-500k};
		limit_rate_after 0;
$slow_locations
	}

	server {
		listen 127.0.0.1:$proxy_port;
		server_name localhost;
		set \$cgi_srv proxy;
		location / {
			proxy_pass http://127.0.0.1:$port;
			proxy_http_version 1.1;
			proxy_set_header Host \$http_host;
			proxy_cache vr_cgi_cache;
			proxy_cache_revalidate on;
			proxy_cache_valid 200 206 1s;
			$ignore
			add_header X-Cache-Status \$upstream_cache_status always;
		}
	}
}
EOF
	mv -f "$CGI_DIR/nginx.conf.new" "$CGI_DIR/nginx.conf"
}

# Writes the two-line CGI script $CGI_DIR/cgi: exec "$@".
_cgi_write_script() {
	local q='' a
	for a in "$@"; do
		q+=" $(printf '%q' "$a")"
	done
	printf '#!/bin/sh\nexec%s\n' "$q" >"$CGI_DIR/cgi.new" &&
		chmod 755 "$CGI_DIR/cgi.new" &&
		mv -f "$CGI_DIR/cgi.new" "$CGI_DIR/cgi"
}

# Starts fcgiwrap on $CGI_DIR/fcgi.sock; sets CGI_FCGIWRAP_PID.
_cgi_start_fcgiwrap() {
	local pid name envs=()
	rm -f "$CGI_DIR/fcgi.sock"
	envs=("PATH=${PATH:-/usr/local/bin:/usr/bin:/bin}" "HOME=${HOME:-/}" LANG=C.UTF-8
		"TMPDIR=${TMPDIR:-/tmp}")
	for name in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS MSAN_OPTIONS; do
		if [ -n "${!name+set}" ]; then
			envs+=("$name=${!name}")
		fi
	done
	# setsid: its own process group, which its children and the scripts they
	# run share, so cgi_stop ends them all.
	setsid env -i "${envs[@]}" "$CGI_FCGIWRAP_BIN" -c "${CGI_WORKERS:-4}" \
		-s "unix:$CGI_DIR/fcgi.sock" -p "$CGI_DIR/cgi" \
		</dev/null >>"$CGI_DIR/fcgiwrap.log" 2>&1 3>&- &
	pid=$!
	for _ in $(seq 1 100); do
		if [ -S "$CGI_DIR/fcgi.sock" ]; then
			export CGI_FCGIWRAP_PID=$pid
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "cgi_start: fcgiwrap made no socket at $CGI_DIR/fcgi.sock" >&2
	cat "$CGI_DIR/fcgiwrap.log" >&2 2>/dev/null
	kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 1
}

# Prints the answer of $1/__cgi_generation, or nothing.
_cgi_generation_of() {
	curl -s --max-time 2 "$1/__cgi_generation" 3>&- 2>/dev/null || true
}

cgi_start() {
	local dir port proxy_port slow_port attempt pid root var
	if [ $# -lt 1 ] || [ -z "$1" ]; then
		echo "cgi_start: usage: cgi_start PROGRAM [ARG...]" >&2
		return 2
	fi
	if [ ! -x "$1" ]; then
		echo "cgi_start: $1 is not an executable file" >&2
		return 2
	fi
	local prog
	prog=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1") || return 1
	shift
	local args=("$@")
	if [ ${#args[@]} -eq 0 ] && [[ $(basename "$prog") == vr-cache* ]]; then
		args=(cgi)
	fi
	local b
	for b in "$CGI_NGINX_BIN" "$CGI_FCGIWRAP_BIN"; do
		if [ ! -x "$b" ]; then
			echo "cgi_start: $b not found; run scripts/setup" >&2
			return 1
		fi
	done

	# A second start replaces the first.
	if [ -n "${CGI_DIR:-}" ]; then
		cgi_stop
	fi

	if [ -n "${BATS_FILE_TMPDIR:-}" ]; then
		dir=$BATS_FILE_TMPDIR/cgi
		mkdir -p "$dir" || return 1
		CGI_DIR_OWNED=0
	else
		dir=$(mktemp -d "${TMPDIR:-/tmp}/vr-cgi.XXXXXX") || return 1
		CGI_DIR_OWNED=1
	fi
	dir=$(cd "$dir" && pwd -P) || return 1
	_cgi_conf_safe CGI_DIR "$dir" || return 2
	export CGI_DIR=$dir CGI_DIR_OWNED
	rm -f "$dir/nginx.pid"

	CGI_DEFAULT_ROOTS=''
	for var in CGI_STATIC_ROOT CGI_MEDIA_ROOT; do
		root=${!var:-}
		if [ -z "$root" ]; then
			# $dir/static, $dir/media; cgi_stop unsets the variable again.
			root=${var#CGI_}
			root=${root%_ROOT}
			root=$dir/${root,,}
			mkdir -p "$root" || return 1
			CGI_DEFAULT_ROOTS+=" $var"
		fi
		if [ ! -d "$root" ]; then
			echo "cgi_start: $var is not a directory: $root" >&2
			cgi_stop
			return 2
		fi
		root=$(cd "$root" && pwd -P) || return 1
		_cgi_conf_safe "$var" "$root" || {
			cgi_stop
			return 2
		}
		export "$var=$root"
	done

	_cgi_write_script "$prog" "${args[@]}" || return 1
	_cgi_start_fcgiwrap || {
		cgi_stop
		return 1
	}
	export CGI_GENERATION=1

	for attempt in 1 2 3 4 5 6 7 8 9 10; do
		if ! port=$(_cgi_free_port) || ! proxy_port=$(_cgi_free_port "$port") ||
			! slow_port=$(_cgi_free_port "$port" "$proxy_port"); then
			cgi_stop
			return 1
		fi
		_cgi_write_conf "$port" "$proxy_port" "$slow_port" || {
			cgi_stop
			return 2
		}
		# nginx exits non-zero before daemonizing when bind() fails.
		if ! "$CGI_NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
			</dev/null >"$dir/start.log" 2>&1 3>&-; then
			if grep -q 'Address already in use' "$dir/start.log" "$dir/error.log" 2>/dev/null; then
				continue
			fi
			echo "cgi_start: nginx failed to start (attempt $attempt):" >&2
			cat "$dir/start.log" >&2
			tail -n 20 "$dir/error.log" >&2 2>/dev/null
			cgi_stop
			return 1
		fi
		pid=''
		for _ in $(seq 1 50); do
			if [ -s "$dir/nginx.pid" ]; then
				pid=$(cat "$dir/nginx.pid")
				[ -n "$pid" ] && break
			fi
			sleep 0.1
		done
		if [ -z "$pid" ]; then
			echo "cgi_start: nginx wrote no pid file in $dir" >&2
			tail -n 20 "$dir/error.log" >&2 2>/dev/null
			cgi_stop
			return 1
		fi
		export CGI_PORT=$port CGI_PROXY_PORT=$proxy_port CGI_SLOW_PORT=$slow_port
		export CGI_URL=http://127.0.0.1:$port
		export CGI_PROXY_URL=http://127.0.0.1:$proxy_port
		export CGI_SLOW_URL=http://127.0.0.1:$slow_port
		export CGI_MEDIA_URL=$CGI_URL/media/
		for _ in $(seq 1 50); do
			if [ "$(_cgi_generation_of "$CGI_URL")" = 1 ] &&
				[ "$(_cgi_generation_of "$CGI_SLOW_URL")" = 1 ]; then
				return 0
			fi
			sleep 0.1
		done
		echo "cgi_start: nginx (pid $pid) does not answer on $CGI_URL" >&2
		tail -n 20 "$dir/error.log" >&2 2>/dev/null
		cgi_stop
		return 1
	done
	echo "cgi_start: could not bind free ports after $attempt attempts (logs in $dir)" >&2
	cgi_stop
	return 1
}

cgi_reload() {
	local dir=${CGI_DIR:-} gen
	if [ -z "$dir" ] || [ ! -s "$dir/nginx.pid" ]; then
		echo "cgi_reload: not started (cgi_start first)" >&2
		return 1
	fi
	gen=$((${CGI_GENERATION:-1} + 1))
	CGI_GENERATION=$gen _cgi_write_conf "$CGI_PORT" "$CGI_PROXY_PORT" "$CGI_SLOW_PORT" || return 1
	if ! "$CGI_NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -s reload \
		</dev/null >"$dir/reload.log" 2>&1 3>&-; then
		echo "cgi_reload: nginx -s reload failed:" >&2
		cat "$dir/reload.log" >&2
		return 1
	fi
	# The old workers go on with their connections; curl opens a new one,
	# which a new worker takes once the master has read the config.
	for _ in $(seq 1 100); do
		if [ "$(_cgi_generation_of "$CGI_URL")" = "$gen" ] &&
			[ "$(_cgi_generation_of "$CGI_SLOW_URL")" = "$gen" ]; then
			export CGI_GENERATION=$gen
			return 0
		fi
		sleep 0.05
	done
	echo "cgi_reload: nginx still answers with the old config (generation $gen expected)" >&2
	tail -n 20 "$dir/error.log" >&2 2>/dev/null
	return 1
}

cgi_log() {
	[ -n "${CGI_DIR:-}" ] && [ -f "$CGI_DIR/access.log" ] || return 0
	if [ -n "${1:-}" ]; then
		grep -F "{\"srv\":\"$1\"," "$CGI_DIR/access.log" || true
	else
		cat "$CGI_DIR/access.log"
	fi
}

# Succeeds while pid $1 runs: a zombie has exited (and holds no socket), but
# whatever reaps the daemonized nginx master may take a second or two to.
_cgi_alive() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Waits up to $2 twentieths of a second for pid $1 to go; succeeds when gone.
_cgi_wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		_cgi_alive "$1" || return 0
		sleep 0.05
	done
	! _cgi_alive "$1"
}

cgi_stop() {
	local dir=${CGI_DIR:-} pid
	if [ -n "$dir" ] && [ -f "$dir/nginx.pid" ]; then
		pid=$(cat "$dir/nginx.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && _cgi_alive "$pid"; then
			# TERM: fast shutdown; the master stops its workers and exits.
			kill -TERM "$pid" 2>/dev/null || true
			if ! _cgi_wait_gone "$pid" 100; then
				kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
				_cgi_wait_gone "$pid" 40 || true
			fi
		fi
		rm -f "$dir/nginx.pid"
	fi
	pid=${CGI_FCGIWRAP_PID:-}
	if [ -n "$pid" ]; then
		# The whole group: fcgiwrap, its preforked children, running scripts.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		if ! _cgi_wait_gone "$pid" 60; then
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
		_cgi_wait_gone "$pid" 40 || true
		# Scripts that outlived the group leader.
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	if [ -n "$dir" ]; then
		rm -f "$dir/fcgi.sock"
		if [ "${CGI_DIR_OWNED:-0}" = 1 ]; then
			rm -rf "$dir"
		fi
	fi
	# The roots cgi_start chose, not the caller's.
	# shellcheck disable=SC2086
	[ -z "${CGI_DEFAULT_ROOTS:-}" ] || unset $CGI_DEFAULT_ROOTS
	unset CGI_DIR CGI_DIR_OWNED CGI_DEFAULT_ROOTS CGI_PORT CGI_PROXY_PORT CGI_SLOW_PORT CGI_URL CGI_PROXY_URL \
		CGI_SLOW_URL CGI_MEDIA_URL CGI_FCGIWRAP_PID CGI_GENERATION
	return 0
}
