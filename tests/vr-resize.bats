#!/usr/bin/env bats
# vr-resize: every mode, fit and format, every input kind, pipes both ways,
# damaged inputs, limits, signals and bounded memory. Outputs are checked
# with ffprobe (size, codec, pixel format, duration, frame count) and
# decoded in full with the ffmpeg command, which must print nothing.
#
# The inputs come from scripts/fixtures-video into $VR_VIDEO_FIXTURES
# (default ~/.cache/vr/fixtures-video; the script keeps what exists, so only
# the first run pays for it).

# 'cat FILE | vr-resize' is meant: it makes standard input a pipe, not a file.
# Single quotes in 'bash -c' bodies keep variables for the inner shell.
# shellcheck disable=SC2002,SC2016 source-path=SCRIPTDIR

load helpers/common

load helpers/nginx

setup_file() {
	[ -x "$VR_RESIZE" ] || { echo "build first: make" >&2; return 1; }
	"$ROOT/scripts/fixtures-video" "$FX"
	nginx_start "$FX"
	blackhole_start
}

teardown_file() {
	blackhole_stop
	nginx_stop
}

setup() {
	export VR_RESIZE FX
	cd "$BATS_TEST_TMPDIR" || return 1
	# no user config or metrics file leaks in
	export VR_CONFIG=/dev/null XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/xdg" VR_METRICS=
}

# streams FILE: one line per stream, "codec,width,height,pix_fmt" (video) or "codec" (audio)
streams() {
	ffprobe -v error -show_entries stream=codec_type,codec_name,width,height,pix_fmt \
		-of csv=p=0 "$1" | awk -F, '$2 == "video" { print $1 "," $3 "," $4 "," $5; next } { print $1 }'
}

# clean FILE: ffmpeg decodes all of it without a word
clean() {
	local out
	out=$(ffmpeg -nostdin -v error -i "$1" -f null - 2>&1)
	if [ -n "$out" ]; then
		echo "ffmpeg complains about $1: $out" >&2
		return 1
	fi
}

# sdur FILE v|a: a stream's duration (s); sstart FILE v|a: its start time
sdur() { ffprobe -v error -select_streams "$2:0" -show_entries stream=duration -of csv=p=0 "$1"; }
sstart() { ffprobe -v error -select_streams "$2:0" -show_entries stream=start_time -of csv=p=0 "$1"; }
# frames FILE: decoded video frame count
frames() {
	ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
		-of csv=p=0 "$1"
}
# near A B TOL: |A - B| <= TOL
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
# psnr A B: average PSNR of two pictures ("inf" when identical)
psnr() {
	ffmpeg -nostdin -hide_banner -i "$1" -i "$2" -lavfi psnr -f null - 2>&1 |
		sed -n 's/.*average:\([^ ]*\).*/\1/p'
}
# atoms FILE: top-level MP4 box types in order (perl: it starts in a few
# milliseconds, and the VP9 test asks 19 times)
atoms() {
	perl -e '
		open(my $f, "<:raw", $ARGV[0]) or die "$ARGV[0]: $!\n";
		my @out;
		while (read($f, my $h, 8) == 8) {
			my ($size, $kind) = unpack("Na4", $h);
			push @out, $kind;
			if ($size == 1) {
				read($f, my $l, 8) == 8 or last;
				seek($f, unpack("Q>", $l) - 16, 1);
			} elsif ($size == 0) {
				last;
			} else {
				seek($f, $size - 8, 1);
			}
		}
		print "@out\n";' "$1"
}

# ---- options, queries, keys ----

@test "help, version and bad options" {
	run "$VR_RESIZE" --help
	assert_success
	assert_output --partial "Usage: vr-resize"
	run "$VR_RESIZE" --version
	assert_success
	assert_output --regexp '^vr-resize[-a-z]* \(vr\) [0-9]'
	run "$VR_RESIZE" --no-such-option
	assert_failure 2
	run "$VR_RESIZE" --width 5 "$FX/h264-aac.mp4" # under [limits] min-dimension: a limit
	assert_failure 8
	assert_output --partial "width"
	run "$VR_RESIZE" --fit stretch "$FX/h264-aac.mp4"
	assert_failure 2
	run "$VR_RESIZE" --timeout soon "$FX/h264-aac.mp4"
	assert_failure 2
}

@test "bad values in --query are exit 3 and name the parameter" {
	run "$VR_RESIZE" --query 'width=abc' "$FX/h264-aac.mp4"
	assert_failure 3
	assert_output --partial "width"
	run "$VR_RESIZE" --query 'colour=red' "$FX/h264-aac.mp4"
	assert_failure 3
	assert_output --partial "colour"
	run "$VR_RESIZE" --query 'mode=spritesheet&width=100' "$FX/h264-aac.mp4"
	assert_failure 3
	run "$VR_RESIZE" --query 'mode=frame&format=mp4' "$FX/h264-aac.mp4"
	assert_failure 3
}

@test "--print-key: equal for equivalent option sets, different for different output" {
	run "$VR_RESIZE" --print-key -w 640 --fit cover --height 360
	assert_success
	local a=$output
	run "$VR_RESIZE" --print-key --query 'w=640&h=360&obj-fit=crop'
	assert_success
	assert_equal "$output" "$a"
	run "$VR_RESIZE" --print-key --query 'height=360&fit=cover&width=640&mode=video'
	assert_equal "$output" "$a"
	run "$VR_RESIZE" --print-key -w 640 --height 360 --fit contain
	assert [ "$output" != "$a" ]
	run "$VR_RESIZE" --print-key -w 640 --height 360 --fit cover --audio false
	assert [ "$output" != "$a" ]
	run "$VR_RESIZE" --print-key --query 'w=640&h=360&obj-fit=crop&mute=true'
	assert [ "$output" != "$a" ]
	assert_output --partial "audio=0"
	run "$VR_RESIZE" --print-key --derivative thumbnail
	assert_output --partial "mode=frame"
	assert_output --partial "width=640"
	assert_output --partial "format=png"
	run "$VR_RESIZE" --print-key --query 'imwidth=800'
	assert_output --partial "width=854"
}

# The expectations are those of the original's own IMQuery tests
# (imqueryUtils.spec.ts; derivatives mobile 854x640, tablet 1280x720,
# desktop 1920x1080, breakpoints 854 and 1280, threshold 25% with a 1.5x
# fallback), and the output's size is read back with ffprobe.
@test "IMQuery: imheight alone or both sides by closeness, imwidth alone by breakpoints, the requested size when none is close" {
	local mobile tablet desktop
	mobile=$("$VR_RESIZE" --print-key --derivative mobile)
	tablet=$("$VR_RESIZE" --print-key --derivative tablet)
	desktop=$("$VR_RESIZE" --print-key --derivative desktop)
	assert_equal "$("$VR_RESIZE" --print-key -Q imheight=700)" "$tablet"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'imwidth=800&imheight=600')" "$mobile"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'imwidth=1200&imheight=700')" "$tablet"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'imwidth=1800&imheight=1000')" "$desktop"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'imwidth=1200&imheight=675')" "$tablet"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'imwidth=600&imheight=500')" "$mobile"
	assert_equal "$("$VR_RESIZE" --print-key -Q imwidth=854)" "$mobile"
	assert_equal "$("$VR_RESIZE" --print-key -Q imwidth=855)" "$tablet"
	assert_equal "$("$VR_RESIZE" --print-key -Q imwidth=1280)" "$tablet"
	assert_equal "$("$VR_RESIZE" --print-key -Q imwidth=1500)" "$desktop"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'imwidth=200&imheight=150')" "$("$VR_RESIZE" --print-key -w 200 --height 150)"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'imwidth=200&imheight=150&width=320')" "$("$VR_RESIZE" --print-key -w 320)"
	run -8 "$VR_RESIZE" --print-key -Q imheight=5000
	run -8 "$VR_RESIZE" --print-key -Q 'imwidth=3000&imheight=3000'
	# configured: candidates, breakpoints, threshold
	printf '[derivative "square"]\nwidth = 720\nheight = 720\n[imquery]\nbreakpoint = 640 mobile\nbreakpoint = square\nthreshold = 1%%\n' >c.conf
	assert_equal "$("$VR_RESIZE" --config c.conf --print-key -Q 'imwidth=720&imheight=716')" "$("$VR_RESIZE" --config c.conf --print-key --derivative square)"
	assert_equal "$("$VR_RESIZE" --config c.conf --print-key -Q imwidth=641)" "$("$VR_RESIZE" --config c.conf --print-key --derivative square)"
	assert_equal "$("$VR_RESIZE" --config c.conf --print-key -Q 'imwidth=800&imheight=450')" "$("$VR_RESIZE" --print-key -w 800 --height 450)"
	printf '[imquery]\nbreakpoint = 640 nosuch\n' >bad.conf
	run -3 "$VR_RESIZE" --config bad.conf --print-key -Q imwidth=100
	# the output: imheight=700 of a 16:9 input is the tablet's 1280x720
	"$VR_RESIZE" -Q 'imheight=700&duration=0.5' -o t.mp4 "$FX/h264-aac.mp4"
	run streams t.mp4
	assert_output $'h264,1280,720,yuv420p\naac'
}

