#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031
# vr-cache get, invalidate, purge, gc and stats, proved from the outside:
# bytes compared with cmp, exit statuses exactly, the store inspected with
# vr-chunk and sqlite3, what happened read from the metrics lines. An MP4
# miss streams fragmented MP4 while the store keeps the progressive copy of
# the same encode: a miss's output and a hit's are compared by their decoded
# frames (same_frames), hits byte for byte with each other and with the
# stored entry (vr-chunk get). Videos
# come from scripts/fixtures-video (kept in $VR_VIDEO_FIXTURES between
# runs) and are copied into a local origin root and an nginx docroot.
# VR_CACHE=path runs another build (e.g. build/san/bin/vr-cache); VR_CHUNK
# likewise for the store checks. warm has its own file (vr-cache-warm.bats).

load helpers/common
load helpers/store
load helpers/nginx

setup_file() {
	[ -x "$VR_CACHE" ] || { echo "build first: make" >&2; return 1; }
	local t
	for t in sqlite3 jq ffprobe ffmpeg perl openssl; do
		command -v "$t" >/dev/null || { echo "$t is needed" >&2; return 1; }
	done
	"$ROOT/scripts/fixtures-video" "$FX" >/dev/null
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/root/v" "$d/web"
	cp "$FX/short-90p.mp4" "$d/root/v/a.mp4"    # 10 s 160x90: quick to transform
	cp "$FX/noaudio.mp4" "$d/root/v/b.mp4"      # 3 s 320x240
	cp "$FX/h264-aac.mp4" "$d/root/v/slow.mp4"  # 10 s 640x360: a few seconds of work
	gen 3000000 >"$d/root/v/big.bin"            # raw: 3 chunks of 1 MiB in the store
	cp "$d/root/v/a.mp4" "$d/web/a.mp4"
	cp "$FX/moov-end.mp4" "$d/web/moov-end.mp4"
	nginx_start "$d/web"
	blackhole_start
	cat >"$d/vr.conf" <<EOF
[cache]
ttl-client-error = 60
ttl-server-error = 10

[origin "local"]
match = ^/videos/(.*)\$
source = $d/root/v/\$1

[origin "web"]
match = ^/web/(.*)\$
source = $NGINX_URL/\$1
ttl-ok = 3600

[origin "gone"]
match = ^/gone/(.*)\$
source = $NGINX_URL/missing/\$1
retries = 0

[origin "down"]
match = ^/down/(.*)\$
source = $NGINX_URL/err503/\$1
retries = 0

[origin "auth"]
match = ^/auth/(.*)\$
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
	D=$BATS_FILE_TMPDIR
	S=$BATS_TEST_TMPDIR/s.db
	M=$BATS_TEST_TMPDIR/m.jsonl
	export VR_CONFIG=$D/vr.conf VR_STORE=$S VR_METRICS=$M XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/xdg"
	BG_PIDS=()
}

teardown() {
	local p
	for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}

# results: the result field of each metrics line, in order, space-separated
results() { jq -r 'select(.command == "get") | .result' "$M" | paste -sd' '; }
last() { jq -r "select(.command == \"get\") | .$1" "$M" | tail -n 1; }

# stored KEY: the bytes of KEY's ready entry, as vr-chunk reads them (its
# metrics line kept out of $M)
stored() { env -u VR_METRICS "$VR_CHUNK" --store "$S" get "$1"; }

Q=(-w 80 --compression low)

@test "--help, --version, usage errors" {
	run "$VR_CACHE" --help
	assert_success
	assert_output --partial "invalidate SOURCE"
	run "$VR_CACHE" --version
	assert_success
	run -2 "$VR_CACHE"
	run -2 "$VR_CACHE" frobnicate
	run -2 "$VR_CACHE" get
	run -2 "$VR_CACHE" get /videos/a.mp4 --wait abc
	run -3 "$VR_CACHE" get '/videos/a.mp4?width=abc'
	run -8 "$VR_CACHE" get '/videos/a.mp4?width=5' # under [limits] min-dimension
	run -3 "$VR_CACHE" get /videos/a.mp4 --range bytes=x
	run -2 "$VR_CACHE" get -
}

@test "a miss streams fragmented MP4, a hit the stored progressive copy: the same frames; metrics say miss then hit" {
	run "$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o miss.mp4
	assert_success
	local key
	key=$(last key)
	run "$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o hit.mp4
	assert_success
	run "$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o hit2.mp4
	assert_success
	[ -s hit.mp4 ]
	assert_equal "$(results)" "miss hit hit"
	# the miss streamed fragments; the entry has the index first
	fragmented_mp4 miss.mp4
	progressive_mp4 hit.mp4
	# one encode: the same decoded frames
	same_frames miss.mp4 hit.mp4
	# hits are the stored entry, byte for byte
	stored "$key" >stored.mp4
	cmp hit.mp4 stored.mp4
	cmp hit.mp4 hit2.mp4
	assert_equal "$(jq -s 'map(.open_streams) | add' "$M")" 0
	assert_equal "$(last bytes_out)" "$(stat -c %s hit.mp4)"
	# the miss counted what it wrote and what it stored
	assert_equal "$(jq -s -r '.[0].bytes_out' "$M")" "$(stat -c %s miss.mp4)"
	assert_equal "$(jq -s -r '.[0].bytes_stored' "$M")" "$(stat -c %s hit.mp4)"
	# a real video
	run ffprobe -v error -show_entries stream=width -of csv=p=0 hit.mp4
	assert_output 80
}

@test "a hit does not load the FFmpeg plugin; a miss without it fails clearly" {
	run "$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o miss.mp4
	assert_success
	# the plugin is looked up only when a miss needs it
	VR_AV_PLUGIN=/nonexistent/vr-av.so run "$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o hit.mp4
	assert_success
	stored "$(last key)" >stored.mp4
	cmp hit.mp4 stored.mp4
	same_frames miss.mp4 hit.mp4
	VR_AV_PLUGIN=/nonexistent/vr-av.so run --separate-stderr "$VR_CACHE" get /videos/a.mp4 -w 48 -o other.mp4
	assert_failure 1
	[[ $stderr == *"cannot load the FFmpeg plugin vr-av.so"* ]]
	[ ! -e other.mp4 ]
	assert_equal "$(results)" "miss hit error"
	# and no FFmpeg library is mapped by a hit
	run ldd "$VR_CACHE"
	refute_output --partial libavcodec
}

@test "the query of a request path is the transform, the same key as the options" {
	run "$VR_CACHE" get '/videos/a.mp4?width=80&compression=low' --print-key
	assert_success
	local k1=$output
	run "$VR_CACHE" get /videos/a.mp4 --compression low -w 80 --print-key
	assert_output "$k1"
	run "$VR_CACHE" get '/videos/a.mp4?w=80&compression=low&nocache=1' --print-key
	assert_output "$k1"
	run "$VR_CACHE" get '/videos/a.mp4?w=80' --compression low --print-key
	assert_output "$k1"
	[[ $k1 == "vr1|origin:local:/videos/a.mp4|0|mode=video&width=80&"* ]]
	# different outputs, different keys
	run "$VR_CACHE" get /videos/a.mp4 -w 80 --compression low --fit cover --height 40 --print-key
	[ "$output" != "$k1" ]
	run "$VR_CACHE" get /videos/a.mp4 -w 80 --print-key
	[ "$output" != "$k1" ]
	run "$VR_CACHE" get /videos/b.mp4 -w 80 --compression low --print-key
	[ "$output" != "$k1" ]
	run "$VR_CACHE" get /videos/a.mp4 --print-key
	assert_output "vr1|origin:local:/videos/a.mp4|0|raw"
	# local files by their real path, URLs without v and the transform
	run "$VR_CACHE" get "$D/root/v/../v/a.mp4" --print-key
	assert_output "vr1|$D/root/v/a.mp4|0|raw"
	run "$VR_CACHE" get "$NGINX_URL/a.mp4?x=1&v=9&width=80" --compression low --print-key
	assert_output "vr1|$NGINX_URL/a.mp4?x=1|0|${k1#*|*|*|}&v=9"
	# the query is checked: no silently ignored parameter
	run -3 "$VR_CACHE" get '/videos/a.mp4?widht=80' --print-key
}

