#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031 # BG_PIDS: set by a test, read by its teardown
# vr-chunk: the SQLite chunk store, proved from the outside. Bytes are
# compared exactly (cmp against dd slices), exit statuses exactly, and the
# store's rows are inspected with the sqlite3 shell. Inputs are generated
# once per file run from a fixed AES-CTR key stream (deterministic); every
# test has its own store. VR_CHUNK=path runs another build (e.g.
# build/san/bin/vr-chunk) without touching bin/.

load helpers/common
load helpers/store

K64=65536

setup_file() {
	[ -x "$VR_CHUNK" ] || { echo "build first: make" >&2; return 1; }
	local t
	for t in openssl sqlite3 jq timeout /usr/bin/time; do
		command -v "$t" >/dev/null || { echo "$t is needed" >&2; return 1; }
	done
	local d=$BATS_FILE_TMPDIR
	gen $((8 << 20)) >"$d/big"   # 8 MiB: 128 chunks of 64 KiB
	gen2 $((2 << 20)) >"$d/x1"   # two different inputs for racing writers
	gen $((4 << 20)) | tail -c 1500000 >"$d/x2"
	gen 200000 >"$d/mid"         # 3 chunks of 64 KiB and a short one
	gen2 100000 >"$d/old"        # the "previous version" of a key
	: >"$d/empty"
	printf 'x' >"$d/one"
	local n
	for n in $((K64 - 1)) $K64 $((K64 + 1)) $((3 * K64 - 1)) $((3 * K64)) $((3 * K64 + 1)) \
		$((1048576 - 1)) 1048576 $((1048576 + 1)); do
		head -c "$n" "$d/big" >"$d/n$n"
	done
	for n in 1 2 3 4 5 6 7 8; do
		tail -c +$((n * 100001)) "$d/big" | head -c $((1500000 - n * 1000)) >"$d/w$n"
	done
}

setup() {
	D=$BATS_FILE_TMPDIR
	S="$BATS_TEST_TMPDIR/cache dir/store.db" # a space, and a folder that does not exist yet
	export OUT="$BATS_TEST_TMPDIR/out" ERR="$BATS_TEST_TMPDIR/err" EXP="$BATS_TEST_TMPDIR/exp"
	export S VR_CHUNK D
	# no test may touch the real cache
	unset VR_STORE VR_METRICS
	export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/xdg-default"
	cd "$BATS_TEST_TMPDIR" || return 1
}

teardown() {
	# writers started in the background by a test must not outlive it
	local p
	for p in ${BG_PIDS:-}; do
		kill -9 "$p" 2>/dev/null || true
		kill -CONT "$p" 2>/dev/null || true
	done
	exec 5>&- || true
	exec 6<&- || true
}

# start_put KEY ARGS...: a put reading from a FIFO that this shell holds
# open on fd 5 (feed with >&5, end with `exec 5>&-`); its pid in $PUT_PID,
# its stderr in put.err
start_put() {
	rm -f fifo
	mkfifo fifo
	"$VR_CHUNK" --store "$S" put "$@" <fifo 2>put.err 3>&- &
	PUT_PID=$!
	BG_PIDS="${BG_PIDS:-} $PUT_PID"
	exec 5>fifo
}

# put_old KEY: store $D/old under KEY with 64 KiB chunks
put_old() {
	vc put "$1" "$D/old" --chunk-size 64K
	assert_success
}

# json FILTER [KEY]: `stat --json KEY` (default k) through jq -r .FILTER
# (or FILTER as it is when it does not start with a letter)
json() {
	local f=$1
	[[ $f == [a-z]* ]] && f=".$f"
	"$VR_CHUNK" --store "$S" stat --json "${2:-k}" | jq -r "$f"
}

# ------------------------------------------------------------------ usage

@test "--help, --version, unknown command and missing command" {
	run "$VR_CHUNK" --help
	assert_success
	assert_output --partial "Usage: vr-chunk"
	assert_output --partial "put KEY"
	run "$VR_CHUNK" --version
	assert_success
	assert_output --regexp '^vr-chunk .*[0-9]+\.[0-9]+\.[0-9]+'
	vc frobnicate
	assert_failure 2
	[[ "$stderr" == *"unknown command 'frobnicate'"* ]]
	vc
	assert_failure 2
	[[ "$stderr" == *"missing COMMAND"* ]]
	run "$VR_CHUNK" --no-such-option ls
	assert_failure 2
	[ ! -e "$S" ] # usage errors never create the store
}

@test "usage errors of the commands are exit 2" {
	local args
	while IFS= read -r args; do
		# shellcheck disable=SC2086
		vc $args
		[ "$status" -eq 2 ] || { echo "'$args': status $status, stderr: $stderr"; return 1; }
		[[ "$stderr" == "vr-chunk: error: "* ]] || { echo "'$args': stderr: $stderr"; return 1; }
		[ ! -s "$OUT" ] || { echo "'$args': stdout: $(cat "$OUT")"; return 1; }
	done <<-'EOF'
		put
		put a b c
		put --chunk-size 3K k
		put --chunk-size 65M k
		put --chunk-size 1Q k
		put --ttl soon k
		put --wait never k
		put --wait -1 k
		put --wait 86401 k
		put --ttl -5 k
		put --tag= k
		put --content-type= k
		put --bogus k
		get
		get a b
		get --bogus k
		get --multipart=a"b k
		stat
		stat a b
		ls a b
		rm
		purge
		purge --tag
		purge --tag x extra
		touch k
		touch --ttl 5
		touch --ttl x k
		gc extra
		gc --bogus
		verify a b
		verify --json
		rm --json k
	EOF
	# at most 64 tags
	local tags=() i
	for i in $(seq 65); do tags+=(--tag "t$i"); done
	vc put "${tags[@]}" k
	assert_failure 2
	[[ "$stderr" == "vr-chunk: error: --tag: given more than 64 times"* ]]
	[ ! -e "$S" ]
}

@test "every command's --help is usage on stdout and exit 0; an unknown option is exit 2 from vr-chunk" {
	local c
	for c in put get stat ls rm purge touch gc verify; do
		vc "$c" --help
		[ "$status" -eq 0 ] || { echo "$c --help: status $status"; return 1; }
		[[ "$(head -1 "$OUT")" == "Usage: vr-chunk $c "* ]] || { echo "$c --help: $(head -1 "$OUT")"; return 1; }
		[ ! -s "$ERR" ] || { echo "$c --help: stderr: $stderr"; return 1; }
		vc "$c" -h
		[ "$status" -eq 0 ] || { echo "$c -h: status $status"; return 1; }
		[[ "$(head -1 "$OUT")" == "Usage: vr-chunk $c "* ]] || { echo "$c -h: $(head -1 "$OUT")"; return 1; }
		vc "$c" --bogus
		[ "$status" -eq 2 ] || { echo "$c --bogus: status $status"; return 1; }
		[[ "$stderr" == "vr-chunk: error: unknown option '--bogus'"* ]] || { echo "$c --bogus: $stderr"; return 1; }
		[[ "$stderr" == *"Try 'vr-chunk $c --help'."* ]] || { echo "$c --bogus: $stderr"; return 1; }
		[ ! -s "$OUT" ] || { echo "$c --bogus: stdout"; return 1; }
	done
	# the message of a command's unknown option is the program's, not the command's
	vc put --bogus k
	assert_failure 2
	assert_equal "$(head -1 "$ERR")" "vr-chunk: error: unknown option '--bogus'"
	vc put k -x
	assert_failure 2
	assert_equal "$(head -1 "$ERR")" "vr-chunk: error: unknown option '-x'"
	# --help lists every option of the command
	vc put --help
	grep -q -- '--chunk-size SIZE .*(default 1M)' "$OUT"
	grep -q -- '--wait SECONDS' "$OUT"
	grep -q -- '--store FILE' "$OUT"
	vc get --help
	grep -q -- '-r, --range RANGE' "$OUT"
	grep -q -- '--multipart\[=BOUNDARY\]' "$OUT"
	grep -q -- '-o, --output FILE' "$OUT"
	[ ! -e "$S" ]
}

