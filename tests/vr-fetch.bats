#!/usr/bin/env bats
# vr-fetch: local files, http through a private nginx (206 and 200 origins,
# error statuses, a slow location, redirects), origins from a config file,
# timeouts against a listener that never answers, and a one-shot nc server
# that breaks a body off mid-way. Exact bytes (cmp) and exact statuses.

load helpers/common
load helpers/nginx

setup_file() {
	[ -x "$VR_FETCH" ] || { echo "build first: make" >&2; return 1; }
	export DOC=$BATS_FILE_TMPDIR/doc LROOT=$BATS_FILE_TMPDIR/root CONF=$BATS_FILE_TMPDIR/vr.conf
	"$ROOT/scripts/fixtures" "$DOC"
	head -c 1024 "$DOC/bytes-1M.bin" >"$DOC/k.bin"
	truncate -s 1G "$DOC/big.bin" # sparse: costs no disk
	mkdir -p "$LROOT/media"
	printf 'secret' >"$LROOT/secret.bin"
	cp "$DOC/bytes-10.bin" "$LROOT/media/bytes-10.bin"
	ln -s bytes-10.bin "$LROOT/media/inlink.bin"
	ln -s ../secret.bin "$LROOT/media/outlink.bin"
	nginx_start "$DOC"
	blackhole_start
	cat >"$CONF" <<EOF
[fetch]
timeout = 10s
retries = 0

[origin "fall"]
match = ^/fall/(.*)\$
source = $NGINX_URL/missing/\$1
source = $NGINX_URL/err500/\${1}
source = $NGINX_URL/\$1

[origin "allmissing"]
match = ^/allmissing/(.*)\$
source = $NGINX_URL/missing/\$1
source = $LROOT/media/nope-\$1

[origin "mixed"]
match = ^/mixed/(.*)\$
source = $NGINX_URL/missing/\$1
source = $NGINX_URL/err503/\$1

[origin "nohead"]
match = ^/nohead/(.*)\$
source = $NGINX_URL/missing/\$1
source = $NGINX_URL/nohead405/\$1

[origin "named"]
match = ^/n/(?<dir>[a-z]+)/(?<file>[^/]+)\$
source = $LROOT/\${dir}/\${file}

[origin "videos"]
match = ^/videos/(.*)\$
source = $LROOT/media/\$1

[origin "auth"]
match = ^/auth/(.*)\$
source = $NGINX_URL/\$1
header = Authorization: Bearer \${env:VR_TEST_TOKEN}

[origin "filefirst"]
match = ^/filefirst/(.*)\$
source = $LROOT/media/\$1
source = $NGINX_URL/\$1

[origin "authlocal"]
match = ^/authlocal/(.*)\$
source = $LROOT/media/\$1
source = $NGINX_URL/\$1
header = Authorization: Bearer \${env:VR_TEST_TOKEN}
EOF
}

teardown_file() {
	blackhole_stop
	nginx_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	export OUT=$BATS_TEST_TMPDIR/out ERR=$BATS_TEST_TMPDIR/err
	# no user config, no metrics unless asked
	export HOME=$BATS_TEST_TMPDIR XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	unset VR_CONFIG VR_METRICS VR_TEST_TOKEN
	F1M=$DOC/bytes-1M.bin
}

teardown() {
	if [ -n "${ONESHOT_PID:-}" ]; then
		kill "$ONESHOT_PID" 2>/dev/null || true
		wait "$ONESHOT_PID" 2>/dev/null || true
	fi
}

# fetch ARGS...: vr-fetch with stdout in $OUT, stderr in $ERR and $output
fetch() {
	status=0
	"$VR_FETCH" "$@" >"$OUT" 2>"$ERR" || status=$?
	slurp output "$ERR"
}