@test "one output, one key: even widths, audio quality a copy ignores, spellings of a path, ignored names" {
	local k
	k=$("$VR_CACHE" get '/videos/a.mp4?width=80' --print-key)
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?width=81' --print-key)" "$k"
	assert_equal "$("$VR_CACHE" get '/videos//a%2Emp4?width=80' --print-key)" "$k"
	assert_equal "$("$VR_CACHE" get '//videos/%61.mp4?w=80' --print-key)" "$k"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?w=80&utm_source=news&fbclid=x&_=17' --print-key)" "$k"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?w=80&loop&autoplay=1&muted=true&preload=none' --print-key)" "$k"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?w=80&im-density=2&im-viewwidth=1200&imref=hero' --print-key)" "$k"
	assert_equal "$("$VR_CACHE" get "$NGINX_URL/a.mp4?x=1&utm_source=a&w=80" --print-key)" "$("$VR_CACHE" get "$NGINX_URL/a.mp4?x=1&w=80" --print-key)"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?mode=audio&q=low&compression=high' --print-key)" "$("$VR_CACHE" get '/videos/a.mp4?mode=audio&q=high' --print-key)"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?format=m4a' --print-key)" "$("$VR_CACHE" get '/videos/a.mp4?mode=audio' --print-key)"
	# the oracle: the outputs those keys share are the same
	"$VR_RESIZE" -w 81 -o w81.mp4 "$D/root/v/a.mp4"
	"$VR_RESIZE" -w 80 -o w80.mp4 "$D/root/v/a.mp4"
	same_frames w81.mp4 w80.mp4
	"$VR_RESIZE" -m audio --quality low -o low.m4a "$D/root/v/slow.mp4"
	"$VR_RESIZE" -m audio --quality high -o high.m4a "$D/root/v/slow.mp4"
	cmp low.m4a high.m4a
	"$VR_RESIZE" -m audio --quality low -o low.m4a "$FX/audio.mp3"
	"$VR_RESIZE" -m audio --quality high -o high.m4a "$FX/audio.mp3"
	cmp low.m4a high.m4a
	# and a hit for each spelling
	: >"$M"
	"$VR_CACHE" get '/videos/a.mp4?width=80' -o o1.mp4
	"$VR_CACHE" get '/videos//a%2Emp4?width=81&utm_campaign=x' -o o2.mp4
	assert_equal "$(results)" "miss hit"
	same_frames o1.mp4 o2.mp4
	# a name that is neither a parameter nor ignored stays an error
	run -3 "$VR_CACHE" get '/videos/a.mp4?w=80&utm=x' --print-key
}

# Levels an encoder reads the same (auto is medium in every encoder) or not
# at all (JPEG has no effort setting, PNG no quality) are one key; the
# oracle is cmp on the outputs vr-resize makes for each spelling.
@test "one output, one key: quality auto and medium, a JPEG's compression, a PNG's quality" {
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?width=80&quality=medium&compression=medium' --print-key)" "$("$VR_CACHE" get '/videos/a.mp4?width=80' --print-key)"
	assert_equal "$("$VR_CACHE" get /videos/a.mp4 -w 80 --quality medium --print-key)" "$("$VR_CACHE" get /videos/a.mp4 -w 80 --quality auto --print-key)"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?mode=frame&compression=high' --print-key)" "$("$VR_CACHE" get '/videos/a.mp4?mode=frame&compression=low' --print-key)"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?mode=frame&f=png&q=low' --print-key)" "$("$VR_CACHE" get '/videos/a.mp4?mode=frame&f=png&q=high' --print-key)"
	# what still changes the output still changes the key
	assert [ "$("$VR_CACHE" get '/videos/a.mp4?mode=frame&q=low' --print-key)" != "$("$VR_CACHE" get '/videos/a.mp4?mode=frame&q=high' --print-key)" ]
	assert [ "$("$VR_CACHE" get '/videos/a.mp4?mode=frame&f=png&compression=low' --print-key)" != "$("$VR_CACHE" get '/videos/a.mp4?mode=frame&f=png&compression=high' --print-key)" ]
	assert [ "$("$VR_CACHE" get '/videos/a.mp4?width=80&quality=high' --print-key)" != "$("$VR_CACHE" get '/videos/a.mp4?width=80' --print-key)" ]
	# the oracle: the outputs those keys share are the same bytes
	"$VR_RESIZE" -w 80 -d 2 --quality medium --compression medium -o med.mp4 "$D/root/v/a.mp4"
	"$VR_RESIZE" -w 80 -d 2 --quality auto --compression auto -o auto.mp4 "$D/root/v/a.mp4"
	cmp med.mp4 auto.mp4
	"$VR_RESIZE" -m frame -t 1 --compression high -o hi.jpg "$D/root/v/a.mp4"
	"$VR_RESIZE" -m frame -t 1 --compression low -o lo.jpg "$D/root/v/a.mp4"
	cmp hi.jpg lo.jpg
	"$VR_RESIZE" -m frame -t 1 -f png --quality low -o lo.png "$D/root/v/a.mp4"
	"$VR_RESIZE" -m frame -t 1 -f png --quality high -o hi.png "$D/root/v/a.mp4"
	cmp lo.png hi.png
	"$VR_RESIZE" -m spritesheet -w 32 --height 18 -d 4 --compression low -o lo.jpg "$D/root/v/a.mp4"
	"$VR_RESIZE" -m spritesheet -w 32 --height 18 -d 4 --compression high -o hi.jpg "$D/root/v/a.mp4"
	cmp lo.jpg hi.jpg
	# and a hit for the other spelling
	: >"$M"
	"$VR_CACHE" get '/videos/a.mp4?mode=frame&f=png&q=low' -o p1.png
	"$VR_CACHE" get '/videos/a.mp4?mode=frame&f=png&q=high' -o p2.png
	assert_equal "$(results)" "miss hit"
	cmp p1.png p2.png
}

# A derivative and its explicit parameters are one key, durations included;
# an explicit mode keeps the preset's size.
@test "derivatives: one key with their explicit parameters; an explicit mode wins" {
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?derivative=mobile' --print-key)" "$("$VR_CACHE" get '/videos/a.mp4?w=854&h=640&dur=5m' --print-key)"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?derivative=desktop&mode=frame' --print-key)" "$("$VR_CACHE" get /videos/a.mp4 -m frame -w 1920 --height 1080 --print-key)"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?derivative=thumbnail&format=mp4' --print-key)" "$("$VR_CACHE" get '/videos/a.mp4?mode=video&w=640&h=360&fit=cover&time=2' --print-key)"
	"$VR_CACHE" get '/videos/a.mp4?derivative=mobile&mode=frame' -o f.jpg
	run ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 f.jpg
	assert_output "mjpeg,854,480"
}