@test "global options after the command, options after the operands" {
	run "$VR_CHUNK" put k "$D/mid" --store "$S" --chunk-size 64K --tag t
	assert_success
	assert_equal "$(json '"\(.chunk_size) \(.tags)"')" '65536 ["t"]'
	run "$VR_CHUNK" get k --range bytes=70000-70099 --store "$S" -o got.bin
	assert_success
	slice "$D/mid" 70000 70099 | cmp - got.bin
	run --separate-stderr "$VR_CHUNK" get k --store "$S" -q --range bytes=0-99,200-299 --multipart=B
	assert_success
	[ -z "$stderr" ]
	run --separate-stderr "$VR_CHUNK" put k2 "$D/one" --store "$S" -v
	assert_success
	[[ "$stderr" == *"stored k2: 1 bytes in 1 chunks"* ]]
	run "$VR_CHUNK" stat k --json --store "$S" --metrics m.jsonl
	assert_success
	assert_equal "$(jq -c '[.command,.exit]' m.jsonl)" '["stat",0]'
	run "$VR_CHUNK" ls --store "$S" --json
	assert_success
	assert_equal "$(printf '%s\n' "$output" | jq -sc 'map(.key)')" '["k","k2"]'
	# -- ends the options: a key that looks like one
	run "$VR_CHUNK" put --store "$S" -- --json "$D/one"
	assert_success
	run "$VR_CHUNK" get --store "$S" -- --json
	assert_success
	assert_output x
}

@test "the store and its folder are created by the first put; --store, VR_STORE, XDG_CACHE_HOME" {
	# commands that only read or tidy never create a store: a mistyped
	# path is an error, not a new empty store
	for cmd in "ls" "get k" "stat k" "rm k" "touch --ttl 5 k" "gc" "verify" "purge --tag t"; do
		# shellcheck disable=SC2086
		run "$VR_CHUNK" --store "$S" $cmd
		assert_failure 5
		assert_output "vr-chunk: error: no store at $S (vr-chunk put creates it)"
	done
	[ ! -e "$S" ]
	run "$VR_CHUNK" --store "$BATS_TEST_TMPDIR/new/dir/s.db" put k "$D/one"
	assert_success
	[ -f "$BATS_TEST_TMPDIR/new/dir/s.db" ]
	run "$VR_CHUNK" --store "$S" put seed "$D/one"
	vc ls
	assert_success
	[ -f "$S" ]
	assert_equal "$(sqlite3 "$S" 'PRAGMA user_version')" 2
	assert_equal "$(sqlite3 "$S" 'PRAGMA journal_mode')" wal
	run env VR_STORE="$BATS_TEST_TMPDIR/env/a/b.db" "$VR_CHUNK" put k "$D/one"
	assert_success
	[ -f "$BATS_TEST_TMPDIR/env/a/b.db" ]
	run env -u VR_STORE XDG_CACHE_HOME="$BATS_TEST_TMPDIR/xdg" "$VR_CHUNK" put k "$D/one"
	assert_success
	[ -f "$BATS_TEST_TMPDIR/xdg/vr/store.db" ]
	run env -u VR_STORE XDG_CACHE_HOME="$BATS_TEST_TMPDIR/xdg" "$VR_CHUNK" get k
	assert_success
	assert_output x
	# --store wins over VR_STORE
	run env VR_STORE="$BATS_TEST_TMPDIR/env/a/b.db" "$VR_CHUNK" --store "$S" get k
	assert_failure 5
}

# ------------------------------------------------------------- round trips

@test "round trips with 64K chunks: empty, 1 byte, 64K and 3x64K exactly and +-1, from a file and a pipe" {
	local n f chunks
	for f in empty one n$((K64 - 1)) n$K64 n$((K64 + 1)) n$((3 * K64 - 1)) n$((3 * K64)) n$((3 * K64 + 1)); do
		n=$(stat -c %s "$D/$f")
		chunks=$(((n + K64 - 1) / K64))
		vc put "file:$f" "$D/$f" --chunk-size 64K
		assert_success
		vcin "$D/$f" put "pipe:$f" --chunk-size 64K
		assert_success
		for k in "file:$f" "pipe:$f"; do
			vc get "$k"
			assert_success
			same "$D/$f"
		done
		assert_equal "$(json '"\(.size) \(.chunk_size) \(.chunk_count)"' "pipe:$f")" "$n $K64 $chunks"
		assert_equal "$(q "SELECT count(*) FROM chunks c JOIN entries e ON e.id = c.entry WHERE e.key = CAST('file:$f' AS BLOB)")" "$chunks"
	done
	vc verify
	assert_success
}

@test "round trips with the default 1M chunks, 1M exactly and +-1, from a pipe" {
	local n
	for n in $((1048576 - 1)) 1048576 $((1048576 + 1)); do
		vcin "$D/n$n" put "k$n"
		assert_success
		vc get "k$n"
		assert_success
		same "$D/n$n"
		assert_equal "$(json '"\(.chunk_size) \(.chunk_count)"' "k$n")" "1048576 $(((n + 1048575) / 1048576))"
	done
	# the smallest and largest chunk sizes, with suffixes
	vc put small "$D/mid" --chunk-size 4K
	assert_success
	assert_equal "$(json chunk_count small)" $(((200000 + 4095) / 4096))
	vc put large "$D/mid" --chunk-size 64M
	assert_success
	assert_equal "$(json '"\(.chunk_size) \(.chunk_count)"' large)" "67108864 1"
	vc put plain "$D/mid" --chunk-size 8192
	assert_success
	assert_equal "$(json chunk_size plain)" 8192
	for k in small large plain; do
		vc get "$k"
		same "$D/mid"
	done
}

@test "put replaces the previous version; -o FILE; - means stdin" {
	put_old k
	vc put k "$D/mid" --chunk-size 64K
	assert_success
	vc get k
	same "$D/mid"
	vc get k -o got.bin
	assert_success
	cmp got.bin "$D/mid"
	vcin "$D/one" put k -
	assert_success
	vc get k
	same "$D/one"
	# only the newest generation remains
	assert_equal "$(q 'SELECT count(*) FROM entries')" 1
	assert_equal "$(q 'SELECT count(*) FROM chunks')" 1
	vc put k "$BATS_TEST_TMPDIR/no-such-file"
	assert_failure 5
	vc get k
	same "$D/one"
}

# ------------------------------------------------------------------ ranges

@test "ranges across chunk boundaries: single, exact chunk, suffix, open, several" {
	vc put r "$D/mid" --chunk-size 64K
	assert_success
	vc get r --range bytes=65530-65545
	assert_success
	expect_out "$D/mid" 65530 65545
	vc get r --range bytes=65536-131071
	expect_out "$D/mid" 65536 131071
	vc get r --range bytes=65535-131072
	expect_out "$D/mid" 65535 131072
	vc get r --range bytes=-10000
	expect_out "$D/mid" 190000 199999
	vc get r --range bytes=131000-
	expect_out "$D/mid" 131000 199999
	vc get r --range bytes=0-
	expect_out "$D/mid" 0 199999
	vc get r --range bytes=0-0,65535-65536,199999-199999,1000-70000
	assert_success
	expect_out "$D/mid" 0 0 65535 65536 199999 199999 1000 70000
	vc get r --range bytes=100000-999999
	expect_out "$D/mid" 100000 199999
	vc get r -r -1
	expect_out "$D/mid" 199999 199999
	# an empty range (or blanks) is the whole entry
	vc get r --range ''
	assert_success
	same "$D/mid"
	vc get r -r ' '
	assert_success
	same "$D/mid"
}

