#!/usr/bin/env bats
# TLS: an https origin whose certificate no system CA signed (a private
# nginx on 127.0.0.1 with a self-signed certificate) must be refused by
# every program that fetches: vr-fetch, vr-resize and vr-cache. curl with
# the certificate as its CA shows the server itself works.

load helpers/common
load helpers/nginx

setup_file() {
	local d=$BATS_FILE_TMPDIR/tls port
	mkdir -p "$d/doc" "$d/logs"
	printf 'hello over tls\n' >"$d/doc/hello.txt"
	ffmpeg -v error -f lavfi -i testsrc=size=64x48:rate=10 -t 1 -pix_fmt yuv420p \
		"$d/doc/v.mp4" </dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
	port=$(_vr_free_port)
	# workers run as the current user (root needs saying so: nginx would
	# switch to nobody, who cannot read the test's private directory)
	local user_line=''
	[ "$(id -u)" = 0 ] && user_line='user root;'
	cat >"$d/nginx.conf" <<CONF
$user_line
daemon on;
pid $d/nginx.pid;
error_log $d/logs/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
	server {
		listen 127.0.0.1:$port ssl;
		ssl_certificate $d/cert.pem;
		ssl_certificate_key $d/key.pem;
		root $d/doc;
	}
}
CONF
	mkdir -p "$d/tmp"
	/usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log" </dev/null >/dev/null 2>&1 3>&-
	export TLS_DIR=$d TLS_URL=https://127.0.0.1:$port
	for _ in $(seq 1 50); do
		curl -s --cacert "$d/cert.pem" -o /dev/null "$TLS_URL/hello.txt" && return 0
		sleep 0.1
	done
	echo "nginx with TLS did not come up" >&2
	return 1
}

teardown_file() {
	[ -s "$TLS_DIR/nginx.pid" ] && kill "$(cat "$TLS_DIR/nginx.pid")" 2>/dev/null || true
}

@test "the server works for a client that trusts its certificate" {
	run curl -s --cacert "$TLS_DIR/cert.pem" "$TLS_URL/hello.txt"
	[ "$status" -eq 0 ]
	[ "$output" = "hello over tls" ]
}

@test "vr-fetch refuses an untrusted certificate" {
	run --separate-stderr "$VR_FETCH" "$TLS_URL/hello.txt"
	[ "$status" -ne 0 ]
	[ -z "$output" ]
	[[ $stderr == *certificate* ]]
}

@test "vr-resize refuses an untrusted certificate" {
	run --separate-stderr "$VR_RESIZE" --mode frame --format png "$TLS_URL/v.mp4"
	[ "$status" -ne 0 ]
	[ "$status" -lt 128 ]
	[ -z "$output" ]
	[[ $stderr == *certificate* ]]
}

@test "vr-cache refuses an untrusted certificate, raw and transformed, and stores nothing" {
	local s=$BATS_TEST_TMPDIR/s.db
	run --separate-stderr "$VR_CACHE" --store "$s" get "$TLS_URL/hello.txt"
	[ "$status" -ne 0 ]
	[ "$status" -lt 128 ]
	[ -z "$output" ]
	run --separate-stderr "$VR_CACHE" --store "$s" get "$TLS_URL/v.mp4" -w 32
	[ "$status" -ne 0 ]
	[ "$status" -lt 128 ]
	[ -z "$output" ]
	run sqlite3 "$s" "SELECT count(*) FROM entries WHERE state = 'ready'"
	[ "$output" = 0 ]
}