# slice FILE START LENGTH
slice() {
	tail -c +$(($2 + 1)) "$1" | head -c "$3"
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# json_field FILE KEY: the raw value of "KEY" in a one-line JSON object
json_field() {
	grep -o "\"$2\":[^,}]*" "$1" | head -n 1 | cut -d: -f2-
}

# req_mark: remember where nginx's request log (method URI status
# body-bytes range) stands
req_mark() {
	REQ_MARK=$(wc -l <"$NGINX_DIR/requests.log")
}

# req_since N: the request log's lines since req_mark, once N of them are
# there (nginx logs a request when it ends; up to 5 s)
req_since() {
	local i
	for i in $(seq 1 50); do
		[ $(($(wc -l <"$NGINX_DIR/requests.log") - REQ_MARK)) -ge "$1" ] && break
		sleep 0.1
	done
	tail -n +$((REQ_MARK + 1)) "$NGINX_DIR/requests.log"
}

# oneshot_start RESPONSE REQUEST_LOG: a listener that answers one connection
# with the bytes of RESPONSE and closes (RESPONSE empty: never answers),
# logging the request. Sets ONESHOT_PORT and ONESHOT_PID.
oneshot_start() {
	ONESHOT_PORT=$(_vr_free_port)
	if [ -n "$1" ]; then
		nc -q 0 -l 127.0.0.1 "$ONESHOT_PORT" <"$1" >"$2" 2>/dev/null 3>&- &
	else
		nc -d -l 127.0.0.1 "$ONESHOT_PORT" >"$2" 2>/dev/null 3>&- &
	fi
	ONESHOT_PID=$!
	local i
	for i in $(seq 1 60); do
		_vr_port_listening "$ONESHOT_PORT" && return 0
		sleep 0.05
	done
	echo "oneshot listener did not start" >&2
	return 1
}

@test "--help and --version" {
	run "$VR_FETCH" --help
	assert_success
	assert_line --index 0 'Usage: vr-fetch [OPTIONS] SOURCE'
	assert_output --partial '--range RANGE'
	assert_output --partial 'Exit status:'
	run "$VR_FETCH" --version
	assert_success
	assert_output --regexp '^vr-fetch \(vr\) [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "usage errors exit 2" {
	run "$VR_FETCH"
	assert_failure 2
	assert_output --partial 'missing SOURCE'
	run "$VR_FETCH" a b
	assert_failure 2
	run "$VR_FETCH" --no-such-option x
	assert_failure 2
	run "$VR_FETCH" --timeout soon "$F1M"
	assert_failure 2
	run "$VR_FETCH" --max-bytes 0 "$F1M"
	assert_failure 2
	run "$VR_FETCH" --retries -1 "$F1M"
	assert_failure 2
	run "$VR_FETCH" ftp://example.com/x
	assert_failure 2
	assert_output --partial "unsupported scheme 'ftp'"
	run "$VR_FETCH" -H 'Range: bytes=0-1' "$F1M"
	assert_failure 2
	assert_output --partial 'use -r/--range'
	run "$VR_FETCH" -H 'No colon' "$F1M"
	assert_failure 2
}

@test "config: a named file must exist (5); a bad file or value is bad data (3)" {
	run "$VR_FETCH" --config "$BATS_TEST_TMPDIR/nope.conf" "$F1M"
	assert_failure 5
	assert_output --partial 'nope.conf'
	printf '[origin "x"]\nmatch = ^/x/((\nsource = /srv/$1\n' >bad.conf
	run "$VR_FETCH" --config bad.conf /x/a
	assert_failure 3
	assert_output --partial 'bad.conf:2'
	printf '[fetch]\ntimeout = soon\n' >bad.conf
	VR_CONFIG=bad.conf run "$VR_FETCH" "$F1M"
	assert_failure 3
	assert_output --partial 'timeout'
	printf 'key = outside\n' >bad.conf
	run "$VR_FETCH" --config bad.conf "$F1M"
	assert_failure 3
}

@test "local file: the whole file, also as a percent-encoded file:// URL" {
	fetch "$F1M"
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	assert_equal "$output" ''
	cp "$DOC/bytes-10.bin" "$BATS_TEST_TMPDIR/a b.bin"
	fetch "file://$BATS_TEST_TMPDIR/a%20b.bin"
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" 0123456789
	fetch "$DOC/empty.bin"
	assert_equal "$status" 0
	[ ! -s "$OUT" ]
}

@test "local file: single, suffix, open, clamped and multiple ranges" {
	fetch -r bytes=100-199 "$F1M"
	assert_equal "$status" 0
	cmp "$OUT" <(slice "$F1M" 100 100)
	fetch -r -500 "$F1M"
	cmp "$OUT" <(tail -c 500 "$F1M")
	fetch -r 1048000- "$F1M"
	cmp "$OUT" <(slice "$F1M" 1048000 576)
	fetch -r 1048570-2000000 "$F1M"
	cmp "$OUT" <(slice "$F1M" 1048570 6)
	fetch -r '0-9, -10, 100-109, 5-6' "$F1M"
	assert_equal "$status" 0
	cmp "$OUT" <(slice "$F1M" 0 10; tail -c 10 "$F1M"; slice "$F1M" 100 10; slice "$F1M" 5 2)
	# an unsatisfiable spec among satisfiable ones is dropped (RFC 9110)
	fetch -r 2000000-,0-3 "$F1M"
	assert_equal "$status" 0
	cmp "$OUT" <(slice "$F1M" 0 4)
}

@test "a suffix longer than the source selects all of it (RFC 9110), as vr-range does" {
	local ten=$DOC/bytes-10.bin
	fetch -r -11 "$ten"
	assert_equal "$status" 0
	cmp "$OUT" "$ten"
	fetch -r bytes=-2000000 "$F1M"
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	status=0
	"$VR_FETCH" -r -2000000 - <"$F1M" >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	status=0
	cat "$F1M" | "$VR_FETCH" -r -2000000 - >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	# http: an origin that answers 206, and one that ignores Range (200)
	fetch -r -2000000 "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	fetch -r -11 "$NGINX_URL/bytes-10.bin"
	assert_equal "$status" 0
	cmp "$OUT" "$ten"
	fetch -r -2000000 "$NGINX_URL/norange/bytes-1M.bin"
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	fetch --info -r -2000000 "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	assert_equal "$(json_field "$OUT" size)" 1048576
	# a 200 of unknown size (chunked, no Content-Length)
	{
		printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
		printf 'a\r\n'
		cat "$ten"
		printf '\r\n0\r\n\r\n'
	} >nolen.http
	oneshot_start nolen.http req.txt
	fetch --retries 0 -r -11 "http://127.0.0.1:$ONESHOT_PORT/ten.bin"
	assert_equal "$status" 0
	cmp "$OUT" "$ten"
	wait "$ONESHOT_PID" 2>/dev/null || true
	ONESHOT_PID=
	# the same as vr-range, the program that defines it
	status=0
	"$VR_RANGE" -o want.bin -- -2000000 "$F1M" || status=$?
	assert_equal "$status" 0
	cmp want.bin "$F1M"
}

@test "local file: unsatisfiable exits 4, malformed exits 3 before any I/O" {
	fetch -r 2000000- "$F1M"
	assert_equal "$status" 4
	assert_output --partial 'not satisfiable'
	[ ! -s "$OUT" ]
	fetch -r 0- "$DOC/empty.bin"
	assert_equal "$status" 4
	fetch -r abc "$F1M"
	assert_equal "$status" 3
	assert_output --partial 'malformed range'
	# the range is checked before anything is opened: a source that would
	# hang for the whole --timeout answers at once
	local t0
	t0=$(now_ms)
	fetch -r 5-1 --timeout 20 "http://127.0.0.1:$BLACKHOLE_PORT/x"
	assert_equal "$status" 3
	[ $(($(now_ms) - t0)) -lt 2000 ]
}

@test "local file: a missing file or a directory exits 5" {
	fetch "$BATS_TEST_TMPDIR/nope.bin"
	assert_equal "$status" 5
	assert_output --partial 'No such file or directory'
	fetch "$DOC"
	assert_equal "$status" 5
	assert_output --partial 'is a directory'
}

@test "stdin as SOURCE: whole and ranged in one pass" {
	status=0
	"$VR_FETCH" - <"$F1M" >"$OUT" || status=$?
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	cat "$F1M" | "$VR_FETCH" -r 10-19,-5 - >"$OUT"
	cmp "$OUT" <(slice "$F1M" 10 10; tail -c 5 "$F1M")
}

@test "http: the whole body, and --info without it" {
	fetch "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	fetch --info "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" \
		"{\"size\":1048576,\"content_type\":\"application/octet-stream\",\"source\":\"$NGINX_URL/bytes-1M.bin\",\"origin\":null,\"status\":200}"
	fetch --info "$NGINX_URL/bytes-10.txt"
	assert_equal "$status" 5
	cp "$DOC/bytes-10.bin" "$DOC/ten.txt"
	fetch --info "$NGINX_URL/ten.txt"
	assert_equal "$(json_field "$OUT" content_type)" '"text/plain"'
	fetch "$NGINX_URL/empty.bin"
	assert_equal "$status" 0
	[ ! -s "$OUT" ]
}

@test "--info for a local file, and for an origin" {
	fetch --info "$DOC/sample.mp4"
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" \
		"{\"size\":414327,\"content_type\":\"video/mp4\",\"source\":\"$DOC/sample.mp4\",\"origin\":null,\"status\":200}"
	fetch --info -r 0-1 "$DOC/sample.mp4"
	assert_equal "$(json_field "$OUT" status)" 206
	fetch --config "$CONF" --info /fall/bytes-10.bin
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" \
		"{\"size\":10,\"content_type\":\"application/octet-stream\",\"source\":\"$NGINX_URL/bytes-10.bin\",\"origin\":\"fall\",\"status\":200}"
}

@test "--info costs the origin no body: HEAD, the size from its headers" {
	req_mark
	fetch --info "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	assert_equal "$(jq .size "$OUT")" "$(stat -c %s "$F1M")"
	assert_equal "$(jq .status "$OUT")" 200
	assert_equal "$(req_since 1)" "HEAD /bytes-1M.bin 200 0 -"
	# a range: HEAD with it, the status says whether the origin serves ranges
	req_mark
	fetch --info -r 500-999 "$NGINX_URL/bytes-1M.bin"
	assert_equal "$(jq -c '[.status,.size]' "$OUT")" "[206,$(stat -c %s "$F1M")]"
	assert_equal "$(req_since 1)" "HEAD /bytes-1M.bin 206 0 bytes=500-999"
	req_mark
	fetch --info -r 500-999 "$NGINX_URL/norange/bytes-1M.bin"
	assert_equal "$(jq -c '[.status,.size]' "$OUT")" "[200,$(stat -c %s "$F1M")]"
	run req_since 2
	refute_line --regexp '^GET'
	refute_line --regexp ' [1-9][0-9]* [^ ]+$'
}

@test "--info where HEAD is refused (405, 501): one byte by GET Range: bytes=0-0" {
	local code
	for code in 405 501; do
		req_mark
		fetch --info "$NGINX_URL/nohead$code/bytes-1M.bin"
		assert_equal "$status" 0
		assert_equal "$(jq -c '[.size,.status]' "$OUT")" "[$(stat -c %s "$F1M"),200]"
		run req_since 2
		assert_line --index 0 "HEAD /nohead$code/bytes-1M.bin $code 0 -"
		assert_line --index 1 "GET /nohead$code/bytes-1M.bin 206 1 bytes=0-0"
		assert_equal "${#lines[@]}" 2
	done
}

@test "--info through an origin whose first source is missing: HEAD to each" {
	req_mark
	fetch --config "$CONF" --info /fall/bytes-1M.bin
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.size,.origin,.status]' "$OUT")" "[$(stat -c %s "$F1M"),\"fall\",200]"
	run req_since 3
	assert_line --index 0 "HEAD /missing/bytes-1M.bin 404 0 -"
	assert_line --index 1 "HEAD /err500/bytes-1M.bin 500 0 -"
	assert_line --index 2 "HEAD /bytes-1M.bin 200 0 -"
	assert_equal "${#lines[@]}" 3
	# the source that serves refuses HEAD
	req_mark
	fetch --config "$CONF" --info /nohead/bytes-1M.bin
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.size,.origin]' "$OUT")" "[$(stat -c %s "$F1M"),\"nohead\"]"
	run req_since 3
	assert_line --index 0 "HEAD /missing/bytes-1M.bin 404 0 -"
	assert_line --index 1 "HEAD /nohead405/bytes-1M.bin 405 0 -"
	assert_line --index 2 "GET /nohead405/bytes-1M.bin 206 1 bytes=0-0"
	assert_equal "${#lines[@]}" 3
}

@test "--info on a local file stats it: never opened, a FIFO does not block" {
	cp "$F1M" local.bin
	fetch --info local.bin
	assert_equal "$(jq .size "$OUT")" "$(stat -c %s local.bin)"
	mkfifo fifo
	run timeout 10 "$VR_FETCH" --info fifo
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.size,.status]' <<<"$output")" '[null,200]'
	command -v strace >/dev/null || fail "strace is needed: run scripts/setup"
	strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace refused)"
	# (LeakSanitizer cannot run under ptrace: an ASan build would fail here)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o trace -e trace=open,openat,openat2 "$VR_FETCH" --info local.bin >"$OUT"
	assert_equal "$(jq .size "$OUT")" "$(stat -c %s local.bin)"
	run grep -c 'local.bin' trace
	assert_output 0
}