@test "names the original accepted: format=m4a is mode audio; playback attributes, IMQuery hints and ignored names change nothing" {
	assert_equal "$("$VR_RESIZE" --print-key -Q format=m4a)" "$("$VR_RESIZE" --print-key -m audio)"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'w=320&loop&autoplay=true&muted=1&preload=none')" "$("$VR_RESIZE" --print-key -w 320)"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'w=320&im-density=2&im-viewwidth=1200&im-viewheight=800&imref=w=800,h=600')" "$("$VR_RESIZE" --print-key -w 320)"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'w=320&utm_source=x&utm_medium=y&fbclid=z&gclid=1&_=2')" "$("$VR_RESIZE" --print-key -w 320)"
	run -3 "$VR_RESIZE" --print-key -Q 'w=320&utm=x'
	run -3 "$VR_RESIZE" --print-key -Q 'w=320&loop=sometimes'
	run -3 "$VR_RESIZE" --print-key -Q 'w=320&preload=all'
	run -2 "$VR_RESIZE" --print-key --loop true
	# the list is configurable, and refuses to drop a parameter
	printf '[request]\nignore = ref mc_*\n' >i.conf
	assert_equal "$("$VR_RESIZE" --config i.conf --print-key -Q 'w=320&ref=a&mc_cid=b')" "$("$VR_RESIZE" --print-key -w 320)"
	run -3 "$VR_RESIZE" --config i.conf --print-key -Q 'w=320&fbclid=z'
	printf '[request]\nignore = w*\n' >w.conf
	run -3 "$VR_RESIZE" --config w.conf --print-key -w 320
	# the output of format=m4a: the audio alone
	"$VR_RESIZE" -Q format=m4a -o a.m4a "$FX/h264-aac.mp4"
	run streams a.m4a
	assert_output aac
}

# ---- video mode ----

@test "video to a file: H.264 + AAC, faststart, every frame, full duration" {
	run "$VR_RESIZE" -w 320 -o out.mp4 "$FX/h264-aac.mp4"
	assert_success
	run streams out.mp4
	assert_output $'h264,320,180,yuv420p\naac'
	[ "$(atoms out.mp4 | tr ' ' '\n' | grep -E 'moov|mdat' | head -1)" = moov ]
	[ "$(frames out.mp4)" -eq 250 ]
	near "$(sdur out.mp4 v)" 10 0.05
	near "$(sdur out.mp4 a)" 10 0.1
	clean out.mp4
	run ! ls out.mp4.vr-tmp-*
}

@test "video to a pipe: fragmented MP4 that ffprobe and ffmpeg accept" {
	"$VR_RESIZE" -w 320 --compression low "$FX/h264-aac.mp4" | cat >out.mp4
	run atoms out.mp4
	assert_output --partial "moof"
	run streams out.mp4
	assert_output $'h264,320,180,yuv420p\naac'
	[ "$(frames out.mp4)" -eq 250 ]
	near "$(sstart out.mp4 v)" 0 0.05
	clean out.mp4
}

@test "webm: VP9 + Opus to a pipe and to a file" {
	"$VR_RESIZE" -f webm -w 160 -d 2 "$FX/h264-aac.mp4" | cat >out.webm
	run streams out.webm
	assert_output $'vp9,160,90,yuv420p\nopus'
	clean out.webm
	run "$VR_RESIZE" -f webm -w 160 -d 1 --quality low --compression low -o file.webm "$FX/h264-aac.mp4"
	assert_success
	[ "$(frames file.webm)" -eq 25 ]
	clean file.webm
}

@test "fits: contain, cover, scale-down, one side" {
	"$VR_RESIZE" -w 200 --height 200 --fit contain -d 0.2 "$FX/h264-aac.mp4" >c.mp4
	"$VR_RESIZE" -w 200 --height 200 --fit cover -d 0.2 "$FX/h264-aac.mp4" >v.mp4
	"$VR_RESIZE" -w 1280 --height 1000 --fit scale-down -d 0.2 "$FX/h264-aac.mp4" >s.mp4
	"$VR_RESIZE" -w 320 --height 100 --fit scale-down -d 0.2 "$FX/h264-aac.mp4" >s2.mp4
	"$VR_RESIZE" --height 90 -d 0.2 "$FX/h264-aac.mp4" >h.mp4
	run streams c.mp4
	assert_line --index 0 "h264,200,112,yuv420p"
	run streams v.mp4
	assert_line --index 0 "h264,200,200,yuv420p"
	run streams s.mp4
	assert_line --index 0 "h264,640,360,yuv420p"
	run streams s2.mp4
	assert_line --index 0 "h264,178,100,yuv420p"
	run streams h.mp4
	assert_line --index 0 "h264,160,90,yuv420p"
	for f in c v s s2 h; do clean $f.mp4; done
}

@test "cover crops the centre: the middle of the picture matches" {
	"$VR_RESIZE" --mode frame -f png -w 100 --height 100 --fit cover -t 1 "$FX/h264-aac.mp4" >mine.png
	ffmpeg -nostdin -v error -ss 1 -i "$FX/h264-aac.mp4" -frames:v 1 \
		-vf 'scale=178:100:flags=bicubic,crop=100:100' -pix_fmt rgb24 ref.png
	run psnr mine.png ref.png
	awk -v p="$output" 'BEGIN { exit !(p == "inf" || p > 30) }'
}

@test "portrait phone video stays portrait, the right way up" {
	"$VR_RESIZE" -w 180 -d 1 "$FX/portrait.mp4" >p.mp4
	run streams p.mp4
	assert_line --index 0 "h264,180,320,yuv420p"
	clean p.mp4
	"$VR_RESIZE" --mode frame -f png -t 1 "$FX/portrait.mp4" >mine.png
	ffmpeg -nostdin -v error -ss 1 -i "$FX/portrait.mp4" -frames:v 1 -pix_fmt rgb24 ref.png
	run streams mine.png
	assert_output "png,360,640,rgb24"
	run psnr mine.png ref.png
	awk -v p="$output" 'BEGIN { exit !(p == "inf" || p > 40) }'
}

