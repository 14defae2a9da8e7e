#!/usr/bin/env bats
# tests/helpers/cgi.bash against tests/player/stand-in.cgi: what reaches the
# CGI script (RFC 3875 variables, VR_STORE, VR_CONFIG, extra params, HEAD),
# that a streamed body is not held back until the script ends, that Range
# answers pass nginx unchanged, the caching proxy's revalidation with
# If-None-Match, the throttled server, cgi_reload and cgi_stop. No browser.
#
# Lives in tests/player/; works as well moved to tests/ (it finds helpers/ and
# player/ either way).

if [ -f "$BATS_TEST_DIRNAME/helpers/common.bash" ]; then
	HELPERS=$BATS_TEST_DIRNAME/helpers PLAYER_DIR=$BATS_TEST_DIRNAME/player
else
	HELPERS=$BATS_TEST_DIRNAME/../helpers PLAYER_DIR=$BATS_TEST_DIRNAME
fi
source "$HELPERS/common.bash"
source "$HELPERS/cgi.bash"

setup_file() {
	export STATIC=$BATS_FILE_TMPDIR/static
	mkdir -p "$STATIC"
	head -c 1048576 /dev/urandom >"$STATIC/m.bin"
	export VR_STORE=$BATS_FILE_TMPDIR/store VR_CONFIG=$BATS_FILE_TMPDIR/vr.conf
	CGI_ENV=("STANDIN_ROOT=$STATIC" EXTRA_PARAM=yes)
	CGI_STATIC_ROOT=$STATIC cgi_start "$PLAYER_DIR/stand-in.cgi"
}

teardown_file() {
	cgi_stop
}

@test "cgi: the script gets VR_STORE, VR_CONFIG, CGI_ENV and the request's RFC 3875 variables" {
	run curl -sf -H 'Range: bytes=0-99' -H 'If-None-Match: "abc"' \
		-H 'If-Modified-Since: Sat, 01 Jan 2022 00:00:00 GMT' -H 'Origin: http://o.test' \
		"$CGI_URL/videos/a%20b/env?w=320&h=180"
	assert_success
	assert_line "VR_STORE=$VR_STORE"
	assert_line "VR_CONFIG=$VR_CONFIG"
	assert_line "STANDIN_ROOT=$STATIC"
	assert_line EXTRA_PARAM=yes
	assert_line 'PATH_INFO=/videos/a b/env'
	assert_line 'SCRIPT_NAME='
	assert_line 'QUERY_STRING=w=320&h=180'
	assert_line 'REQUEST_METHOD=GET'
	assert_line 'REQUEST_URI=/videos/a%20b/env?w=320&h=180'
	assert_line 'HTTP_RANGE=bytes=0-99'
	assert_line 'HTTP_IF_NONE_MATCH="abc"'
	assert_line 'HTTP_IF_MODIFIED_SINCE=Sat, 01 Jan 2022 00:00:00 GMT'
	assert_line 'HTTP_ORIGIN=http://o.test'
	assert_line 'GATEWAY_INTERFACE=CGI/1.1'
	assert_line "SERVER_PORT=$CGI_PORT"
	assert_line --regexp '^PATH=.+'
	# Built, not inherited: nothing of the test's own environment.
	refute_line --regexp '^BATS_'
}

@test "cgi: VR_STORE and VR_CONFIG are passed when set, absent (not empty) when unset" {
	run grep -c "fastcgi_param VR_STORE \"$VR_STORE\";" "$CGI_DIR/nginx.conf"
	assert_output 2 # the main and the slow server's /videos/
	# run's subshell keeps the unset to itself.
	params_unset_store() {
		unset VR_STORE
		CGI_ENV=()
		# shellcheck disable=SC2016 # nginx's $uri
		_cgi_params '$uri' off
	}
	run params_unset_store
	assert_success
	refute_output --partial VR_STORE
	assert_output --partial "fastcgi_param VR_CONFIG \"$VR_CONFIG\";"
}

@test "cgi: HEAD reaches the script as REQUEST_METHOD=HEAD, and no body comes back" {
	run curl -sf -I "$CGI_URL/videos/env"
	assert_success
	assert_line --partial 'HTTP/1.1 200'
	run grep -c 'stand-in: HEAD /videos/env' "$CGI_DIR/fcgiwrap.log"
	assert_output 1
	run curl -sf -I "$CGI_URL/videos/m.bin"
	assert_line --partial 'Content-Length: 1048576'
}

@test "cgi: a streamed body reaches the client before the script ends" {
	# 20000 bytes, then the script sleeps 2 s: the first 16 KiB (fcgiwrap
	# passes 8 KiB blocks on) arrive at once.
	run curl -sfN -o /dev/null -w '%{time_starttransfer} %{time_total} %{size_download}' \
		"$CGI_URL/videos/stream?sleep=2"
	assert_success
	read -r first total size <<<"$output"
	echo "first byte ${first}s, all ${total}s, $size bytes"
	[ "$size" -eq 20005 ]
	# The first bytes came a second or more before the last (the script's
	# own start may be slow on a loaded machine).
	awk -v f="$first" -v t="$total" 'BEGIN { exit !(t - f >= 1.0 && t >= 1.8) }'
}