@test "--info on a failure: one object, with the status the exit stands for and the error" {
	fetch --info --retries 0 "$NGINX_URL/missing/x.bin"
	assert_equal "$status" 5
	assert_equal "$(jq -c '[.status,.size,.content_type,.source]' "$OUT")" \
		"[404,null,null,\"$NGINX_URL/missing/x.bin\"]"
	[[ $(jq -r .error "$OUT") == *"HTTP 404"* ]]
	fetch --info --retries 0 "$NGINX_URL/err503/x.bin"
	assert_equal "$status" 6
	assert_equal "$(jq .status "$OUT")" 502
	fetch --info "$LROOT/nope.bin"
	assert_equal "$status" 5
	assert_equal "$(jq -c '[.status,.origin]' "$OUT")" '[404,null]'
	fetch --config "$CONF" --info /allmissing/x.bin
	assert_equal "$status" 5
	assert_equal "$(jq -c '[.status,.origin]' "$OUT")" '[404,"allmissing"]'
	# exactly one line; a usage error is no answer
	assert_equal "$(wc -l <"$OUT")" 1
	fetch --info --bogus "$LROOT/nope.bin"
	assert_equal "$status" 2
	[ ! -s "$OUT" ]
}

@test "http: a range is served by the origin's 206 as it is" {
	fetch -v -r 500-999 "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	cmp "$OUT" <(slice "$F1M" 500 500)
	assert_output --partial 'HTTP 206 to Range: bytes=500-999'
	fetch --info -r 500-999 "$NGINX_URL/bytes-1M.bin"
	assert_equal "$(json_field "$OUT" status)" 206
	assert_equal "$(json_field "$OUT" size)" 1048576
	fetch -r 1048000- "$NGINX_URL/bytes-1M.bin"
	cmp "$OUT" <(slice "$F1M" 1048000 576)
	fetch -v -r -100 "$NGINX_URL/bytes-1M.bin"
	cmp "$OUT" <(tail -c 100 "$F1M")
	assert_output --partial 'HTTP 206 to Range: bytes=1048476-1048575'
	fetch -r 0-99 "$NGINX_URL/bytes-1M.bin"
	cmp "$OUT" <(head -c 100 "$F1M")
}