@test "odd size and 4:4:4 input: even output in yuv420p" {
	# 641x359: even sides, rounded down on ties, never larger
	"$VR_RESIZE" -o o.mp4 "$FX/odd.mp4"
	run streams o.mp4
	assert_output "h264,640,358,yuv420p"
	"$VR_RESIZE" -w 301 -o o2.mp4 "$FX/odd.mp4"
	run streams o2.mp4
	assert_output "h264,300,168,yuv420p"
	clean o.mp4
	clean o2.mp4
}

@test "10-bit input gives 8-bit yuv420p H.264" {
	"$VR_RESIZE" -w 160 "$FX/10bit.mp4" >o.mp4
	run streams o.mp4
	assert_output $'h264,160,120,yuv420p\naac'
	clean o.mp4
}

@test "VFR input keeps its frames and timing; --fps makes it constant" {
	local n
	n=$(frames "$FX/vfr.mkv")
	"$VR_RESIZE" -w 160 "$FX/vfr.mkv" >o.mp4
	[ "$(frames o.mp4)" -eq "$n" ]
	near "$(sdur o.mp4 v)" 4 0.1
	clean o.mp4
	"$VR_RESIZE" -w 160 --fps 10 -d 2 "$FX/vfr.mkv" >f.mp4
	[ "$(frames f.mp4)" -eq 20 ]
	run ffprobe -v error -select_streams v -show_entries stream=r_frame_rate -of csv=p=0 f.mp4
	assert_output "10/1"
	clean f.mp4
}

@test "--fps takes a rational: 30000/1001 is the output's exact frame rate" {
	# a 25 fps input
	"$VR_RESIZE" -w 160 --fps 30000/1001 -d 2 -o r.mp4 "$FX/h264-aac.mp4"
	run ffprobe -v error -select_streams v -show_entries stream=r_frame_rate -of csv=p=0 r.mp4
	assert_output "30000/1001"
	run ffprobe -v error -select_streams v -show_entries stream=avg_frame_rate -of csv=p=0 r.mp4
	assert_output "30000/1001"
	clean r.mp4
	# the same rate spelled twice over, in a query: the same key
	run "$VR_RESIZE" --print-key --fps 60000/2002
	assert_success
	assert_output --partial '&fps=30000/1001&'
	local key=$output
	run "$VR_RESIZE" --print-key --query 'fps=30000/1001'
	assert_output "$key"
	# a decimal stays a decimal: 29.97 is 2997/100, not 30000/1001
	"$VR_RESIZE" -w 160 --fps 29.97 -d 1 -o d.mp4 "$FX/h264-aac.mp4"
	run ffprobe -v error -select_streams v -show_entries stream=r_frame_rate -of csv=p=0 d.mp4
	assert_output "2997/100"
	run "$VR_RESIZE" --print-key --fps 30000/0
	assert_failure 2
	assert_output --partial 'fps'
}

@test "inputs without audio, and --audio false" {
	"$VR_RESIZE" -w 160 "$FX/noaudio.mp4" >n.mp4
	run streams n.mp4
	assert_output "h264,160,120,yuv420p"
	clean n.mp4
	"$VR_RESIZE" -w 160 -d 1 --audio false "$FX/h264-aac.mp4" >m.mp4
	run streams m.mp4
	assert_output "h264,160,90,yuv420p"
	"$VR_RESIZE" -w 160 -d 1 --query 'mute=true' "$FX/h264-aac.mp4" >q.mp4
	run streams q.mp4
	assert_output "h264,160,90,yuv420p"
}

# starts_dts_rising FILE: "AUDIO_START VIDEO_START" (ffprobe's start_time of
# the first audio and video stream); fails, naming the packet, unless every
# stream's packet DTS strictly increase. One ffprobe for the three checks:
# each costs 0.17 s of CPU to start.
starts_dts_rising() {
	ffprobe -v error -show_entries stream=index,codec_type,start_time:packet=stream_index,dts \
		-of csv "$1" | awk -F, '
		$1 == "stream" { if (!($3 in start)) start[$3] = $4; next }
		$1 != "packet" { next }
		$3 == "N/A" { print "stream " $2 ": a packet without DTS" > "/dev/stderr"; bad = 1; next }
		($2 in last) && $3 + 0 <= last[$2] { print "stream " $2 ": DTS " last[$2] " then " $3 > "/dev/stderr"; bad = 1 }
		{ last[$2] = $3 + 0 }
		END {
			print ("audio" in start) ? start["audio"] : "none", ("video" in start) ? start["video"] : "none"
			exit bad
		}'
}

@test "VP9/Opus WebM to fragmented MP4: no stream starts before 0, timestamps ffmpeg decodes without a word" {
	# issue 12: a -ss cut kept with its negative timestamps (-283 ms video,
	# -286 ms Opus) gave AAC starting at -14 ms in the fragmented output
	# (its priming, which readers of fragments do not hide with the edit
	# list); ffmpeg shifted every frame by that and two landed on one DTS.
	# Also the fixture (48 kHz Opus starting 7 ms before the video) and
	# Opus from 44.1 kHz starting half a second late.
	# And 23.976 fps (ntsc.webm): its Opus starts 7 ms before the video,
	# whose first frame was then 14 ms after 0 and pulled to 0; the long
	# first frame made ffmpeg guess 95/4 fps for the fragmented output
	# and land two frames on one timestamp (near frame 87). A cut between
	# two frames (-t 0.43) did the same.
	ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=160x90:rate=30 -f lavfi \
		-i sine=f=440:sample_rate=48000 -t 2 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 \
		-g 30 -c:a libopus src.webm
	ffmpeg -nostdin -v error -ss 1.3 -i src.webm -c copy -avoid_negative_ts disabled neg.webm
	ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=160x90:rate=25 -f lavfi \
		-i sine=f=440:sample_rate=44100 -t 4 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 \
		-c:a libopus -af adelay=500:all=1 late.webm
	ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=160x90:rate=24000/1001 -f lavfi \
		-i sine=f=440:sample_rate=48000 -t 5 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 \
		-c:a libopus ntsc.webm
	local f o out outs starts a v
	for f in neg.webm "$FX/vp9.webm" late.webm ntsc.webm; do
		"$VR_RESIZE" -w 160 "$f" >frag.mp4
		cat "$f" | "$VR_RESIZE" -w 160 - | cat >frag-p.mp4
		cat "$f" | "$VR_RESIZE" -w 160 -t 0.4 | cat >frag-t.mp4
		"$VR_RESIZE" -w 160 -o file.mp4 "$f"
		# a cut from a file, which seeks (neg.webm: exit 3, "the data
		# ends at -0.7 s", as the seek had failed at the end of the file)
		"$VR_RESIZE" -w 160 -t 0.4 "$f" >frag-ft.mp4
		outs=(frag.mp4 frag-p.mp4 frag-t.mp4 file.mp4 frag-ft.mp4)
		if [[ $f == ntsc.webm ]]; then
			# 0.43 s is no frame's time at 23.976 fps
			cat "$f" | "$VR_RESIZE" -w 160 -t 0.43 | cat >frag-c.mp4
			outs+=(frag-c.mp4)
		fi
		for o in "${outs[@]}"; do
			[[ $o == file.mp4 || $(atoms $o) == *" moof "* ]] || fail "$f -> $o: not fragmented"
			out=$(ffmpeg -nostdin -v warning -i $o -f null - 2>&1)
			[ -z "$out" ] || fail "$f -> $o: $out"
			starts=$(starts_dts_rising $o) || fail "$f -> $o: DTS do not rise"
			read -r a v <<<"$starts"
			[[ $a != none && $v != none ]] || fail "$f -> $o: a stream is missing ($starts)"
			# at 0, or up to 2 AAC frames later (the frames within the priming are dropped)
			awk -v t="$a" 'BEGIN { exit !(t >= 0 && t < 0.05) }' || fail "$f -> $o: audio starts at $a"
			near "$v" 0 0.0005 || fail "$f -> $o: video starts at $v"
		done
	done
}