@test "cgi: the script's 206 passes nginx unchanged, the same bytes as /static/" {
	run curl -sf -D "$BATS_TEST_TMPDIR/h" -o "$BATS_TEST_TMPDIR/part" -H 'Range: bytes=1000-1999' \
		"$CGI_URL/videos/m.bin"
	assert_success
	run grep -i '^content-range' "$BATS_TEST_TMPDIR/h"
	assert_output --partial 'bytes 1000-1999/1048576'
	curl -sf -o "$BATS_TEST_TMPDIR/static-part" -H 'Range: bytes=1000-1999' "$CGI_URL/static/m.bin"
	cmp "$BATS_TEST_TMPDIR/part" "$BATS_TEST_TMPDIR/static-part"
	curl -sf -o "$BATS_TEST_TMPDIR/whole" "$CGI_URL/videos/m.bin"
	cmp "$BATS_TEST_TMPDIR/whole" "$STATIC/m.bin"
}

@test "cgi: the proxy caches, then revalidates with If-None-Match once 1 s is past" {
	local url="$CGI_PROXY_URL/videos/m.bin?reval"
	run curl -sf -o /dev/null -D - "$url"
	assert_line --partial 'X-Cache-Status: MISS'
	# HIT, unless a loaded machine let the second pass already.
	run curl -sf -o /dev/null -D - "$url"
	assert_line --regexp 'X-Cache-Status: (HIT|REVALIDATED)'
	# proxy_cache_valid 1s counts whole seconds: fresh for 1 to 2 s.
	sleep 2.1
	run curl -sf -o "$BATS_TEST_TMPDIR/body" -D - "$url"
	assert_line --partial 'X-Cache-Status: REVALIDATED'
	cmp "$BATS_TEST_TMPDIR/body" "$STATIC/m.bin"
	run cgi_log main
	assert_line --regexp '"uri":"/videos/m.bin\?reval","status":304,.*"if_none_match":"\\"[0-9]+-[0-9]+\\""'
	# A Range through the proxy is cut from the cached whole (the script
	# sent Content-Length).
	run curl -sf -o /dev/null -D - -H 'Range: bytes=0-9' "$url"
	assert_line --partial '206'
	assert_line --partial 'Content-Range: bytes 0-9/1048576'
	assert_line --regexp 'X-Cache-Status: (HIT|REVALIDATED)'
}

@test "cgi: the slow server sends the script's output at CGI_RATE (500k)" {
	run curl -sf -o /dev/null -w '%{time_total} %{size_download}' "$CGI_SLOW_URL/videos/bytes?n=1048576"
	assert_success
	read -r total size <<<"$output"
	echo "1 MiB in ${total}s"
	[ "$size" -eq 1048576 ]
	# nginx's limit_rate lets a second's worth through at once: 1 MiB at
	# 512000 B/s takes 1 s or more.
	awk -v t="$total" 'BEGIN { exit !(t >= 0.9) }'
	run curl -sf -o /dev/null -w '%{time_total}' "$CGI_SLOW_URL/static/m.bin"
	awk -v t="$output" 'BEGIN { exit !(t >= 0.9) }'
}

@test "cgi_reload: another VR_CONFIG and CGI_ENV reach the script, same ports" {
	local port=$CGI_PORT
	export VR_CONFIG=$BATS_FILE_TMPDIR/other.conf
	CGI_ENV=("STANDIN_ROOT=$STATIC" EXTRA_PARAM=reloaded)
	cgi_reload
	[ "$CGI_PORT" = "$port" ]
	run curl -sf "$CGI_URL/videos/env"
	assert_line "VR_CONFIG=$BATS_FILE_TMPDIR/other.conf"
	assert_line EXTRA_PARAM=reloaded
}

@test "cgi_start: refuses a value nginx.conf cannot carry" {
	# shellcheck disable=SC2034 # read by _cgi_params
	CGI_ENV=('BAD=a"b')
	# shellcheck disable=SC2016 # nginx's $uri
	run _cgi_params '$uri' off
	assert_failure
	assert_output --partial 'cannot carry'
}

@test "cgi_stop: nginx, fcgiwrap and a running script are gone; a second stop is fine" {
	local nginx_pid fcgi_pid=$CGI_FCGIWRAP_PID
	nginx_pid=$(cat "$CGI_DIR/nginx.pid")
	# A script still running (sleeping 10 s) when the servers stop.
	curl -s -m 1 -o /dev/null "$CGI_URL/videos/hang" || true
	run pgrep -g "$fcgi_pid" -f stand-in.cgi
	assert_success
	cgi_stop
	run ! _cgi_alive "$nginx_pid"
	run ! _cgi_alive "$fcgi_pid"
	# Only zombies may be left (whatever reaps them may be slow).
	local p
	for p in $(pgrep -g "$fcgi_pid"); do
		run ! _cgi_alive "$p"
	done
	cgi_stop
	[ -z "${CGI_URL:-}" ]
}
