#!/usr/bin/env bats
# vr-range: every documented behaviour, with exact bytes (cmp against slices
# cut with dd) and exact exit statuses. Inputs are generated once per file
# run into $BATS_FILE_TMPDIR from a fixed AES-CTR key stream (deterministic).

load helpers/common

# gen N: N deterministic pseudo-random bytes on stdout
gen() {
	head -c "$1" /dev/zero |
		openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
			-iv 00000000000000000000000000000000 2>/dev/null
}

setup_file() {
	[ -x "$VR_RANGE" ] || { echo "build first: make" >&2; return 1; }
	command -v openssl >/dev/null || { echo "openssl is needed to make inputs" >&2; return 1; }
	local d=$BATS_FILE_TMPDIR
	gen 1000 >"$d/small"
	gen 1000 >"$d/small.mp4"
	gen 300000 >"$d/mid" # larger than one 256 KiB transfer buffer
	gen $((64 << 20)) >"$d/big"
	: >"$d/empty"
	printf 'x' >"$d/one"
	local f
	if command -v xxd >/dev/null; then
		for f in small small.mp4 one; do xxd -p -c1 "$d/$f" >"$d/$f.hexl"; done
	fi
	[ "$(stat -c %s "$d/big")" -eq $((64 << 20)) ]
}

setup() {
	D=$BATS_FILE_TMPDIR
	export OUT="$BATS_TEST_TMPDIR/out" ERR="$BATS_TEST_TMPDIR/err" EXP="$BATS_TEST_TMPDIR/exp"
	export VR_RANGE D
	cd "$BATS_TEST_TMPDIR"
}

# vrr ARGS...: run vr-range; stdout in $OUT, stderr in $ERR and $stderr
# (also $output, which bats-assert shows on failure), exit in $status
vrr() {
	status=0
	"$VR_RANGE" "$@" >"$OUT" 2>"$ERR" || status=$?
	stderr=$(<"$ERR")
	output=$stderr
}

# vrp INPUT ARGS...: the same with INPUT arriving through a pipe
vrp() {
	local in=$1
	shift
	status=0
	cat "$in" | "$VR_RANGE" "$@" >"$OUT" 2>"$ERR" || status=$?
	stderr=$(<"$ERR")
	output=$stderr
}

# vrfifo ARGS...: vr-range reading a pipe that stays open and silent for
# 20 s, under a 10 s timeout: exits 124 if vr-range reads before deciding
vrfifo() {
	run bash -c '
		mkfifo fifo
		sleep 20 >fifo 3>&- & p=$!
		timeout 10 "$0" "$@" <fifo >"$OUT" 2>"$ERR"; rc=$?
		kill $p 2>/dev/null; wait $p 2>/dev/null; rm -f fifo
		exit $rc' "$VR_RANGE" "$@"
	stderr=$(cat "$ERR")
}

# slice FILE START END: bytes START..END (inclusive) of FILE
slice() {
	dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$2" count=$(($3 - $2 + 1)) status=none
}

