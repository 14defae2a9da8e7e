#!/usr/bin/env bats
# vr-cache cgi behind a real web server: nginx + fcgiwrap from Debian, with
# curl, ffprobe and ffmpeg as the clients (tests/helpers/cgi.bash starts
# and stops them on 127.0.0.1). The oracles are independent: dd slices of
# a whole answer, ffprobe's reading of the stored MP4, ffmpeg's decoding of
# a local copy, nginx's own access log and proxy cache.

load helpers/common
load helpers/cgi
load helpers/nginx


# a variant of the 20 s source (small: transforms take a second)
V='/videos/src.mp4?width=160'

setup_file() {
	export D=$BATS_FILE_TMPDIR
	mkdir -p "$D/media"
	ffmpeg -v error -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=f=440 \
		-t 20 -c:v libx264 -preset veryfast -g 25 -pix_fmt yuv420p -c:a aac \
		-movflags +faststart "$D/media/src.mp4"
	head -c 65536 /dev/urandom >"$D/media/garbage.mp4"
	blackhole_start
	export VR_STORE=$D/store.db VR_CONFIG=$D/vr.conf
	cat >"$VR_CONFIG" <<CONF
[origin "videos"]
match = ^/videos/(.*)\$
source = $D/media/\$1
root = $D/media

[origin "hole"]
match = ^/hole/(.*)\$
source = http://127.0.0.1:$BLACKHOLE_PORT/\$1
timeout = 1s
retries = 0

[http]
cors-origins = https://app.example
CONF
	CGI_ENV=("VR_METRICS=$D/metrics.jsonl")
	CGI_MEDIA_ROOT=$D/media cgi_start "$VR_CACHE"
	export CGI_URL CGI_PROXY_URL CGI_DIR
}