@test "--headers and --json describe the response; multipart body framing" {
	vc put r "$D/mid" --chunk-size 64K --content-type video/mp4
	vc get r --range bytes=65530-65545 --headers
	assert_success
	expect_out "$D/mid" 65530 65545
	[[ "$stderr" == *$'HTTP/1.1 206 Partial Content\r'* ]]
	[[ "$stderr" == *$'Content-Range: bytes 65530-65545/200000\r'* ]]
	[[ "$stderr" == *$'Content-Length: 16\r'* ]]
	[[ "$stderr" == *$'Content-Type: video/mp4\r'* ]]
	vc get r --json
	assert_success
	assert_equal "$(jq -c '[.status,.size,.content_length,.multipart]' "$ERR")" '[200,200000,200000,false]'
	vc get r --multipart=XYZ --headers --range bytes=65535-65536,-2
	assert_success
	{
		printf '\r\n--XYZ\r\nContent-Type: video/mp4\r\nContent-Range: bytes 65535-65536/200000\r\n\r\n'
		slice "$D/mid" 65535 65536
		printf '\r\n--XYZ\r\nContent-Type: video/mp4\r\nContent-Range: bytes 199998-199999/200000\r\n\r\n'
		slice "$D/mid" 199998 199999
		printf '\r\n--XYZ--\r\n'
	} >"$EXP"
	same "$EXP"
	[[ "$stderr" == *$'Content-Type: multipart/byteranges; boundary=XYZ\r'* ]]
	[[ "$stderr" == *"Content-Length: $(stat -c %s "$OUT")"$'\r'* ]]
	# a generated boundary
	vc get r --multipart --headers --range 0-1,3-4
	assert_success
	local b
	b=$(sed -n 's/^Content-Type: multipart\/byteranges; boundary=\(.*\)\r$/\1/p' "$ERR")
	[ -n "$b" ]
	grep -q -- "--$b--" "$OUT"
}

@test "--headers and --json on a failure: one head and one object, with the status the exit stands for" {
	# no store, no such key: 5, which HTTP says 404
	run --separate-stderr "$VR_CHUNK" --store "$BATS_TEST_TMPDIR/none.db" get k --headers --json
	assert_failure 5
	assert_equal "$(head -n 3 <<<"$stderr" | tr -d '\r')" $'HTTP/1.1 404 Not Found\nContent-Length: 0'
	assert_equal "$(grep '^{' <<<"$stderr" | jq -c '[.status,.content_length,.size,.ranges]')" '[404,0,null,[]]'
	[[ $(grep '^{' <<<"$stderr" | jq -r .error) == *"no store at"* ]]
	vc put r "$D/mid"
	vc get nokey --json
	assert_failure 5
	assert_equal "$(grep -c '^{' "$ERR")" 1
	assert_equal "$(grep '^{' "$ERR" | jq -c '[.status,.error]')" '[404,"nokey: no such key (or expired)"]'
	[ ! -s "$OUT" ]
	# a malformed range is bad data: 3, 400
	vc get r --range bytes=x --headers
	assert_failure 3
	[[ $(head -n 1 "$ERR") == $'HTTP/1.1 400 Bad Request\r' ]]
	# a usage error is no answer; a good one has exactly its own head
	run --separate-stderr "$VR_CHUNK" --store "$S" get --headers
	assert_failure 2
	[[ $stderr != *HTTP/1.1* ]]
	vc get r --headers
	assert_success
	assert_equal "$(grep -c '^HTTP/1.1' "$ERR")" 1
	[[ $(head -n 1 "$ERR") == $'HTTP/1.1 200 OK\r' ]]
}

@test "malformed range: exit 3; unsatisfiable: exit 4 with bytes */N; nothing on stdout" {
	vc put r "$D/mid" --chunk-size 64K
	local r
	for r in bytes=x 'bytes=5-1' 'items=0-1' 'bytes=--1' 'bytes=1-2-3'; do
		vc get r --range "$r"
		[ "$status" -eq 3 ] || { echo "'$r': $status"; return 1; }
		[ ! -s "$OUT" ]
	done
	vc get r --range bytes=200000- --headers
	assert_failure 4
	[ ! -s "$OUT" ]
	[[ "$stderr" == *$'Content-Range: bytes */200000\r'* ]]
	vc put e "$D/empty"
	vc get e --range bytes=0-
	assert_failure 4
	vc get e
	assert_success
	[ ! -s "$OUT" ]
	# a malformed range is refused before the store is even opened
	vc get nokey --range bytes=x
	assert_failure 3
}

# ------------------------------------------------------------ checksums

@test "checksums: a chunk's sha256 is sha256sum of its bytes, the entry's the sha256sum of the chunk digests" {
	# the oracle is coreutils (split, sha256sum), not the library vr hashes with
	vcin "$D/mid" put k --chunk-size 64K
	assert_success
	mkdir pieces
	split -b 64K -a 2 "$D/mid" pieces/p
	local want='' p i=0
	for p in pieces/p*; do
		local h
		h=$(sha256sum <"$p" | cut -c1-64)
		assert_equal "$(q "SELECT lower(hex(c.sha256)) FROM chunks c JOIN entries e ON e.id = c.entry
			WHERE e.state = 'ready' AND c.idx = $i")" "$h"
		want+=$h
		i=$((i + 1))
	done
	assert_equal "$i" 4
	assert_equal "$(json sha256)" "$(printf %s "$want" | xxd -r -p | sha256sum | cut -c1-64)"
	vc verify k
	assert_success
}

# ------------------------------------------------- metadata: type, tags, ttl

@test "content type, tags and ttl are shown by stat and ls --json" {
	local now
	now=$(date +%s)
	vc put k "$D/mid" --content-type 'video/mp4' --ttl 600 --tag a --tag 'b c' --chunk-size 64K
	assert_success
	vc stat k --json
	assert_success
	assert_equal "$(jq -c '[.key,.key_hex,.size,.chunk_size,.chunk_count,.content_type,.tags,.state]' "$OUT")" \
		'["k","6b",200000,65536,4,"video/mp4",["a","b c"],"ready"]'
	[ "$(jq '.expires - .created' "$OUT")" -eq 600 ]
	[ "$(jq .created "$OUT")" -ge "$now" ]
	[ "$(jq -r .sha256 "$OUT" | wc -c)" -eq 65 ]
	vc put plain "$D/one"
	vc ls --json
	assert_success
	assert_equal "$(jq -sc 'map([.key,.content_type,.expires,.tags])' "$OUT")" \
		'[["k","video/mp4",'"$(json expires)"',["a","b c"]],["plain","application/octet-stream",null,[]]]'
	vc stat k
	assert_success
	grep -q '^content type: *video/mp4$' "$OUT"
	grep -q '^size: *200000$' "$OUT"
	grep -q '^tags: *a,b c$' "$OUT"
	grep -q '^state: *ready$' "$OUT"
	vc ls
	assert_success
	assert_equal "$(wc -l <"$OUT")" 2
	# the type is guessed from a file name when not given
	cp "$D/one" clip.mp4
	vc put named clip.mp4
	assert_equal "$(json content_type named)" video/mp4
}

