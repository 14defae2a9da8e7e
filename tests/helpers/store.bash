# Helpers for the vr-chunk tests: deterministic inputs, a runner that keeps
# stdout and stderr apart, and small probes of the store with sqlite3.
# shellcheck shell=bash

# gen N: N deterministic pseudo-random bytes on stdout (AES-CTR key stream)
gen() {
	head -c "$1" /dev/zero |
		openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
			-iv 00000000000000000000000000000000 2>/dev/null
}

# gen2 N: another N deterministic bytes, different from gen's
gen2() {
	head -c "$1" /dev/zero |
		openssl enc -aes-128-ctr -nosalt -K 0f0e0d0c0b0a09080706050403020100 \
			-iv 00000000000000000000000000000000 2>/dev/null
}

# vc ARGS...: run vr-chunk on the test's store ($S), with no shell or
# subshell in between; stdout in $OUT, stderr in $ERR, $stderr and $output
# (what assert_success shows, and refute_output checks), status in $status
vc() {
	status=0
	"$VR_CHUNK" --store "$S" "$@" >"$OUT" 2>"$ERR" 3>&- || status=$?
	slurp stderr "$ERR"
	output=$stderr
}

# vcin INPUT ARGS...: the same with INPUT arriving through a pipe
vcin() {
	local in=$1
	shift
	status=0
	cat "$in" 3>&- | "$VR_CHUNK" --store "$S" "$@" >"$OUT" 2>"$ERR" 3>&- || status=$?
	slurp stderr "$ERR"
	output=$stderr
}

# q SQL: one query on the store, waiting out writers' locks (never creates it)
q() {
	[ -s "$S" ] || { echo "q: no store at $S" >&2; return 1; }
	sqlite3 -batch -cmd '.timeout 10000' "$S" "$1"
}

# slice FILE START END: bytes START..END (inclusive) of FILE
slice() {
	dd if="$1" bs=64K iflag=skip_bytes,count_bytes skip="$2" count=$(($3 - $2 + 1)) status=none
}

# same FILE: $OUT holds exactly FILE's bytes
same() {
	cmp "$OUT" "$1" || {
		echo "stdout: $(stat -c %s "$OUT") bytes, expected $(stat -c %s "$1"); stderr: $stderr"
		return 1
	}
}