@test "a WebM whose timestamps start at 10 s is whole, not truncated; cut short, it still is" {
	# Matroska's Duration counts from the segment's 0: 13 s here for 3 s
	# of data from 10 s, which was taken for the length ("the data ends
	# at 3.0 s of the 13.0 s it declares (truncated?)", exit 3)
	ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=160x90:rate=25 -f lavfi \
		-i sine=f=440:sample_rate=48000 -t 3 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 \
		-c:a libopus -output_ts_offset 10 off.webm
	"$VR_RESIZE" -w 160 -o o.mp4 off.webm
	near "$(sdur o.mp4 v)" 3 0.1
	clean o.mp4
	head -c $(($(stat -c %s off.webm) / 3)) off.webm >third.webm
	run "$VR_RESIZE" -w 160 -o t.mp4 third.webm
	assert_failure 3
	assert_output --partial "truncated"
}

@test "MPEG-TS, WebM and MKV inputs, from files and from pipes" {
	local f
	for f in ts.ts vp9.webm mkv.mkv; do
		"$VR_RESIZE" -w 160 -d 2 --compression low "$FX/$f" >file.mp4
		"$VR_RESIZE" -w 160 -d 2 --compression low <"$FX/$f" >redir.mp4
		cat "$FX/$f" | "$VR_RESIZE" -w 160 -d 2 --compression low >pipe.mp4
		for o in file redir pipe; do
			run streams $o.mp4
			assert_line --index 0 --regexp '^h264,160,(120|90),yuv420p$'
			assert_line --index 1 aac
			clean $o.mp4
		done
		near "$(sdur pipe.mp4 v)" "$(sdur file.mp4 v)" 0.05
	done
	near "$(sstart pipe.mp4 v)" 0 0.05
}

@test "MPEG-TS timestamps that jump back (concatenated files) make one timeline" {
	cat "$FX/ts.ts" "$FX/ts.ts" | "$VR_RESIZE" -w 160 --compression low >o.mp4
	near "$(sdur o.mp4 v)" 8 0.2
	clean o.mp4
}

@test "a picture size change mid-stream keeps the output size" {
	"$VR_RESIZE" -w 200 "$FX/sizechange.ts" >o.mp4
	run streams o.mp4
	assert_output "h264,200,150,yuv420p"
	near "$(sdur o.mp4 v)" 4 0.1
	[ "$(frames o.mp4)" -eq 100 ]
	clean o.mp4
	"$VR_RESIZE" --mode spritesheet -w 64 --height 64 --columns 4 --rows 1 -d 4 "$FX/sizechange.ts" >s.jpg
	clean s.jpg
}

@test "moov at the end from a pipe works (spooled to disk), where the ffmpeg command fails" {
	run bash -c 'cat "$FX/moov-end.mp4" | ffmpeg -v error -i - -f null - 2>&1'
	assert_output --partial "Invalid data"
	cat "$FX/moov-end.mp4" | VR_METRICS=m.jsonl "$VR_RESIZE" -w 160 --compression low >o.mp4
	[ "$(frames o.mp4)" -eq 250 ]
	clean o.mp4
	grep -q '"spooled":1' m.jsonl
}

@test "trim: timestamps start at 0, durations match, A/V in sync" {
	"$VR_RESIZE" -w 160 -t 2.5 -d 3 "$FX/h264-aac.mp4" >t.mp4
	near "$(sstart t.mp4 v)" 0 0.03
	near "$(sstart t.mp4 a)" 0 0.03
	near "$(sdur t.mp4 v)" 3 0.05
	near "$(sdur t.mp4 a)" 3 0.05
	[ "$(frames t.mp4)" -eq 75 ]
	clean t.mp4
	# same cut from the MPEG-TS input (which starts at 1.4 s) and from a pipe
	cat "$FX/ts.ts" | "$VR_RESIZE" -w 160 -t 1 -d 2 >ts.mp4
	near "$(sstart ts.mp4 v)" 0 0.03
	near "$(sdur ts.mp4 v)" 2 0.05
	near "$(sdur ts.mp4 a)" 2 0.05
	# the picture at output 0 is the input's picture at 2.5 s
	"$VR_RESIZE" --mode frame -f png -w 160 -t 2.5 "$FX/h264-aac.mp4" >at.png
	ffmpeg -nostdin -v error -i t.mp4 -frames:v 1 -pix_fmt rgb24 first.png
	# (lossy at 160x90: ~27 dB for the same picture, ~20 for its neighbour)
	run psnr at.png first.png
	awk -v p="$output" 'BEGIN { exit !(p == "inf" || p > 24) }'
}

@test "quality, compression and a bitrate cap change the encoding" {
	"$VR_RESIZE" -w 320 -d 2 --quality low --compression low "$FX/h264-aac.mp4" >low.mp4
	"$VR_RESIZE" -w 320 -d 2 --quality high --compression low "$FX/h264-aac.mp4" >high.mp4
	"$VR_RESIZE" -w 320 -d 2 --compression low --bitrate 100k "$FX/h264-aac.mp4" >cap.mp4
	[ "$(stat -c %s low.mp4)" -lt "$(stat -c %s high.mp4)" ]
	[ "$(stat -c %s cap.mp4)" -lt "$(stat -c %s high.mp4)" ]
	for f in low high cap; do clean $f.mp4; done
}

@test "http input through libavformat; 404 is exit 5, a silent server exit 7" {
	run "$VR_RESIZE" -w 160 -d 1 -o u.mp4 "$NGINX_URL/moov-end.mp4"
	assert_success
	run streams u.mp4
	assert_output $'h264,160,90,yuv420p\naac'
	run "$VR_RESIZE" -w 160 "$NGINX_URL/missing/h264-aac.mp4"
	assert_failure 5
	run timeout 20 "$VR_RESIZE" --timeout 1 -w 160 "http://127.0.0.1:$BLACKHOLE_PORT/a.mp4"
	assert_failure 7
}

@test "a request path through a configured origin: sources in order, confined to the root" {
	mkdir media
	cp "$FX/noaudio.mp4" media/b.mp4
	ln -s /etc/passwd media/p.mp4
	cat >o.conf <<EOF
[origin "videos"]
match = ^/v/(.*)\$
source = $PWD/missing/\$1
source = $NGINX_URL/missing/\$1
source = $PWD/media/\$1
root = $PWD
EOF
	run "$VR_RESIZE" --config o.conf --metrics m.jsonl -w 160 -o b.mp4 /v/b.mp4
	assert_success
	run streams b.mp4
	assert_output "h264,160,120,yuv420p"
	grep -qF "\"source\":\"$PWD/media/b.mp4\"" m.jsonl
	run "$VR_RESIZE" --config o.conf -w 160 /v/p.mp4
	assert_failure 5
	assert_output --partial "outside the origin root"
	run "$VR_RESIZE" --config o.conf -w 160 /v/none.mp4
	assert_failure 5
}

# ---- frame mode ----