@test "stat and ls --json give tags as an array of strings, each exactly as given" {
	vc put k "$D/one" --tag 'a,b' --tag 'q"t' --tag ' ' --tag 'é'
	assert_success
	vc put none "$D/one"
	vc stat --json k
	assert_success
	jq -e '.tags|type=="array"' "$OUT"
	assert_equal "$(jq -c '.tags|sort' "$OUT")" '[" ","a,b","q\"t","é"]'
	vc stat --json none
	jq -e '.tags|type=="array"' "$OUT"
	assert_equal "$(jq -c .tags "$OUT")" '[]'
	vc ls --json
	assert_success
	assert_equal "$(jq -s 'map(.tags|type=="array")|all' "$OUT")" true
	assert_equal "$(jq -sc 'map([.key,(.tags|length)])' "$OUT")" '[["k",4],["none",0]]'
	# 64 tags of 256 bytes: all of them, whole
	local tags=() i t
	for i in $(seq 64); do
		t=$(printf '%03d' "$i")$(head -c 253 /dev/zero | tr '\0' x)
		tags+=(--tag "$t")
	done
	vc put many "$D/one" "${tags[@]}"
	assert_success
	vc stat --json many
	assert_equal "$(jq '.tags|length' "$OUT")" 64
	assert_equal "$(jq '.tags|map(length)|unique' "$OUT" | jq -c .)" '[256]'
	# a tag with a comma is one tag for purge too
	vc purge --tag 'a,b'
	assert_success
	vc get k
	assert_failure 5
}

@test "ls PREFIX lists only keys that start with it, byte for byte" {
	local k
	for k in a/1 a/2 ab 'a%' 'a_' b/1; do
		vc put "$k" "$D/one"
	done
	vc ls --json a/
	assert_equal "$(jq -sc 'map(.key)' "$OUT")" '["a/1","a/2"]'
	vc ls --json 'a%'
	assert_equal "$(jq -sc 'map(.key)' "$OUT")" '["a%"]'
	vc ls --json 'a_'
	assert_equal "$(jq -sc 'map(.key)' "$OUT")" '["a_"]'
	vc ls --json zzz
	assert_success
	[ ! -s "$OUT" ]
	vc ls --json
	assert_equal "$(jq -s length "$OUT")" 6
}

@test "--if-absent does not read stdin when the key is present, and stores when it is not" {
	vc put k "$D/mid"
	run timeout 10 "$VR_CHUNK" --store "$S" put --if-absent k </dev/zero
	assert_success
	vc get k
	same "$D/mid"
	vcin "$D/one" put --if-absent other
	assert_success
	vc get other
	same "$D/one"
	# an expired entry counts as absent
	vc put t "$D/one" --ttl 100
	q "UPDATE entries SET expires = 1 WHERE key = CAST('t' AS BLOB)"
	vcin "$D/mid" put --if-absent t
	assert_success
	vc get t
	same "$D/mid"
}

@test "--if-absent with the key present never opens FILE nor reads stdin" {
	vc put k "$D/mid"
	assert_success
	# a missing FILE: exit 0, no error about it
	vc put --if-absent k "$BATS_TEST_TMPDIR/nonexist"
	assert_success
	refute_output --partial 'No such file'
	[[ $stderr != *nonexist* ]]
	vc get k
	same "$D/mid"
	# a FIFO without a writer: opening it would block
	mkfifo fifo
	run timeout 10 "$VR_CHUNK" --store "$S" put --if-absent k fifo
	assert_equal "$status" 0
	# stdin with a writer (this shell) that never writes nor closes:
	# reading it would block until the timeout (124)
	mkfifo held
	exec 6<>held
	run timeout 10 "$VR_CHUNK" --store "$S" put --if-absent k <&6
	assert_equal "$status" 0
	exec 6<&-
	# the system calls: FILE's path is never opened
	command -v strace >/dev/null || fail "strace is needed: run scripts/setup"
	strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace refused)"
	cp "$D/one" input.bin
	# LeakSanitizer cannot run under ptrace (the SAN build)
	local lsan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	ASAN_OPTIONS=$lsan strace -f -o trace -e trace=open,openat,openat2 "$VR_CHUNK" --store "$S" put --if-absent k input.bin
	grep -q 'store.db' trace
	run grep -c 'input.bin' trace
	assert_output 0
	# the key absent: FILE is opened and stored
	ASAN_OPTIONS=$lsan strace -f -o trace -e trace=open,openat,openat2 "$VR_CHUNK" --store "$S" put --if-absent k2 input.bin
	grep -q 'input.bin' trace
	vc get k2
	same "$D/one"
}

@test "--if-absent waiting for a writer of the same key does not read once that writer published" {
	start_put k --chunk-size 64K
	head -c 1000 "$D/mid" >&5
	wait_for_chunks 0
	timeout 20 "$VR_CHUNK" --store "$S" put --if-absent k </dev/zero 2>ifa.err 3>&- 5>&- &
	local ifa=$!
	BG_PIDS="$BG_PIDS $ifa"
	sleep 0.5
	tail -c +1001 "$D/mid" >&5
	exec 5>&-
	wait "$PUT_PID"
	local rc=0
	wait "$ifa" || rc=$?
	[ "$rc" -eq 0 ] || { echo "--if-absent: status $rc (124: it read stdin)"; cat ifa.err; return 1; }
	vc get k
	same "$D/mid"
}

# ---------------------------------------------------- crashes and signals

# One kill -9 of a writer fed through a FIFO, after `chunks` full chunks of
# 64 KiB went in (and `extra` bytes of the next), then the invariants.
kill9_at() {
	local chunks=$1 extra=$2 with_old=$3
	rm -rf "$(dirname "$S")"
	[ "$with_old" = old ] && put_old k
	start_put k --chunk-size 64K
	head -c $((chunks * K64 + extra)) "$D/big" >&5
	wait_for_chunks "$chunks"
	sleep 0.1
	kill -9 "$PUT_PID"
	local rc=0
	wait "$PUT_PID" || rc=$?
	exec 5>&-
	exit_by_signal "$rc" KILL
	# nothing of the killed write is visible
	vc get k
	if [ "$with_old" = old ]; then
		assert_success
		same "$D/old"
	else
		assert_failure 5
	fi
	vc ls --json
	assert_success
	[ "$(jq -s 'map(select(.state != "ready")) | length' "$OUT")" -eq 0 ]
	assert_equal "$(q "SELECT count(*) FROM entries WHERE state = 'writing'")" 1
	# gc reclaims the abandoned generation and the dead writer's lock
	vc gc --json
	assert_success
	assert_equal "$(jq -c '[.abandoned,.stale_locks]' "$OUT")" '[1,1]'
	assert_equal "$(q 'SELECT count(*) FROM chunks')" "$(ready_chunks)"
	assert_equal "$(q "SELECT count(*) FROM entries WHERE state = 'writing'")" 0
	assert_equal "$(q 'SELECT count(*) FROM locks')" 0
	vc verify
	assert_success
}

@test "kill -9 during put, after 0, 1, 5 chunks and with the last chunk buffered: nothing visible, gc reclaims" {
	kill9_at 0 100 old
	kill9_at 1 0 old
	kill9_at 5 65535 old
	kill9_at 127 1000 old
	kill9_at 2 5000 none
	# and gc has nothing left to do
	vc gc --json
	assert_equal "$(jq -c '[.expired,.abandoned,.stale_locks,.orphan_chunks]' "$OUT")" '[0,0,0,0]'
}

@test "after kill -9 the next writer takes the dead writer's lock over at once" {
	put_old k
	start_put k --chunk-size 64K
	head -c $((2 * K64 + 7)) "$D/big" >&5
	wait_for_chunks 2
	kill -9 "$PUT_PID"
	wait "$PUT_PID" || true
	exec 5>&-
	vc -v put k "$D/mid" --wait 0
	assert_success
	[[ "$stderr" == *"taking over the stale lock"* ]]
	vc get k
	same "$D/mid"
	vc gc --json
	assert_equal "$(jq -c '[.abandoned,.stale_locks]' "$OUT")" '[1,0]'
	assert_equal "$(q 'SELECT count(*) FROM chunks')" "$(ready_chunks)"
}