# expect_out FILE S E [S E ...]: $OUT is exactly those slices, in order
expect_out() {
	local f=$1
	shift
	if [ -f "$f.hexl" ]; then
		# small files: one awk over a byte-per-line hex dump, not a dd per slice
		awk -v r="$*" 'BEGIN { n = split(r, a, " ") } { b[NR - 1] = $0 }
			END { for (i = 1; i < n; i += 2) for (j = a[i]; j <= a[i + 1]; j++) print b[j] }' \
			"$f.hexl" | xxd -r -p >"$EXP"
	else
		: >"$EXP"
		while [ $# -gt 0 ]; do
			slice "$f" "$1" "$2" >>"$EXP"
			shift 2
		done
	fi
	if ! cmp "$OUT" "$EXP"; then
		echo "stdout: $(stat -c %s "$OUT") bytes, expected $(stat -c %s "$EXP")"
		echo "stderr: $stderr"
		return 1
	fi
}

out_empty() {
	[ ! -s "$OUT" ] || { echo "stdout not empty: $(stat -c %s "$OUT") bytes"; return 1; }
}

# ---------------------------------------------------------------- basics

@test "bytes=0-499 from a file and from a pipe" {
	vrr bytes=0-499 "$D/small"
	assert_success
	expect_out "$D/small" 0 499
	vrp "$D/small" bytes=0-499
	assert_success
	expect_out "$D/small" 0 499
}

@test "open range bytes=500- from a file and a pipe" {
	vrr bytes=500- "$D/small"
	assert_success
	expect_out "$D/small" 500 999
	vrp "$D/small" bytes=500-
	assert_success
	expect_out "$D/small" 500 999
}

@test "suffix range bytes=-500 from a file, a pipe with --size and a pipe without" {
	vrr bytes=-500 "$D/small"
	assert_success
	expect_out "$D/small" 500 999
	vrp "$D/small" --size 1000 bytes=-500
	assert_success
	expect_out "$D/small" 500 999
	vrp "$D/small" bytes=-500
	assert_success
	expect_out "$D/small" 500 999
}

@test "two ranges are written back to back" {
	vrr bytes=0-99,200-299 "$D/small"
	assert_success
	expect_out "$D/small" 0 99 200 299
	vrp "$D/small" bytes=0-99,200-299
	assert_success
	expect_out "$D/small" 0 99 200 299
}

@test "the bytes= prefix is optional and the unit is case-insensitive" {
	local r
	for r in 0-99 bytes=0-99 BYTES=0-99 Bytes=0-99 bYtEs=0-99; do
		vrr "$r" "$D/small"
		assert_success
		expect_out "$D/small" 0 99
	done
	vrr -- -10 "$D/small"
	assert_success
	expect_out "$D/small" 990 999
}

@test "OWS around commas and around the whole value" {
	local r
	for r in ' bytes=0-9 , 20-29 ' $'\tbytes=0-9\t,\t20-29\t' '0-9,20-29  ' '  0-9 ,20-29'; do
		vrr "$r" "$D/small"
		assert_success
		expect_out "$D/small" 0 9 20 29
	done
}

@test "empty list elements are ignored" {
	vrr 0-1,,3-4 "$D/small"
	assert_success
	expect_out "$D/small" 0 1 3 4
	vrr ', 0-1' "$D/small"
	assert_success
	expect_out "$D/small" 0 1
	vrr 'bytes=0-1, ,' "$D/small"
	assert_success
	expect_out "$D/small" 0 1
}

@test "malformed ranges: exit 3, nothing on stdout, the message names the bad part" {
	local -a cases=(
		'items=0-1|items'
		'byte=0-1|byte'
		'bytes=0 -1|0 -1'
		'0-1 2-3|0-1 2-3'
		'5-3|5-3'
		'0-9,5-3|5-3'
		'-|-'
		'bytes=-|-'
		'1-2-3|1-2-3'
		'abc|abc'
		'0-1x|0-1x'
		'+1-2|+1-2'
		'1-+2|1-+2'
		'-+5|-+5'
		'bytes==0-1|=0-1'
		'bytes=0-1=2|0-1=2'
		'0x10-20|0x10-20'
		'5|5'
		'bytes=|empty'
		',|empty'
		' , |empty'
		'bytes=,,|empty'
	)
	local c r want
	for c in "${cases[@]}"; do
		r=${c%%|*}
		want=${c#*|}
		vrr -- "$r" "$D/small"
		[ "$status" -eq 3 ] || { echo "range '$r': status $status"; return 1; }
		out_empty
		[[ $stderr == *"$want"* ]] || { echo "range '$r': message '$stderr' lacks '$want'"; return 1; }
		vrp "$D/small" -- "$r"
		[ "$status" -eq 3 ] || { echo "pipe, range '$r': status $status"; return 1; }
		out_empty
	done
}

@test "more than 128 ranges is malformed; 128 is fine" {
	local r128 r129 i
	r128=$(for ((i = 0; i < 128; i++)); do printf '%d-%d,' $((i * 7)) $((i * 7 + 2)); done)
	r128=${r128%,}
	r129="$r128,990-"
	vrr "$r128" "$D/small"
	assert_success
	local args=()
	for ((i = 0; i < 128; i++)); do args+=($((i * 7)) $((i * 7 + 2))); done
	expect_out "$D/small" "${args[@]}"
	vrp "$D/small" "$r128"
	assert_success
	expect_out "$D/small" "${args[@]}"
	vrr "$r129" "$D/small"
	assert_failure 3
	out_empty
	assert [ -n "$(grep -i 'too many' "$ERR")" ]
}

@test "a malformed range is refused before any input is read" {
	vrfifo 5-3
	assert_failure 3
	out_empty
}

# ---------------------------------------------------------- numbers, sizes

@test "numbers above 2^63-1 saturate: 0-999...9 is to the end, 999...9- is unsatisfiable" {
	vrr 0-99999999999999999999999 "$D/small"
	assert_success
	expect_out "$D/small" 0 999
	vrp "$D/small" 0-99999999999999999999999
	assert_success
	expect_out "$D/small" 0 999
	vrr 99999999999999999999999- "$D/small"
	assert_failure 4
	out_empty
	assert [ -n "$(grep -F 'bytes */1000' "$ERR")" ]
	vrp "$D/small" 99999999999999999999999-
	assert_failure 4
	out_empty
	assert [ -n "$(grep -F 'bytes */1000' "$ERR")" ]
	vrr -- -99999999999999999999999 "$D/small"
	assert_success
	expect_out "$D/small" 0 999
}

@test "an empty RANGE is the whole input with status 200" {
	vrr '' "$D/small"
	assert_success
	expect_out "$D/small" 0 999
	vrp "$D/small" ''
	assert_success
	expect_out "$D/small" 0 999
	vrr --headers '' "$D/small"
	assert_success
	assert_equal "$(head -1 "$ERR")" $'HTTP/1.1 200 OK\r'
	vrp "$D/mid" ''
	assert_success
	expect_out "$D/mid" 0 299999
}

@test "an empty RANGE on an empty input is a 200 with nothing" {
	vrr --headers '' "$D/empty"
	assert_success
	out_empty
	printf 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 0\r\nAccept-Ranges: bytes\r\n\r\n' >"$EXP"
	cmp "$ERR" "$EXP"
	vrp "$D/empty" --headers ''
	assert_success
	out_empty
	cmp "$ERR" "$EXP"
}

@test "ends past the end are clamped" {
	vrr 900-5000 "$D/small"
	assert_success
	expect_out "$D/small" 900 999
	vrr -- -5000 "$D/small"
	assert_success
	expect_out "$D/small" 0 999
	vrp "$D/small" 900-5000
	assert_success
	expect_out "$D/small" 900 999
	vrp "$D/small" -- -5000
	assert_success
	expect_out "$D/small" 0 999
	vrr 999-999 "$D/small"
	assert_success
	expect_out "$D/small" 999 999
}

# ------------------------------------------------------- not satisfiable

@test "a range starting at the end is not satisfiable: exit 4, bytes */N" {
	vrr 1000- "$D/small"
	assert_failure 4
	out_empty
	assert [ -n "$(grep -F 'bytes */1000' "$ERR")" ]
	vrp "$D/small" 1000-
	assert_failure 4
	out_empty
	assert [ -n "$(grep -F 'bytes */1000' "$ERR")" ]
	vrp "$D/small" --size 1000 1000-2000
	assert_failure 4
	out_empty
	assert [ -n "$(grep -F 'bytes */1000' "$ERR")" ]
}

@test "with a known size, 416 is decided before reading" {
	vrfifo --size 1000 1000-
	assert_failure 4
	assert [ -n "$(grep -F 'bytes */1000' "$ERR")" ]
}

@test "unsatisfiable specs in a set are dropped" {
	vrr 5000-6000,0-9,1000-,-0,20-29 "$D/small"
	assert_success
	expect_out "$D/small" 0 9 20 29
	vrp "$D/small" 0-9,20-29,1000-
	assert_success
	expect_out "$D/small" 0 9 20 29
	vrr 1000-,5000-6000,-0 "$D/small"
	assert_failure 4
	out_empty
}

@test "-0 (zero-length suffix) is unsatisfiable: file, pipe with size, pipe without" {
	vrr -- -0 "$D/small"
	assert_failure 4
	out_empty
	assert [ -n "$(grep -F 'bytes */1000' "$ERR")" ]
	vrp "$D/small" --size 1000 -- -0
	assert_failure 4
	out_empty
	assert [ -n "$(grep -F 'bytes */1000' "$ERR")" ]
	vrp "$D/small" -- -0
	assert_failure 4
	out_empty
	assert [ -n "$(grep -F 'bytes */1000' "$ERR")" ]
}

@test "-0 next to satisfiable ranges on a pipe is just dropped" {
	vrp "$D/small" -- -0,0-9
	assert_success
	expect_out "$D/small" 0 9
	vrp "$D/small" -- 0-9,-0
	assert_success
	expect_out "$D/small" 0 9
	vrp "$D/small" -- -5,-0
	assert_success
	expect_out "$D/small" 995 999
}

@test "any range on an empty input is unsatisfiable (exit 4)" {
	local r
	for r in 0- 0-0 -5 -0 0-99999999999999999999999; do
		vrr -- "$r" "$D/empty"
		[ "$status" -eq 4 ] || { echo "file, $r: $status"; return 1; }
		out_empty
		grep -qF 'bytes */0' "$ERR"
		vrp "$D/empty" -- "$r"
		[ "$status" -eq 4 ] || { echo "pipe, $r: $status"; return 1; }
		out_empty
		grep -qF 'bytes */0' "$ERR"
	done
}

@test "one-byte input" {
	vrr -- -5 "$D/one"
	assert_success
	expect_out "$D/one" 0 0
	vrp "$D/one" -- 0-
	assert_success
	expect_out "$D/one" 0 0
	vrr 1- "$D/one"
	assert_failure 4
}

# ------------------------------------------------------- order, streams

@test "a regular file serves any order, overlapping too" {
	vrr 500-599,0-99,-10 "$D/small"
	assert_success
	expect_out "$D/small" 500 599 0 99 990 999
	vrr 0-99,50-149,0-99 "$D/small"
	assert_success
	expect_out "$D/small" 0 99 50 149 0 99
	vrr 0-,0- "$D/small"
	assert_success
	expect_out "$D/small" 0 999 0 999
}

@test "a pipe serves ascending, non-overlapping ranges in one pass" {
	vrp "$D/small" 0-99,100-199,300-399,900-
	assert_success
	expect_out "$D/small" 0 99 100 199 300 399 900 999
	vrp "$D/mid" 1-2,262143-262145,299990-
	assert_success
	expect_out "$D/mid" 1 2 262143 262145 299990 299999
	vrp "$D/mid" 0-9,-300
	assert_success
	expect_out "$D/mid" 0 9 299700 299999
}

@test "a pipe refuses what needs a rewind: exit 2 with a message, before reading" {
	local r
	for r in 500-599,0-99 0-99,50-149 0-9,0-9 -10,0-9 0-,5-9 0-,-10; do
		vrp "$D/small" -- "$r"
		[ "$status" -eq 2 ] || { echo "$r: status $status"; return 1; }
		out_empty
		[ -n "$stderr" ]
	done
	vrfifo 500-599,0-99
	assert_failure 2
	# with --size the ranges are resolved first: a suffix that ends up
	# before an earlier range needs a rewind too
	vrp "$D/small" --size 1000 -- -10,0-9
	assert_failure 2
	# the same orders are fine with a regular file
	vrr -- -10,0-9 "$D/small"
	assert_success
	expect_out "$D/small" 990 999 0 9
}

@test "an open range on a pipe runs to the end of input" {
	vrp "$D/mid" 1000-
	assert_success
	expect_out "$D/mid" 1000 299999
	vrp "$D/mid" 0-
	assert_success
	expect_out "$D/mid" 0 299999
}

@test "a suffix on a pipe of unknown size keeps a ring: smaller and larger than the input" {
	vrp "$D/mid" -- -1
	assert_success
	expect_out "$D/mid" 299999 299999
	vrp "$D/mid" -- -262145
	assert_success
	expect_out "$D/mid" 37855 299999
	vrp "$D/mid" -- -400000
	assert_success
	expect_out "$D/mid" 0 299999
	vrp "$D/mid" --max-buffer 300000 -- -300000
	assert_success
	expect_out "$D/mid" 0 299999
}

@test "a suffix above --max-buffer on a pipe is exit 8, before reading" {
	vrfifo --max-buffer 100 -- -101
	assert_failure 8
	out_empty
	vrfifo -- -67108865
	assert_failure 8
	vrp "$D/small" --max-buffer 100 -- -100
	assert_success
	expect_out "$D/small" 900 999
	# a known size needs no ring
	vrp "$D/small" --size 1000 --max-buffer 10 -- -500
	assert_success
	expect_out "$D/small" 500 999
	# files never need one
	vrr --max-buffer 10 -- -500 "$D/small"
	assert_success
	expect_out "$D/small" 500 999
}

@test "--size on a pipe: ranges resolved against it; a short input is exit 3" {
	vrp "$D/small" --size 1000 0-9,-10
	assert_success
	expect_out "$D/small" 0 9 990 999
	vrp "$D/small" --size 1000 0-
	assert_success
	expect_out "$D/small" 0 999
	vrp "$D/small" --size 2000 0-
	assert_failure 3
	vrp "$D/small" --size 2000 -- -10
	assert_failure 3
	vrp "$D/small" --size 2000 1500-1600
	assert_failure 3
	vrp "$D/small" --size 1K 0-
	assert_failure 3
	# an input longer than --size: only the first N bytes are considered
	vrp "$D/small" --size 100 -- -10
	assert_success
	expect_out "$D/small" 90 99
}

@test "--size is ignored (with a warning) for a regular file" {
	vrr --size 10 -- -5 "$D/small"
	assert_success
	expect_out "$D/small" 995 999
	[[ $stderr == *warning* ]]
}

@test "stdin as a regular file and FILE '-' are served like files" {
	run bash -c '"$0" 500-599,0-9 <"$1" >"$OUT"' "$VR_RANGE" "$D/small"
	assert_success
	expect_out "$D/small" 500 599 0 9
	run bash -c '"$0" 0-9 - <"$1" >"$OUT"' "$VR_RANGE" "$D/small"
	assert_success
	expect_out "$D/small" 0 9
	run bash -c 'cat "$1" | "$0" 10-19 - >"$OUT"' "$VR_RANGE" "$D/small"
	assert_success
	expect_out "$D/small" 10 19
}

@test "a character device as input (neither file nor pipe)" {
	run bash -c '"$0" 5-14 /dev/zero >"$OUT"' "$VR_RANGE"
	assert_success
	head -c 10 /dev/zero >"$EXP"
	cmp "$OUT" "$EXP"
	run bash -c '"$0" 5-14 /dev/zero | cat >"$OUT"' "$VR_RANGE"
	assert_success
	cmp "$OUT" "$EXP"
}

@test "64 MiB through a pipe: ranges across buffer boundaries, suffix ring" {
	vrp "$D/big" 1000-2000000,30000000-30000099,67000000-
	assert_success
	expect_out "$D/big" 1000 2000000 30000000 30000099 67000000 67108863
	vrp "$D/big" 0-0,262144-524288,-777777
	assert_success
	expect_out "$D/big" 0 0 262144 524288 66331087 67108863
	vrp "$D/big" ''
	assert_success
	cmp "$OUT" "$D/big"
}

# ------------------------------------------------------------- multipart

# mp_part FILE S E N B TYPE: one expected part
mp_part() {
	printf '\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %d-%d/%d\r\n\r\n' "$5" "$6" "$2" "$3" "$4"
	slice "$1" "$2" "$3"
}

@test "--multipart=B writes a multipart/byteranges body" {
	vrr --multipart=XYZ 0-9,20-29,-5 "$D/small"
	assert_success
	{
		mp_part "$D/small" 0 9 1000 XYZ application/octet-stream
		mp_part "$D/small" 20 29 1000 XYZ application/octet-stream
		mp_part "$D/small" 995 999 1000 XYZ application/octet-stream
		printf '\r\n--XYZ--\r\n'
	} >"$EXP"
	cmp "$OUT" "$EXP"
	# the same from a pipe with --size
	vrp "$D/small" --size 1000 --multipart=XYZ 0-9,20-29,-5
	assert_success
	cmp "$OUT" "$EXP"
}

@test "multipart parts carry the Content-Type from the name or --content-type" {
	vrr --multipart='a b' 0-1,3-4 "$D/small.mp4"
	assert_success
	{
		mp_part "$D/small.mp4" 0 1 1000 'a b' video/mp4
		mp_part "$D/small.mp4" 3 4 1000 'a b' video/mp4
		printf '\r\n--a b--\r\n'
	} >"$EXP"
	cmp "$OUT" "$EXP"
	vrr --multipart=q --content-type 'text/plain; charset=utf-8' 0-1,3-4 "$D/small.mp4"
	assert_success
	{
		mp_part "$D/small.mp4" 0 1 1000 q 'text/plain; charset=utf-8'
		mp_part "$D/small.mp4" 3 4 1000 q 'text/plain; charset=utf-8'
		printf '\r\n--q--\r\n'
	} >"$EXP"
	cmp "$OUT" "$EXP"
}

@test "--multipart with a single satisfiable range is a plain body" {
	vrr --multipart=B --headers 0-9 "$D/small"
	assert_success
	expect_out "$D/small" 0 9
	grep -q $'^Content-Range: bytes 0-9/1000\r$' "$ERR"
	vrr --multipart=B 0-9,2000- "$D/small"
	assert_success
	expect_out "$D/small" 0 9
	vrp "$D/small" --multipart=B 0-9
	assert_success
	expect_out "$D/small" 0 9
}

@test "--multipart on a pipe of unknown size with several ranges is exit 2" {
	vrp "$D/small" --multipart 0-9,20-29
	assert_failure 2
	out_empty
	vrfifo --multipart 0-9,20-29
	assert_failure 2
}

@test "an invalid boundary is exit 2" {
	local long
	long=$(printf 'b%.0s' {1..71})
	local b
	for b in "$long" 'a;b' 'ab ' 'a"b' $'a\r\nb' 'a@b'; do
		vrr "--multipart=$b" 0-1,3-4 "$D/small"
		[ "$status" -eq 2 ] || { echo "boundary '$b': $status"; return 1; }
		out_empty
	done
	vrr "--multipart=${long%b}" 0-1,3-4 "$D/small"
	assert_success
}

@test "a generated boundary is valid and used consistently" {
	vrr --multipart --headers 0-1,3-4 "$D/small"
	assert_success
	local b
	b=$(sed -n 's/^Content-Type: multipart\/byteranges; boundary=\(.*\)\r$/\1/p' "$ERR")
	[ -n "$b" ]
	{
		mp_part "$D/small" 0 1 1000 "$b" application/octet-stream
		mp_part "$D/small" 3 4 1000 "$b" application/octet-stream
		printf '\r\n--%s--\r\n' "$b"
	} >"$EXP"
	cmp "$OUT" "$EXP"
}

@test "the multipart Content-Length equals the bytes written (file and pipe)" {
	local n
	for args in "0-9,20-29" "0-0,1-1,2-2,-1" "0-99999999999999999999999,-1"; do
		vrr --headers --multipart=bb "$args" "$D/small"
		assert_success
		n=$(sed -n 's/^Content-Length: \([0-9]*\)\r$/\1/p' "$ERR")
		assert_equal "$n" "$(stat -c %s "$OUT")"
		vrr --json --multipart=bb "$args" "$D/small"
		assert_equal "$(jq .content_length "$ERR")" "$(stat -c %s "$OUT")"
	done
	vrp "$D/mid" --size 300000 --json --multipart=bb 0-9,262140-262150,-30000
	assert_success
	assert_equal "$(jq .content_length "$ERR")" "$(stat -c %s "$OUT")"
	assert_equal "$(jq -c .ranges "$ERR")" '[{"start":0,"end":9},{"start":262140,"end":262150},{"start":270000,"end":299999}]'
}

@test "a long or control-laden --content-type is refused" {
	vrr --multipart=B --content-type "$(printf 'x%.0s' {1..256})" 0-1,3-4 "$D/small"
	assert_failure 2
	out_empty
	vrr --content-type $'text/plain\x01' 0-1 "$D/small"
	assert_failure 2
	vrr --content-type $'text/plain\r\nX: y' 0-1 "$D/small"
	assert_failure 2
	vrr --content-type '' 0-1 "$D/small"
	assert_failure 2
	local ct
	ct=$(printf 'x%.0s' {1..255})
	vrr --multipart=B --content-type "$ct" 0-1,3-4 "$D/small"
	assert_success
	{
		mp_part "$D/small" 0 1 1000 B "$ct"
		mp_part "$D/small" 3 4 1000 B "$ct"
		printf '\r\n--B--\r\n'
	} >"$EXP"
	cmp "$OUT" "$EXP"
}

# --------------------------------------------------------- --headers, --json

@test "--headers: 206 with one range" {
	vrr --headers 0-9 "$D/small"
	assert_success
	expect_out "$D/small" 0 9
	printf 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/1000\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\nAccept-Ranges: bytes\r\n\r\n' >"$EXP"
	cmp "$ERR" "$EXP"
	vrp "$D/small" --headers 0-9
	assert_success
	# a pipe of unknown size stopped before its end: the total is unknown
	sed -i 's|0-9/1000|0-9/*|' "$EXP"
	cmp "$ERR" "$EXP"
}

@test "--headers: 206 with several ranges is always multipart (a valid HTTP answer)" {
	vrr --headers 0-9,20-29 "$D/small.mp4"
	assert_success
	b=$(sed -n 's/^Content-Type: multipart\/byteranges; boundary=\(.*\)\r$/\1/p' "$ERR")
	[ -n "$b" ]
	printf 'HTTP/1.1 206 Partial Content\r\nContent-Type: multipart/byteranges; boundary=%s\r\nContent-Length: %d\r\nAccept-Ranges: bytes\r\n\r\n' "$b" "$(stat -c %s "$OUT")" >"$EXP"
	cmp "$ERR" "$EXP"
	grep -c -- "--$b" "$OUT" | grep -qx 3
	vrr --headers --multipart=B 0-9,20-29 "$D/small.mp4"
	assert_success
	printf 'HTTP/1.1 206 Partial Content\r\nContent-Type: multipart/byteranges; boundary=B\r\nContent-Length: %d\r\nAccept-Ranges: bytes\r\n\r\n' "$(stat -c %s "$OUT")" >"$EXP"
	cmp "$ERR" "$EXP"
}

@test "--headers: 416" {
	vrr --headers 1000- "$D/small"
	assert_failure 4
	out_empty
	printf 'HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */1000\r\nContent-Length: 0\r\nAccept-Ranges: bytes\r\n\r\n' >"$EXP"
	head -c "$(stat -c %s "$EXP")" "$ERR" | cmp - "$EXP"
	vrp "$D/small" --headers 1000-
	assert_failure 4
	head -c "$(stat -c %s "$EXP")" "$ERR" | cmp - "$EXP"
}

@test "--headers on a pipe without size come after the input, with the real total" {
	vrp "$D/small" --headers 500-
	assert_success
	expect_out "$D/small" 500 999
	printf 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 500-999/1000\r\nContent-Type: application/octet-stream\r\nContent-Length: 500\r\nAccept-Ranges: bytes\r\n\r\n' >"$EXP"
	cmp "$ERR" "$EXP"
	vrp "$D/small" --headers -- -2000
	assert_success
	sed 's|500-999/1000|0-999/1000|; s|Length: 500|Length: 1000|' "$EXP" >"$EXP.2"
	cmp "$ERR" "$EXP.2"
	# several ranges with --headers are multipart, which needs the size
	vrp "$D/small" --headers 0-9,900-
	assert_failure 2
	grep -q 'need the total size' "$ERR"
}

@test "--json: one object with status, size, content_range, length, type, ranges" {
	vrr --json 10-19 "$D/small.mp4"
	assert_success
	assert_equal "$(wc -l <"$ERR")" 1
	assert_equal "$(jq -c . "$ERR")" '{"status":206,"size":1000,"content_range":"bytes 10-19/1000","content_length":10,"content_type":"video/mp4","multipart":false,"ranges":[{"start":10,"end":19}]}'
	vrr --json --multipart=B 0-1,5-6 "$D/small"
	assert_success
	assert_equal "$(jq -c '[.status,.content_range,.content_type,.multipart,.content_length]' "$ERR")" \
		"[206,null,\"multipart/byteranges; boundary=B\",true,$(stat -c %s "$OUT")]"
	vrr --json '' "$D/small"
	assert_success
	assert_equal "$(jq -c '[.status,.content_range,.content_length,.ranges]' "$ERR")" '[200,null,1000,[{"start":0,"end":999}]]'
	vrr --json 2000- "$D/small"
	assert_failure 4
	assert_equal "$(head -1 "$ERR" | jq -c '[.status,.size,.content_range,.content_length,.ranges]')" '[416,1000,"bytes */1000",0,[]]'
}

@test "--json on a pipe: the total is null when reading stopped early" {
	vrp "$D/small" --json 0-9
	assert_success
	assert_equal "$(jq -c '[.status,.size,.content_range,.content_length]' "$ERR")" '[206,null,"bytes 0-9/*",10]'
	vrp "$D/small" --json -- -10
	assert_success
	assert_equal "$(jq -c '[.size,.content_range,.ranges]' "$ERR")" '[1000,"bytes 990-999/1000",[{"start":990,"end":999}]]'
	vrp "$D/small" --json 995-2000
	assert_success
	assert_equal "$(jq -c '[.size,.content_range,.content_length]' "$ERR")" '[1000,"bytes 995-999/1000",5]'
	vrp "$D/empty" --json ''
	assert_success
	assert_equal "$(jq -c '[.status,.size,.content_length,.ranges]' "$ERR")" '[200,0,0,[]]'
}

@test "--json with 128 large ranges stays one valid object" {
	local r i base=9223372036854775000
	r=$(for ((i = 0; i < 128; i++)); do printf '%d-%d,' $((base + 2 * i)) $((base + 2 * i)); done)
	vrp "$D/small" --json --size 9223372036854775807 --content-type "$(printf '"%.0s' {1..255})" "${r%,}"
	assert_failure 3 # the input is far shorter than --size
	head -1 "$ERR" >line.json
	assert_equal "$(jq '.ranges | length' line.json)" 128
	# jq rounds 19-digit numbers: look at the text itself
	grep -qF ',{"start":9223372036854775254,"end":9223372036854775254}]}' line.json
}

# ------------------------------------------------------ stopping, EPIPE

@test "it stops reading once the last range is out: yes | vr-range bytes=0-9" {
	run bash -c 'yes | timeout 10 "$0" bytes=0-9 >"$OUT"; echo "${PIPESTATUS[@]}"' "$VR_RANGE"
	assert_success
	assert_output "141 0"
	printf 'y\ny\ny\ny\ny\n' >"$EXP"
	cmp "$OUT" "$EXP"
	run bash -c 'yes | timeout 10 "$0" bytes=0-9,100-109 >"$OUT"; echo "${PIPESTATUS[@]}"' "$VR_RANGE"
	assert_output "141 0"
	printf 'y\ny\ny\ny\ny\ny\ny\ny\ny\ny\n' >"$EXP"
	cmp "$OUT" "$EXP"
}

@test "EPIPE on stdout is a quiet exit 0" {
	run bash -c '"$0" 0- "$1" 2>"$ERR" | head -c 10 >"$OUT"; echo "${PIPESTATUS[0]}"' "$VR_RANGE" "$D/big"
	assert_output 0
	[ ! -s "$ERR" ]
	expect_out "$D/big" 0 9
	run bash -c 'cat "$1" | "$0" 0- 2>"$ERR" | head -c 10 >"$OUT"; echo "${PIPESTATUS[1]}"' "$VR_RANGE" "$D/big"
	assert_output 0
	[ ! -s "$ERR" ]
	run bash -c 'cat "$1" | "$0" -- 5-99,-8388608 2>"$ERR" | head -c 10 >"$OUT"; echo "${PIPESTATUS[1]}"' "$VR_RANGE" "$D/big"
	assert_output 0
	[ ! -s "$ERR" ]
	expect_out "$D/big" 5 14
	run bash -c '"$0" --multipart=B 0-99999,200000- "$1" 2>"$ERR" | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}"' "$VR_RANGE" "$D/big"
	assert_output 0
	[ ! -s "$ERR" ]
}

# ------------------------------------------------------------------ -o

@test "-o FILE writes the range and leaves no temporary behind" {
	mkdir o
	vrr -o o/part 100-199 "$D/small"
	assert_success
	out_empty
	cp o/part "$OUT"
	expect_out "$D/small" 100 199
	assert_equal "$(ls -A o)" part
	vrp "$D/small" -o o/part2 -- -10
	assert_success
	cp o/part2 "$OUT"
	expect_out "$D/small" 990 999
	assert_equal "$(ls -A o | tr '\n' ' ')" "part part2 "
}

@test "-o FILE on failure: no file, no temporary, an old file untouched" {
	mkdir o
	vrr -o o/a 1000- "$D/small"
	assert_failure 4
	assert_equal "$(ls -A o)" ""
	vrr -o o/a 5-3 "$D/small"
	assert_failure 3
	assert_equal "$(ls -A o)" ""
	# found unsatisfiable only after reading a pipe
	vrp "$D/small" -o o/a 5000-
	assert_failure 4
	assert_equal "$(ls -A o)" ""
	# short input against --size
	vrp "$D/small" -o o/a --size 5000 0-
	assert_failure 3
	assert_equal "$(ls -A o)" ""
	printf old >o/a
	vrr -o o/a 1000- "$D/small"
	assert_failure 4
	assert_equal "$(cat o/a)" old
	assert_equal "$(ls -A o)" a
	vrr -o o/a 0-9 "$D/small"
	assert_success
	cp o/a "$OUT"
	expect_out "$D/small" 0 9
}

@test "-o FILE: a signal removes the temporary and the process dies by it" {
	mkdir o
	run bash -c '
		mkfifo fifo
		sleep 20 >fifo 3>&- & w=$!
		"$0" -o o/x 0- <fifo 2>/dev/null & p=$!
		for i in $(seq 100); do [ -n "$(ls -A o)" ] && break; sleep 0.05; done
		ls -A o | grep -q "^x\.vr-tmp-" || echo "no temporary seen"
		kill -TERM $p; wait $p; rc=$?
		kill $w 2>/dev/null; wait $w 2>/dev/null
		echo "$rc $(ls -A o | wc -l)"' "$VR_RANGE"
	assert_success
	assert_output "143 0"
}

@test "stdout opened for appending (>>) gets the range after what is there" {
	printf 'HEAD' >app
	run bash -c '"$0" 0-9 "$1" >>app && cat "$1" | "$0" 20-29 >>app' "$VR_RANGE" "$D/small"
	assert_success
	{ printf 'HEAD'; slice "$D/small" 0 9; slice "$D/small" 20 29; } >"$EXP"
	cmp app "$EXP"
}

@test "-o into a missing directory is an I/O error" {
	vrr -o nodir/x 0-9 "$D/small"
	assert_failure 6
}

@test "refuses to write to a terminal without -o -" {
	command -v script >/dev/null || fail "script(1) is needed (bsdutils): run scripts/setup"
	run script -qec "'$VR_RANGE' 0-9 '$D/small'" /dev/null
	assert_failure 2
	assert_output --partial terminal
	run script -qec "'$VR_RANGE' -o - 0-1 '$D/one'" /dev/null
	assert_success
}

# ------------------------------------------------------- options, status

@test "missing FILE is exit 5" {
	vrr 0-9 "$D/no-such-file"
	assert_failure 5
	out_empty
	[[ $stderr == *no-such-file* ]]
	vrr 0-9 "$D/small/x"
	assert_failure 5
}

@test "--help and --version exit 0 on stdout" {
	run "$VR_RANGE" --help
	assert_success
	assert_output --partial Usage
	run "$VR_RANGE" -h
	assert_success
	run "$VR_RANGE" --version
	assert_success
	assert_output --regexp '^vr-range \(vr\) [0-9]'
}

@test "usage errors are exit 2" {
	local -a bad=(
		"--bogus 0-9"
		"-x 0-9"
		""
		"0-9 $D/small extra"
		"--size abc 0-9"
		"--size -1 0-9"
		"--size 9223372036854775808 0-9"
		"--max-buffer 0 0-9"
		"--max-buffer 2T 0-9"
		"--max-buffer x 0-9"
	)
	local a
	for a in "${bad[@]}"; do
		# shellcheck disable=SC2086
		vrr $a
		[ "$status" -eq 2 ] || { echo "'$a': status $status"; return 1; }
		out_empty
		[ -n "$stderr" ]
	done
	vrr --size 1K --max-buffer 1T 0-9 "$D/small"
	assert_success
}

# --------------------------------------------------------------- metrics

@test "--metrics appends one JSON line per run" {
	vrr --metrics m.jsonl 100-199 "$D/small"
	assert_success
	assert_equal "$(wc -l <m.jsonl)" 1
	assert_equal "$(jq -c '[.program,.bytes_in,.bytes_out,.open_streams,.exit]' m.jsonl)" '["vr-range",100,100,0,0]'
	assert_equal "$(jq '(.wall_ms|type) + " " + (.peak_rss_kb|type)' m.jsonl)" '"number number"'
	vrr --metrics m.jsonl 1000- "$D/small"
	assert_failure 4
	assert_equal "$(wc -l <m.jsonl)" 2
	assert_equal "$(tail -1 m.jsonl | jq -c '[.bytes_out,.open_streams,.exit]')" '[0,0,4]'
	run bash -c 'VR_METRICS=env.jsonl "$0" 0-9 "$1" >/dev/null' "$VR_RANGE" "$D/small"
	assert_success
	assert_equal "$(jq -c '[.bytes_in,.exit]' env.jsonl)" '[10,0]'
	# multipart: bytes_out counts the framing too
	vrr --metrics mp.jsonl --multipart=B 0-9,20-29 "$D/small"
	assert_equal "$(jq .bytes_out mp.jsonl)" "$(stat -c %s "$OUT")"
	assert_equal "$(jq .bytes_in mp.jsonl)" 20
}

@test "metrics: bytes_in is the range length for a file, all consumed input for a pipe" {
	vrr --metrics m.jsonl 1048576-2097151 "$D/big"
	assert_success
	assert_equal "$(jq -c '[.bytes_in,.bytes_out]' m.jsonl)" '[1048576,1048576]'
	vrr --metrics m2.jsonl 0-9,-10,500-599 "$D/big"
	assert_equal "$(jq -c '[.bytes_in,.bytes_out]' m2.jsonl)" '[120,120]'
	vrp "$D/small" --metrics m3.jsonl 100-199
	assert_equal "$(jq -c '[.bytes_out,.open_streams,.exit]' m3.jsonl)" '[100,0,0]'
	vrp "$D/small" --metrics m4.jsonl -- -10
	assert_equal "$(jq -c '[.bytes_in,.bytes_out]' m4.jsonl)" '[1000,10]'
}

# ------------------------------------------------------ memory, fast paths

@test "peak RSS stays under 4 MiB for 64 MiB through a pipe and from a file" {
	is_asan "$VR_RANGE" && skip "ASan build: RSS is not representative"
	local kb
	run bash -c 'cat "$1" | /usr/bin/time -o rss -f %M "$0" 0- | cat >/dev/null && cat rss' "$VR_RANGE" "$D/big"
	assert_success
	kb=${output##*$'\n'}
	[ "$kb" -le 4096 ] || { echo "pipe: $kb KiB"; return 1; }
	run bash -c '/usr/bin/time -o rss -f %M "$0" 0- "$1" | cat >/dev/null && cat rss' "$VR_RANGE" "$D/big"
	kb=${output##*$'\n'}
	[ "$kb" -le 4096 ] || { echo "file: $kb KiB"; return 1; }
	run bash -c '/usr/bin/time -o rss -f %M "$0" 0- "$1" >out.bin && cat rss' "$VR_RANGE" "$D/big"
	kb=${output##*$'\n'}
	[ "$kb" -le 4096 ] || { echo "file to file: $kb KiB"; return 1; }
	run bash -c 'cat "$1" | /usr/bin/time -o rss -f %M "$0" 0-9,100000-100009,-5 >/dev/null && cat rss' "$VR_RANGE" "$D/big"
	kb=${output##*$'\n'}
	[ "$kb" -le 4096 ] || { echo "pipe, small ring: $kb KiB"; return 1; }
}

@test "the suffix ring costs its size, no more" {
	is_asan "$VR_RANGE" && skip "ASan build: RSS is not representative"
	local kb
	run bash -c 'cat "$1" | /usr/bin/time -o rss -f %M "$0" -- -8388608 >"$OUT" && cat rss' "$VR_RANGE" "$D/big"
	assert_success
	kb=${output##*$'\n'}
	[ "$kb" -le $((4096 + 8192)) ] || { echo "ring of 8 MiB: $kb KiB"; return 1; }
	expect_out "$D/big" $((64 * 1048576 - 8388608)) $((64 * 1048576 - 1))
}

@test "a 1 MiB range of a 64 MiB file reads only that range (strace)" {
	command -v strace >/dev/null || fail "strace is needed: run scripts/setup"
	strace -o /dev/null true 2>/dev/null || skip "strace is installed but cannot trace here (ptrace refused: a container or seccomp)"
	local total
	# LeakSanitizer cannot run under ptrace
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	for dest in pipe file; do
		if [ $dest = pipe ]; then
			strace -o trace -e trace=read,pread64,sendfile,copy_file_range,splice \
				"$VR_RANGE" 1048576-2097151 "$D/big" | cat >"$OUT"
		else
			strace -o trace -e trace=read,pread64,sendfile,copy_file_range,splice \
				"$VR_RANGE" 1048576-2097151 "$D/big" >"$OUT"
		fi
		expect_out "$D/big" 1048576 2097151
		total=$(awk '/^(read|pread64|sendfile|copy_file_range|splice)\(/ { n = $NF; if (n ~ /^[0-9]+$/) s += n } END { print s + 0 }' trace)
		[ "$total" -ge 1048576 ] && [ "$total" -lt $((2 * 1048576)) ] ||
			{ echo "$dest: $total bytes moved by read-like calls"; cat trace | head -20; return 1; }
	done
}

@test "large inputs finish promptly (generous guard)" {
	run bash -c 'cat "$1" | timeout 20 "$0" 0- >/dev/null' "$VR_RANGE" "$D/big"
	assert_success
	run timeout 20 bash -c '"$0" 0- "$1" >/dev/null' "$VR_RANGE" "$D/big"
	assert_success
	run bash -c 'cat "$1" | timeout 20 "$0" -- -1 >"$OUT"' "$VR_RANGE" "$D/big"
	assert_success
	expect_out "$D/big" $((64 * 1048576 - 1)) $((64 * 1048576 - 1))
}