@test "frame: jpg, png and webp at a time, the exact frame ffmpeg gives" {
	"$VR_RESIZE" --mode frame -t 5 -w 320 "$FX/h264-aac.mp4" >f.jpg
	run streams f.jpg
	assert_output "mjpeg,320,180,yuvj420p"
	"$VR_RESIZE" --mode frame -t 5 -f webp -w 320 "$FX/h264-aac.mp4" >f.webp
	run streams f.webp
	assert_output "webp,320,180,yuv420p"
	local t
	for t in 0 3.3 7.96; do
		"$VR_RESIZE" --mode frame -t $t -f png "$FX/h264-aac.mp4" >m.png
		ffmpeg -nostdin -v error -y -ss $t -i "$FX/h264-aac.mp4" -frames:v 1 -pix_fmt rgb24 r.png
		run psnr m.png r.png
		assert_output inf
	done
	run streams m.png
	assert_output "png,640,360,rgb24"
	# B-frames (not decoded on the way unless referenced), between frames
	for t in 0.5 1.37 2.5 2.9; do
		"$VR_RESIZE" --mode frame -t $t -f png "$FX/bframes.mp4" >b.png
		ffmpeg -nostdin -v error -y -ss $t -i "$FX/bframes.mp4" -frames:v 1 -pix_fmt rgb24 r.png
		run psnr b.png r.png
		assert_output inf
	done
	# after the last frame's time but before the end: the last frame
	"$VR_RESIZE" --mode frame -t 2.99 -f png "$FX/bframes.mp4" >b.png
	ffmpeg -nostdin -v error -y -i "$FX/bframes.mp4" -vf 'select=eq(n\,89)' -frames:v 1 \
		-pix_fmt rgb24 r.png
	run psnr b.png r.png
	assert_output inf
	clean f.jpg
	clean f.webp
}

@test "frame: seeks instead of decoding from the start; past the end is exit 3" {
	VR_METRICS=m.jsonl "$VR_RESIZE" --mode frame -t 9 "$FX/h264-aac.mp4" >f.jpg
	grep -q '"seeks":1' m.jsonl
	# decoded: from the keyframe at 8 s on, not 225 frames
	local n
	n=$(sed -n 's/.*"frames_in":\([0-9]*\).*/\1/p' m.jsonl)
	[ "$n" -le 60 ]
	run "$VR_RESIZE" --mode frame -t 20 "$FX/h264-aac.mp4"
	assert_failure 3
	assert_output --partial "past the end"
	run "$VR_RESIZE" --mode frame -f png "$FX/audio.m4a"
	assert_failure 3
	assert_output --partial "no video"
}

@test "frame from a pipe (moov at the end) and from VFR, 10-bit, odd inputs" {
	cat "$FX/moov-end.mp4" | "$VR_RESIZE" --mode frame -t 4 -f png >p.png
	"$VR_RESIZE" --mode frame -t 4 -f png "$FX/h264-aac.mp4" >f.png
	run psnr p.png f.png
	assert_output inf
	local f
	for f in vfr.mkv 10bit.mp4 odd.mp4 ts.ts vp9.webm; do
		"$VR_RESIZE" --mode frame -t 1 -w 100 "$FX/$f" >x.jpg
		clean x.jpg
	done
	run streams x.jpg
	assert_output "mjpeg,100,56,yuvj420p"
}

@test "derivative thumbnail: a 640x360 png at 2 s" {
	"$VR_RESIZE" --derivative thumbnail "$FX/portrait.mp4" >t.png
	run streams t.png
	assert_output "png,640,360,rgb24"
}

# The original's shipped presets (its worker config): desktop, tablet and
# mobile are videos with audio capped at 5 minutes; a shorter input is
# simply whole, so the oracle is the input's own duration and frame count.
@test "derivatives: the video presets play at most 5m, a shorter input whole, with its audio" {
	assert_equal "$("$VR_RESIZE" --print-key -Q derivative=desktop)" "$("$VR_RESIZE" --print-key -Q 'mode=video&width=1920&height=1080&fit=contain&audio=true&duration=5m&loop=true')"
	assert_equal "$("$VR_RESIZE" --print-key -Q derivative=tablet)" "$("$VR_RESIZE" --print-key --width 1280 --height 720 --duration 300)"
	assert_equal "$("$VR_RESIZE" --print-key --derivative mobile)" "$("$VR_RESIZE" --print-key -Q 'w=854&h=640&dur=5m')"
	"$VR_RESIZE" -Q 'derivative=mobile&compression=low' -o m.mp4 "$FX/short-90p.mp4"
	run streams m.mp4
	assert_output "h264,854,480,yuv420p
aac"
	near "$(sdur m.mp4 v)" "$(sdur "$FX/short-90p.mp4" v)" 0.05
	near "$(sdur m.mp4 a)" "$(sdur "$FX/short-90p.mp4" a)" 0.1
	assert_equal "$(frames m.mp4)" "$(frames "$FX/short-90p.mp4")"
	# a longer input is cut at 5 minutes (an explicit width and 8 kHz
	# audio keep it quick: AAC at 44.1 kHz was most of the test's time)
	ffmpeg -nostdin -v error -f lavfi -i testsrc=size=32x18:rate=5:duration=310 \
		-f lavfi -i sine=duration=310:sample_rate=8000 -c:v libx264 -preset ultrafast -c:a aac \
		-shortest long.mp4
	near "$(sdur long.mp4 v)" 310 0.1
	"$VR_RESIZE" -Q 'derivative=mobile&width=32&compression=low' -o l.mp4 long.mp4
	near "$(sdur l.mp4 v)" 300 0.1
	near "$(sdur l.mp4 a)" 300 0.1
}

# An explicit mode, or a format the preset's mode does not take, wins: the
# preset's size, fit and time still apply, what the mode has no use for
# (a video's duration and audio for a frame, a thumbnail's png for a
# video) is left out instead of failing the request.
@test "derivatives: an explicit mode or format wins over the preset's, keeping its size" {
	"$VR_RESIZE" -Q 'derivative=mobile&mode=frame' -o f.jpg "$FX/short-90p.mp4"
	run streams f.jpg
	assert_output "mjpeg,854,480,yuvj420p"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'derivative=desktop&mode=frame')" "$("$VR_RESIZE" --print-key -m frame -w 1920 --height 1080)"
	"$VR_RESIZE" --derivative desktop --format png -o d.png "$FX/short-90p.mp4"
	run streams d.png
	assert_output "png,1920,1080,rgb24"
	"$VR_RESIZE" -Q 'derivative=thumbnail&mode=video&compression=low' -o t.mp4 "$FX/short-90p.mp4"
	run streams t.mp4
	assert_output "h264,640,360,yuv420p
aac"
	# the thumbnail's time 2s applies: the 10 s input from 2 s on
	near "$(sdur t.mp4 v)" 8 0.1
	assert_equal "$("$VR_RESIZE" --print-key -Q 'derivative=thumbnail&format=mp4')" "$("$VR_RESIZE" --print-key -Q 'derivative=thumbnail&mode=video')"
	assert_equal "$("$VR_RESIZE" --print-key -Q 'derivative=thumbnail&format=mp4')" "$("$VR_RESIZE" --print-key -w 640 --height 360 --fit cover -t 2)"
	"$VR_RESIZE" -Q 'derivative=tablet&mode=audio' -o a.m4a "$FX/short-90p.mp4"
	run streams a.m4a
	assert_output "aac"
	# an explicit field that does not fit the mode is still an error
	run -3 "$VR_RESIZE" --print-key -Q 'derivative=desktop&mode=frame&duration=5s'
	run -3 "$VR_RESIZE" --print-key -Q 'derivative=thumbnail&mode=video&format=png'
}