@test "SIGTERM and SIGINT during put: exit by the signal, nothing stored, the old version intact" {
	local sig chunks rc
	for sig in TERM INT; do
		for chunks in 0 3; do
			rm -rf "$(dirname "$S")"
			put_old k
			start_put k --chunk-size 64K
			head -c $((chunks * K64 + 10)) "$D/big" >&5
			wait_for_chunks "$chunks"
			kill -s "$sig" "$PUT_PID"
			rc=0
			wait "$PUT_PID" || rc=$?
			exec 5>&-
			exit_by_signal "$rc" "$sig"
			grep -q "interrupted; nothing stored" put.err
			vc get k
			same "$D/old"
			# the writer cleaned up after itself: nothing left for gc
			assert_equal "$(q "SELECT count(*) FROM entries WHERE state = 'writing'")" 0
			assert_equal "$(q 'SELECT count(*) FROM locks')" 0
			assert_equal "$(q 'SELECT count(*) FROM chunks')" "$(ready_chunks)"
		done
	done
}

@test "a file size limit (ulimit -f) during put: exit 6, the previous version stays readable" {
	put_old k
	run bash -c 'ulimit -f 2048; exec "$0" --store "$S" put k "$1" --chunk-size 64K' "$VR_CHUNK" "$D/big"
	assert_failure 6
	[[ "$output" == *"vr-chunk: error:"* ]]
	vc get k
	assert_success
	same "$D/old"
	run bash -c 'ulimit -f 2048; exec "$0" --store "$S" put new "$1"' "$VR_CHUNK" "$D/big"
	assert_failure 6
	vc get new
	assert_failure 5
	vc gc
	assert_success
	assert_equal "$(q 'SELECT count(*) FROM chunks')" "$(ready_chunks)"
	vc verify
	assert_success
}

# ------------------------------------------------------------- concurrency

@test "8 writers of different keys on a new store, then 8 more with readers: all succeed, no busy" {
	local i pids=() rc=0
	for i in 1 2 3 4 5 6 7 8; do
		"$VR_CHUNK" --store "$S" put "w$i" "$D/w$i" --chunk-size 256K 2>"w$i.err" 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=$?; done
	[ "$rc" -eq 0 ] || { cat w*.err; return 1; }
	vc put seed "$D/mid" --chunk-size 64K
	pids=()
	for i in 1 2 3 4 5 6 7 8; do
		"$VR_CHUNK" --store "$S" put "w$i" "$D/w$((9 - i))" --chunk-size 64K 2>"v$i.err" 3>&- &
		pids+=($!)
	done
	for i in 1 2 3 4; do
		(
			for _ in 1 2 3 4 5; do
				"$VR_CHUNK" --store "$S" get seed | cmp -s - "$D/mid" || exit 1
				"$VR_CHUNK" --store "$S" get seed --range bytes=65000-140000 >/dev/null || exit 1
				"$VR_CHUNK" --store "$S" ls >/dev/null || exit 1
				"$VR_CHUNK" --store "$S" stat "w$i" >/dev/null 2>&1 # present or being replaced
			done
		) 2>"r$i.err" 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=$?; done
	[ "$rc" -eq 0 ] || { tail -n +1 v*.err r*.err; return 1; }
	no_busy w*.err v*.err r*.err
	for i in 1 2 3 4 5 6 7 8; do
		vc get "w$i"
		same "$D/w$((9 - i))"
	done
	vc verify
	assert_success
	assert_equal "$(q 'SELECT count(*) FROM chunks')" "$(ready_chunks)"
	assert_equal "$(q 'SELECT count(*) FROM locks')" 0
}

@test "2 writers of one key: both succeed, the entry is exactly one of the inputs, never a mix" {
	local round a b rc
	for round in 1 2 3; do
		"$VR_CHUNK" --store "$S" put k "$D/x1" --chunk-size 64K 2>a.err 3>&- &
		a=$!
		"$VR_CHUNK" --store "$S" put k "$D/x2" --chunk-size 4K 2>b.err 3>&- &
		b=$!
		rc=0
		wait "$a" || rc=$?
		wait "$b" || rc=$?
		[ "$rc" -eq 0 ] || { cat a.err b.err; return 1; }
		no_busy a.err b.err
		vc get k
		assert_success
		cmp -s "$OUT" "$D/x1" || cmp -s "$OUT" "$D/x2" || { echo "round $round: a mix"; return 1; }
		assert_equal "$(q 'SELECT count(*) FROM entries')" 1
		assert_equal "$(q 'SELECT count(*) FROM chunks')" "$(ready_chunks)"
	done
	vc verify k
	assert_success
}

# slow_get_during_put ARGS...: `get k ARGS` of the 8 MiB entry through a
# FIFO read 1 MiB at first; while it is stalled on the full pipe, a put of
# other content of k runs to its end; then the rest is read. The get's
# bytes are in got.
slow_get_during_put() {
	vc put k "$D/big" --chunk-size 64K
	assert_success
	rm -f gfifo got
	mkfifo gfifo
	"$VR_CHUNK" --store "$S" get k "$@" >gfifo 2>get.err 3>&- &
	local g=$! rc=0
	BG_PIDS="${BG_PIDS:-} $g"
	exec 6<gfifo
	dd bs=64K count=16 iflag=fullblock status=none <&6 >got
	vc put k "$D/mid" --chunk-size 64K
	assert_success
	vc get k
	same "$D/mid"
	# the get is still under way: the put ran inside it
	kill -0 "$g"
	cat <&6 >>got
	exec 6<&-
	wait "$g" || rc=$?
	[ "$rc" -eq 0 ] || { echo "get: status $rc: $(cat get.err)"; return 1; }
}

@test "a get that overlaps a put of the same key sends the old version whole (one snapshot)" {
	slow_get_during_put
	cmp got "$D/big"
	slow_get_during_put --range bytes=100000-
	slice "$D/big" 100000 $(((8 << 20) - 1)) | cmp - got
	slow_get_during_put --range bytes=0-99,1000000-
	{
		slice "$D/big" 0 99
		slice "$D/big" 1000000 $(((8 << 20) - 1))
	} | cmp - got
	vc verify
	assert_success
	assert_equal "$(q 'SELECT count(*) FROM chunks')" "$(ready_chunks)"
}

@test "four puts that create a new store at once all store their entry (WAL switch retried)" {
	# SQLite may answer the switch of a new file to WAL with "busy" at once,
	# without the busy handler, while other processes open it too
	local round i
	for round in $(seq 1 8); do
		rm -f "$S" "$S-wal" "$S-shm"
		for i in 1 2 3 4; do
			"$VR_CHUNK" --store "$S" put "k$i" --chunk-size 16K "$D/mid" 2>"err$i" &
		done
		wait
		for i in 1 2 3 4; do
			[ ! -s "err$i" ] || { echo "round $round, put $i: $(cat "err$i")"; return 1; }
			vc get "k$i"
			assert_success
			cmp "$OUT" "$D/mid"
		done
	done
}

@test "a second writer of one key waits for the first and then replaces it" {
	start_put k --chunk-size 64K
	head -c 100000 "$D/x1" >&5
	wait_for_chunks 1
	"$VR_CHUNK" --store "$S" put k "$D/mid" 2>b.err 3>&- 5>&- &
	local b=$!
	BG_PIDS="$BG_PIDS $b"
	sleep 1
	kill -0 "$b" # still waiting for the lock
	tail -c +100001 "$D/x1" >&5
	exec 5>&-
	wait "$PUT_PID"
	wait "$b"
	vc get k
	same "$D/mid"
}

