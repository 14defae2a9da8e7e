#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031
# vr-cache's cache policy (vr.conf(5) [cache], [origin]): the sliding TTL,
# entries stored without expiry, bad sources remembered per variant, the
# fallback to the original. Proved from the outside: the store file read
# with sqlite3, bytes with cmp, what a request did from its metrics line,
# whether an origin was asked from nginx's access log.

load helpers/common
load helpers/store
load helpers/nginx

setup_file() {
	[ -x "$VR_CACHE" ] || { echo "build first: make" >&2; return 1; }
	local t
	for t in sqlite3 jq ffmpeg; do
		command -v "$t" >/dev/null || { echo "$t is needed" >&2; return 1; }
	done
	"$ROOT/scripts/fixtures-video" "$FX" >/dev/null
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/root" "$d/web"
	cp "$FX/short-90p.mp4" "$d/root/good.mp4"
	gen 300000 >"$d/root/x.bin"
	# not a video: 4000 bytes of text under a video's name
	for _ in $(seq 200); do echo 'this is not a video'; done >"$d/root/bad.mp4"
	cp "$d/root/bad.mp4" "$d/web/bad.mp4"
	nginx_start "$d/web"
}

teardown_file() {
	nginx_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	D=$BATS_FILE_TMPDIR
	S=$BATS_TEST_TMPDIR/s.db
	M=$BATS_TEST_TMPDIR/m.jsonl
	export VR_CONFIG=$BATS_TEST_TMPDIR/vr.conf VR_STORE=$S VR_METRICS=$M
	export XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/xdg"
}

# conf LINES...: a config with the origins below and LINES in [cache]
conf() {
	{
		echo '[cache]'
		printf '%s\n' "$@"
		cat <<EOF
[origin "local"]
match = ^/videos/(.*)\$
source = $D/root/\$1

[origin "web"]
match = ^/web/(.*)\$
source = $NGINX_URL/\$1
retries = 0
EOF
	} >"$VR_CONFIG"
}

results() { jq -r 'select(.command == "get") | .result' "$M" | paste -sd' '; }
last() { jq -r "select(.command == \"get\") | .$1" "$M" | tail -n 1; }
# sql QUERY: on the test's store
sql() { sqlite3 "$S" "$1"; }
# cgi QUERY_STRING PATH: one request through vr-cache cgi, its head in
# head.txt, its body in body.bin (the exit status is not the answer)
cgi() {
	REQUEST_METHOD=GET REQUEST_URI="$2" PATH_INFO="$2" QUERY_STRING="$1" \
		GATEWAY_INTERFACE=CGI/1.1 "$VR_CACHE" cgi >cgi.out 2>cgi.err || true
	sed -n '1,/^\r$/p' cgi.out | tr -d '\r' >head.txt
	sed '1,/^\r$/d' cgi.out >body.bin
}

@test "ttl-refresh: a hit late enough in its entry's life moves the expiry, never the value" {
	conf 'ttl-ok = 40' 'ttl-refresh = yes' 'ttl-refresh-after = 5%' 'ttl-refresh-remaining = 30'
	"$VR_CACHE" get /videos/x.bin -o o1
	local id0 exp0 sha0
	id0=$(sql "select id from entries where state = 'ready'")
	exp0=$(sql "select expires from entries where state = 'ready'")
	sha0=$(sql "select sha256 from entries where state = 'ready'")
	# read at once: less than 5 % of 40 s has passed, nothing moves
	"$VR_CACHE" get /videos/x.bin -o o2
	assert_equal "$(sql "select expires from entries where state = 'ready'")" "$exp0"
	sleep 2.5
	"$VR_CACHE" get /videos/x.bin -o o3
	assert_equal "$(results)" "miss hit hit"
	local exp1
	exp1=$(sql "select expires from entries where state = 'ready'")
	[ "$exp1" -gt "$exp0" ]
	[ "$exp1" -ge "$(($(date +%s) + 38))" ]
	# the same generation and bytes: only its expiry changed
	assert_equal "$(sql "select id from entries where state = 'ready'")" "$id0"
	assert_equal "$(sql "select sha256 from entries where state = 'ready'")" "$sha0"
	cmp o3 "$D/root/x.bin"
	"$VR_CHUNK" --store "$S" verify
}