# -o FILE: the extension is the format when none is given; a contradiction
# is a usage error and writes nothing. ffprobe says what was written.
@test "-o FILE: the extension chooses the format; a contradiction is exit 2" {
	"$VR_RESIZE" -w 160 -d 1 --compression low -o x.webm "$FX/short-90p.mp4"
	run ffprobe -v error -show_entries format=format_name -of default=nw=1:nk=1 x.webm
	assert_output "matroska,webm"
	run streams x.webm
	assert_output "vp9,160,90,yuv420p
opus"
	"$VR_RESIZE" -d 1 -o a.M4A "$FX/short-90p.mp4"
	run streams a.M4A
	assert_output "aac"
	"$VR_RESIZE" -m frame -w 80 -o t.png "$FX/short-90p.mp4"
	run streams t.png
	assert_output "png,80,45,rgb24"
	"$VR_RESIZE" -m frame -w 80 -o t.jpeg "$FX/short-90p.mp4"
	run streams t.jpeg
	assert_output "mjpeg,80,45,yuvj420p"
	"$VR_RESIZE" --derivative thumbnail -o th.jpg "$FX/short-90p.mp4"
	run streams th.jpg
	assert_output "mjpeg,640,360,yuvj420p"
	# an extension that names no format keeps the default
	"$VR_RESIZE" -w 160 -d 1 --compression low -o x.bin "$FX/short-90p.mp4"
	run ffprobe -v error -show_entries format=format_name -of default=nw=1:nk=1 x.bin
	assert_output "mov,mp4,m4a,3gp,3g2,mj2"
	# the key says the same
	assert_equal "$("$VR_RESIZE" --print-key -w 160 -o k.webm)" "$("$VR_RESIZE" --print-key -w 160 -f webm)"
	# contradictions
	run -2 --separate-stderr "$VR_RESIZE" --format mp4 -w 160 -o y.webm "$FX/short-90p.mp4"
	assert_equal "$stderr" "vr-resize: error: output: a .webm file is format webm, but format mp4 is asked for; name the file .mp4 or drop the format
Try 'vr-resize --help'."
	run test -e y.webm
	assert_failure
	run -2 --separate-stderr "$VR_RESIZE" -m frame -o x.mp4 "$FX/short-90p.mp4"
	[[ $stderr == *"a .mp4 file (format mp4) does not fit mode frame (allowed: jpg, png, webp)"* ]]
	run test -e x.mp4
	assert_failure
	run -2 "$VR_RESIZE" -Q 'f=mp4' -o y.webm "$FX/short-90p.mp4"
	run -2 "$VR_RESIZE" -w 160 -o x.png "$FX/short-90p.mp4"
	run -2 "$VR_RESIZE" -m spritesheet -w 10 --height 10 -o s.png "$FX/short-90p.mp4"
	run -2 "$VR_RESIZE" -m audio -o a.mp4 "$FX/short-90p.mp4"
	# an extension never overrides a derivative's mode (a format given does)
	run -2 --separate-stderr "$VR_RESIZE" --derivative thumbnail -o th.mp4 "$FX/short-90p.mp4"
	[[ $stderr == *"a .mp4 file (format mp4) does not fit mode frame"* ]]
	run test -e th.mp4
	assert_failure
}

# ---- spritesheet ----

@test "spritesheet: a JPEG grid, default 10 s, one tile a second" {
	VR_METRICS=m.jsonl "$VR_RESIZE" --mode spritesheet -w 160 --height 90 "$FX/h264-aac.mp4" >s.jpg
	run streams s.jpg
	assert_output "mjpeg,640,270,yuvj420p"
	clean s.jpg
	"$VR_RESIZE" --mode spritesheet -w 100 --height 100 --columns 5 --rows 2 -t 1 -d 5 \
		"$FX/h264-aac.mp4" >g.jpg
	run streams g.jpg
	assert_output "mjpeg,500,200,yuvj420p"
	clean g.jpg
	# tile 0 is the frame at the start time
	"$VR_RESIZE" --mode spritesheet -w 160 --height 90 --columns 2 --rows 1 -t 3 -d 4 \
		-q "$FX/h264-aac.mp4" >two.jpg
	ffmpeg -nostdin -v error -i two.jpg -vf crop=160:90:0:0 -pix_fmt rgb24 t0.png
	ffmpeg -nostdin -v error -ss 3 -i "$FX/h264-aac.mp4" -frames:v 1 -vf scale=160:90 \
		-pix_fmt rgb24 r0.png
	# (JPEG at 160x90: ~27 dB for the same picture, ~19 for its neighbour)
	run psnr t0.png r0.png
	awk -v p="$output" 'BEGIN { exit !(p == "inf" || p > 24) }'
}

@test "spritesheet seeks per tile and pads contain tiles; portrait and pipe inputs" {
	VR_METRICS=m.jsonl "$VR_RESIZE" --mode spritesheet -w 100 --height 100 --fit contain --columns 2 \
		--rows 2 -d 8 "$FX/h264-aac.mp4" >s.jpg
	run streams s.jpg
	assert_output "mjpeg,200,200,yuvj420p"
	grep -q '"seeks":[1-9]' m.jsonl
	n=$(sed -n 's/.*"frames_in":\([0-9]*\).*/\1/p' m.jsonl)
	[ "$n" -lt 150 ]
	"$VR_RESIZE" --mode spritesheet -w 90 --height 160 --columns 3 --rows 1 "$FX/portrait.mp4" >p.jpg
	clean p.jpg
	cat "$FX/moov-end.mp4" | "$VR_RESIZE" --mode spritesheet -w 64 --height 36 >q.jpg
	clean q.jpg
	cat "$FX/ts.ts" | "$VR_RESIZE" --mode spritesheet -w 64 --height 36 >t.jpg
	clean t.jpg
}

@test "spritesheet with more tiles than frames: the work is bounded by the source, not the tiles" {
	# 400 tiles over 6 s of a 25 fps source: 2.5 tiles a frame. A tile
	# shares its frame with its neighbours instead of seeking back for it.
	VR_METRICS=m.jsonl "$VR_RESIZE" --mode spritesheet -w 32 --height 18 --columns 20 --rows 20 \
		-d 6 "$FX/h264-aac.mp4" >s.jpg
	run streams s.jpg
	assert_output "mjpeg,640,360,yuvj420p"
	# the oracle: the source's own frame count (ffprobe) and size
	frames=$(ffprobe -v error -count_packets -select_streams v:0 \
		-show_entries stream=nb_read_packets -of csv=p=0 "$FX/h264-aac.mp4")
	size=$(stat -c %s "$FX/h264-aac.mp4")
	n=$(sed -n 's/.*"frames_in":\([0-9]*\).*/\1/p' m.jsonl)
	b=$(sed -n 's/.*"bytes_in":\([0-9]*\).*/\1/p' m.jsonl)
	[ "$n" -le "$frames" ]
	[ "$b" -le "$size" ]
	grep -q '"seeks":0[,}]' m.jsonl
	clean s.jpg
}

# yavg FILE [FILTER]: the mean luma of a picture (after FILTER, e.g. a crop)
yavg() {
	ffmpeg -nostdin -v error -i "$1" \
		-vf "${2:+$2,}signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-" -f null - |
		sed -n 's/.*YAVG=//p'
}

# tile_is_frame SHEET I SRC T: tile I (64x36, one row) of SHEET has the luma
# of the frame ffmpeg takes at T s of SRC, within half a frame's step
tile_is_frame() {
	local a b
	a=$(yavg "$1" "crop=64:36:$(($2 * 64)):0")
	ffmpeg -nostdin -v error -y -ss "$4" -i "$3" -frames:v 1 "oracle-$2.jpg"
	b=$(yavg "oracle-$2.jpg")
	echo "tile $2: luma $a, the frame at $4 s: $b" >&2
	awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(a != "" && b != "" && d < 1.7 && d > -1.7) }'
}

