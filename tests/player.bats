#!/usr/bin/env bats
# A browser's <video> against vr-cache cgi behind nginx + fcgiwrap: headless
# Chromium (Debian's) driven by tests/player/play.mjs (playwright-core),
# under a throttled network. What is checked is what a viewer gets: how
# soon the metadata is there, whether a seek is a Range request, and which
# frame is on screen, read from the picture itself: the fixture's centre
# patch has luma 16 + 2 * floor(t) (tests/player/make-fixture.sh).

load helpers/common
load helpers/cgi

DUR=40
setup_file() {
	local pdir=$BATS_TEST_DIRNAME/player
	if [ ! -d "$pdir/node_modules/playwright-core" ] || [ ! -x /usr/bin/chromium ]; then
		echo "tests/player.bats needs chromium and tests/player/node_modules: run scripts/setup" >&2
		return 1
	fi
	export PFX=${VR_PLAYER_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vr/fixtures-player}
	mkdir -p "$PFX" "$BATS_FILE_TMPDIR/media"
	"$pdir/make-fixture.sh" "$PFX/prog$DUR.mp4" "$DUR"
	cp "$PFX/prog$DUR.mp4" "$BATS_FILE_TMPDIR/media/clip.mp4" # a symlink is not followed
	export VR_STORE=$BATS_FILE_TMPDIR/store.db VR_CONFIG=$BATS_FILE_TMPDIR/vr.conf
	cat >"$VR_CONFIG" <<CONF
[origin "videos"]
match = ^/videos/(.*)\$
source = $BATS_FILE_TMPDIR/media/\$1
CONF
	cgi_start "$VR_CACHE"
	export CGI_URL CGI_DIR
}

teardown_file() {
	cgi_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# play ARGS...: play.mjs's JSON line in $output, its status in $status.
play() {
	run node "$BATS_TEST_DIRNAME/player/play.mjs" --timeout 60 "$@"
	echo "$output" | cut -c1-3000 # shown when a test fails
}

# jqt EXPR: jq -e EXPR on the JSON line.
jqt() {
	jq -e "$1" <<<"$output" >/dev/null || {
		echo "jq -e '$1' failed" >&2
		return 1
	}
}

@test "a cached variant at 500 kB/s: metadata from a small first part, a seek is a Range request, the frame is the right second, it plays on" {
	local u="$CGI_URL/videos/clip.mp4?width=320"
	curl -sS -o /dev/null "$u" # the miss: stored progressive
	curl -sS -o whole -D head "$u"
	grep -q '^X-Cache: HIT' head
	size=$(stat -c %s whole)
	play "$u" --throttle 500000 --seek 30.5 --play 1
	assert_success
	jqt '.ok'
	jqt '.metadata.duration > 39.9 and .metadata.duration < 40.1'
	jqt '.metadata.width == 320'
	# the index is first: the metadata needs a small part of the body
	jqt ".metadata.bytes < $size / 3"
	jqt '.metadata.ms < 3000'
	jqt '.seek.range_request'
	jqt '.seek.requests_after[0].status == 206'
	# Y = 16 + 2 * 30 = 76 on screen after the seek, and later seconds after playing
	jqt '.seek.frame.video_y > 73 and .seek.frame.video_y < 79'
	jqt '.play.current_time >= 31.4'
	jqt '(.play.frame.video_y - (16 + 2 * (.play.frame.media_time | floor))) | fabs < 1.5'
	# nothing like the whole body was needed
	jqt ".bytes_total < $size"
	# the server saw ranged requests answered 206 from the entry
	run cgi_log main
	assert_line --regexp '"uri":"/videos/clip.mp4\?width=320","status":206,.*"range":"bytes=[1-9][0-9]*-'
}

@test "a cold variant plays: the streamed miss, frames of the right second" {
	play "$CGI_URL/videos/clip.mp4?width=256" --play 2
	assert_success
	jqt '.ok'
	jqt '.play.current_time >= 1.9'
	# the frame on screen is the second it says it is: Y = 16 + 2 * floor(t)
	jqt '(.play.frame.video_y - (16 + 2 * (.play.frame.media_time | floor))) | fabs < 1.5'
	jqt '.metadata.width == 256'
}