@test "ttl-refresh: not with too little of the TTL left, not when off, and an expired entry is not revived" {
	conf 'ttl-ok = 40' 'ttl-refresh = yes' 'ttl-refresh-after = 5%' 'ttl-refresh-remaining = 39'
	cp "$VR_CONFIG" late.conf
	conf 'ttl-ok = 40'
	cp "$VR_CONFIG" off.conf
	conf 'ttl-ok = 2' 'ttl-refresh = yes' 'ttl-refresh-after = 0' 'ttl-refresh-remaining = 0'
	cp "$VR_CONFIG" short.conf
	VR_CONFIG=late.conf VR_STORE=late.db "$VR_CACHE" get /videos/x.bin -o o
	VR_CONFIG=off.conf VR_STORE=off.db "$VR_CACHE" get /videos/x.bin -o o
	VR_CONFIG=short.conf VR_STORE=short.db "$VR_CACHE" get /videos/x.bin -o o
	local late off short
	late=$(sqlite3 late.db "select expires from entries")
	off=$(sqlite3 off.db "select expires from entries")
	short=$(sqlite3 short.db "select id || ' ' || expires from entries")
	sleep 2.5
	VR_CONFIG=late.conf VR_STORE=late.db "$VR_CACHE" get /videos/x.bin -o o
	VR_CONFIG=off.conf VR_STORE=off.db "$VR_CACHE" get /videos/x.bin -o o
	VR_CONFIG=short.conf VR_STORE=short.db "$VR_CACHE" get /videos/x.bin -o o
	assert_equal "$(sqlite3 late.db "select expires from entries")" "$late"
	assert_equal "$(sqlite3 off.db "select expires from entries")" "$off"
	# the expired entry was not served nor moved: a miss made a new one
	assert_equal "$(results)" "miss miss miss hit hit miss"
	[ "$(sqlite3 short.db "select id || ' ' || expires from entries where state = 'ready'")" != "$short" ]
}

@test "store-indefinitely: no expiry in the store, max-age from ttl-ok and Age 0 in answers, gc keeps it" {
	conf 'ttl-ok = 100' 'store-indefinitely = yes'
	"$VR_CACHE" get /videos/x.bin -o o
	assert_equal "$(sql "select count(*) from entries where state = 'ready' and expires is null")" 1
	run --separate-stderr -0 "$VR_CACHE" get /videos/x.bin --headers -o o
	[[ $stderr == *"Cache-Control: max-age=100"* ]]
	cgi '' /videos/x.bin
	grep -qx 'Status: 200 OK' head.txt
	grep -qx 'Cache-Control: max-age=100' head.txt
	grep -qx 'Age: 0' head.txt
	grep -qx 'Cache-Status: vr; hit; ttl=100' head.txt
	cmp body.bin "$D/root/x.bin"
	"$VR_CACHE" gc
	assert_equal "$(sql "select count(*) from entries where state = 'ready'")" 1
}

@test "a bad source is remembered per variant for ttl-bad-source: exit 3 again with its message, not read again" {
	conf 'ttl-bad-source = 3600'
	run --separate-stderr -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	local first=$stderr
	[[ $first == *"moov atom not found"* ]]
	run --separate-stderr -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	[[ $stderr == *"moov atom not found"*"(a remembered failure)"* ]]
	assert_equal "$(last bytes_in)" 0
	assert_equal "$(last transformed)" 0
	# remembered under the variant's key, for about an hour
	assert_equal "$(sql "select key from negative")" "$(last key)"
	assert_equal "$(sql "select status from negative")" 3
	[ "$(sql "select expires - strftime('%s','now') from negative")" -gt 3500 ]
	# another variant of the source is tried
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=80' -o o
	assert_equal "$(last transformed)" 1
	assert_equal "$(results)" "error negative error"
	# a good source's variants are not touched
	"$VR_CACHE" get '/videos/good.mp4?width=64' -o o
	assert_equal "$(last result)" miss
}

@test "a remembered bad source: --bypass, invalidate and purge --source try it again; a success forgets it" {
	conf 'ttl-bad-source = 3600'
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' --bypass -o o
	assert_equal "$(last transformed)" 1
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	assert_equal "$(last result)" negative
	"$VR_CACHE" purge --source /videos/bad.mp4
	assert_equal "$(sql "select count(*) from negative")" 0
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	assert_equal "$(last transformed)" 1
	"$VR_CACHE" invalidate /videos/bad.mp4
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	assert_equal "$(last transformed)" 1
	# the source repaired: a bypass makes the variant and forgets the failure
	cp "$D/root/good.mp4" "$BATS_TEST_TMPDIR/fixed.mp4"
	sed -i "s|^source = $D/root/|source = $BATS_TEST_TMPDIR/|" "$VR_CONFIG"
	cp "$D/root/bad.mp4" "$BATS_TEST_TMPDIR/bad.mp4"
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	assert_equal "$(last result)" negative
	cp "$D/root/good.mp4" "$BATS_TEST_TMPDIR/bad.mp4"
	"$VR_CACHE" get '/videos/bad.mp4?width=64' --bypass -o o
	assert_equal "$(sql "select count(*) from negative where key = '$(last key)'")" 0
	"$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	assert_equal "$(last result)" hit
}