# expect_out FILE S E [S E ...]: $OUT is exactly those slices, in order
expect_out() {
	local f=$1
	shift
	: >"$EXP"
	while [ $# -gt 0 ]; do
		slice "$f" "$1" "$2" >>"$EXP"
		shift 2
	done
	same "$EXP"
}

# no_busy: nothing said "locked" or "busy" on stderr (files given, or $ERR)
no_busy() {
	if grep -Eil 'locked|busy' "${@:-$ERR}"; then
		grep -Ei 'locked|busy' "${@:-$ERR}"
		return 1
	fi
}

# ready_chunks: chunk rows the ready entries account for
ready_chunks() {
	q "SELECT coalesce(sum(chunk_count), 0) FROM entries WHERE state = 'ready'"
}

# writing_chunks: chunk rows of generations still being written
writing_chunks() {
	q "SELECT count(*) FROM chunks WHERE entry IN (SELECT id FROM entries WHERE state = 'writing')"
}

# wait_for_chunks N [SECONDS]: until a generation being written has N chunks
wait_for_chunks() {
	local n=$1 i
	for ((i = 0; i < ${2:-20} * 20; i++)); do
		[ -s "$S" ] && [ "$(q "SELECT count(*) FROM entries WHERE state = 'writing'" 2>/dev/null)" -ge 1 ] 2>/dev/null &&
			[ "$(writing_chunks)" -ge "$n" ] && return 0
		sleep 0.05
	done
	echo "no generation with $n chunks appeared" >&2
	return 1
}

# dead_pid: a pid that is not running on this host
dead_pid() {
	local p
	sh -c 'exit 0' &
	p=$!
	wait "$p"
	while kill -0 "$p" 2>/dev/null; do p=$((p + 7919)); done
	echo "$p"
}

# exit_by_signal STATUS SIG: STATUS is what a shell reports for death by SIG
exit_by_signal() {
	[ "$1" -eq $((128 + $(kill -l "$2"))) ] || {
		echo "status $1, expected death by SIG$2"
		return 1
	}
}

# frames FILE: FILE's decoded video frames: ffmpeg's framemd5 of them, each
# frame passed through once (no frame-rate conversion), its time base and
# dimensions, then a line a frame: the stream, the pts counted from the
# first frame's, the duration, the size and the MD5 of the pixels. The pts
# is relative: a fragmented stream (no edit list) starts a frame later than
# the progressive copy of the same packets. Fails when ffmpeg says anything.
# The same bytes decode to the same frames: a file whose SHA-256 was decoded
# before in this bats file ($BATS_FILE_TMPDIR/frames) is not decoded again
# (a test compares many copies with one reference); only successes are kept.
frames() {
	local fm err memo='' sum
	if [ -n "${BATS_FILE_TMPDIR:-}" ] && sum=$(sha256sum <"$1") && sum=${sum%% *}; then
		memo=$BATS_FILE_TMPDIR/frames/$sum
		if [ -f "$memo" ]; then
			cat "$memo"
			return 0
		fi
	fi
	err=$(mktemp -p "${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}") || return 1
	fm=$(ffmpeg -nostdin -v error -i "$1" -map 0:v -vsync passthrough -f framemd5 - 2>"$err") || {
		echo "frames: ffmpeg cannot decode $1: $(cat "$err")" >&2
		rm -f "$err"
		return 1
	}
	if [ -s "$err" ]; then
		echo "frames: ffmpeg complained about $1: $(cat "$err")" >&2
		rm -f "$err"
		return 1
	fi
	rm -f "$err"
	fm=$(awk -F', *' '/^#(tb|dimensions) / { print; next }
		!/^#/ { if (!n++) p0 = $3; print $1, $3 - p0, $4, $5, $6 }' <<<"$fm")
	if [ -n "$memo" ] && mkdir -p "${memo%/*}"; then
		printf '%s\n' "$fm" >"$memo.$$" && mv -f "$memo.$$" "$memo"
	fi
	printf '%s\n' "$fm"
}

# same_frames A B: A and B decode to the same video frames: as many, each
# with the same pixels, size, duration and relative timestamp. For the
# fragmented stream of a miss against the progressive entry of the same
# encode, which differ in bytes.
same_frames() {
	local a b
	a=$(frames "$1") || return 1
	b=$(frames "$2") || return 1
	grep -q '^[0-9]' <<<"$a" || {
		echo "same_frames: no video frame in $1"
		return 1
	}
	[ "$a" = "$b" ] || {
		echo "same_frames: $1 has $(grep -c '^[0-9]' <<<"$a") frames, $2 $(grep -c '^[0-9]' <<<"$b"); first differences:"
		diff <(echo "$a") <(echo "$b") | head -n 6
		return 1
	}
}

# mp4_boxes FILE: the types of FILE's top-level MP4 boxes, space-separated;
# fails unless the boxes tile the file exactly
mp4_boxes() {
	perl -e 'open my $f, "<:raw", $ARGV[0] or die "$ARGV[0]: $!\n";
		my ($size, $at, @t) = (-s $f, 0);
		while ($at < $size) {
			seek $f, $at, 0;
			read($f, my $h, 16) >= 8 or die "$ARGV[0]: a box header cut short at $at\n";
			my ($n, $t) = unpack "Na4", $h;
			$n = unpack "x8Q>", $h if $n == 1;
			$n = $size - $at if $n == 0;
			$n >= 8 && $at + $n <= $size or die "$ARGV[0]: a box of $n bytes at $at of $size\n";
			push @t, $t;
			$at += $n;
		}
		print "@t\n"' "$1"
}

# progressive_mp4 FILE: FILE is a progressive MP4 with the index first
# (faststart): one moov, before the first mdat, and no movie fragment
progressive_mp4() {
	local b
	b=" $(mp4_boxes "$1") " || return 1
	[[ $b == *" moov "*" mdat "* ]] || {
		echo "$1 has no moov before its mdat: $b"
		return 1
	}
	[[ $b != *" mdat "*" moov "* ]] || {
		echo "$1 has a moov after an mdat: $b"
		return 1
	}
	[[ $b != *" moof "* ]] || {
		echo "$1 is fragmented: $b"
		return 1
	}
}

# fragmented_mp4 FILE: FILE is a fragmented MP4 stream: a moov (without
# samples) and then movie fragments (moof, mdat)
fragmented_mp4() {
	local b
	b=" $(mp4_boxes "$1") " || return 1
	[[ $b == " ftyp moov moof mdat "* ]] || {
		echo "$1 is not a fragmented MP4 stream: $b"
		return 1
	}
}