@test "a writer that cannot get the lock within --wait exits 7; the holder is unaffected" {
	start_put k --chunk-size 64K
	head -c 100000 "$D/x1" >&5
	wait_for_chunks 1
	local t0 t1
	t0=$(date +%s%N)
	vc put k "$D/mid" --wait 1
	t1=$(date +%s%N)
	assert_failure 7
	[[ "$stderr" == *"another writer holds the key"* ]]
	[ $(((t1 - t0) / 1000000)) -ge 900 ]
	[ $(((t1 - t0) / 1000000)) -lt 5000 ]
	vc put k "$D/mid" --wait 0
	assert_failure 7
	# a waiter stopped by SIGTERM dies by it and leaves the holder alone
	"$VR_CHUNK" --store "$S" put k "$D/mid" --wait 60 2>w.err 3>&- 5>&- &
	local waiter=$! rc=0
	BG_PIDS="$BG_PIDS $waiter"
	sleep 0.5
	kill -TERM "$waiter"
	wait "$waiter" || rc=$?
	exit_by_signal "$rc" TERM
	tail -c +100001 "$D/x1" >&5
	exec 5>&-
	wait "$PUT_PID"
	vc get k
	same "$D/x1"
}

@test "stale locks: a dead pid on this host or an expired lease is taken over; a live foreign host is not" {
	vc put seed "$D/one" # create the store
	local h now dead
	h=$(hostname)
	now=$(date +%s)
	dead=$(dead_pid)
	q "INSERT INTO locks VALUES (CAST('dead' AS BLOB), '$h:$dead:12345', $dead, '$h', $now, $now + 100)"
	q "INSERT INTO locks VALUES (CAST('foreign' AS BLOB), 'elsewhere:1:1', 1, 'elsewhere', $now, $now + 100)"
	q "INSERT INTO locks VALUES (CAST('expired' AS BLOB), 'elsewhere:1:1', 1, 'elsewhere', $now - 100, $now - 1)"
	# pid 1 is alive here, but started at another time: the pid was reused
	q "INSERT INTO locks VALUES (CAST('reused' AS BLOB), '$h:1:1', 1, '$h', $now, $now + 100)"
	local k
	for k in dead expired reused; do
		vc -v put "$k" "$D/one" --wait 1
		assert_success
		[[ "$stderr" == *"taking over the stale lock"* ]]
		vc get "$k"
		same "$D/one"
	done
	vc put foreign "$D/one" --wait 1
	assert_failure 7
	vc get foreign
	assert_failure 5
	# gc drops stale locks, keeps the live foreign one
	q "INSERT INTO locks VALUES (CAST('dead2' AS BLOB), '$h:$dead:12345', $dead, '$h', $now, $now + 100)"
	vc gc --json
	assert_equal "$(jq .stale_locks "$OUT")" 1
	assert_equal "$(q 'SELECT CAST(key AS TEXT) FROM locks')" foreign
}

@test "a writer renews its lease while input trickles in" {
	start_put k
	local e0 e1 i
	printf a >&5
	wait_for_chunks 0
	e0=$(q 'SELECT expires FROM locks')
	for i in $(seq 12); do
		printf a >&5
		sleep 1
	done
	e1=$(q 'SELECT expires FROM locks')
	exec 5>&-
	wait "$PUT_PID"
	[ "$e1" -gt "$e0" ] || { echo "lease not renewed: $e0 -> $e1"; return 1; }
	vc get k
	assert_equal "$(cat "$OUT")" aaaaaaaaaaaaa
}

@test "a writer whose lock and generation were taken over never touches the new owner's entry" {
	put_old k
	start_put k --chunk-size 64K
	head -c $((K64 + 10)) "$D/big" >&5
	wait_for_chunks 1
	kill -STOP "$PUT_PID"
	# as if the lease ran out while the writer was stopped (Ctrl-Z)
	q 'UPDATE locks SET expires = 0'
	vc gc --json
	assert_equal "$(jq -c '[.abandoned,.stale_locks]' "$OUT")" '[1,1]'
	vc put k "$D/mid" --chunk-size 64K
	assert_success
	kill -CONT "$PUT_PID"
	# the stale writer may notice the takeover and stop reading before the
	# feeder is done: a SIGPIPE of the feeder is not what this test is about
	head -c $((5 * K64)) "$D/big" >&5 || true
	exec 5>&-
	local rc=0
	wait "$PUT_PID" || rc=$?
	[ "$rc" -ne 0 ] || { echo "the stale writer published"; return 1; }
	vc get k
	assert_success
	same "$D/mid"
	vc verify
	assert_success
	vc gc
	assert_equal "$(q 'SELECT count(*) FROM chunks')" "$(ready_chunks)"
}

# ----------------------------------------------------- expiry, touch, rm

@test "TTL: an expired entry is gone for get, stat, ls and touch; gc reclaims it" {
	vc put t "$D/mid" --ttl 1 --chunk-size 64K
	vc put keep "$D/one"
	sleep 2
	vc get t
	assert_failure 5
	[[ "$stderr" == *"no such key"* ]]
	vc stat t
	assert_failure 5
	vc touch t --ttl 100
	assert_failure 5
	vc ls --json
	assert_equal "$(jq -sc 'map(.key)' "$OUT")" '["keep"]'
	vc gc --json
	assert_success
	assert_equal "$(jq -c '[.expired,.abandoned,.stale_locks,.orphan_chunks,.vacuumed]' "$OUT")" '[1,0,0,0,false]'
	assert_equal "$(q 'SELECT count(*) FROM entries')" 1
	assert_equal "$(q 'SELECT count(*) FROM chunks')" 1
}

@test "touch changes the expiry only, never the data" {
	vc put k "$D/mid" --ttl 100 --tag t --content-type video/webm --chunk-size 64K
	local before created sha now
	before=$("$VR_CHUNK" --store "$S" get k | sha256sum)
	created=$(json created)
	sha=$(json sha256)
	now=$(date +%s)
	vc touch k --ttl 5000
	assert_success
	[ "$(json expires)" -ge $((now + 5000)) ]
	[ "$(json expires)" -le $((now + 5002)) ]
	assert_equal "$("$VR_CHUNK" --store "$S" get k | sha256sum)" "$before"
	assert_equal "$(json created) $(json sha256) $(json 'tags|tojson') $(json content_type)" "$created $sha [\"t\"] video/webm"
	vc touch k --ttl 0
	assert_success
	assert_equal "$(json expires)" null
	vc touch k --ttl 1h
	assert_success
	[ "$(json expires)" -ge $((now + 3600)) ]
	vc touch missing --ttl 5
	assert_failure 5
	vc verify
	assert_success
}

@test "rm and purge --tag" {
	vc put a "$D/mid" --tag red --tag blue --chunk-size 64K
	vc put b "$D/one" --tag red
	vc put c "$D/one" --tag blue
	vc put d "$D/one"
	vc rm d
	assert_success
	vc get d
	assert_failure 5
	vc rm d
	assert_failure 5
	vc rm c nope
	assert_failure 5
	vc get c
	assert_failure 5
	vc --metrics m.jsonl purge --tag red
	assert_success
	assert_equal "$(jq .purged m.jsonl)" 2
	vc ls --json
	[ ! -s "$OUT" ]
	vc purge --tag red
	assert_success
	assert_equal "$(q 'SELECT count(*) FROM chunks') $(q 'SELECT count(*) FROM tags')" "0 0"
}

@test "gc --vacuum gives the space back" {
	vc put k "$D/big" --chunk-size 64K
	vc put keep "$D/one"
	vc rm k
	vc gc --vacuum --json
	assert_success
	assert_equal "$(jq .vacuumed "$OUT")" true
	[ "$(stat -c %s "$S")" -lt 1048576 ]
	vc get keep
	same "$D/one"
}

# ------------------------------------------------------- damaged stores