@test "ttl-bad-source: a second warm run does not download a broken source again" {
	conf 'ttl-bad-source = 7d'
	echo '/web/bad.mp4?width=64' >jobs
	local before after
	before=$(wc -l <"$NGINX_DIR/access.log")
	run -1 "$VR_CACHE" warm --quiet jobs
	after=$(wc -l <"$NGINX_DIR/access.log")
	[ "$after" -gt "$before" ]
	run -1 "$VR_CACHE" warm --quiet jobs
	assert_equal "$(wc -l <"$NGINX_DIR/access.log")" "$after"
	assert_equal "$(jq -s '[.[] | select(.type == "job")] | map(.result) | join(" ")' -r "$M")" \
		"error negative"
}

@test "ttl-bad-source = 0: a bad source is not remembered" {
	conf 'ttl-bad-source = 0'
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	run -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	assert_equal "$(results)" "error error"
	assert_equal "$(sql "select count(*) from negative")" 0
}

@test "fallback = original: the source's bytes, stored under the raw key, marked; then a hit on them" {
	conf 'fallback = original' 'ttl-bad-source = 3600'
	run --separate-stderr -0 "$VR_CACHE" get '/videos/bad.mp4?width=64' --json -o o1
	cmp o1 "$D/root/bad.mp4"
	assert_equal "$(jq -r .fallback <<<"$stderr")" original
	assert_equal "$(jq -r .key <<<"$stderr")" 'vr1|origin:local:/videos/bad.mp4|0|raw'
	assert_equal "$(last fallback)" original
	assert_equal "$(last result)" miss
	# only the raw entry is stored; the variant is a remembered failure
	assert_equal "$(sql "select key from entries where state = 'ready'")" 'vr1|origin:local:/videos/bad.mp4|0|raw'
	assert_equal "$(sql "select key from negative")" "$(last key)"
	# the next request: the raw entry, without reading the source
	run --separate-stderr -0 "$VR_CACHE" get '/videos/bad.mp4?width=64' --headers -o o2
	cmp o2 "$D/root/bad.mp4"
	[[ $stderr == *"X-Fallback: original"* ]]
	assert_equal "$(last result)" hit
	assert_equal "$(last bytes_in)" 0
	assert_equal "$(last fallback)" original
	# a good source is transformed as ever
	"$VR_CACHE" get '/videos/good.mp4?width=64' -o o3
	assert_equal "$(last fallback)" null
}

@test "fallback over fallback-max-size: the variant's failure stands, nothing stored or written" {
	conf 'fallback = original' 'fallback-max-size = 1000'
	run --separate-stderr -3 "$VR_CACHE" get '/videos/bad.mp4?width=64' -o o
	[[ $stderr == *"moov atom not found"*"the original was not served"* ]]
	[ ! -e o ]
	assert_equal "$(sql "select count(*) from entries")" 0
	assert_equal "$(last fallback)" null
	# per origin: a bigger cap there serves it
	sed -i 's|^retries = 0$|retries = 0\nfallback-max-size = 4000|' "$VR_CONFIG"
	"$VR_CACHE" get '/web/bad.mp4?width=64' -o o
	cmp o "$D/web/bad.mp4"
}

@test "fallback in CGI mode: 200 with the original's type, X-Fallback and Cache-Status detail" {
	conf 'fallback = original'
	cgi width=64 /videos/bad.mp4
	grep -qx 'Status: 200 OK' head.txt
	grep -qx 'X-Fallback: original' head.txt
	grep -qx 'Cache-Status: vr; fwd=miss; stored; detail=fallback-original' head.txt
	grep -qx 'Content-Type: video/mp4' head.txt
	cmp body.bin "$D/root/bad.mp4"
	cgi width=64 /videos/bad.mp4
	grep -qx 'Cache-Status: vr; hit; ttl=[0-9]*; detail=fallback-original' head.txt
	cmp body.bin "$D/root/bad.mp4"
	# without the fallback: the failure, as before (502: the source is bad)
	conf
	cgi width=80 /videos/bad.mp4
	grep -qx 'Status: 502 Bad Gateway' head.txt
}