@test "spritesheet tiles show the keyframe within their interval, decoded alone; pipes stay exact" {
	# 6 s at 10 fps, a keyframe every 2 s, B-frames (so MP4 indexes a
	# keyframe 0.2 s before it shows), near lossless: frame N has luma
	# 16 + 3N, 3.5 steps apart once a JPEG's full range
	ffmpeg -nostdin -v error -f lavfi \
		-i "color=c=black:s=64x36:r=10:d=6,format=yuv420p,geq=lum='16+3*N':cb=128:cr=128" \
		-c:v libx264 -qp 1 -bf 2 -x264-params b-adapt=0 -g 20 -keyint_min 20 -sc_threshold 0 \
		-movflags +faststart clock.mp4
	VR_METRICS=m.jsonl "$VR_RESIZE" -q -m spritesheet -w 64 --height 36 --columns 4 --rows 1 -d 6 \
		clock.mp4 >s.jpg
	# the oracle: ffprobe's keyframe times, then per tile (at 0, 1.5, 3,
	# 4.5 s, 1.5 s each) the first keyframe in [t, t + 1.5), else the
	# frame at t; tile 0 is the frame at the start time
	ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,flags -of csv=p=0 clock.mp4 |
		awk -F, '$2 ~ /K/ { print $1 + 0 }' >keys.txt
	run cat keys.txt
	assert_output $'0\n2\n4'
	awk 'NR == FNR { k[n++] = $1; next } END {
		for (i = 0; i < 4; i++) {
			t = i * 1.5; e = t
			for (j = 0; j < n && i > 0; j++)
				if (k[j] >= t && k[j] < t + 1.5) { e = k[j]; break }
			print e
		}
	}' keys.txt /dev/null >want.txt
	run cat want.txt
	assert_output $'0\n2\n4\n4.5'
	i=0
	while read -r t; do
		tile_is_frame s.jpg $i clock.mp4 "$t"
		i=$((i + 1))
	done <want.txt
	# two tiles from their keyframe alone; the last decodes from the
	# keyframe at 4 s to 4.5 s (6 frames): 9 of the 60 frames in all
	grep -q '"key_tiles":2[,}]' m.jsonl
	n=$(sed -n 's/.*"frames_in":\([0-9]*\).*/\1/p' m.jsonl)
	[ "$n" -le 9 ]
	# a stream from a pipe (MPEG-TS, not spooled) cannot seek: every tile
	# is the frame at its time
	ffmpeg -nostdin -v error -i clock.mp4 -c copy -f mpegts clock.ts
	cat clock.ts | VR_METRICS=p.jsonl "$VR_RESIZE" -q -m spritesheet -w 64 --height 36 \
		--columns 4 --rows 1 -d 6 >p.jpg
	grep -q '"key_tiles":0[,}]' p.jsonl
	tile_is_frame p.jpg 0 clock.mp4 0
	tile_is_frame p.jpg 1 clock.mp4 1.5
	tile_is_frame p.jpg 2 clock.mp4 3
	tile_is_frame p.jpg 3 clock.mp4 4.5
}

@test "JPEG frames and spritesheet tiles keep odd sizes, as PNG does, and the key says so" {
	local fit
	for fit in contain cover; do
		"$VR_RESIZE" -m frame --fit $fit -w 81 --height 45 -t 1 "$FX/h264-aac.mp4" >f.jpg
		"$VR_RESIZE" -m frame --fit $fit -w 81 --height 45 -t 1 -f png "$FX/h264-aac.mp4" >f.png
		[ "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 f.jpg)" = \
			"$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 f.png)" ]
		clean f.jpg
	done
	run streams f.jpg
	assert_output "mjpeg,81,45,yuvj420p"
	# odd tiles: a 4:4:4 sheet, so that tiles at odd offsets keep their colour
	"$VR_RESIZE" -m spritesheet -w 81 --height 45 --columns 3 --rows 2 "$FX/h264-aac.mp4" >s.jpg
	run streams s.jpg
	assert_output "mjpeg,243,90,yuvj444p"
	clean s.jpg
	run "$VR_RESIZE" -m spritesheet -w 81 --height 45 --columns 3 --rows 2 --print-key "$FX/h264-aac.mp4"
	assert_output --partial "width=81&height=45"
	run "$VR_RESIZE" -m frame -w 81 --height 45 --print-key "$FX/h264-aac.mp4"
	assert_output --partial "width=81&height=45"
}

# ---- audio mode ----

@test "audio: AAC is copied, not re-encoded" {
	VR_METRICS=m.jsonl "$VR_RESIZE" --mode audio -o a.m4a "$FX/h264-aac.mp4"
	grep -q '"out_audio_codec":"copy"' m.jsonl
	run streams a.m4a
	assert_output aac
	near "$(sdur a.m4a a)" 10 0.05
	clean a.m4a
	"$VR_RESIZE" --mode audio -o b.m4a "$FX/audio.m4a"
	ffmpeg -nostdin -v error -i b.m4a -f s16le b.raw
	ffmpeg -nostdin -v error -i "$FX/audio.m4a" -f s16le o.raw
	cmp b.raw o.raw
}

@test "audio: MP3, WAV and trims are encoded to AAC; pipes both ways" {
	"$VR_RESIZE" --mode audio "$FX/audio.mp3" >a.m4a
	cat "$FX/audio.wav" | "$VR_RESIZE" --mode audio -t 1 -d 1.5 >w.m4a
	"$VR_RESIZE" --mode audio -t 2 -d 3 "$FX/h264-aac.mp4" >t.m4a
	for f in a w t; do
		run streams $f.m4a
		assert_output aac
		clean $f.m4a
	done
	near "$(sdur a.m4a a)" 5 0.1
	near "$(sdur w.m4a a)" 1.5 0.05
	near "$(sdur t.m4a a)" 3 0.05
	run "$VR_RESIZE" --mode audio "$FX/noaudio.mp4"
	assert_failure 3
	assert_output --partial "no audio"
	run "$VR_RESIZE" -w 160 "$FX/audio.m4a"
	assert_failure 3
	assert_output --partial "no video"
}

# ---- damaged and hostile input ----

@test "truncated, cut, garbage and empty inputs: exit 3 quickly, no output file" {
	local f
	for f in truncated.mp4 cut.mp4 garbage.bin; do
		run timeout 30 "$VR_RESIZE" -w 160 -o o.mp4 "$FX/$f"
		assert_failure 3
		run timeout 30 bash -c 'cat "$1" | "$VR_RESIZE" -w 160 >/dev/null' _ "$FX/$f"
		assert_failure 3
		run timeout 30 "$VR_RESIZE" --mode frame -t 8 "$FX/$f"
		assert_failure 3
	done
	[ ! -e o.mp4 ]
	[ -z "$(ls)" ]
	run "$VR_RESIZE" -w 160 </dev/null
	assert_failure 3
	assert_output --partial "empty"
	: >empty.mp4
	run "$VR_RESIZE" -w 160 empty.mp4
	assert_failure 3
}

@test "not found is exit 5; a playlist format is refused" {
	run "$VR_RESIZE" -w 160 no-such-file.mp4
	assert_failure 5
	printf '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n%s\n#EXT-X-ENDLIST\n' \
		"$FX/h264-aac.mp4" >list.m3u8
	run "$VR_RESIZE" -w 160 list.m3u8
	assert_failure 3
	printf "ffconcat version 1.0\nfile '%s'\n" "$FX/h264-aac.mp4" >list.ffconcat
	run "$VR_RESIZE" -w 160 list.ffconcat
	assert_failure 3
}