@test "a file of random bytes is refused with exit 6 and a message, never a crash" {
	mkdir -p "$(dirname "$S")"
	gen 100000 | tail -c 50000 >"$S"
	local c
	for c in ls 'get k' 'stat k' 'put k /dev/null' 'gc' 'verify' 'rm k' 'touch k --ttl 1' 'purge --tag x'; do
		# shellcheck disable=SC2086
		vc $c
		[ "$status" -eq 6 ] || { echo "'$c': status $status, stderr: $stderr"; return 1; }
		[[ "$stderr" == *"not a vr store"* ]] || { echo "'$c': $stderr"; return 1; }
	done
	# a valid SQLite header followed by garbage
	vc --store good.db put k "$D/mid"
	"$VR_CHUNK" --store good.db gc --vacuum
	{ head -c 100 good.db; gen 300000; } >"$S"
	for c in ls 'get k' 'verify'; do
		# shellcheck disable=SC2086
		vc $c
		[ "$status" -eq 6 ] || { echo "'$c': status $status, stderr: $stderr"; return 1; }
		[ -n "$stderr" ]
	done
	# a store with pages overwritten
	cp good.db "$S"
	rm -f "$S-wal" "$S-shm"
	gen 65536 | dd of="$S" bs=64K seek=2 conv=notrunc status=none
	vc verify
	assert_failure 6
	vc get k
	[ "$status" -eq 6 ] || [ "$status" -eq 0 ]
}

@test "an SQLite database that is not a vr store is refused and left alone" {
	mkdir -p "$(dirname "$S")"
	sqlite3 "$S" 'CREATE TABLE t(x); INSERT INTO t VALUES (42)'
	vc ls
	assert_failure 6
	[[ "$stderr" == *"not a vr store"* ]]
	vc put k "$D/one"
	assert_failure 6
	assert_equal "$(sqlite3 "$S" 'SELECT x FROM t')" 42
	assert_equal "$(sqlite3 "$S" "SELECT count(*) FROM sqlite_master WHERE name = 'entries'")" 0
	# even one that happens to carry user_version 1
	sqlite3 "$S" 'PRAGMA user_version = 1'
	vc put k "$D/one"
	assert_failure 6
	[[ "$stderr" == *"not a vr store"* ]]
	vc ls
	assert_failure 6
	[[ "$stderr" == *"not a vr store"* ]]
}

@test "a store with a newer schema version is refused with a clear message" {
	vc put k "$D/one"
	"$VR_CHUNK" --store "$S" gc --vacuum
	sqlite3 "$S" 'PRAGMA user_version = 99'
	local c
	for c in ls 'get k' 'put k /dev/null' 'gc'; do
		# shellcheck disable=SC2086
		vc $c
		[ "$status" -eq 6 ] || { echo "'$c': status $status"; return 1; }
		[[ "$stderr" == *"schema version 99 is newer"* ]] || { echo "'$c': $stderr"; return 1; }
	done
	assert_equal "$(sqlite3 "$S" 'PRAGMA user_version')" 99
}

@test "a damaged manifest is a store failure, not a crash" {
	local col
	for col in 'chunk_size = 0' 'chunk_size = 3' 'size = -5' 'chunk_count = 2' 'size = size + 1'; do
		rm -rf "$(dirname "$S")"
		vc put k "$D/mid" --chunk-size 64K
		q "UPDATE entries SET $col"
		vc get k
		[ "$status" -eq 6 ] || { echo "$col: get $status"; return 1; }
		vc get k --range -1
		[ "$status" -eq 6 ] || { echo "$col: ranged get $status"; return 1; }
		vc verify
		[ "$status" -eq 6 ] || { echo "$col: verify $status"; return 1; }
		vc verify k
		[ "$status" -eq 6 ] || { echo "$col: verify k $status"; return 1; }
	done
}

# ------------------------------------------------------ chunk corruption

@test "a chunk whose bytes changed: get of that chunk is exit 6 before any of its bytes, others still read" {
	vc put k "$D/mid" --chunk-size 64K
	q "UPDATE chunks SET data = randomblob(length(data)) WHERE idx = 1"
	vc get k --range bytes=65536-65600
	assert_failure 6
	[[ "$stderr" == *"chunk 1 does not match its checksum"* ]]
	[ ! -s "$OUT" ]
	# a range over chunks 0 and 1: chunk 0's part, then stop before chunk 1
	vc get k --range bytes=65000-70000
	assert_failure 6
	expect_out "$D/mid" 65000 65535
	vc get k --range bytes=0-65535,131072-
	assert_success
	expect_out "$D/mid" 0 65535 131072 199999
	vc get k -o got.bin
	assert_failure 6
	[ ! -e got.bin ]
	vc verify
	assert_failure 6
	[[ "$stderr" == *"chunk 1"* ]]
	vc verify k
	assert_failure 6
}

@test "8 MiB chunks (read twice, in pieces) with bytes changed in one: never served; ranges in good chunks still exact" {
	local M8=$((8 << 20))
	gen $((20 << 20)) >in.bin # chunks of 8, 8 and 4 MiB
	vc put k in.bin --chunk-size 8M
	assert_success
	assert_equal "$(json '"\(.chunk_size) \(.chunk_count)"')" "$M8 3"
	# 16 bytes in the middle of chunk 1 overwritten, its length kept
	q "SELECT writefile('c1.bin', data) FROM chunks WHERE idx = 1" >/dev/null
	gen2 16 | dd of=c1.bin bs=1 seek=4000000 conv=notrunc status=none
	q "UPDATE chunks SET data = readfile('c1.bin') WHERE idx = 1"
	assert_equal "$(q 'SELECT length(data) FROM chunks WHERE idx = 1')" "$M8"
	q "SELECT writefile('c1-now.bin', data) FROM chunks WHERE idx = 1" >/dev/null
	run cmp -s c1-now.bin <(slice in.bin "$M8" $((2 * M8 - 1)))
	assert_failure # the store really holds other bytes now
	# the whole entry: chunk 0, then exit 6 before any byte of chunk 1
	vc get k
	assert_failure 6
	[[ "$stderr" == *"chunk 1 does not match its checksum"* ]]
	expect_out in.bin 0 $((M8 - 1))
	vc get k -o got.bin
	assert_failure 6
	[ ! -e got.bin ]
	# a range of chunk 1 away from the changed bytes is refused too, with nothing sent
	vc get k --range bytes=$M8-$((M8 + 99))
	assert_failure 6
	[ ! -s "$OUT" ]
	vc get k --range bytes=-5000000
	assert_failure 6
	[ ! -s "$OUT" ]
	# ranges inside the good chunks match dd slices of the input
	vc get k --range bytes=17000000-17999999
	assert_success
	expect_out in.bin 17000000 17999999
	vc get k --range bytes=100-5000099,$((2 * M8))-
	assert_success
	expect_out in.bin 100 5000099 $((2 * M8)) $((20 * 1048576 - 1))
	vc get k --range bytes=0-$((M8 - 1)) --verify
	assert_success
	expect_out in.bin 0 $((M8 - 1))
	vc verify k
	assert_failure 6
	[[ "$stderr" == *"chunk 1"* ]]
}

@test "a chunk one byte short, a missing chunk row, an extra chunk row: exit 6" {
	vc put k "$D/mid" --chunk-size 64K
	q "UPDATE chunks SET data = substr(data, 1, length(data) - 1) WHERE idx = 2"
	vc get k --range bytes=131072-131072
	assert_failure 6
	[[ "$stderr" == *"chunk 2 has 65535 bytes"* ]]
	[ ! -s "$OUT" ]
	vc verify
	assert_failure 6
	# size column and data agree, but the manifest disagrees
	vc put k "$D/mid" --chunk-size 64K
	q "UPDATE chunks SET data = substr(data, 1, length(data) - 1), size = size - 1 WHERE idx = 3"
	vc get k --range -1
	assert_failure 6
	vc verify k
	assert_failure 6
	vc put k "$D/mid" --chunk-size 64K
	q 'DELETE FROM chunks WHERE idx = 3'
	vc get k --range -1
	assert_failure 6
	[[ "$stderr" == *"chunk 3 of the entry is missing"* ]]
	vc get k --range 0-100
	assert_success
	vc verify
	assert_failure 6
	vc put k "$D/mid" --chunk-size 64K
	q "INSERT INTO chunks(entry, idx, size, crc32c, sha256, data) SELECT entry, 4, size, crc32c, sha256, data FROM chunks WHERE idx = 3"
	vc verify
	assert_failure 6
	vc verify k
	assert_failure 6
}