@test "http: an origin that ignores Range (200) is sliced locally" {
	fetch -v -r 500-999 "$NGINX_URL/norange/bytes-1M.bin"
	assert_equal "$status" 0
	cmp "$OUT" <(slice "$F1M" 500 500)
	assert_output --partial 'ignores ranges, slicing locally'
	fetch --info -r 500-999 "$NGINX_URL/norange/bytes-1M.bin"
	assert_equal "$(json_field "$OUT" status)" 200
	fetch -r 0-99 "$NGINX_URL/norange/bytes-1M.bin"
	cmp "$OUT" <(head -c 100 "$F1M")
	fetch -r -100 "$NGINX_URL/norange/bytes-1M.bin"
	cmp "$OUT" <(tail -c 100 "$F1M")
	fetch -r 1048570-2000000 "$NGINX_URL/norange/bytes-1M.bin"
	cmp "$OUT" <(slice "$F1M" 1048570 6)
}

@test "http: several ranges come back to back in the given order, 206 or 200" {
	local want=$BATS_TEST_TMPDIR/want
	{ slice "$F1M" 0 10; tail -c 10 "$F1M"; slice "$F1M" 100 10; slice "$F1M" 5 2; } >"$want"
	fetch -r '0-9,-10,100-109,5-6' "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	cmp "$OUT" "$want"
	fetch -r '0-9,-10,100-109,5-6' "$NGINX_URL/norange/bytes-1M.bin"
	assert_equal "$status" 0
	cmp "$OUT" "$want"
	fetch -r 0-9,-10,100-109,5-6 "$F1M"
	cmp "$OUT" "$want"
}

@test "http: 416 exits 4, 404 exits 5, 403 exits 6" {
	fetch -r 2000000- "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 4
	assert_output --partial 'not satisfiable'
	fetch -r 0- "$NGINX_URL/empty.bin"
	assert_equal "$status" 4
	fetch "$NGINX_URL/missing/x.bin"
	assert_equal "$status" 5
	assert_output --partial 'HTTP 404'
	fetch "$NGINX_URL/err403/x.bin"
	assert_equal "$status" 6
	assert_output --partial 'HTTP 403'
	[ ! -s "$OUT" ]
}

@test "http: a 500 alone exits 6 with the status, after the retries with backoff" {
	local t0
	t0=$(now_ms)
	fetch --retries 2 --metrics m.json "$NGINX_URL/err500/x.bin"
	assert_equal "$status" 6
	assert_output --partial 'HTTP 500'
	assert_output --partial '3 attempts'
	assert_equal "$(json_field m.json attempts)" 3
	# backoff 100 ms + 200 ms, and not much more
	local dt=$(($(now_ms) - t0))
	[ "$dt" -ge 300 ]
	[ "$dt" -lt 3000 ]
	fetch --retries 0 "$NGINX_URL/err503/x.bin"
	assert_equal "$status" 6
	assert_output --partial 'HTTP 503'
}

@test "https: a certificate that does not verify is refused" {
	command -v openssl >/dev/null || fail "openssl is needed: run scripts/setup"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 \
		-subj /CN=localhost >/dev/null 2>&1
	cp "$DOC/bytes-10.bin" ten.bin
	ONESHOT_PORT=$(_vr_free_port)
	openssl s_server -accept "$ONESHOT_PORT" -cert cert.pem -key key.pem -WWW -quiet \
		</dev/null >/dev/null 2>&1 3>&- &
	ONESHOT_PID=$!
	local i
	for i in $(seq 1 60); do
		_vr_port_listening "$ONESHOT_PORT" && break
		sleep 0.05
	done
	fetch --metrics m.json "https://localhost:$ONESHOT_PORT/ten.bin"
	assert_equal "$status" 6
	assert_output --partial 'certificate'
	[ ! -s "$OUT" ]
	# not retried: it would not help
	assert_equal "$(json_field m.json attempts)" 1
}