@test "limits: input pixels, output pixels, bytes and duration are exit 8" {
	printf '[limits]\nmax-input-pixels = 100000\n' >px.conf
	run "$VR_RESIZE" --config px.conf -w 160 "$FX/h264-aac.mp4"
	assert_failure 8
	printf '[limits]\nmax-input-bytes = 100K\n' >bytes.conf
	run "$VR_RESIZE" --config bytes.conf -w 160 "$FX/h264-aac.mp4"
	assert_failure 8
	run bash -c 'cat "$FX/moov-end.mp4" | "$VR_RESIZE" --config bytes.conf -w 160 >/dev/null'
	assert_failure 8
	run bash -c 'cat "$FX/ts.ts" | "$VR_RESIZE" --config bytes.conf -w 160 >/dev/null'
	assert_failure 8
	printf '[limits]\nmax-duration = 5\n' >dur.conf
	run "$VR_RESIZE" --config dur.conf -w 160 "$FX/h264-aac.mp4"
	assert_failure 8
	run bash -c 'cat "$FX/ts.ts" "$FX/ts.ts" | "$VR_RESIZE" --config dur.conf -w 160 >/dev/null'
	assert_failure 8
	run "$VR_RESIZE" --config dur.conf -w 160 -d 2 -o ok.mp4 "$FX/h264-aac.mp4"
	assert_success
	printf '[limits]\nmax-output-pixels = 10000\n' >out.conf
	run "$VR_RESIZE" --config out.conf -w 160 "$FX/h264-aac.mp4"
	assert_failure 8
	# limits a request names itself, as an option or in a query: a side past
	# max-dimension, a duration past max-duration, a grid past max-tiles
	run "$VR_RESIZE" -w 2001 --print-key
	assert_failure 8
	assert_output --partial "width: '2001' is out of range 10-2000"
	run "$VR_RESIZE" -Q 'h=5000' --print-key
	assert_failure 8
	run "$VR_RESIZE" --config dur.conf -d 6 --print-key
	assert_failure 8
	printf '[limits]\nmax-tiles = 4\n' >tiles.conf
	run "$VR_RESIZE" --config tiles.conf -m spritesheet -w 100 --height 100 --columns 3 --rows 3 --print-key
	assert_failure 8
	assert_output --partial "more than max-tiles 4"
	# a value that is not one at all stays a usage error (2), or bad data (3) in a query
	run "$VR_RESIZE" -w abc --print-key
	assert_failure 2
	run "$VR_RESIZE" -Q 'w=abc' --print-key
	assert_failure 3
}

# ---- pipes, signals, progress, metrics, memory ----

@test "SIGTERM while spooling stdin: the spool file and the output temporary are gone" {
	mkdir tmp
	mkfifo in.fifo
	(
		cat "$FX/moov-end.mp4"
		sleep 20
	) >in.fifo 3>&- &
	local feeder=$!
	TMPDIR=$PWD/tmp "$VR_RESIZE" -w 160 -o out.mp4 <in.fifo 3>&- &
	local pid=$!
	local _
	for _ in $(seq 50); do
		# shellcheck disable=SC2010 # the link targets are what is looked for
		ls -l /proc/$pid/fd 2>/dev/null | grep -q 'vr-spool-.*(deleted)' && break
		sleep 0.1
	done
	run ls -l /proc/$pid/fd
	kill -TERM $pid
	wait $pid || true
	kill $feeder
	pkill -P $feeder sleep || true
	wait $feeder || true
	assert_output --partial "(deleted)"
	assert_output --regexp "out\.mp4\.vr-tmp-"
	[ -z "$(ls tmp)" ]
	run ! ls out.mp4*
}

@test "a stalled pipe is exit 7 after --timeout" {
	# (the feeder outlives vr-resize: its sleep is the test's time; long
	# enough that a slow start under load still sees a second of stall)
	run timeout 20 bash -c '(head -c 100000 "$FX/moov-end.mp4"; sleep 4) | "$VR_RESIZE" --timeout 1 -w 160 >/dev/null'
	assert_failure 7
	run timeout 20 bash -c '(head -c 100000 "$FX/ts.ts"; sleep 4) | "$VR_RESIZE" --timeout 1 -w 160 >/dev/null'
	assert_failure 7
}

@test "a reader that leaves early is a quiet end" {
	run bash -c '"$VR_RESIZE" -w 320 "$FX/h264-aac.mp4" | head -c 5000 | wc -c'
	assert_success
	assert_output 5000
	run bash -c 'set -o pipefail; "$VR_RESIZE" -w 320 "$FX/h264-aac.mp4" 2>err | head -c 5000 >/dev/null; echo $?; cat err'
	assert_output "0"
}

@test "progress: --progress forces it, --quiet silences it; metrics have the fields" {
	run bash -c '"$VR_RESIZE" --progress -w 160 -d 2 "$FX/h264-aac.mp4" 2>&1 >/dev/null'
	assert_output --partial "/ 00:00:02.0"
	run bash -c '"$VR_RESIZE" --quiet -w 160 -d 2 "$FX/h264-aac.mp4" 2>&1 >/dev/null'
	assert_output ""
	"$VR_RESIZE" --metrics m.jsonl -w 160 -d 2 "$FX/h264-aac.mp4" >/dev/null
	local k
	for k in frames_in frames_out in_width in_height out_width out_height in_codec out_codec \
		peak_rss_kb bytes_in bytes_out wall_ms; do
		grep -q "\"$k\":" m.jsonl
	done
	grep -q '"out_width":160' m.jsonl
	grep -q '"in_codec":"h264"' m.jsonl
	grep -q '"frames_out":50' m.jsonl
	grep -q '"exit":0' m.jsonl
}

@test "progress: percent, fps and ETA; only on a terminal by default; -q wins over --progress" {
	run bash -c '"$VR_RESIZE" --progress -w 160 -d 2 "$FX/h264-aac.mp4" 2>&1 >/dev/null'
	assert_success
	# the first line, before any frame, and the last
	assert_line --index 0 --regexp '^vr-resize:   0%  00:00:00.0 / 00:00:02.0  .*ETA --:--$'
	assert_line --regexp '^vr-resize: 100%  00:00:02.0 / 00:00:02.0  [0-9.]+ fps  [0-9.]+x  ETA 0:00$'
	# not a terminal: nothing
	run bash -c '"$VR_RESIZE" -w 160 -d 2 "$FX/h264-aac.mp4" 2>&1 >/dev/null'
	assert_output ''
	run bash -c '"$VR_RESIZE" -q --progress -w 160 -d 2 "$FX/h264-aac.mp4" 2>&1 >/dev/null'
	assert_output ''
	# a terminal: shown by default, rewritten in place
	run script -qec "'$VR_RESIZE' -w 160 -d 2 '$FX/h264-aac.mp4' >out.mp4" /dev/null
	assert_success
	assert_output --partial $'\rvr-resize: 100%  00:00:02.0 / 00:00:02.0  '
	assert_output --partial ' fps  '
	[ -s out.mp4 ]
}

@test "memory does not grow with input length: 10 s and 5 min peak within 10 MiB" {
	# ASan's allocator keeps freed blocks in quarantine and per-size caches
	is_asan "$VR_RESIZE" && skip "peak RSS is not meaningful under ASan"
	"$VR_RESIZE" --metrics m.jsonl -w 64 --compression low --quality low "$FX/short-90p.mp4" >/dev/null
	cat "$FX/long-90p.mp4" | "$VR_RESIZE" --metrics m.jsonl -w 64 --compression low --quality low >/dev/null
	local a b
	a=$(sed -n '1s/.*"peak_rss_kb":\([0-9]*\).*/\1/p' m.jsonl)
	b=$(sed -n '2s/.*"peak_rss_kb":\([0-9]*\).*/\1/p' m.jsonl)
	echo "short $a KiB, long $b KiB" >&3
	[ "$b" -le $((a + 10240)) ]
}