# -o FILE's extension is the format of a transformed request, and its key;
# a request without transform parameters stays the source's bytes.
@test "get -o FILE: the extension chooses the format and the key; a contradiction is exit 2" {
	run "$VR_CACHE" get '/videos/a.mp4?width=80' -o x.webm --print-key
	assert_output "$("$VR_CACHE" get '/videos/a.mp4?width=80&format=webm' --print-key)"
	: >"$M"
	"$VR_CACHE" get '/videos/a.mp4?width=80' -o x.webm
	run ffprobe -v error -show_entries format=format_name -of default=nw=1:nk=1 x.webm
	assert_output "matroska,webm"
	run ffprobe -v error -show_entries stream=codec_name -of csv=p=0 x.webm
	assert_output "vp9
opus"
	"$VR_CACHE" get /videos/a.mp4 -w 80 -f webm -o y.webm
	assert_equal "$(results)" "miss hit"
	cmp x.webm y.webm
	"$VR_CACHE" get /videos/a.mp4 -m frame -o t.png
	run ffprobe -v error -show_entries stream=codec_name -of csv=p=0 t.png
	assert_output "png"
	# no transform parameter: the source's bytes, whatever the name
	"$VR_CACHE" get /videos/a.mp4 -o raw.webm
	cmp raw.webm "$D/root/v/a.mp4"
	assert_equal "$("$VR_CACHE" get /videos/a.mp4 -o raw.webm --print-key)" "vr1|origin:local:/videos/a.mp4|0|raw"
	# contradictions: nothing written, nothing asked of the origin
	run -2 --separate-stderr "$VR_CACHE" get '/videos/a.mp4?width=80&format=mp4' -o c.webm
	[[ $stderr == *"a .webm file is format webm, but format mp4 is asked for"* ]]
	run test -e c.webm
	assert_failure
	run -2 "$VR_CACHE" get /videos/a.mp4 -m frame -o c.mp4
	run test -e c.mp4
	assert_failure
}

@test "the cache-busting v makes its own entry: v=2 is not a hit for v=1" {
	local k1 k2
	k1=$("$VR_CACHE" get '/videos/a.mp4?width=80&v=1' --print-key)
	k2=$("$VR_CACHE" get '/videos/a.mp4?width=80&v=2' --print-key)
	assert [ "$k1" != "$k2" ]
	assert [ "$k1" != "$("$VR_CACHE" get '/videos/a.mp4?width=80' --print-key)" ]
	assert_equal "$k2" "$("$VR_CACHE" get '/videos/a.mp4?v=2&w=80' --print-key)"
	assert_equal "$k1" "${k2%&v=2}&v=1"
	assert_equal "$("$VR_CACHE" get '/videos/a.mp4?v=2' --print-key)" "vr1|origin:local:/videos/a.mp4|0|raw&v=2"
	: >"$M"
	"$VR_CACHE" get '/videos/a.mp4?width=80&v=1' -o v1.mp4
	"$VR_CACHE" get '/videos/a.mp4?width=80&v=2' -o v2.mp4
	"$VR_CACHE" get '/videos/a.mp4?width=80&v=1' -o v1b.mp4
	"$VR_CACHE" get '/videos/a.mp4?width=80&v=2' -o v2b.mp4
	assert_equal "$(results)" "miss miss hit hit"
	# invalidating the source covers every v
	"$VR_CACHE" invalidate '/videos/a.mp4?v=2'
	"$VR_CACHE" get '/videos/a.mp4?width=80&v=1' -o v1c.mp4
	assert_equal "$(last result)" miss
	run -3 "$VR_CACHE" get '/videos/a.mp4?v=1&v=2' --print-key
}

@test "an origin's quality and compression apply when the request gives none" {
	cat >o.conf <<EOF
[origin "lq"]
match = ^/lq/(.*)\$
source = $D/root/v/\$1
quality = low
compression = low

[derivative "hq"]
quality = high
EOF
	export VR_CONFIG=$PWD/o.conf
	run "$VR_CACHE" get '/lq/a.mp4?width=80' --print-key
	assert_output --partial "&quality=low&compression=low&"
	run "$VR_CACHE" get '/lq/a.mp4' --width 80 --print-key
	assert_output --partial "&quality=low&compression=low&"
	run "$VR_CACHE" get '/lq/a.mp4?width=80&quality=high' --print-key
	assert_output --partial "&quality=high&compression=low&"
	run "$VR_CACHE" get '/lq/a.mp4?width=80&derivative=hq' --print-key
	assert_output --partial "&quality=high&compression=low&"
	run "$VR_CACHE" get '/lq/a.mp4?mode=audio' --print-key
	assert_output "vr1|origin:lq:/lq/a.mp4|0|mode=audio&time=0&duration=-1&bitrate=0&format=m4a"
	# the output is what vr-resize makes with those options, not its default
	"$VR_CACHE" get '/lq/a.mp4?width=80' -o o.mp4
	"$VR_RESIZE" -w 80 --quality low --compression low -o r.mp4 "$D/root/v/a.mp4"
	"$VR_RESIZE" -w 80 -o d.mp4 "$D/root/v/a.mp4"
	same_frames o.mp4 r.mp4
	run ! same_frames o.mp4 d.mp4
	# a bad value names its line
	sed -i 's/^quality = low$/quality = best/' o.conf
	run -3 --separate-stderr "$VR_CACHE" get '/lq/a.mp4?width=80' --print-key
	[[ $stderr == *"o.conf:"*"quality"*"'best'"* ]]
}

@test "a range on a hit is the slice of the whole entry; the head says HIT" {
	"$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o miss.mp4
	"$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o full.mp4 # the whole entry
	assert_equal "$(results)" "miss hit"
	progressive_mp4 full.mp4
	run --separate-stderr "$VR_CACHE" get /videos/a.mp4 "${Q[@]}" --range bytes=100-1099 --headers -o part
	assert_success
	cmp part <(dd if=full.mp4 bs=1 skip=100 count=1000 status=none)
	[[ $stderr == *"HTTP/1.1 206 Partial Content"* ]]
	[[ $stderr == *"Content-Range: bytes 100-1099/$(stat -c %s full.mp4)"* ]]
	[[ $stderr == *"X-Cache: HIT"* ]]
	[[ $stderr == *"Cache-Control: max-age="* ]]
	[[ $stderr == *"X-Cache-Key: vr1|origin:local:/videos/a.mp4|0|mode=video"* ]]
	run "$VR_CACHE" get /videos/a.mp4 "${Q[@]}" --range -500 -o tail
	cmp tail <(tail -c 500 full.mp4)
	local n
	n=$(stat -c %s full.mp4)
	run -4 "$VR_CACHE" get /videos/a.mp4 "${Q[@]}" --range "bytes=$n-" -o x
}