@test "redirects are followed" {
	fetch "$NGINX_URL/redirect/bytes-10.bin"
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" 0123456789
	fetch --info "$NGINX_URL/redirect/bytes-10.bin"
	assert_equal "$(json_field "$OUT" source)" "\"$NGINX_URL/bytes-10.bin\""
}

@test "origin: a 404 and a 500 move on to the source that serves" {
	fetch --config "$CONF" -v --metrics m.json /fall/bytes-1M.bin
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	assert_output --partial "origin \"fall\", 3 sources"
	assert_output --partial "$NGINX_URL/missing/bytes-1M.bin: HTTP 404"
	assert_output --partial "$NGINX_URL/err500/bytes-1M.bin: HTTP 500"
	assert_output --partial "$NGINX_URL/bytes-1M.bin: HTTP 200"
	assert_equal "$(json_field m.json attempts)" 3
	assert_equal "$(json_field m.json origin)" '"fall"'
	assert_equal "$(json_field m.json source)" "\"$NGINX_URL/bytes-1M.bin\""
	# the same with a range
	VR_CONFIG=$CONF fetch -r 10-19 /fall/bytes-1M.bin
	cmp "$OUT" <(slice "$F1M" 10 10)
}

@test "origin: exit 5 when every source was not found, else 6, listing each" {
	fetch --config "$CONF" /allmissing/x.bin
	assert_equal "$status" 5
	assert_output --partial 'all 2 sources of origin "allmissing" failed'
	assert_output --partial "$NGINX_URL/missing/x.bin: HTTP 404"
	assert_output --partial "$LROOT/media/nope-x.bin: No such file or directory"
	fetch --config "$CONF" /mixed/x.bin
	assert_equal "$status" 6
	assert_output --partial 'HTTP 404'
	assert_output --partial 'HTTP 503'
}

@test "origin: named groups; the query is dropped; captures are percent-decoded" {
	fetch --config "$CONF" '/n/media/bytes-10.bin?width=640'
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" 0123456789
	fetch --config "$CONF" '/n/media/bytes%2D10.bin'
	assert_equal "$(cat "$OUT")" 0123456789
	# no origin matches: a local path
	fetch --config "$CONF" "$DOC/bytes-10.bin"
	assert_equal "$(cat "$OUT")" 0123456789
}

@test "origin: a JavaScript matcher of the original service (\\/, \\d, \\w, named groups, a lookahead) resolves as it did there" {
	local d=$BATS_TEST_TMPDIR/js
	mkdir -p "$d/videos"
	echo webm-bytes >"$d/videos/ab-12.webm"
	echo clip-bytes >"$d/clip_7"
	cat >"$d/js.conf" <<-EOF
		[origin "js"]
		match = ^\/videos\/(?<videoId>[^.]+)\.(?<extension>mp4|webm)\$
		source = $d/videos/\${videoId}.\${extension}

		[origin "digits"]
		match = ^/(\d+)/(?!tmp/)(\w+)\$
		source = $d/\$2
	EOF
	fetch --config "$d/js.conf" /videos/ab-12.webm
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" webm-bytes
	fetch --config "$d/js.conf" /42/clip_7
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" clip-bytes
	# the lookahead refuses it: no origin matches, a missing local path
	fetch --config "$d/js.conf" /42/tmp/clip_7
	assert_equal "$status" 5
}

@test "origin: local sources never leave the origin root" {
	fetch --config "$CONF" /videos/../secret.bin
	assert_equal "$status" 5
	assert_output --partial 'outside the origin root'
	[ ! -s "$OUT" ]
	fetch --config "$CONF" /videos/%2e%2e/secret.bin
	assert_equal "$status" 5
	assert_output --partial 'outside the origin root'
	fetch --config "$CONF" /videos/outlink.bin
	assert_equal "$status" 5
	assert_output --partial 'outside the origin root'
	# a link that stays inside is fine
	fetch --config "$CONF" /videos/inlink.bin
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" 0123456789
}