teardown_file() {
	cgi_stop
	blackhole_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# curl with the head in H and the body in B: `get URL [curl options]`
get() {
	local url=$1
	shift
	status=0
	rm -f B H
	code=$(curl -sS -o B -D H -w '%{http_code}' "$@" "$url") || status=$?
}

# One header's value from H (case-insensitive name, CR stripped).
hdr() {
	sed -n "s/^$1: \(.*\)\r\$/\1/Ip" H | tail -n 1
}

# The ETag of the stored variant (a HEAD).
etag_of_whole() {
	curl -sS -I "$CGI_URL$V" | sed -n 's/^ETag: \(.*\)\r$/\1/Ip'
}

# The whole stored variant, once, as the oracle file "$D/whole".
whole() {
	if [ ! -s "$D/whole" ]; then
		curl -sS -o "$D/whole" "$CGI_URL$V" # the miss: streamed
		curl -sS -o "$D/whole" "$CGI_URL$V" # the hit: the stored entry
	fi
}

@test "a cold plain GET streams at once with no validator; the store gets the seekable MP4" {
	get "$CGI_URL$V"
	assert_equal "$code" 200
	assert_equal "$(hdr Cache-Control)" no-store
	assert_equal "$(hdr ETag)" ""
	assert_equal "$(hdr Accept-Ranges)" none
	[[ $(hdr Cache-Status) == 'vr; fwd=miss; stored' ]]
	# the streamed answer is a whole video: ffprobe reads its duration
	run ffprobe -v error -show_entries format=duration -of csv=p=0 B
	assert_success
	[[ $output == 20.* || $output == 19.9* ]]
	# the next answer is the stored entry: a validator, a length, and the
	# index (moov) before the media data (mdat)
	get "$CGI_URL$V"
	assert_equal "$code" 200
	[[ $(hdr ETag) =~ ^\"[0-9a-f]{32}\"$ ]]
	assert_equal "$(hdr Content-Length)" "$(stat -c %s B)"
	assert_equal "$(hdr Accept-Ranges)" bytes
	[[ $(hdr Cache-Status) == 'vr; hit; ttl='* ]]
	moov=$(grep -obaF moov B | head -n 1 | cut -d: -f1)
	mdat=$(grep -obaF mdat B | head -n 1 | cut -d: -f1)
	[ "$moov" -lt "$mdat" ]
	run ffprobe -v error -count_packets -select_streams v -show_entries stream=nb_read_packets -of csv=p=0 B
	assert_output 500
	cp B "$D/whole"
}

@test "the range matrix: single, open, suffix, several (multipart), unsatisfiable, invalid, unknown unit" {
	whole
	size=$(stat -c %s "$D/whole")
	get "$CGI_URL$V" -H 'Range: bytes=100-1099'
	assert_equal "$code" 206
	assert_equal "$(hdr Content-Range)" "bytes 100-1099/$size"
	cmp B <(dd if="$D/whole" bs=1 skip=100 count=1000 status=none)
	get "$CGI_URL$V" -H "Range: bytes=$((size - 300))-"
	assert_equal "$code" 206
	cmp B <(tail -c 300 "$D/whole")
	get "$CGI_URL$V" -H 'Range: bytes=-500'
	assert_equal "$code" 206
	assert_equal "$(hdr Content-Range)" "bytes $((size - 500))-$((size - 1))/$size"
	cmp B <(tail -c 500 "$D/whole")
	# several ranges: always multipart/byteranges; each part is its slice
	get "$CGI_URL$V" -H 'Range: bytes=0-9,2000-2099'
	assert_equal "$code" 206
	[[ $(hdr Content-Type) == 'multipart/byteranges; boundary='* ]]
	assert_equal "$(hdr Content-Length)" "$(stat -c %s B)"
	grep -a -c "Content-Range: bytes 0-9/$size" B
	grep -a -c "Content-Range: bytes 2000-2099/$size" B
	cmp <(awk 'BEGIN{RS="\r\n\r\n"} NR==3' B | head -c 100) <(dd if="$D/whole" bs=1 skip=2000 count=100 status=none)
	get "$CGI_URL$V" -H "Range: bytes=$size-"
	assert_equal "$code" 416
	assert_equal "$(hdr Content-Range)" "bytes */$size"
	assert_equal "$(hdr ETag)" "$(etag_of_whole)"
	[[ $(hdr Cache-Status) == 'vr; hit; ttl='* ]]
	# an invalid set and an unknown unit are ignored: the whole, 200
	get "$CGI_URL$V" -H 'Range: bytes=9-1'
	assert_equal "$code" 200
	cmp B "$D/whole"
	get "$CGI_URL$V" -H 'Range: items=0-9'
	assert_equal "$code" 200
	cmp B "$D/whole"
}

@test "conditional requests: 304, 412, If-Range match and mismatch, in RFC 9110's order" {
	whole
	get "$CGI_URL$V" -I
	etag=$(hdr ETag)
	lm=$(hdr Last-Modified)
	get "$CGI_URL$V" -H "If-None-Match: $etag"
	assert_equal "$code" 304
	[ ! -s B ]
	assert_equal "$(hdr ETag)" "$etag"
	get "$CGI_URL$V" -H "If-None-Match: W/$etag, \"other\""
	assert_equal "$code" 304
	get "$CGI_URL$V" -H "If-Modified-Since: $lm"
	assert_equal "$code" 304
	get "$CGI_URL$V" -H 'If-None-Match: "other"' -H "If-Modified-Since: $lm"
	assert_equal "$code" 200 # If-None-Match wins over If-Modified-Since
	get "$CGI_URL$V" -H 'If-Match: "other"'
	assert_equal "$code" 412
	get "$CGI_URL$V" -H "If-Match: $etag" -H 'Range: bytes=0-9'
	assert_equal "$code" 206
	get "$CGI_URL$V" -H 'If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT'
	assert_equal "$code" 412
	get "$CGI_URL$V" -H "If-Range: $etag" -H 'Range: bytes=0-9'
	assert_equal "$code" 206
	cmp B <(head -c 10 "$D/whole")
	get "$CGI_URL$V" -H 'If-Range: "stale"' -H 'Range: bytes=0-9'
	assert_equal "$code" 200
	cmp B "$D/whole"
	get "$CGI_URL$V" -H "If-Range: $lm" -H 'Range: bytes=0-9'
	assert_equal "$code" 206
}

@test "curl -C - resumes a cut download with identical bytes" {
	whole
	size=$(stat -c %s "$D/whole")
	head -c $((size / 3)) "$D/whole" >part
	curl -sS -C - -o part "$CGI_URL$V"
	cmp part "$D/whole"
}

@test "HEAD: the GET's head, no body, and no chunk read" {
	whole
	get "$CGI_URL$V"
	grep -iv '^date:\|^age:\|^cache-status:' H | sort >get.h
	get "$CGI_URL$V" -I
	assert_equal "$code" 200
	cmp B H # curl -I writes the head as the body: nothing else came
	grep -iv '^date:\|^age:\|^cache-status:' H | sort | diff - get.h
	# with its first chunk damaged, HEAD still answers from the entry's row
	cp "$VR_STORE" "$D/store2.db"
	sqlite3 "$D/store2.db" 'UPDATE chunks SET crc32c = crc32c + 1 WHERE idx = 0'
	VR_STORE=$D/store2.db REQUEST_METHOD=HEAD REQUEST_URI="$V" QUERY_STRING=width=160 \
		"$VR_CACHE" cgi >head.out 2>head.err
	head -n 1 head.out | grep -q '^Status: 200 OK'
	! grep -q damaged head.err
}

@test "a damaged entry found before the first byte is dropped and the request served as a miss" {
	whole
	cp "$VR_STORE" "$D/store3.db"
	sqlite3 "$D/store3.db" 'UPDATE chunks SET crc32c = crc32c + 1 WHERE idx = 0'
	VR_STORE=$D/store3.db REQUEST_METHOD=GET REQUEST_URI="$V" QUERY_STRING=width=160 \
		"$VR_CACHE" cgi >out 2>err
	head -n 1 out | grep -q '^Status: 200 OK'
	grep -q 'X-Cache: MISS' out
	grep -q "damaged.*removed" err
	grep -q "src.mp4" err # reported with its key
	# the next one is a hit on the stored copy again: the bytes of the
	# newest entry as SQLite holds them, a whole video like the first
	# (not its bytes: libx264 at the default preset differs in about one
	# encode of 50 to 80 under load, the ffmpeg command's as well)
	VR_STORE=$D/store3.db REQUEST_METHOD=GET REQUEST_URI="$V" QUERY_STRING=width=160 \
		"$VR_CACHE" cgi >out2 2>/dev/null
	grep -q 'X-Cache: HIT' out2
	sqlite3 -readonly "$D/store3.db" "SELECT hex(data) FROM chunks WHERE entry =
		(SELECT max(id) FROM entries WHERE state = 'ready') ORDER BY idx" | xxd -r -p >stored
	sed '1,/^\r$/d' out2 | cmp - stored
	run ffprobe -v error -count_packets -select_streams v -show_entries stream=nb_read_packets -of csv=p=0 stored
	assert_output 500
}

@test "OPTIONS, CORS and its preflight; Content-Disposition does not change the key" {
	whole
	get "$CGI_URL$V" -X OPTIONS
	assert_equal "$code" 204
	assert_equal "$(hdr Allow)" "GET, HEAD, OPTIONS"
	get "$CGI_URL$V" -X OPTIONS -H 'Origin: https://app.example' -H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: range'
	assert_equal "$code" 204
	assert_equal "$(hdr Access-Control-Allow-Origin)" https://app.example
	[[ $(hdr Access-Control-Allow-Headers) == *Range* ]]
	[[ $(hdr Access-Control-Allow-Methods) == *GET* ]]
	get "$CGI_URL$V" -H 'Origin: https://app.example' -H 'Range: bytes=0-9'
	assert_equal "$(hdr Access-Control-Allow-Origin)" https://app.example
	[[ $(hdr Access-Control-Expose-Headers) == *Content-Range*ETag* ]]
	get "$CGI_URL$V" -H 'Origin: https://evil.example'
	assert_equal "$(hdr Access-Control-Allow-Origin)" ""
	get "$CGI_URL$V&filename=My%20Clip.mov"
	assert_equal "$code" 200
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(hdr Content-Disposition)" "attachment; filename=\"My_Clip.mp4\"; filename*=UTF-8''My%20Clip.mp4"
	cmp B "$D/whole"
}

@test "server-mode safety: only configured origins, no client bypass, no key header" {
	whole
	get "$CGI_URL/videos/../../etc/passwd"
	[[ $code == 400 || $code == 404 ]]
	# nginx resolves dot segments itself; a server that passes them on
	# gets 400 from vr
	REQUEST_METHOD=GET REQUEST_URI=/videos/%2e%2e/vr.conf "$VR_CACHE" cgi >out 2>/dev/null || true
	head -n 1 out | grep -q '^Status: 400 Bad Request'
	REQUEST_METHOD=GET REQUEST_URI=/etc/passwd "$VR_CACHE" cgi >out 2>/dev/null || true
	head -n 1 out | grep -q '^Status: 404 Not Found'
	! grep -q root: out
	REQUEST_METHOD=GET REQUEST_URI="/videos/$D/media/src.mp4" "$VR_CACHE" cgi >out 2>/dev/null || true
	head -n 1 out | grep -q '^Status: 404'
	# nocache from a client is ignored unless [http] allow-bypass
	get "$CGI_URL$V&nocache=1"
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(hdr X-Cache-Key)" ""
	get "$CGI_URL$V" -H 'Cache-Control: no-cache'
	assert_equal "$(hdr X-Cache)" HIT
}

@test "every error status, with a short plain body that names no path" {
	get "$CGI_URL/videos/nope.mp4"
	assert_equal "$code" 404
	get "$CGI_URL/videos/src.mp4?width=banana"
	assert_equal "$code" 400
	get "$CGI_URL/videos/src.mp4?width=100000"
	assert_equal "$code" 422
	get "$CGI_URL/videos/garbage.mp4?width=160"
	assert_equal "$code" 502
	get "$CGI_URL$V" -X POST
	assert_equal "$code" 405
	assert_equal "$(hdr Allow)" "GET, HEAD, OPTIONS"
	REQUEST_METHOD=GET REQUEST_URI='/hole/x.mp4' QUERY_STRING=width=160 "$VR_CACHE" cgi >out 2>/dev/null || true
	head -n 1 out | grep -q '^Status: 504'
	VR_CONFIG=/nonexistent/vr.conf REQUEST_METHOD=GET REQUEST_URI="$V" "$VR_CACHE" cgi >out 2>/dev/null || true
	head -n 1 out | grep -q '^Status: 500'
	! grep -q nonexistent out
	for u in /videos/nope.mp4 '/videos/src.mp4?width=banana' '/videos/garbage.mp4?width=160'; do
		get "$CGI_URL$u"
		assert_equal "$(hdr Content-Type)" 'text/plain; charset=utf-8'
		[ "$(stat -c %s B)" -lt 100 ]
		! grep -q "$D\|/videos\|media" B
	done
}

@test "503 when another process holds the key past --wait" {
	whole
	# a lock held by a live process on the key of a cold variant
	key=$("$VR_CACHE" get --print-key '/videos/src.mp4?width=96')
	sleep 30 &
	pid=$!
	sqlite3 "$VR_STORE" "INSERT INTO locks VALUES(CAST('$key' AS BLOB), 'test', $pid, '$(hostname)', strftime('%s','now'), strftime('%s','now') + 600)"
	REQUEST_METHOD=GET REQUEST_URI='/videos/src.mp4?width=96' QUERY_STRING=width=96 \
		"$VR_CACHE" cgi --wait 0.3 >out 2>/dev/null || true
	kill "$pid"
	sqlite3 "$VR_STORE" "DELETE FROM locks WHERE owner = 'test'"
	head -n 1 out | grep -q '^Status: 503'
	grep -q '^Retry-After: 1' out
}

@test "ffprobe and ffmpeg read the http URL: a frame at -ss 12 and every frame as from a local copy" {
	whole
	ffmpeg -v error -ss 12 -i "$CGI_URL$V" -frames:v 1 -f framemd5 - | grep -v '^#' | cut -d, -f6 >remote.md5
	ffmpeg -v error -ss 12 -i "$D/whole" -frames:v 1 -f framemd5 - | grep -v '^#' | cut -d, -f6 >local.md5
	[ -s local.md5 ]
	cmp remote.md5 local.md5
	ffmpeg -v error -i "$CGI_URL$V" -map 0:v -f framemd5 - | grep -v '^#' >remote.all
	ffmpeg -v error -i "$D/whole" -map 0:v -f framemd5 - | grep -v '^#' >local.all
	assert_equal "$(wc -l <remote.all)" 500
	cmp remote.all local.all
}

@test "20 concurrent cold range requests: one transform, every body the matching slice" {
	local u='/videos/src.mp4?width=128'
	for i in $(seq 0 19); do
		curl -sS -o "r$i" -H "Range: bytes=$((i * 1000))-$((i * 1000 + 999))" "$CGI_URL$u" &
	done
	wait
	curl -sS -o w "$CGI_URL$u"
	for i in $(seq 0 19); do
		cmp "r$i" <(dd if=w bs=1 skip=$((i * 1000)) count=1000 status=none)
	done
	# one transform among the 21 requests (their metrics lines)
	assert_equal "$(jq -s 'map(select(.path == "/videos/src.mp4" and (.key | contains("width=128")))) | length' "$D/metrics.jsonl")" 21
	assert_equal "$(jq -s 'map(select((.key // "") | contains("width=128")) | .transformed) | add' "$D/metrics.jsonl")" 1
}

@test "nginx proxy_cache in front revalidates with If-None-Match and gets 304 from vr" {
	whole
	curl -sS -o p1 "$CGI_PROXY_URL$V"
	sleep 2.2 # nginx counts validity in whole seconds: 1 s may last until the next second but one
	curl -sS -o p2 -D ph "$CGI_PROXY_URL$V"
	cmp p2 "$D/whole"

	grep -qi 'X-Cache-Status: REVALIDATED' ph
	cgi_log main | jq -e -s 'map(select(.if_none_match != "" and .if_none_match != "-" and .status == 304)) | length >= 1'
}

@test "a miss killed with SIGKILL leaves its temporary copy; gc removes it, nothing partial is served" {
	mkdir -p tmp
	TMPDIR=$PWD/tmp REQUEST_METHOD=GET REQUEST_URI='/videos/src.mp4?width=208' QUERY_STRING=width=208 \
		"$VR_CACHE" cgi >out 2>/dev/null 3>&- &
	pid=$!
	for _ in $(seq 1 100); do
		compgen -G "tmp/vr-miss-$pid-*" >/dev/null && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	compgen -G "tmp/vr-miss-$pid-*"
	TMPDIR=$PWD/tmp "$VR_CACHE" gc
	run compgen -G "tmp/vr-miss-*"
	assert_failure
	# the key is not served from anything partial: a new request is a miss
	get "$CGI_URL/videos/src.mp4?width=208" -H 'Range: bytes=0-9'
	assert_equal "$code" 206
	[[ $(hdr Cache-Status) == 'vr; fwd=miss; stored' ]]
}
