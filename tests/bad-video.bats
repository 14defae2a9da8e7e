#!/usr/bin/env bats
# Bad video input: a corpus from scripts/fixtures-bad (truncated MP4, WebM
# and MPEG-TS at 10 points each, bit-flipped copies, empty, text and random
# files, pictures claiming huge sizes, a huge claimed duration, playlists
# and concat lists naming other files) through vr-resize (video and frame
# modes) and vr-cache get. For every file and command:
#
#   - it ends within 30 s (timeout(1) did not fire), by exit, not by a
#     signal (status < 128), and not with 1 (unexpected) or 2 (usage);
#   - a failure is 3 (bad data) or 8 (a limit), says "PROG: error: ..." on
#     stderr and leaves nothing where -o pointed, temporaries included;
#   - a success (0) is allowed only where the input still holds a valid
#     video (a bit flip inside the coded pictures, an MPEG-TS cut between
#     packets, a picture size only the container gets wrong), and then
#     the output must decode without a word from ffmpeg at the expected
#     size: never 0 with garbage.
#
# The frame is asked for at 3 s, inside the 4 s the inputs declare and past
# every cut point. The corpus is made once per generator and ffmpeg
# version and kept in $VR_BAD_FIXTURES (default ~/.cache/vr).
# VR_RESIZE and VR_CACHE point at other builds, as in the other files.
# Globs in corpus() and word splitting of its output are meant.
# shellcheck disable=SC2016,SC2012,SC2046,SC2086

load helpers/common

setup_file() {
	local t
	for t in "$VR_RESIZE" "$VR_CACHE"; do
		[ -x "$t" ] || { echo "build first: make ($t)" >&2; return 1; }
	done
	for t in ffmpeg ffprobe python3 timeout; do
		command -v "$t" >/dev/null || { echo "$t is needed" >&2; return 1; }
	done
	# The corpus is deterministic for a generator script and an ffmpeg, so
	# it is made once for that pair, in a cache directory named by their
	# hash (renamed into place whole: concurrent runs never see a part),
	# and this file's $BAD links to it. The tests only read it.
	local key cache
	key=$({ cat "$ROOT/scripts/fixtures-bad"; ffmpeg -version | head -n 1; python3 --version; } |
		sha256sum | cut -c1-16)
	cache=${VR_BAD_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vr}/fixtures-bad-$key
	if [ ! -f "$cache/.complete" ]; then
		mkdir -p "${cache%/*}"
		local tmp=$cache.tmp.$$
		"$ROOT/scripts/fixtures-bad" "$tmp" && touch "$tmp/.complete" || { rm -rf "$tmp"; return 1; }
		mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp" # another run was first
	fi
	[ -f "$cache/.complete" ] || { echo "no corpus in $cache" >&2; return 1; }
	ln -s "$cache" "$BATS_FILE_TMPDIR/bad"
}

setup() {
	BAD=$BATS_FILE_TMPDIR/bad
	cd "$BATS_TEST_TMPDIR" || return 1
	export VR_RESIZE VR_CACHE BAD BATS_TEST_TMPDIR
	export VR_CONFIG=/dev/null VR_METRICS="" XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	export XDG_CACHE_HOME=$BATS_TEST_TMPDIR/xdg-cache
}