@test "headers: env references expand from the environment when a request is made; unset: 3 from the config, 2 from -H" {
	fetch --config "$CONF" /auth/bytes-10.bin
	assert_equal "$status" 3
	assert_output --partial 'VR_TEST_TOKEN'
	assert_output --partial '[origin "auth"]'
	[ ! -s "$OUT" ]
	# a local source serves: no request, no credentials needed
	fetch --config "$CONF" /authlocal/bytes-10.bin
	assert_equal "$status" 0
	cmp "$OUT" "$LROOT/media/bytes-10.bin"
	fetch --config "$CONF" --info /authlocal/bytes-10.bin
	assert_equal "$status" 0
	# the local source is missing: the http one is asked, and needs them
	fetch --config "$CONF" /authlocal/k.bin
	assert_equal "$status" 3
	assert_output --partial 'VR_TEST_TOKEN'
	VR_TEST_TOKEN=t0k fetch --config "$CONF" /authlocal/k.bin
	assert_equal "$status" 0
	cmp "$OUT" "$DOC/k.bin"
	# a value that would break the request's header block is refused
	VR_TEST_TOKEN=$'a\r\nX-Evil: 1' fetch --config "$CONF" /auth/bytes-10.bin
	assert_equal "$status" 3
	assert_output --partial 'control character'
	VR_TEST_TOKEN=t0k fetch --config "$CONF" /auth/bytes-10.bin
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" 0123456789
	fetch -H 'X-Key: ${env:VR_TEST_UNSET_KEY}' "$NGINX_URL/bytes-10.bin"
	assert_equal "$status" 2
	assert_output --partial 'VR_TEST_UNSET_KEY'
	# what goes on the wire: a listener that logs the request, never answers
	oneshot_start '' req.txt
	VR_TEST_TOKEN=s3cr3t fetch -H 'X-Extra: yes' -H 'X-Cost: $$5' --timeout 0.3 --retries 0 \
		"http://127.0.0.1:$ONESHOT_PORT/v.bin"
	assert_equal "$status" 7
	wait "$ONESHOT_PID" 2>/dev/null || true
	ONESHOT_PID=
	run tr -d '\r' <req.txt
	assert_line 'GET /v.bin HTTP/1.1'
	assert_line 'X-Extra: yes'
	assert_line 'X-Cost: $5'
	refute_line --partial 'Range:'
	refute_line --partial 'Icy-MetaData'
	# config headers on the wire: the variable's value as it is, $$ once,
	# a capture's '$' kept
	oneshot_start '' req2.txt
	printf '%s\n' '[origin "w"]' 'match = ^/w/(.*)$' \
		"source = http://127.0.0.1:$ONESHOT_PORT/\$1" \
		'header = Authorization: Bearer ${env:VR_TEST_TOKEN}' \
		'header = X-Path: [$1] $$2' >wire.conf
	VR_TEST_TOKEN='s$cr${env:HOME}t' fetch --config wire.conf --timeout 0.3 --retries 0 '/w/a$b.bin'
	assert_equal "$status" 7
	wait "$ONESHOT_PID" 2>/dev/null || true
	ONESHOT_PID=
	run tr -d '\r' <req2.txt
	assert_line 'Authorization: Bearer s$cr${env:HOME}t'
	assert_line 'X-Path: [a$b.bin] $2'
}

@test "--max-bytes: a known size over the limit fails before any byte" {
	fetch --max-bytes 1000 "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 8
	assert_output --partial '--max-bytes 1000'
	[ ! -s "$OUT" ]
	fetch --max-bytes 1000 "$F1M"
	assert_equal "$status" 8
	[ ! -s "$OUT" ]
	fetch --max-bytes 1000 -o got.bin "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 8
	[ ! -e got.bin ]
	run ls -A "$BATS_TEST_TMPDIR"
	refute_output --partial 'vr-tmp'
	# a range within the limit is fine
	fetch --max-bytes 1K -r 0-1023 "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	cmp "$OUT" <(head -c 1024 "$F1M")
	fetch --max-bytes 1M "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
}

@test "--max-bytes: an unknown size stops at the limit" {
	status=0
	cat "$F1M" | "$VR_FETCH" --max-bytes 1000 - >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 8
	cmp "$OUT" <(head -c 1000 "$F1M")
	status=0
	cat "$DOC/bytes-10.bin" | "$VR_FETCH" --max-bytes 1000 - >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 0
}

@test "--timeout: a listener that never answers exits 7 in about the timeout" {
	local t0 dt
	t0=$(now_ms)
	fetch --timeout 0.4 --retries 0 "http://127.0.0.1:$BLACKHOLE_PORT/x.bin"
	dt=$(($(now_ms) - t0))
	assert_equal "$status" 7
	assert_output --partial 'no data for 400ms'
	[ "$dt" -ge 350 ]
	[ "$dt" -lt 2400 ]
	# with one retry: two attempts and a 100 ms backoff
	t0=$(now_ms)
	fetch --timeout 0.3 --retries 1 "http://127.0.0.1:$BLACKHOLE_PORT/x.bin"
	dt=$(($(now_ms) - t0))
	assert_equal "$status" 7
	assert_output --partial '2 attempts'
	[ "$dt" -ge 650 ]
	[ "$dt" -lt 2500 ]
}

@test "--timeout and --retries not given: the config's apply; given: they win" {
	printf '[fetch]\ntimeout = 0.3s\nretries = 1\n' >t.conf
	fetch --config t.conf --metrics m.json "http://127.0.0.1:$BLACKHOLE_PORT/x.bin"
	assert_equal "$status" 7
	assert_output --partial 'no data for 300ms'
	assert_equal "$(json_field m.json attempts)" 2
	fetch --config t.conf --timeout 0.4 --retries 0 --metrics m2.json \
		"http://127.0.0.1:$BLACKHOLE_PORT/x.bin"
	assert_equal "$status" 7
	assert_output --partial 'no data for 400ms'
	assert_equal "$(json_field m2.json attempts)" 1
}

@test "--max-time bounds the whole run: /slow/ exits 7" {
	local t0 dt
	t0=$(now_ms)
	fetch --max-time 0.6 "$NGINX_URL/slow/bytes-1M.bin"
	dt=$(($(now_ms) - t0))
	assert_equal "$status" 7
	assert_output --partial 'time limit of 600ms exceeded'
	[ "$dt" -ge 550 ]
	[ "$dt" -lt 2600 ]
	# what came is a prefix of the file
	[ -s "$OUT" ]
	cmp "$OUT" <(head -c "$(stat -c %s "$OUT")" "$F1M")
}

@test "EPIPE: a reader that goes away is a quiet end with exit 0" {
	local t0
	t0=$(now_ms)
	run bash -c '"$0" "$1" 2>"$2" | head -c 10 | wc -c; echo "vr-fetch=${PIPESTATUS[0]}"' \
		"$VR_FETCH" "$NGINX_URL/big.bin" "$ERR"
	assert_success
	assert_line --index 0 10
	assert_line --index 1 vr-fetch=0
	[ ! -s "$ERR" ]
	# it stopped reading: 1 GiB would take longer than this
	[ $(($(now_ms) - t0)) -lt 3000 ]
	run bash -c '"$0" "$1" 2>"$2" | head -c 10 | wc -c; echo "vr-fetch=${PIPESTATUS[0]}"' \
		"$VR_FETCH" "$DOC/big.bin" "$ERR"
	assert_line --index 1 vr-fetch=0
	[ ! -s "$ERR" ]
}

