#!/usr/bin/env bats
# tests/player/play.mjs in headless Chromium against the fixture of
# make-fixture.sh (120 s, a centre patch whose luma tells the second:
# Y = 16 + 2 * floor(t)), progressive and fragmented, served as plain files
# by nginx (/static/) and through the CGI stand-in (/videos/) of
# tests/helpers/cgi.bash. Each test is one Chromium run of a few seconds.
#
# The fixtures are kept in $VR_PLAYER_FIXTURES (default
# ~/.cache/vr/fixtures-player; making them costs ~10 s once).
#
# Lives in tests/player/; works as well moved to tests/.

if [ -f "$BATS_TEST_DIRNAME/helpers/common.bash" ]; then
	HELPERS=$BATS_TEST_DIRNAME/helpers PLAYER_DIR=$BATS_TEST_DIRNAME/player
else
	HELPERS=$BATS_TEST_DIRNAME/../helpers PLAYER_DIR=$BATS_TEST_DIRNAME
fi
source "$HELPERS/common.bash"
source "$HELPERS/cgi.bash"

setup_file() {
	if [ ! -d "$PLAYER_DIR/node_modules/playwright-core" ] || [ ! -x /usr/bin/chromium ]; then
		echo "tests/player needs chromium and tests/player/node_modules: run scripts/setup" >&2
		return 1
	fi
	export PFX=${VR_PLAYER_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vr/fixtures-player}
	mkdir -p "$PFX"
	"$PLAYER_DIR/make-fixture.sh" "$PFX/prog.mp4" 120
	"$PLAYER_DIR/make-fixture.sh" --frag --from "$PFX/prog.mp4" "$PFX/frag.mp4" 120
	# shellcheck disable=SC2034 # read by cgi_start
	CGI_ENV=("STANDIN_ROOT=$PFX")
	CGI_STATIC_ROOT=$PFX cgi_start "$PLAYER_DIR/stand-in.cgi"
}

teardown_file() {
	cgi_stop
}

# play ARGS...: runs play.mjs; its JSON lines in $output, status in $status.
play() {
	run node "$PLAYER_DIR/play.mjs" "$@"
	echo "$output" | cut -c1-2000 # shown when a test fails
}

# jqt EXPR [LINE]: jq -e EXPR on JSON line LINE (default 1) of $output.
jqt() {
	sed -n "${2:-1}p" <<<"$output" | jq -e "$1" >/dev/null || {
		echo "jq -e '$1' failed on line ${2:-1}" >&2
		return 1
	}
}

@test "player: progressive at 500 kB/s: metadata early, a seek to 100.5 s is a Range request, the frame shows second 100" {
	play "$CGI_URL/static/prog.mp4" --throttle 500000 --seek 100.5 --play 1
	assert_success
	jqt '.ok and .can_play == "probably"'
	jqt '.metadata.duration == 120 and .metadata.width == 640 and .metadata.height == 360'
	# moov first: the metadata comes from the first ~100-150 KB, in ~0.3 s.
	jqt '.metadata.ms < 3000 and .metadata.bytes < 1000000'
	jqt '.seek.range_request and (.seek.requests_after[0].status == 206)'
	# Y 216 = second 100 (the canvas gives RGB 233; video_y converts back).
	jqt '.seek.frame.video_y > 213 and .seek.frame.video_y < 219'
	jqt '.play.current_time >= 101.5 and .play.frame.video_y > 215 and .play.frame.video_y < 221'
	# Nothing like the whole 8.7 MB came at 500 kB/s.
	jqt '.bytes_total < 4000000'
}

@test "player: fragmented (empty moov): Chromium reads the whole file before loadedmetadata" {
	local size
	size=$(stat -c %s "$PFX/frag.mp4")
	play "$CGI_URL/static/frag.mp4" --seek 100.5 --play 0
	assert_success
	jqt '.ok'
	# No index up front: Chromium's demuxer scans every fragment for the
	# duration, so the metadata waits for all the bytes (18 s at 500 kB/s).
	jqt ".metadata.bytes == $size"
	jqt '.metadata.duration > 119.9 and .metadata.duration < 120.1'
	jqt '(.seek.range_request | not) and .seek.frame.video_y > 213 and .seek.frame.video_y < 219'
}

@test "player: through the CGI stand-in at 500 kB/s: Range requests with If-Range, the frame of /static/" {
	play "$CGI_URL/videos/prog.mp4" --throttle 500000 --seek 100.5 --play 0
	assert_success
	jqt '.ok and .metadata.duration == 120 and .metadata.ms < 3000'
	jqt '.requests[0].range == "bytes=0-" and .requests[0].status == 206'
	jqt '.seek.range_request and (.seek.requests_after[0].if_range | test("^\""))'
	jqt '.seek.frame.video_y > 213 and .seek.frame.video_y < 219'
	run cgi_log main
	assert_line --regexp '"uri":"/videos/prog.mp4","status":206,.*"range":"bytes=[1-9][0-9]*-[0-9]+"'
}

@test "player: a media error and a timeout are JSON lines, exit status 1" {
	play "$CGI_URL/videos/env" "$CGI_URL/videos/hang" --timeout 3 --play 0
	assert_failure 1
	[ "${#lines[@]}" -eq 2 ]
	jqt '.ok == false and .error == "media" and .code == 4 and (.message | length > 0)' 1
	jqt '.ok == false and .error == "timeout" and .stage == "loadedmetadata" and .ready_state == 0' 2
}

@test "player: bad usage is a JSON line and exit status 2" {
	play --seek 5
	assert_failure 2
	jqt '.error == "usage"'
}