@test "a range on a miss stores the whole entry and serves the slice of it, the bytes a hit gives" {
	run --separate-stderr "$VR_CACHE" get /videos/a.mp4 "${Q[@]}" --range bytes=-700 --json -o part
	assert_success
	assert_equal "$(last result)" miss
	[ "$(stat -c %s part)" -eq 700 ]
	# the head comes after the body, with the size now known
	local size
	size=$(echo "$stderr" | jq -r .size)
	assert_equal "$(echo "$stderr" | jq -r .cache)" MISS
	assert_equal "$(sqlite3 "$S" "select size from entries where state = 'ready'")" "$size"
	"$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o full.mp4
	assert_equal "$(last result)" hit
	progressive_mp4 full.mp4
	cmp part <(tail -c 700 full.mp4)
	"$VR_CHUNK" --store "$S" verify
	# a range inside the entry's index, on another miss: from the entry too
	run "$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --range 40-1039 -o part2
	assert_success
	assert_equal "$(last result)" miss
	stored "$(last key)" >b.mp4
	progressive_mp4 b.mp4
	cmp part2 <(slice b.mp4 40 1039)
}

# multipart TYPE BOUNDARY FILE S E [S E ...]: the multipart/byteranges body
# of those ranges of FILE (RFC 9110 14.6), as vr-cache writes it
multipart() {
	local type=$1 b=$2 f=$3 n
	n=$(stat -c %s "$f")
	shift 3
	while [ $# -gt 0 ]; do
		printf '\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %d-%d/%d\r\n\r\n' "$b" "$type" "$1" "$2" "$n"
		slice "$f" "$1" "$2"
		shift 2
	done
	printf '\r\n--%s--\r\n' "$b"
}

@test "several ranges with --headers are one multipart body, on a miss (cut from the stored entry) and on a hit" {
	run --separate-stderr "$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --range 0-9,1000-1499,-20 --headers -o mp1
	assert_success
	assert_equal "$(last result)" miss
	[[ $stderr == *"HTTP/1.1 206 Partial Content"* ]]
	[[ $stderr == *"X-Cache: MISS"* ]]
	local b1
	b1=$(sed -n 's/^Content-Type: multipart\/byteranges; boundary=\([^[:space:]]*\).*/\1/p' <<<"$stderr")
	[ -n "$b1" ]
	[[ $stderr == *"Content-Length: $(stat -c %s mp1)"* ]]
	stored "$(last key)" >b.mp4
	local n
	n=$(stat -c %s b.mp4)
	multipart video/mp4 "$b1" b.mp4 0 9 1000 1499 $((n - 20)) $((n - 1)) >want1
	cmp mp1 want1
	# the same on a hit, with a boundary of its own
	run --separate-stderr "$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --range 0-9,1000-1499,-20 --headers --multipart=vr-t -o mp2
	assert_success
	assert_equal "$(last result)" hit
	[[ $stderr == *"multipart/byteranges; boundary=vr-t"* ]]
	multipart video/mp4 vr-t b.mp4 0 9 1000 1499 $((n - 20)) $((n - 1)) >want2
	cmp mp2 want2
	# without --headers, the ranges' bytes back to back
	run "$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --range 0-9,1000-1499 -o plain
	assert_success
	cat <(slice b.mp4 0 9) <(slice b.mp4 1000 1499) | cmp plain -
}

@test "--headers on a miss and a hit" {
	run --separate-stderr "$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --headers -o o1
	assert_success
	[[ $stderr == *"HTTP/1.1 200 OK"* ]]
	[[ $stderr == *"X-Cache: MISS"* ]]
	[[ $stderr == *"Content-Length: $(stat -c %s o1)"* ]]
	[[ $stderr == *"Cache-Control: max-age=86400"* ]]
	run --separate-stderr "$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --headers -o o2
	[[ $stderr == *"X-Cache: HIT"* ]]
	[[ $stderr == *"Age: "* ]]
	[[ $stderr == *"Content-Type: video/mp4"* ]]
	# RFC 9111 4.2.3: max-age is the whole lifetime and Age what has passed,
	# so that a downstream cache that subtracts one from the other counts
	# the age once
	sleep 2
	run --separate-stderr "$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --json -o /dev/null
	local js=${stderr##*$'\n'}
	[ "$(jq -r .max_age <<<"$js")" -eq 86400 ]
	[ "$(jq -r .age <<<"$js")" -ge 2 ]
	[ "$(jq -r .age <<<"$js")" -lt 60 ]
}

@test "8 concurrent gets of one key run exactly one transform" {
	local i
	for i in 1 2 3 4 5 6 7 8; do
		VR_METRICS=m$i.jsonl "$VR_CACHE" get /videos/b.mp4 "${Q[@]}" -o "o$i" &
		BG_PIDS+=($!)
	done
	for i in "${BG_PIDS[@]}"; do wait "$i"; done
	cat m[1-8].jsonl >"$M"
	assert_equal "$(jq -r .result "$M" | sort | uniq -c | awk '{print $2 "=" $1}' | paste -sd' ')" \
		"coalesced=7 miss=1"
	assert_equal "$(jq -s 'map(.transformed) | add' "$M")" 1
	assert_equal "$(jq -s 'map(.open_streams) | add' "$M")" 0
	stored "$(last key)" >stored.mp4
	progressive_mp4 stored.mp4
	# the leader wrote its stream; the 7 followers were served the entry
	local r
	for i in 1 2 3 4 5 6 7 8; do
		r=$(jq -r .result "m$i.jsonl")
		if [ "$r" = miss ]; then
			fragmented_mp4 "o$i"
			same_frames "o$i" stored.mp4
		else
			cmp "o$i" stored.mp4
		fi
	done
}

@test "a leader killed with SIGKILL mid-transform is taken over by a waiting follower" {
	"$VR_CACHE" get /videos/slow.mp4 -w 320 --compression low -o lead &
	local leader=$!
	BG_PIDS+=($leader)
	# the leader holds the key's lock once the store has its row
	local n=0
	until [ "$(sqlite3 "$S" 'select count(*) from locks' 2>/dev/null)" = 1 ]; do
		sleep 0.05
		n=$((n + 1))
		[ $n -lt 200 ]
	done
	"$VR_CACHE" get /videos/slow.mp4 -w 320 --compression low -o follow &
	local follower=$!
	BG_PIDS+=($follower)
	sleep 0.3
	kill -9 "$leader"
	wait "$follower"
	assert_equal "$(results)" miss
	"$VR_CHUNK" --store "$S" verify
	"$VR_CACHE" get /videos/slow.mp4 -w 320 --compression low -o again
	assert_equal "$(results)" "miss hit"
	# the follower streamed the transform it took over; the entry it
	# stored is the progressive copy of that encode
	fragmented_mp4 follow
	stored "$(last key)" >stored.mp4
	cmp again stored.mp4
	progressive_mp4 again
	same_frames follow again
}

@test "EPIPE on stdout still stores a complete, verifiable entry" {
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" | head -c 100 >/dev/null
	assert_equal "$(last result)" miss
	assert_equal "$(last exit)" 0
	"$VR_CHUNK" --store "$S" verify
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" -o hit
	assert_equal "$(last result)" hit
	stored "$(last key)" >stored.mp4
	cmp hit stored.mp4
	progressive_mp4 hit
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --no-store -o fresh
	fragmented_mp4 fresh
	same_frames hit fresh
}

@test "a store that fails still serves: exit 0 with a warning, 6 with --strict" {
	"$VR_CACHE" get /videos/a.mp4 --range 0-0 >/dev/null # the store exists, small
	# a file size limit the chunk cannot fit under (the output is a pipe)
	run --separate-stderr bash -c '(ulimit -f 200; exec "$0" get /videos/slow.mp4 -w 320 --compression low) | cat >out1; exit ${PIPESTATUS[0]}' "$VR_CACHE"
	assert_success
	[[ $stderr == *"warning: the result was served but not stored"* ]]
	run --separate-stderr bash -c '(ulimit -f 200; exec "$0" get /videos/slow.mp4 -w 320 --compression low --strict) | cat >out2; exit ${PIPESTATUS[0]}' "$VR_CACHE"
	assert_failure 6
	cmp out1 out2
	"$VR_CACHE" get /videos/slow.mp4 -w 320 --compression low --no-store -o ref
	cmp out1 ref
	assert_equal "$(jq -s 'map(.open_streams) | add' "$M")" 0
	# a store that cannot be opened at all
	mkdir -p dir.db
	run --separate-stderr "$VR_CACHE" --store dir.db get /videos/b.mp4 "${Q[@]}" -o out3
	assert_success
	[[ $stderr == *"not stored"* ]]
	run -6 "$VR_CACHE" --store dir.db get /videos/b.mp4 "${Q[@]}" --strict -o out4
}

@test "a 404 origin is remembered: the second request does not reach nginx" {
	local before after
	before=$(wc -l <"$NGINX_DIR/access.log")
	run -5 "$VR_CACHE" get /gone/x.mp4 "${Q[@]}" -o o
	after=$(wc -l <"$NGINX_DIR/access.log")
	[ "$after" -gt "$before" ]
	run --separate-stderr -5 "$VR_CACHE" get /gone/x.mp4 "${Q[@]}" -o o
	[[ $stderr == *"remembered"* ]]
	run -5 "$VR_CACHE" get /gone/x.mp4 -w 120 -o o # another variant of the same source
	assert_equal "$(wc -l <"$NGINX_DIR/access.log")" "$after"
	assert_equal "$(results)" "error negative negative"
	assert_equal "$(sqlite3 "$S" 'select status from negative')" 5
	# --bypass asks again
	run -5 "$VR_CACHE" get /gone/x.mp4 "${Q[@]}" --bypass -o o
	[ "$(wc -l <"$NGINX_DIR/access.log")" -gt "$after" ]
	assert_equal "$(jq -s 'map(.open_streams) | add' "$M")" 0
}

@test "--headers and --json on a failure: one head and one object, with the status the exit stands for" {
	# exit 5 (an origin 404, then remembered), HTTP 404
	run --separate-stderr -5 "$VR_CACHE" get /gone/x.mp4 --headers --json -o o
	assert_equal "$(head -n 5 <<<"$stderr" | tr -d '\r')" \
		$'HTTP/1.1 404 Not Found\nContent-Length: 0\nX-Cache: ERROR\nX-Cache-Key: vr1|origin:gone:/gone/x.mp4|0|raw'
	assert_equal "$(grep '^{' <<<"$stderr" | jq -c '[.status,.content_length,.cache,.key]')" \
		'[404,0,"ERROR","vr1|origin:gone:/gone/x.mp4|0|raw"]'
	[[ $(grep '^{' <<<"$stderr" | jq -r .error) == *"HTTP 404"* ]]
	run --separate-stderr -5 "$VR_CACHE" get /gone/x.mp4 "${Q[@]}" --json -o o
	assert_equal "$(grep -c '^{' <<<"$stderr")" 1
	assert_equal "$(grep '^{' <<<"$stderr" | jq -c '[.status,.cache]')" '[404,"NEGATIVE"]'
	# a missing local source through the transform: 5, 404
	run --separate-stderr -5 "$VR_CACHE" get /videos/nope.mp4 "${Q[@]}" --headers -o o
	[[ $(head -n 1 <<<"$stderr") == $'HTTP/1.1 404 Not Found\r' ]]
	# an origin 503: exit 6, HTTP 502
	run --separate-stderr -6 "$VR_CACHE" get /down/x.mp4 --headers --json -o o
	[[ $(head -n 1 <<<"$stderr") == $'HTTP/1.1 502 Bad Gateway\r' ]]
	assert_equal "$(grep '^{' <<<"$stderr" | jq .status)" 502
	# a usage error is no answer; a good one has exactly its own head
	run --separate-stderr -2 "$VR_CACHE" get --headers
	[[ $stderr != *HTTP/1.1* ]]
	run --separate-stderr "$VR_CACHE" get /videos/b.mp4 --headers -o o
	assert_success
	assert_equal "$(grep -c '^HTTP/1.1' <<<"$stderr")" 1
}

@test "an http origin: raw caching with ranges, then a hit without nginx" {
	run "$VR_CACHE" get /web/a.mp4 --range bytes=10-19 -o r1
	assert_success
	cmp r1 <(dd if="$D/web/a.mp4" bs=1 skip=10 count=10 status=none)
	local n
	n=$(wc -l <"$NGINX_DIR/access.log")
	run "$VR_CACHE" get /web/a.mp4 -o whole
	cmp whole "$D/web/a.mp4"
	run "$VR_CACHE" get /web/a.mp4 --range -1000 -o r2
	cmp r2 <(tail -c 1000 "$D/web/a.mp4")
	assert_equal "$(wc -l <"$NGINX_DIR/access.log")" "$n"
	assert_equal "$(results)" "miss hit hit"
	# the origin's ttl-ok
	run --separate-stderr "$VR_CACHE" get /web/a.mp4 --headers -o /dev/null
	[[ $stderr == *"Cache-Control: max-age=3"[56]* ]]
}

@test "an origin header's unset \${env:NAME}: a hit, --print-key, invalidate, purge --source, warm --dry-run need none; a miss is exit 3" {
	unset VR_TEST_TOKEN
	VR_TEST_TOKEN=t0k run "$VR_CACHE" get /auth/a.mp4 -o whole
	assert_success
	cmp whole "$D/web/a.mp4"
	local n
	n=$(wc -l <"$NGINX_DIR/access.log")
	# no origin is contacted: no credentials are read
	run "$VR_CACHE" get /auth/a.mp4 -o hit
	assert_success
	cmp hit "$D/web/a.mp4"
	assert_equal "$(results)" "miss hit"
	run "$VR_CACHE" get /auth/a.mp4 --print-key
	assert_success
	assert_output "vr1|origin:auth:/auth/a.mp4|0|raw"
	run "$VR_CACHE" warm --dry-run <<<'/auth/a.mp4?width=80'
	assert_success
	assert_output --partial "vr1|origin:auth:/auth/a.mp4|0|"
	run "$VR_CACHE" invalidate /auth/a.mp4
	assert_success
	assert_equal "$("$VR_CACHE" get /auth/a.mp4 --print-key)" "vr1|origin:auth:/auth/a.mp4|1|raw"
	run "$VR_CACHE" purge --source /auth/a.mp4
	assert_success
	assert_equal "$(sqlite3 "$S" "select count(*) from entries")" 0
	assert_equal "$(wc -l <"$NGINX_DIR/access.log")" "$n"
	# a miss makes a request: the unset variable is a config error, before
	# any request, raw (vr-fetch's path) and transformed (the demuxer's)
	run --separate-stderr -3 "$VR_CACHE" get /auth/a.mp4 -o o
	[[ $stderr == *'[origin "auth"] header'*VR_TEST_TOKEN* ]]
	run --separate-stderr -3 "$VR_CACHE" get /auth/a.mp4 "${Q[@]}" -o o
	[[ $stderr == *VR_TEST_TOKEN* ]]
	assert_equal "$(wc -l <"$NGINX_DIR/access.log")" "$n"
	# not remembered as the source's failure: with the variable, it works
	VR_TEST_TOKEN=t0k run "$VR_CACHE" get /auth/a.mp4 "${Q[@]}" -o o
	assert_success
}

@test "metrics: bytes_in is what a miss read from its source (transform, raw over http, a range), 0 on a hit" {
	local size
	size=$(stat -c %s "$D/root/v/a.mp4")
	"$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o o
	"$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o o
	"$VR_CACHE" get /web/a.mp4 --range bytes=0-99 -o o
	"$VR_CACHE" get /web/a.mp4 -o o
	assert_equal "$(results)" "miss hit miss hit"
	assert_equal "$(jq -r 'select(.command == "get") | .bytes_in' "$M" | paste -sd' ')" "$size 0 $size 0"
}

@test "raw caching of local source bytes with ranges" {
	run "$VR_CACHE" get /videos/b.mp4 --range 1000-1999,5000-5099 -o two
	assert_success
	cat <(dd if="$D/root/v/b.mp4" bs=1 skip=1000 count=1000 status=none) \
		<(dd if="$D/root/v/b.mp4" bs=1 skip=5000 count=100 status=none) | cmp two -
	run "$VR_CACHE" get /videos/b.mp4 -o all
	cmp all "$D/root/v/b.mp4"
	assert_equal "$(results)" "miss hit"
	assert_equal "$(sqlite3 "$S" "select content_type from entries")" video/mp4
	# several ranges as multipart, on a hit
	run --separate-stderr "$VR_CACHE" get /videos/b.mp4 --range 0-9,20-29 --multipart --headers -o mp
	[[ $stderr == *"multipart/byteranges"* ]]
	grep -q "Content-Range: bytes 20-29/" mp
}

@test "invalidate: every variant misses next time, gc drops the old versions" {
	"$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o a1
	"$VR_CACHE" get /videos/a.mp4 -o raw1
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" -o b1
	run "$VR_CACHE" invalidate '/videos/a.mp4?v=2'
	assert_success
	"$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o a2
	"$VR_CACHE" get /videos/a.mp4 -o raw2
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" -o b2
	assert_equal "$(results)" "miss miss miss miss miss hit"
	cmp a1 a2
	[[ $(last key) == "vr1|origin:local:/videos/b.mp4|0|"* ]]
	[[ $("$VR_CACHE" get /videos/a.mp4 --print-key) == "vr1|origin:local:/videos/a.mp4|1|raw" ]]
	assert_equal "$(sqlite3 "$S" "select count(*) from entries where state = 'ready'")" 5
	run "$VR_CACHE" gc
	assert_success
	assert_equal "$(sqlite3 "$S" "select count(*) from entries where state = 'ready'")" 3
	assert_equal "$(jq -r 'select(.command == "gc") | .old_versions' "$M")" 2
	"$VR_CACHE" get /videos/a.mp4 "${Q[@]}" -o a3
	assert_equal "$(last result)" hit
}

@test "purge --tag and --source remove at once" {
	"$VR_CACHE" get /videos/a.mp4 "${Q[@]}" --tag campaign -o o
	"$VR_CACHE" get /videos/a.mp4 -o o
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --tag campaign -o o
	"$VR_CACHE" get /videos/b.mp4 -m frame -f png -w 64 -o o
	run "$VR_CACHE" purge --tag mode:frame
	assert_success
	assert_equal "$(sqlite3 "$S" "select count(*) from entries")" 3
	run "$VR_CACHE" purge --tag campaign
	assert_equal "$(sqlite3 "$S" "select count(*) from entries")" 1
	"$VR_CACHE" get /videos/b.mp4 -o o
	run "$VR_CACHE" purge --source '/videos/a.mp4?width=640'
	assert_success
	assert_equal "$(sqlite3 "$S" "select count(*) from entries")" 1
	run "$VR_CACHE" get /videos/b.mp4 -o o
	assert_equal "$(last result)" hit
	run -2 "$VR_CACHE" purge
	run -2 "$VR_CACHE" purge --tag a --source b
	# tags say what an entry is
	run "$VR_CHUNK" --store "$S" ls
	assert_output --partial "vr1|origin:local:/videos/b.mp4|0|raw"
	assert_equal "$(sqlite3 "$S" "select group_concat(tag, ' ') from (select tag from tags order by tag)")" \
		"mode:raw source:origin:local:/videos/b.mp4 srcver:origin:local:/videos/b.mp4#0"
}

@test "stats: the store's entries and a metrics file's hit ratio and latency" {
	"$VR_CACHE" get /videos/b.mp4 -o o
	"$VR_CACHE" get /videos/b.mp4 -o o
	"$VR_CACHE" get /videos/b.mp4 -o o
	run -5 "$VR_CACHE" get /videos/none.mp4 -o o
	run "$VR_CACHE" stats --json --metrics-file "$M"
	assert_success
	assert_equal "$(echo "$output" | jq -c '[.entries, .requests, .hits, .misses, .errors, .hit_ratio]')" \
		"[1,4,2,1,1,0.5]"
	assert_equal "$(echo "$output" | jq .bytes)" "$(stat -c %s "$D/root/v/b.mp4")"
	[ "$(echo "$output" | jq .p95_wall_ms)" -ge "$(echo "$output" | jq .p50_wall_ms)" ]
	run "$VR_CACHE" stats
	assert_output --partial "entries      1"
	run -5 "$VR_CACHE" --store nowhere.db stats
}

@test "open_streams is 0 and no temporary is left on error and SIGTERM paths" {
	# TMPDIR: where a miss writes the progressive copy of its MP4
	local tmp=$D/tmp-$BATS_TEST_NUMBER
	mkdir -p "$tmp"
	TMPDIR=$tmp run -3 "$VR_CACHE" get "$FX/garbage.bin" -w 80 -o bad
	[ ! -e bad ]
	[ -z "$(ls -A "$tmp")" ]
	TMPDIR=$tmp "$VR_CACHE" get /videos/slow.mp4 -w 320 --compression low -o term &
	local p=$! n=0
	BG_PIDS+=($p)
	# in the middle of the miss: it holds the key's lock, and its
	# progressive copy is being written
	until [ "$(sqlite3 "$S" 'select count(*) from locks' 2>/dev/null)" = 1 ] && compgen -G "$tmp/vr-miss-*" >/dev/null; do
		sleep 0.05
		n=$((n + 1))
		[ $n -lt 400 ]
	done
	sleep 0.3
	kill -TERM "$p"
	local st=0
	wait "$p" || st=$?
	assert_equal "$st" 143
	assert_equal "$(jq -s 'map(.open_streams) | add' "$M")" 0
	assert_equal "$(jq -s 'map(.exit) | join(" ")' "$M")" '"3 143"'
	[ -z "$(ls -A . | grep -v -e '^s.db' -e '^m.jsonl$')" ]
	[ -z "$(ls -A "$tmp")" ]
	assert_equal "$(sqlite3 "$S" "select count(*) from entries where state = 'ready'")" 0
	assert_equal "$(sqlite3 "$S" "select count(*) from locks")" 0
}

@test "--no-store neither reads nor writes; --wait past a live leader exits 7 or falls back" {
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --no-store -o o
	assert_equal "$(last result)" bypass
	[ ! -e "$S" ] || assert_equal "$(sqlite3 "$S" 'select count(*) from entries')" 0
	"$VR_CACHE" get /videos/slow.mp4 -w 320 --compression low -o lead &
	BG_PIDS+=($!)
	local n=0
	until [ "$(sqlite3 "$S" 'select count(*) from locks' 2>/dev/null)" = 1 ]; do
		sleep 0.05
		n=$((n + 1))
		[ $n -lt 200 ]
	done
	run -7 "$VR_CACHE" get /videos/slow.mp4 -w 320 --compression low --wait 0.2 -o o
	run "$VR_CACHE" get /videos/slow.mp4 -w 320 --compression low --wait 0.2 --no-wait-fallback -o fb
	assert_success
	wait "${BG_PIDS[0]}"
	cmp fb lead
}

@test "--bypass and ?nocache skip the lookup but store the fresh result" {
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" -o o1
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" --bypass -o o2
	"$VR_CACHE" get '/videos/b.mp4?nocache=1' "${Q[@]}" -o o3
	"$VR_CACHE" get /videos/b.mp4 "${Q[@]}" -o o4
	assert_equal "$(results)" "miss bypass bypass hit"
	assert_equal "$(jq -s 'map(.transformed) | add' "$M")" 3
	# three streams of one deterministic encode; the hit is the entry the
	# last of them stored
	cmp o1 o2
	cmp o1 o3
	fragmented_mp4 o1
	stored "$(last key)" >stored.mp4
	cmp o4 stored.mp4
	progressive_mp4 o4
	same_frames o1 o4
	assert_equal "$(sqlite3 "$S" "select count(*) from entries")" 1
}

@test "every command's --help exits 0 with its usage on stdout" {
	local c
	for c in get invalidate purge gc stats warm; do
		run --separate-stderr "$VR_CACHE" "$c" --help
		assert_success
		assert_line --index 0 --regexp "^Usage: vr-cache $c( |\$)"
		assert_equal "$stderr" ""
		# -h too, and after the global options
		run --separate-stderr "$VR_CACHE" --store nowhere.db "$c" -h
		assert_success
		assert_line --index 0 --regexp "^Usage: vr-cache $c( |\$)"
	done
}

@test "diagnostics name the program; a command's usage error points at its --help" {
	run --separate-stderr -2 "$VR_CACHE" get
	assert_equal "$stderr" "vr-cache: error: missing SOURCE
Try 'vr-cache get --help'."
	run --separate-stderr -2 "$VR_CACHE" get /videos/a.mp4 --wait 86401
	[[ $stderr == "vr-cache: error: --wait: "* ]]
	run -2 "$VR_CACHE" get /videos/a.mp4 --wait -1
	run -2 "$VR_CACHE" get /videos/a.mp4 --timeout 86401
	run -2 "$VR_CACHE" get /videos/a.mp4 --multipart='bad boundary '
	run -2 "$VR_CACHE" gc extra
	run -2 "$VR_CACHE" purge --tag a extra
	run -2 "$VR_CACHE" invalidate
	run -2 "$VR_CACHE" stats --bogus
}

@test "global options after the command and after the operand" {
	run "$VR_CACHE" get /videos/b.mp4 -o o --store other.db --metrics other.jsonl -q
	assert_success
	[ ! -e "$S" ]
	[ ! -e "$M" ]
	assert_equal "$(sqlite3 other.db "select count(*) from entries where state = 'ready'")" 1
	assert_equal "$(jq -r .result other.jsonl)" miss
	run "$VR_CACHE" stats --json --store other.db
	assert_success
	assert_equal "$(echo "$output" | jq .entries)" 1
	run "$VR_CACHE" gc --vacuum --store other.db
	assert_success
	run "$VR_CACHE" invalidate /videos/b.mp4 --store other.db
	assert_success
	run "$VR_CACHE" purge --store other.db --tag mode:raw
	assert_success
	assert_equal "$(sqlite3 other.db "select count(*) from entries")" 0
}

@test "a mistyped --store: invalidate, purge, gc and stats exit 5 and create nothing; --print-key and warm --dry-run neither" {
	local c
	for c in 'invalidate /videos/b.mp4' 'purge --source /videos/b.mp4' 'purge --tag mode:raw' \
		gc stats; do
		# shellcheck disable=SC2086
		run --separate-stderr "$VR_CACHE" --store typo/s.db $c
		[ "$status" -eq 5 ] || { echo "vr-cache $c: exit $status"; return 1; }
		assert_equal "$stderr" "vr-cache: error: no store at typo/s.db (vr-cache get or warm creates it)"
	done
	[ ! -e typo ]
	# keys without a store: every source at version 0, nothing written
	run "$VR_CACHE" --store typo/s.db get /videos/b.mp4 --print-key
	assert_success
	assert_output "vr1|origin:local:/videos/b.mp4|0|raw"
	run "$VR_CACHE" --store typo/s.db warm --dry-run <<<'/videos/b.mp4'
	assert_success
	assert_output --partial "vr1|origin:local:/videos/b.mp4|0|raw"
	[ ! -e typo ]
	# an empty file is no store either, and stays as it is
	mkdir typo && : >typo/s.db
	run -5 "$VR_CACHE" --store typo/s.db invalidate /videos/b.mp4
	[ ! -s typo/s.db ]
	# the store a get made is there to change
	"$VR_CACHE" --store typo/s.db get /videos/b.mp4 -o o
	run "$VR_CACHE" --store typo/s.db invalidate /videos/b.mp4
	assert_success
	assert_equal "$("$VR_CACHE" --store typo/s.db get /videos/b.mp4 --print-key)" \
		"vr1|origin:local:/videos/b.mp4|1|raw"
}

@test "-r and --multipart=BOUNDARY: the boundary given is the one used" {
	run "$VR_CACHE" get /videos/b.mp4 -r 0-9,20-29 -o warm-up
	assert_success
	run --separate-stderr "$VR_CACHE" get /videos/b.mp4 -r 0-9,20-29 --multipart=vr-test-boundary --headers -o mp
	assert_success
	[[ $stderr == *"multipart/byteranges; boundary=vr-test-boundary"* ]]
	grep -q -- "--vr-test-boundary" mp
	grep -q -- "--vr-test-boundary--" mp
	grep -q "Content-Range: bytes 20-29/" mp
}

@test "stats says how many lines of a metrics file are not metrics lines" {
	"$VR_CACHE" get /videos/b.mp4 -o o
	"$VR_CACHE" get /videos/b.mp4 -o o
	printf 'not a metrics line\n{"half":\n\n{"result":"hit"}\n' >>"$M"
	run --separate-stderr "$VR_CACHE" stats --json --metrics-file "$M"
	assert_success
	assert_equal "$(echo "$output" | jq .skipped)" 3
	assert_equal "$(echo "$output" | jq .requests)" 2
	assert_equal "$(echo "$output" | jq .hits)" 1
	assert_equal "$(echo "$output" | jq .misses)" 1
	[[ $stderr == *"vr-cache: warning: $M: skipped 3 lines that are not metrics lines"* ]]
	# none skipped: no warning, and 0 in --json
	grep '"command":"get"' "$M" >clean.jsonl
	run --separate-stderr "$VR_CACHE" stats --json --metrics-file clean.jsonl
	assert_success
	assert_equal "$(echo "$output" | jq .skipped)" 0
	assert_equal "$stderr" ""
}

@test "a hit on a damaged entry: found before any byte, removed and served as a miss; found later, exit 6 with a prefix, removed" {
	run "$VR_CACHE" get /videos/a.mp4 -o first
	assert_success
	cmp first "$D/root/v/a.mp4"
	local key
	key=$(last key)
	# every chunk's bytes changed in place, lengths kept: their CRC-32C no longer matches
	sqlite3 -cmd '.timeout 10000' "$S" 'UPDATE chunks SET data = zeroblob(length(data))'
	# chunk 0 is checked before anything is written: the same request
	# drops the damaged generation and makes the entry anew
	run --separate-stderr "$VR_CACHE" get /videos/a.mp4 -o second
	assert_success
	[[ $stderr == *"$key: the stored entry is damaged"* ]]
	[[ $stderr == *"does not match its checksum"* ]]
	[[ $stderr == *"damaged"*"removed"* ]]
	cmp second "$D/root/v/a.mp4"
	run "$VR_CACHE" get /videos/a.mp4 -o third
	assert_success
	cmp third "$D/root/v/a.mp4"
	assert_equal "$(results)" "miss miss hit"
	"$VR_CHUNK" --store "$S" verify
	# damage in chunk 1 of 3: chunk 0 went out before it was found, so the
	# request fails (6) with that prefix, and the entry is removed
	run "$VR_CACHE" get /videos/big.bin -o /dev/null
	assert_success
	key=$(last key)
	assert_equal "$(sqlite3 "$S" "select chunk_count from entries where key = cast('$key' as blob) and state = 'ready'")" 3
	sqlite3 -cmd '.timeout 10000' "$S" "UPDATE chunks SET data = zeroblob(length(data)) WHERE idx = 1
		AND entry = (SELECT id FROM entries WHERE key = CAST('$key' AS BLOB) AND state = 'ready')"
	run --separate-stderr bash -c '"$0" get /videos/big.bin >part' "$VR_CACHE"
	assert_failure 6
	[[ $stderr == *"chunk 1 does not match its checksum"* ]]
	[[ $stderr == *"$key: the stored entry is damaged"*"removed"* ]]
	[ "$(stat -c %s part)" -eq 1048576 ]
	cmp part <(head -c 1048576 "$D/root/v/big.bin")
	run -5 stored "$key"
	# the next request is a miss that stores it again, then a hit
	run "$VR_CACHE" get /videos/big.bin -o big1
	assert_success
	cmp big1 "$D/root/v/big.bin"
	run "$VR_CACHE" get /videos/big.bin -o big2
	cmp big2 "$D/root/v/big.bin"
	# with --headers the head (X-Cache: HIT) is out before chunk 0 is read:
	# damage there fails the request (6), with no body, and removes the entry
	sqlite3 -cmd '.timeout 10000' "$S" "UPDATE chunks SET data = zeroblob(length(data)) WHERE idx = 0
		AND entry = (SELECT id FROM entries WHERE key = CAST('$key' AS BLOB) AND state = 'ready')"
	run --separate-stderr bash -c '"$0" get /videos/big.bin --headers >body' "$VR_CACHE"
	assert_failure 6
	[[ $stderr == *"X-Cache: HIT"* ]]
	[[ $stderr == *"chunk 0 does not match its checksum"*  ]]
	[[ $stderr == *"damaged"*"removed"* ]]
	[ ! -s body ]
	run -5 stored "$key"
	run "$VR_CACHE" get /videos/big.bin -o big3
	assert_success
	cmp big3 "$D/root/v/big.bin"
	assert_equal "$(results)" "miss miss hit miss error miss hit error miss"
	"$VR_CHUNK" --store "$S" verify
}

@test "--timeout and warm --job-timeout bound an http origin that never answers: exit 7 soon" {
	local url=http://127.0.0.1:$BLACKHOLE_PORT a t0 ms
	# raw (the fetcher, with its retries) and transformed (libavformat)
	for a in raw width; do
		local q=
		[ "$a" = raw ] || q='?width=64'
		t0=$(date +%s%N)
		run timeout 60 "$VR_CACHE" --store "s-$a.db" get --timeout 1 "$url/$a.mp4$q" -o o.bin
		ms=$((($(date +%s%N) - t0) / 1000000))
		assert_failure 7
		assert_output --partial "no data for 1s"
		[ "$ms" -lt 4000 ] || fail "$a: $ms ms for a 1 s timeout"
	done
	printf '%s\n%s -w 64\n' "$url/b.mp4" "$url/c.mp4" >list
	t0=$(date +%s%N)
	run timeout 60 "$VR_CACHE" --store w.db --metrics m.jsonl warm -j 1 --job-timeout 1 list
	ms=$((($(date +%s%N) - t0) / 1000000))
	assert_failure 1
	[ "$ms" -lt 6000 ] || fail "warm: $ms ms for two jobs of 1 s"
	[ "$(jq -s '[.[] | select(.type == "job" and .status == 7)] | length' m.jsonl)" -eq 2 ]
	assert_output --partial "line 1: $url/b.mp4: the fetch ran past its time limit"
	assert_output --partial "line 2: $url/c.mp4: the transform ran past its time limit"
}

@test "an origin that ignores Range, moov at the end: spooled as a pipe is, not blamed on the file" {
	run "$VR_CACHE" --store s.db get "$NGINX_URL/norange/moov-end.mp4?width=64" -o o.mp4
	assert_success
	run ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 o.mp4
	assert_output $'h264,64,36\naac'
	run ffmpeg -nostdin -v error -i o.mp4 -f null -
	assert_output ""
	# the same duration as the source (ffprobe), to 0.1 s
	local want got
	want=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$FX/moov-end.mp4")
	got=$(ffprobe -v error -show_entries format=duration -of csv=p=0 o.mp4)
	awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; exit !(d < 0.1 && d > -0.1) }'
}

@test "get --progress: a miss draws the transform's percent, fps and ETA; a hit draws nothing; none without a terminal" {
	run bash -c '"$VR_CACHE" --progress get /videos/a.mp4 -w 80 --compression low 2>&1 >miss.mp4'
	assert_success
	assert_line --regexp '^vr-cache: 100%  00:00:10.0 / 00:00:10.0  [0-9.]+ fps  [0-9.]+x  ETA 0:00$'
	run bash -c '"$VR_CACHE" --progress get /videos/a.mp4 -w 80 --compression low 2>&1 >hit.mp4'
	assert_success
	assert_output ''
	assert_equal "$(results)" "miss hit"
	# a miss without --progress and without a terminal: nothing
	run bash -c '"$VR_CACHE" get /videos/a.mp4 -w 96 --compression low 2>&1 >miss2.mp4'
	assert_success
	assert_output ''
	# -q wins over --progress
	run bash -c '"$VR_CACHE" -q --progress get /videos/a.mp4 -w 112 --compression low 2>&1 >miss3.mp4'
	assert_output ''
	# a terminal: shown by default on a miss
	run script -qec "'$VR_CACHE' get /videos/a.mp4 -w 128 --compression low >miss4.mp4" /dev/null
	assert_success
	assert_output --partial $'\rvr-cache: 100%  00:00:10.0 / 00:00:10.0  '
	# --headers: stderr is the response head, and only that
	run bash -c '"$VR_CACHE" --progress get --headers /videos/a.mp4 -w 144 --compression low 2>&1 >miss5.mp4'
	assert_success
	refute_output --partial 'vr-cache: '
	assert_line --index 0 --regexp '^HTTP/1.1 200'
	assert_equal "$(results)" "miss hit miss miss miss miss"
}