@test "-o FILE: written on success, nothing left behind on failure" {
	fetch -o got.bin "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	cmp got.bin "$F1M"
	[ ! -s "$OUT" ]
	fetch -o missing.bin "$NGINX_URL/missing/x.bin"
	assert_equal "$status" 5
	[ ! -e missing.bin ]
	fetch -o slow.bin --max-time 0.3 "$NGINX_URL/slow/bytes-1M.bin"
	assert_equal "$status" 7
	[ ! -e slow.bin ]
	run ls -A "$BATS_TEST_TMPDIR"
	refute_output --partial 'vr-tmp'
}

@test "metrics: one JSON line with bytes, source and attempts" {
	fetch --metrics m.json -r 0-99 "$NGINX_URL/bytes-1M.bin"
	assert_equal "$status" 0
	[ "$(wc -l <m.json)" -eq 1 ]
	assert_equal "$(json_field m.json program)" '"vr-fetch"'
	assert_equal "$(json_field m.json bytes_in)" 100
	assert_equal "$(json_field m.json bytes_out)" 100
	assert_equal "$(json_field m.json source)" "\"$NGINX_URL/bytes-1M.bin\""
	assert_equal "$(json_field m.json attempts)" 1
	assert_equal "$(json_field m.json status)" 206
	assert_equal "$(json_field m.json open_streams)" 0
	assert_equal "$(json_field m.json exit)" 0
	VR_METRICS=m2.json fetch "$NGINX_URL/missing/x.bin"
	assert_equal "$(json_field m2.json exit)" 5
	assert_equal "$(json_field m2.json bytes_out)" 0
}

@test "a body broken off mid-way continues from the byte reached, never twice" {
	{
		printf 'HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nConnection: close\r\n\r\n'
		head -c 300000 "$F1M"
	} >broken.http
	local conf=$BATS_TEST_TMPDIR/mid.conf
	# next source answers 206
	oneshot_start broken.http req.txt
	printf '[origin "m"]\nmatch = ^/m/(.*)$\nsource = http://127.0.0.1:%s/$1\nsource = %s/$1\n' \
		"$ONESHOT_PORT" "$NGINX_URL" >"$conf"
	fetch --config "$conf" --retries 0 -v --metrics m.json /m/bytes-1M.bin
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	assert_output --partial 'continuing from byte'
	assert_output --partial 'HTTP 206 to Range: bytes='
	assert_equal "$(json_field m.json bytes_out)" 1048576
	wait "$ONESHOT_PID" 2>/dev/null || true
	# next source ignores Range: sliced locally
	oneshot_start broken.http req.txt
	printf '[origin "m"]\nmatch = ^/m/(.*)$\nsource = http://127.0.0.1:%s/$1\nsource = %s/norange/$1\n' \
		"$ONESHOT_PORT" "$NGINX_URL" >"$conf"
	fetch --config "$conf" --retries 0 -v /m/bytes-1M.bin
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	assert_output --partial 'slicing locally'
	wait "$ONESHOT_PID" 2>/dev/null || true
	# a range: the first source's 200 is sliced, the rest comes as a 206
	oneshot_start broken.http req.txt
	printf '[origin "m"]\nmatch = ^/m/(.*)$\nsource = http://127.0.0.1:%s/$1\nsource = %s/$1\n' \
		"$ONESHOT_PORT" "$NGINX_URL" >"$conf"
	fetch --config "$conf" --retries 0 -r 0-500000,-10 /m/bytes-1M.bin
	assert_equal "$status" 0
	cmp "$OUT" <(head -c 500001 "$F1M"; tail -c 10 "$F1M")
	wait "$ONESHOT_PID" 2>/dev/null || true
	ONESHOT_PID=
}