@test "policy keys: a bad value is exit 3 naming the file and line" {
	conf 'ttl-refresh = maybe'
	run --separate-stderr -3 "$VR_CACHE" get /videos/x.bin -o o
	[[ $stderr == *"vr.conf:2"*"ttl-refresh"* ]]
	conf 'fallback = always'
	run --separate-stderr -3 "$VR_CACHE" get /videos/x.bin -o o
	[[ $stderr == *"original or none"* ]]
	conf 'ttl-refresh-after = 150%'
	run -3 "$VR_CACHE" get /videos/x.bin -o o
}

@test "[request] bypass-names: the configured names bypass (the default ones no longer), never a parameter's name" {
	conf
	printf '[request]\nbypass-names = nocache debug\n' >>"$VR_CONFIG"
	"$VR_CACHE" get '/videos/good.mp4?width=64' -o o
	"$VR_CACHE" get '/videos/good.mp4?width=64&debug=1' -o o
	"$VR_CACHE" get '/videos/good.mp4?width=64&debug=no' -o o
	"$VR_CACHE" get '/videos/good.mp4?width=64&nocache' -o o
	assert_equal "$(results)" "miss bypass hit bypass"
	# one key for all: the flags are not in it
	assert_equal "$(jq -r 'select(.command == "get") | .key' "$M" | sort -u | wc -l)" 1
	# "bypass" is not listed: not a flag, so an unknown parameter
	run --separate-stderr -3 "$VR_CACHE" get '/videos/good.mp4?width=64&bypass=1' -o o
	[[ $stderr == *"unknown parameter 'bypass'"* ]]
	# over CGI only with [http] allow-bypass
	cgi 'width=64&debug=1' /videos/good.mp4
	grep -qx 'X-Cache: HIT' head.txt
	printf '[http]\nallow-bypass = yes\n' >>"$VR_CONFIG"
	cgi 'width=64&debug=1' /videos/good.mp4
	grep -qx 'X-Cache: BYPASS' head.txt
	printf '[request]\nbypass-names = width\n' >>"$VR_CONFIG"
	run --separate-stderr -3 "$VR_CACHE" get '/videos/good.mp4' -o o
	[[ $stderr == *"bypass-names: 'width' is a parameter"* ]]
}

@test "fallback in warm: the job succeeds with the original stored, its line says fallback" {
	conf 'fallback = original' 'ttl-bad-source = 7d'
	echo '/videos/bad.mp4?width=64' >jobs
	run -0 "$VR_CACHE" warm --quiet jobs
	run -0 "$VR_CACHE" warm --quiet jobs
	assert_equal "$(jq -r 'select(.type == "job") | .fallback' "$M" | paste -sd' ')" "1 1"
	assert_equal "$(jq -r 'select(.type == "job") | .bytes_in' "$M" | tail -n 1)" 0
	assert_equal "$(sql "select key from entries where state = 'ready'")" 'vr1|origin:local:/videos/bad.mp4|0|raw'
}

@test "fallback for a limit (exit 8): the original; without fallback the limit's exit 8 is remembered per variant" {
	conf 'fallback = original'
	printf '[limits]\nmax-input-pixels = 100\n' >>"$VR_CONFIG"
	"$VR_CACHE" get '/videos/good.mp4?width=64' -o o
	cmp o "$D/root/good.mp4"
	assert_equal "$(last fallback)" original
	conf 'ttl-bad-source = 600'
	printf '[limits]\nmax-input-pixels = 100\n' >>"$VR_CONFIG"
	run --separate-stderr -8 "$VR_CACHE" get '/videos/good.mp4?width=80' -o o
	run --separate-stderr -8 "$VR_CACHE" get '/videos/good.mp4?width=80' -o o
	[[ $stderr == *"larger than the limit"*"(a remembered failure)"* ]]
	assert_equal "$(last result)" negative
}

@test "concurrent requests for a bad variant with fallback: each gets the original, one raw entry is stored" {
	conf 'fallback = original' 'ttl-bad-source = 600'
	local i pids=()
	for i in 1 2 3 4; do
		"$VR_CACHE" get '/videos/bad.mp4?width=64' -o "o$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	for i in 1 2 3 4; do cmp "o$i" "$D/root/bad.mp4"; done
	assert_equal "$(jq -r 'select(.command == "get") | .fallback' "$M" | paste -sd' ')" \
		"original original original original"
	assert_equal "$(sql "select count(*) from entries")" 1
	assert_equal "$(sql "select count(*) from negative")" 1
}