# try NAME POLICY...: runs the three commands on $BAD/NAME, each in an
# empty directory of its own with its own store, and prints one line per
# broken expectation. POLICY words allow a success: video-ok (vr-resize
# video mode and vr-cache get), frame-ok (frame mode). Every input is
# 160x90, so an output is 64x36. Builtins where a command would fork
# ($EPOCHREALTIME, globs, read): a fork costs several ms of CPU here, and
# the corpus runs the loop 270 times.
try() {
	local name=$1 policy=" ${*:2} " in=$BAD/$1 cmd st t0 secs out err left
	local base=$BATS_TEST_TMPDIR/run-${name//\//_}
	shopt -s nullglob dotglob
	mkdir -p "$base-video/w" "$base-frame/w" "$base-cache/w"
	for cmd in video frame cache; do
		local d=$base-$cmd
		case $cmd in
		video) out=o.mp4 ;;
		frame) out=o.jpg ;;
		cache) out=o.mp4 ;;
		esac
		t0=${EPOCHREALTIME//[!0-9]/}
		cd "$d/w" || return 1
		case $cmd in
		video) timeout 30 "$VR_RESIZE" -q -w 64 -o "$out" "$in" 2>"$d/err" ;;
		frame) timeout 30 "$VR_RESIZE" -q -m frame -t 3 -w 64 -o "$out" "$in" 2>"$d/err" ;;
		cache) VR_STORE=$d/s.db timeout 30 "$VR_CACHE" get "$in" -q -w 64 -o "$out" 2>"$d/err" ;;
		esac
		st=$?
		cd "$BATS_TEST_TMPDIR" || return 1
		secs=$(((${EPOCHREALTIME//[!0-9]/} - t0) / 1000))
		echo "$name $cmd $st" >>"$BATS_TEST_TMPDIR/ran.txt"
		local what="$name $cmd: exit $st (${secs} ms)"
		err=
		IFS= read -r -d '' err <"$d/err"
		left=("$d/w"/*)
		left=("${left[@]##*/}")
		if [ "$st" -eq 124 ]; then
			echo "$what: still running after 30 s"
			continue
		fi
		if [ "$st" -ge 128 ] || [ "$st" -eq 1 ] || [ "$st" -eq 2 ] || [ "$st" -gt 8 ]; then
			echo "$what: want 3 or 8: ${err:0:300}"
			continue
		fi
		if [ "$st" -ne 0 ]; then
			if [ "$st" -ne 3 ] && [ "$st" -ne 8 ]; then
				echo "$what: want 3 or 8: ${err:0:300}"
			fi
			# the message: "PROG: error: ..." on a line of its own
			[[ $'\n'$err == *$'\n'vr-resize:\ error:\ ?* || $'\n'$err == *$'\n'vr-cache:\ error:\ ?* ]] ||
				echo "$what: no error message on stderr: '${err:0:300}'"
			[ "${#left[@]}" -eq 0 ] ||
				echo "$what: left behind: ${left[*]}"
			continue
		fi
		# a success: allowed here, and a clean output?
		local allow=video-ok
		[ "$cmd" = frame ] && allow=frame-ok
		if [[ $policy != *" $allow "* ]]; then
			echo "$what: want 3 or 8, got a success"
			continue
		fi
		if [ "${left[*]}" != "$out" ]; then
			echo "$what: the directory holds '${left[*]}', not just $out"
			continue
		fi
		# one pass: every stream decoded (-count_frames), the picture size
		local size
		size=$(ffprobe -v error -count_frames -show_entries stream=codec_type,width,height \
			-of csv=p=0 "$d/w/$out" 2>"$d/probe-err" | sed -n 's/^video,//p')
		[ "$size" = 64,36 ] || echo "$what: output is '$size', want 64,36"
		[ ! -s "$d/probe-err" ] ||
			echo "$what: output does not decode cleanly: $(head -c 300 "$d/probe-err")"
	done
}
export -f try

# check POLICY -- NAME...: try every NAME, two at a time; fails listing
# every broken expectation.
check() {
	local policy=()
	while [ "$1" != -- ]; do
		policy+=("$1")
		shift
	done
	shift
	local n
	for n in "$@"; do [ -f "$BAD/$n" ] || { echo "no corpus file $n" >&2; return 1; }; done
	: >"$BATS_TEST_TMPDIR/ran.txt"
	printf '%s\n' "$@" | xargs -P 2 -I{} bash -c 'try "$1" "${@:2}"' _ {} "${policy[@]}" >problems.txt
	# every file ran three commands (a broken helper must not pass)
	if [ "$(wc -l <"$BATS_TEST_TMPDIR/ran.txt")" -ne $((3 * $#)) ]; then
		echo "ran $(wc -l <"$BATS_TEST_TMPDIR/ran.txt") commands, want $((3 * $#))" >&2
		return 1
	fi
	if [ -s problems.txt ]; then
		sort problems.txt >&2
		return 1
	fi
}

corpus() { (cd "$BAD" && ls $1); }

# peak_kb CMD...: runs CMD, prints its peak RSS in KiB; rss.out gets
# "exit N" and then CMD's stderr
peak_kb() {
	local f=$BATS_TEST_TMPDIR/rss.$$ st=0
	/usr/bin/time -f '%M' -o "$f" "$@" >/dev/null 2>rss.err || st=$?
	{ echo "exit $st"; cat rss.err; } >rss.out
	tail -n 1 "$f"
}

@test "the corpus: 10 cuts of each container, 12 bit flips, hostile headers and lists" {
	[ "$(corpus 'trunc-fast-*.mp4' | wc -l)" -eq 10 ]
	[ "$(corpus 'trunc-end-*.mp4' | wc -l)" -eq 10 ]
	[ "$(corpus 'trunc-*.webm' | wc -l)" -eq 10 ]
	[ "$(corpus 'trunc-*.ts' | wc -l)" -eq 10 ]
	[ "$(corpus 'flip-*' | wc -l)" -eq 12 ]
	# the cuts are all different and shorter than a whole file
	[ "$(cd "$BAD" && md5sum trunc-* | awk '{ print $1 }' | sort -u | wc -l)" -eq 40 ]
	# the crafted headers claim what they should
	[ "$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 \
		"$BAD/huge-sps.mp4" 2>/dev/null)" = 12000,11994 ]
	head -c 30 "$BAD/huge.y4m" | grep -q 'W65535 H65535'
	[ "$(od -An -tx1 -j16 -N8 "$BAD/huge.png" | tr -d ' ')" = 0000ffff0000ffff ]
	run ffprobe -v error -show_entries format=duration -of csv=p=0 "$BAD/long-duration.mp4"
	[ "${output%%.*}" -gt 3600 ]
}

@test "truncated MP4, faststart and moov at the end, 10 cuts each: exit 3, nothing left" {
	check -- $(corpus 'trunc-fast-*.mp4') $(corpus 'trunc-end-*.mp4')
}

@test "truncated WebM, 10 cuts: exit 3, a frame or spritesheet past the cut too" {
	check -- $(corpus 'trunc-*.webm')
	# a spritesheet whose later tiles lie past the cut (repeating the last
	# picture with exit 0 was the bug)
	run timeout 30 "$VR_RESIZE" -q -m spritesheet -w 32 --height 18 -o s.jpg "$BAD/trunc-07.webm"
	[ "$status" -eq 3 ]
	[[ $output == *truncated* ]]
	[ ! -e s.jpg ]
}

@test "truncated MPEG-TS: a cut in the headers is exit 3, a cut between packets a shorter valid video" {
	# the cuts in the first 1500 bytes hold no picture
	check -- trunc-00.ts trunc-01.ts trunc-02.ts trunc-03.ts trunc-04.ts
	# TS declares no duration: a stream cut later is a shorter stream
	check video-ok -- trunc-05.ts trunc-06.ts trunc-07.ts trunc-08.ts trunc-09.ts
}

@test "bit-flipped MP4, WebM and MPEG-TS: exit 3 or 8, or a clean output" {
	check video-ok frame-ok -- $(corpus 'flip-mp4-*') $(corpus 'flip-webm-*') $(corpus 'flip-ts-*')
	# flips in the moov of the faststart MP4 are never a success here
	check -- $(corpus 'flip-mp4head-*')
}

@test "empty, text, random and raw H.264 files: exit 3 with a message" {
	check -- empty.mp4 text.mp4 random.mp4 raw.h264
	run "$VR_RESIZE" -q -w 64 "$BAD/raw.h264"
	[ "$status" -eq 3 ]
	[[ $output == *"not an allowed media format"* ]]
}

@test "huge claimed picture sizes: exit 8 or 3, before a huge picture is allocated" {
	check -- huge-sps.mp4 huge-mjpeg.mov huge.y4m huge.png
	# the SPS's 12000x11994 is over the default 8192x8192 limit, and the
	# probing decoders never allocate it (one picture alone is 206 MiB;
	# before the fix the peak was 440 MiB)
	local kb
	kb=$(peak_kb "$VR_RESIZE" -q -w 64 -o o.mp4 "$BAD/huge-sps.mp4")
	echo "peak RSS ${kb} KiB" >&2
	[ "$(head -n 1 rss.out)" = "exit 8" ]
	grep -q '12000x11994 is larger than the limit' rss.out
	[ "$kb" -lt 200000 ]
	# tkhd and stsd alone claiming 65535x65535 are overruled by the SPS
	# (160x90): a success at the true aspect
	check video-ok frame-ok -- huge-dims.mp4
}

@test "a huge claimed duration: video is exit 8, the frame at 3 s exists" {
	check frame-ok -- long-duration.mp4
	run "$VR_RESIZE" -q -w 64 -o o.mp4 "$BAD/long-duration.mp4"
	[ "$status" -eq 8 ]
	[[ $output == *"longer than the limit"* ]]
}

@test "HLS playlists and ffconcat lists: refused, and what they name is never opened" {
	local f
	check -- playlist.m3u8 playlist-m3u8.mp4 list.ffconcat list-ffconcat.mp4
	command -v strace >/dev/null || fail "strace is needed: run scripts/setup"
	# LeakSanitizer (SAN=1 builds) cannot run under ptrace: leaks are
	# checked by the runs above, here only the file accesses matter
	local lsan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	for f in playlist.m3u8 playlist-m3u8.mp4 list.ffconcat list-ffconcat.mp4; do
		run strace -f -qq -e trace=open,openat,openat2,stat,newfstatat,statx,access \
			-o trace-vr.txt env ASAN_OPTIONS="$lsan" "$VR_RESIZE" -q -w 64 -o o.mp4 "$BAD/$f"
		[ "$status" -eq 3 ]
		[[ $output == *"not an allowed media format"* ]]
		run strace -f -qq -e trace=open,openat,openat2,stat,newfstatat,statx,access \
			-o trace-vc.txt env ASAN_OPTIONS="$lsan" VR_STORE="$BATS_TEST_TMPDIR/s.db" "$VR_CACHE" get "$BAD/$f" -q -w 64
		[ "$status" -eq 3 ]
		# the list itself was read: the trace works
		grep -q "$f" trace-vr.txt
		grep -q "$f" trace-vc.txt
		if grep -E '/etc/passwd|secret\.mp4' trace-vr.txt trace-vc.txt; then
			echo "$f: a file the list names was opened" >&2
			return 1
		fi
	done
}

@test "warm: a job's error carries only that job's libav messages, in its text and the negative cache" {
	command -v sqlite3 >/dev/null || fail "sqlite3 is needed: run scripts/setup"
	# job 1 decodes with libav errors ("error while decoding MB ...") and
	# succeeds; jobs 2 and 3 fail without a libav error line of their own;
	# job 4 is a missing source. One worker (-j 1): the same thread runs all.
	local alone
	alone=$("$VR_RESIZE" -q -m frame -t 3 -w 64 -o o.jpg "$BAD/trunc-fast-05.mp4" 2>&1) || true
	[[ $alone == *"no picture could be decoded"* ]]
	printf '%s\n' "$BAD/flip-mp4-1.mp4 -m frame -t 1 -w 64" "$BAD/trunc-fast-05.mp4 -m frame -t 3 -w 64" \
		"$BAD/trunc-00.ts -w 64" "$BATS_TEST_TMPDIR/missing.mp4 -w 64" >list
	# the first job does log such errors
	"$VR_RESIZE" -vv -m frame -t 1 -w 64 -o o.jpg "$BAD/flip-mp4-1.mp4" 2>vv.txt
	grep -q "error while decoding" vv.txt
	run "$VR_CACHE" --store s.db warm -j 1 list
	[ "$status" -eq 1 ]
	[[ $output == *"line 2: "* ]] && [[ $output == *"line 3: "* ]] && [[ $output == *"line 4: "* ]]
	if [[ $output == *"decoding MB"* ]]; then
		echo "an earlier job's libav message in a later error: $output" >&2
		return 1
	fi
	run sqlite3 s.db "SELECT count(*) FROM negative WHERE message LIKE '%decoding MB%'"
	assert_output 0
	run sqlite3 s.db "SELECT count(*) FROM negative"
	[ "$output" -ge 1 ]
}