@test "a changed SHA-256 is found by get --verify and verify; a changed entry checksum by verify" {
	vc put k "$D/mid" --chunk-size 64K
	q 'UPDATE chunks SET sha256 = randomblob(32) WHERE idx = 0'
	vc get k
	assert_success # CRC-32C still matches; SHA-256 is checked on request
	vc get k --verify
	assert_failure 6
	[[ "$stderr" == *"chunk 0 does not match its checksum (SHA-256)"* ]]
	[ ! -s "$OUT" ]
	vc verify
	assert_failure 6
	vc put k "$D/mid" --chunk-size 64K
	q "UPDATE entries SET sha256 = 'abc'"
	vc verify k
	assert_failure 6
	[[ "$stderr" == *"entry checksum mismatch"* ]]
	vc get k --verify
	assert_success
}

@test "verify goes on past a bad chunk and blames only the damaged entry" {
	vc put a "$D/mid" --chunk-size 64K
	vc put b "$D/mid" --chunk-size 64K
	vc put c "$D/mid" --chunk-size 64K
	q "UPDATE chunks SET data = randomblob(length(data)) WHERE idx = 1 AND entry = (SELECT id FROM entries WHERE key = CAST('a' AS BLOB))"
	q "UPDATE chunks SET data = substr(data, 1, 1000) WHERE idx = 0 AND entry = (SELECT id FROM entries WHERE key = CAST('b' AS BLOB))"
	vc verify
	assert_failure 6
	[[ "$stderr" == *"key a: chunk 1 does not match its checksum (CRC-32C)"* ]]
	[[ "$stderr" == *"key b: chunk 0 has 1000 bytes"* ]]
	[[ "$stderr" != *"key c"* ]] || { echo "$stderr"; return 1; }
	vc verify c
	assert_success
}

@test "verify passes on a clean store of many entries and reports counts" {
	vc put a "$D/mid" --chunk-size 4K
	vc put b "$D/empty"
	vc put c "$D/one"
	vc put d "$D/n$((3 * K64))" --chunk-size 64K
	vc --metrics m.jsonl verify
	assert_success
	assert_equal "$(jq .verified m.jsonl)" 4
	vc verify d
	assert_success
	vc verify nope
	assert_failure 5
	vc get a --verify
	same "$D/mid"
}

# ----------------------------------------------------------------- keys

@test "odd keys: empty, 1 KiB, 4096 bytes, binary bytes, quotes and SQL" {
	local k1k k4k
	k1k=$(head -c 1024 /dev/zero | tr '\0' K)
	k4k=$(head -c 4096 /dev/zero | tr '\0' Z)
	local keys=("" "$k1k" "$k4k" $'\x01\xff' "'; DROP TABLE entries; --" 'a"b\c' $'new\nline' ' spaced ' '%_*?' '-dash')
	local k i=0
	for k in "${keys[@]}"; do
		i=$((i + 1))
		head -c $((i * 1000)) "$D/mid" >"in$i"
		vc put -- "$k" "in$i"
		assert_success
	done
	i=0
	for k in "${keys[@]}"; do
		i=$((i + 1))
		vc get -- "$k"
		assert_success
		same "in$i"
	done
	vc stat --json -- $'\x01\xff'
	assert_equal "$(jq -c '[.key_hex,.size]' "$OUT")" '["01ff",4000]'
	vc verify -- "$k1k"
	assert_success
	vc verify
	assert_success
	assert_equal "$(q 'SELECT count(*) FROM entries')" "${#keys[@]}"
	sqlite3 "$S" 'SELECT 1 FROM entries LIMIT 1' >/dev/null # the table survived
	# every key listed, exactly: key_hex against the bytes of the arguments
	vc ls --json
	assert_success
	assert_equal "$(jq -r .key_hex "$OUT" | sort)" \
		"$(for k in "${keys[@]}"; do printf '%s' "$k" | od -An -tx1 -v | tr -d ' \n'; echo; done | sort)"
	assert_equal "$(jq -r 'select(.key_hex | length == 8192) | .key | length' "$OUT")" 4096
	vc rm -- '' "'; DROP TABLE entries; --"
	assert_success
	vc get ''
	assert_failure 5
}

@test "a key of 4097 bytes is refused with exit 2 by every command" {
	local k
	k=$(head -c 4097 /dev/zero | tr '\0' Z)
	local c
	for c in put get stat rm verify; do
		vc "$c" "$k"
		[ "$status" -eq 2 ] || { echo "$c: status $status"; return 1; }
		[[ "$stderr" == *"longer than 4096 bytes"* ]]
	done
	vc touch "$k" --ttl 5
	assert_failure 2
	vc put seed "$D/one"
	vc ls "$k"
	assert_success
}

# -------------------------------------------------------------- metrics

@test "--metrics appends one JSON line per run with the command's figures" {
	vc --metrics m.jsonl put k "$D/mid" --chunk-size 64K
	assert_success
	vc --metrics m.jsonl get k --range 0-99
	vc --metrics m.jsonl get nope
	assert_equal "$(wc -l <m.jsonl)" 3
	assert_equal "$(sed -n 1p m.jsonl | jq -c '[.program,.command,.bytes_in,.exit,.open_streams]')" '["vr-chunk","put",200000,0,0]'
	assert_equal "$(sed -n 2p m.jsonl | jq -c '[.command,.bytes_out,.exit]')" '["get",100,0]'
	assert_equal "$(sed -n 3p m.jsonl | jq -c '[.command,.exit]')" '["get",5]'
	assert_equal "$(jq -sc 'map((.wall_ms|type) + (.peak_rss_kb|type)) | unique' m.jsonl)" '["numbernumber"]'
	run env VR_METRICS=env.jsonl "$VR_CHUNK" --store "$S" stat k
	assert_success
	assert_equal "$(jq -c '[.command,.exit]' env.jsonl)" '["stat",0]'
}

# --------------------------------------------------------------- memory

@test "peak RSS: put of 256 MiB from a pipe stays within chunk size + 16 MiB; a 1 MiB ranged get under 16 MiB" {
	is_asan "$VR_CHUNK" && skip "ASan build: RSS is not representative"
	local kb cs
	for cs in 1 16; do
		head -c 256M /dev/zero | /usr/bin/time -o rss -f %M "$VR_CHUNK" --store "$S" put "big$cs" --chunk-size "${cs}M"
		kb=$(tail -1 rss)
		echo "# put of 256 MiB, ${cs}M chunks: $kb KiB" >&3
		[ "$kb" -le $(((cs + 16) * 1024)) ] || { echo "put with ${cs}M chunks: $kb KiB"; return 1; }
		assert_equal "$(json size "big$cs")" 268435456
		/usr/bin/time -o rss -f %M "$VR_CHUNK" --store "$S" get "big$cs" --range bytes=100000000-101048575 >"$OUT"
		kb=$(tail -1 rss)
		echo "# 1 MiB ranged get, ${cs}M chunks: $kb KiB" >&3
		[ "$kb" -lt 16384 ] || { echo "1 MiB ranged get with ${cs}M chunks: $kb KiB"; return 1; }
		assert_equal "$(stat -c %s "$OUT")" 1048576
	done
	/usr/bin/time -o rss -f %M "$VR_CHUNK" --store "$S" get big16 | cmp - <(head -c 256M /dev/zero)
	kb=$(tail -1 rss)
	echo "# whole get of 256 MiB, 16M chunks: $kb KiB" >&3
	[ "$kb" -lt 16384 ] || { echo "whole get: $kb KiB"; return 1; }
}