@test "memory: a 1 GiB source over http peaks at the RSS of a 1 KiB one" {
	# under ASan, its quarantine holds on to what is freed (up to 256 MiB,
	# by design; libcurl frees and allocates a little at each pause of the
	# transfer): ASan's memory, not the program's, so it is turned off here
	local asan=${ASAN_OPTIONS:-}
	is_asan "$VR_FETCH" && asan=${asan:+$asan:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0
	ASAN_OPTIONS=$asan "$VR_FETCH" --metrics small.json "$NGINX_URL/k.bin" >/dev/null
	ASAN_OPTIONS=$asan "$VR_FETCH" --metrics big.json "$NGINX_URL/big.bin" >/dev/null
	assert_equal "$(json_field big.json bytes_out)" 1073741824
	local small big
	small=$(json_field small.json peak_rss_kb)
	big=$(json_field big.json peak_rss_kb)
	echo "peak RSS: 1 KiB source $small KiB, 1 GiB source $big KiB" >&3
	[ "$big" -le $((small + 1024)) ]
}

# ------------------- libcurl only for http, FFmpeg never (issue 13)

@test "memory: 64 MiB from a file, and through a file origin, peaks under 4 MiB" {
	is_asan "$VR_FETCH" && skip "ASan build: RSS is not representative"
	head -c 64M /dev/urandom >"$LROOT/media/big64.bin"
	local kb
	run bash -c '/usr/bin/time -o rss -f %M "$0" "$1" >"$2" && cat rss' "$VR_FETCH" "$LROOT/media/big64.bin" "$OUT"
	assert_success
	cmp "$OUT" "$LROOT/media/big64.bin"
	kb=${output##*$'\n'}
	echo "file: $kb KiB" >&3
	[ "$kb" -lt 4096 ]
	run bash -c '/usr/bin/time -o rss -f %M "$0" --config "$1" /videos/big64.bin | cat >"$3" && cat rss' \
		"$VR_FETCH" "$CONF" "$LROOT/media/big64.bin" "$OUT"
	assert_success
	cmp "$OUT" "$LROOT/media/big64.bin"
	kb=${output##*$'\n'}
	echo "file origin, to a pipe: $kb KiB" >&3
	[ "$kb" -lt 4096 ]
	rm -f "$LROOT/media/big64.bin"
}

@test "a file, and a file origin, are fetched without libcurl, FFmpeg or libcrypto" {
	VR_LIBCURL=/nonexistent/libcurl.so.4 fetch "$F1M"
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	VR_LIBCURL=/nonexistent/libcurl.so.4 fetch --config "$CONF" -r bytes=2-5 /filefirst/bytes-10.bin
	assert_equal "$status" 0
	cmp "$OUT" <(slice "$DOC/bytes-10.bin" 2 4)
	# what the process maps: no libav*, no libcurl, no libcrypto
	run ldd "$VR_FETCH"
	refute_output --partial libav
	refute_output --partial libcurl
	refute_output --partial libcrypto
	strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace refused)"
	# (LeakSanitizer cannot run under ptrace)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 run strace -f -e trace=openat -o trace.txt "$VR_FETCH" --config "$CONF" -o "$OUT" /filefirst/bytes-10.bin
	assert_success
	run grep -cE 'libav|libcurl|libcrypto|vr-(av|http)\.so' trace.txt
	assert_output 0
}

@test "an http source loads libcurl and nothing of FFmpeg" {
	strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace refused)"
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 run strace -f -e trace=openat -o trace.txt "$VR_FETCH" -o "$OUT" -r 0-9 "$NGINX_URL/bytes-1M.bin"
	assert_success
	cmp "$OUT" <(head -c 10 "$F1M")
	# opened, and opened with success (a descriptor, not -1 ENOENT)
	run grep -E 'libcurl\.so\.4.* = [0-9]+$' trace.txt
	assert_success
	run grep -cE 'libav|vr-(av|http)\.so' trace.txt
	assert_output 0
}

@test "an http source needs libcurl: missing or broken, it is a clear error with exit 1" {
	VR_LIBCURL=/nonexistent/libcurl.so.4 fetch "$NGINX_URL/bytes-10.bin"
	assert_equal "$status" 1
	assert_output --partial "cannot load libcurl: /nonexistent/libcurl.so.4: cannot open shared object file"
	assert_equal "$(stat -c %s "$OUT")" 0
	# a file origin whose file is missing falls back to http, which needs it
	VR_LIBCURL=/nonexistent/libcurl.so.4 fetch --config "$CONF" /filefirst/bytes-1M.bin
	assert_equal "$status" 1
	assert_output --partial "cannot load libcurl"
	# a corrupt library: dlopen's reason
	printf 'not an ELF' >bad.so
	VR_LIBCURL=$BATS_TEST_TMPDIR/bad.so fetch "$NGINX_URL/bytes-10.bin"
	assert_equal "$status" 1
	assert_output --partial "cannot load libcurl: $BATS_TEST_TMPDIR/bad.so"
	# a library that is not libcurl: the function it lacks
	VR_LIBCURL=libz.so.1 fetch "$NGINX_URL/bytes-10.bin"
	assert_equal "$status" 1
	assert_output --partial "cannot load libcurl: libz.so.1 lacks curl_easy_init"
	# present: the same fallback serves from http
	fetch --config "$CONF" /filefirst/bytes-1M.bin
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	run ldd "$VR_FETCH"
	refute_output --partial libav
	refute_output --partial libcurl
}

@test "progress: percent, bytes and ETA with --progress; only on a terminal by default; -q silences it" {
	# not a terminal: nothing
	fetch "$F1M"
	assert_equal "$status" 0
	[ ! -s "$ERR" ]
	# --progress into a file: one line a draw, the last one complete
	fetch --progress "$F1M"
	assert_equal "$status" 0
	cmp "$OUT" "$F1M"
	assert_equal "$(tail -n 1 "$ERR" | sed 's/  [0-9.]* [KMG]*i*B\/s  /  RATE  /')" \
		"vr-fetch: 100%  1.0 MiB of 1.0 MiB  RATE  ETA 0:00"
	# a range counts the range's bytes
	fetch --progress -r 0-99 "$NGINX_URL/bytes-1M.bin"
	[[ $(tail -n 1 "$ERR") == "vr-fetch: 100%  100 B of 100 B  "*"  ETA 0:00" ]]
	# a slow transfer draws while it runs: a percent under 100 with an ETA
	fetch --progress -r 0-5119 "$NGINX_URL/slow/bytes-1M.bin"
	assert_equal "$status" 0
	cmp "$OUT" <(head -c 5120 "$F1M")
	grep -Eq '^vr-fetch: +[0-9]{1,2}%  .* of 5.0 KiB  .*  ETA [0-9]+:[0-9]{2}$' "$ERR"
	# the size unknown (a pipe): bytes and rate, no percent
	status=0
	cat "$F1M" | "$VR_FETCH" --progress -r 0-9 - >"$OUT" 2>"$ERR" || status=$?
	grep -q '^vr-fetch: ' "$ERR"
	# -q wins over --progress
	fetch -q --progress "$F1M"
	[ ! -s "$ERR" ]
	# a terminal: shown by default, rewritten in place
	run script -qec "'$VR_FETCH' '$F1M' >'$OUT'" /dev/null
	assert_success
	cmp "$OUT" "$F1M"
	assert_output --partial $'\rvr-fetch: 100%  1.0 MiB of 1.0 MiB'
	assert_output --partial 'ETA 0:00'
	run script -qec "'$VR_FETCH' -q '$F1M' >'$OUT'" /dev/null
	assert_output ''
	# --info draws nothing
	fetch --info --progress "$F1M"
	[ ! -s "$ERR" ]
}
