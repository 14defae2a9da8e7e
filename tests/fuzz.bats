#!/usr/bin/env bats
# The fuzz corpora (tests/fuzz/TARGET/ seeds and tests/fuzz/regressions/
# TARGET/ crashes) replayed through the release programs, and scripts/fuzz's
# command line. Nothing here needs clang: the targets themselves replay the
# same files in tests/unit/test_fuzz_regressions.c (make unit).
#
# A replayed input may be refused, but only with a documented status
# (2 usage, 3 bad data, 4 not satisfiable, 8 a limit): never 1 (unexpected),
# never a signal.

# Config templates and regexes are written in single quotes on purpose.
# shellcheck disable=SC2016

load helpers/common

FUZZ=$BATS_TEST_DIRNAME/fuzz
TARGETS=(range params config origin store transform)

setup_file() {
	local p
	for p in "$VR_RANGE" "$VR_CHUNK" "$VR_RESIZE" "$VR_FETCH" "$VR_CACHE"; do
		[ -x "$p" ] || { echo "build first: make ($p)" >&2; return 1; }
	done
}

# inputs T: the seeds and saved regressions of target T, one path a line
inputs() {
	find "$FUZZ/$1" "$FUZZ/regressions/$1" -maxdepth 1 -type f 2>/dev/null | sort
}

# has_nul FILE: the file holds a NUL byte (it cannot be an argument)
has_nul() {
	[ "$(tr -d '\0' <"$1" | wc -c)" != "$(wc -c <"$1")" ]
}

@test "scripts/fuzz --list names the six targets, each with its source and seeds under 64 KiB" {
	run "$ROOT/scripts/fuzz" --list
	assert_success
	assert_output "$(printf '%s\n' "${TARGETS[@]}")"
	local t n big
	for t in "${TARGETS[@]}"; do
		[ -f "$FUZZ/fuzz_$t.c" ] || fail "no tests/fuzz/fuzz_$t.c"
		grep -q 'LLVMFuzzerTestOneInput' "$FUZZ/fuzz_$t.c" || fail "fuzz_$t.c has no entry point"
		n=$(find "$FUZZ/$t" -maxdepth 1 -type f | wc -l)
		[ "$n" -ge 3 ] || fail "tests/fuzz/$t has $n seeds"
		big=$(find "$FUZZ/$t" "$FUZZ/regressions" -type f -size +64k 2>/dev/null || true)
		[ -z "$big" ] || fail "seeds of 64 KiB or more: $big"
	done
}

@test "scripts/fuzz: --help, and unknown targets and options are usage errors" {
	run "$ROOT/scripts/fuzz" --help
	assert_success
	assert_output --partial "usage: scripts/fuzz"
	run "$ROOT/scripts/fuzz" nosuch
	assert_failure 2
	assert_output --partial "unknown target 'nosuch'"
	run "$ROOT/scripts/fuzz" --nosuch
	assert_failure 2
	FUZZ_TIME=soon run "$ROOT/scripts/fuzz" range
	assert_failure 2
	assert_output --partial "FUZZ_TIME"
}

@test "range corpus: vr-range on a file and on a pipe, documented statuses, same bytes" {
	local d=$BATS_TEST_TMPDIR f r a b
	head -c 5000 /dev/urandom >"$d/in"
	while read -r f; do
		has_nul "$f" && continue
		r=$(cat "$f")
		a=0
		"$VR_RANGE" -q -- "$r" "$d/in" >"$d/o1" 2>/dev/null || a=$?
		b=0
		"$VR_RANGE" -q -- "$r" <"$d/in" >"$d/o2" 2>/dev/null || b=$?
		case $a in 0 | 3 | 4 | 8) ;; *) fail "vr-range '$r' FILE: status $a (${f#"$ROOT"/})" ;; esac
		case $b in 0 | 2 | 3 | 4 | 8) ;; *) fail "vr-range '$r' <pipe: status $b (${f#"$ROOT"/})" ;; esac
		if [ "$a" = 0 ] && [ "$b" = 0 ]; then
			cmp -s "$d/o1" "$d/o2" || fail "vr-range '$r': file and pipe give different bytes"
		fi
		# a pipe refuses only what it cannot serve in one pass; otherwise it agrees
		[ "$b" = 2 ] || [ "$a" = "$b" ] || fail "vr-range '$r': status $a on a file, $b on a pipe"
	done < <(inputs range)
}

# vr-cache get --print-key takes the query with the source, as a request
# would, and builds the key from it (lib/request/key, lib/request/params) without FFmpeg.
@test "params corpus: vr-cache get --print-key 'SOURCE?QUERY', documented statuses" {
	local f q k s
	local st=$BATS_TEST_TMPDIR/store.db
	while read -r f; do
		has_nul "$f" && continue
		q=$(cat "$f")
		s=0
		k=$("$VR_CACHE" -q --store "$st" get --print-key "/v/a.mp4?${q#\?}" 2>/dev/null) || s=$?
		case $s in
			0) [[ $k == vr1\|* ]] || fail "query '$q': key '$k'" ;;
			2 | 3 | 8) ;;
			*) fail "query '$q': status $s (${f#"$ROOT"/})" ;;
		esac
	done < <(inputs params)
}

@test "config corpus: vr-cache --config resolves a request with each file, documented statuses" {
	local f s
	local st=$BATS_TEST_TMPDIR/store.db
	while read -r f; do
		s=0
		timeout 20 "$VR_CACHE" -q --store "$st" --config "$f" get --print-key '/videos/a.mp4?w=100' >/dev/null 2>&1 || s=$?
		case $s in 0 | 2 | 3 | 8) ;; *) fail "--config ${f#"$ROOT"/}: status $s" ;; esac
	done < <(inputs config)
	# a good one is used: its [limits] apply (a value past them is exit 8)
	run "$VR_CACHE" --store "$st" --config "$FUZZ/config/seed-03-limits" get --print-key /a.mp4 -w 1921
	assert_failure 8
	assert_output --partial "out of range 16-1920"
}

@test "store corpus: each key through vr-chunk put, get, stat and rm in a fresh store" {
	local d=$BATS_TEST_TMPDIR f k
	local st=$d/store.db
	head -c 10000 /dev/urandom >"$d/data"
	while read -r f; do
		has_nul "$f" && continue
		k=$(cat "$f")
		[ -n "$k" ] || continue
		"$VR_CHUNK" --store "$st" -q put --chunk-size 4K -- "$k" "$d/data" || fail "put '$k'"
		"$VR_CHUNK" --store "$st" -q get -- "$k" >"$d/out" || fail "get '$k'"
		cmp -s "$d/data" "$d/out" || fail "key '$k': the bytes read back differ"
		"$VR_CHUNK" --store "$st" -q stat -- "$k" >/dev/null || fail "stat '$k'"
		"$VR_CHUNK" --store "$st" -q rm -- "$k" || fail "rm '$k'"
		run "$VR_CHUNK" --store "$st" -q stat -- "$k"
		[ "$status" = 5 ] || fail "key '$k': stat after rm: status $status"
	done < <(inputs store)
	run "$VR_CHUNK" --store "$st" ls
	assert_success
	assert_output ""
}

@test "transform corpus: vr-resize makes a PNG of every video seed, and audio of the audio seeds" {
	local d=$BATS_TEST_TMPDIR f s
	while read -r f; do
		s=0
		case $f in
			*.mp3 | *.wav | *.ogg | *.m4a)
				"$VR_RESIZE" -q -m audio "$f" -o "$d/out.m4a" || s=$?
				[ "$s" = 0 ] || fail "audio of ${f#"$ROOT"/}: status $s"
				[ -s "$d/out.m4a" ] || fail "audio of ${f#"$ROOT"/}: empty output"
				;;
			*/regressions/*)
				"$VR_RESIZE" -q -m frame -w 32 -f png "$f" -o "$d/out.png" 2>/dev/null || s=$?
				case $s in 0 | 3 | 8) ;; *) fail "frame of ${f#"$ROOT"/}: status $s" ;; esac
				;;
			*)
				"$VR_RESIZE" -q -m frame -w 32 -f png "$f" -o "$d/out.png" || s=$?
				[ "$s" = 0 ] || fail "frame of ${f#"$ROOT"/}: status $s"
				[ "$(head -c 4 "$d/out.png" | od -An -tx1 | tr -d ' \n')" = 89504e47 ] ||
					fail "frame of ${f#"$ROOT"/}: not a PNG"
				;;
		esac
		rm -f "$d/out.png" "$d/out.m4a"
	done < <(inputs transform)
}

# origin_conf FILE: a config whose [origin] is made of an origin corpus
# file's lines (match regex, request path, source templates)
origin_conf() {
	local re
	re=$(sed -n 1p "$1")
	printf '[origin "fuzz"]\nmatch = %s\nsource = %s/$1\n' "$re" "$BATS_TEST_TMPDIR"
}

@test "regressions: origin regexes glibc needed minutes or gigabytes for end at once, never 1 or a timeout" {
	# found by fuzz_config and fuzz_origin: stacked '+' after '.*' or '/*',
	# nested {n,m}, back-references; PCRE2 refuses the first two as config
	# errors (3) and bounds the matching of the rest; a path that matches
	# no origin is a local path (here a missing one, 5, or too long, 6)
	local f path s
	for f in "$FUZZ"/regressions/config/*; do
		s=0
		timeout 20 "$VR_FETCH" --config "$f" /videos/a.mp4 2>/dev/null || s=$?
		[ "$s" = 3 ] || fail "${f#"$ROOT"/}: status $s"
	done
	for f in "$FUZZ"/regressions/origin/*; do
		origin_conf "$f" >"$BATS_TEST_TMPDIR/o.conf"
		path=$(sed -n 2p "$f")
		s=0
		timeout 20 "$VR_FETCH" --config "$BATS_TEST_TMPDIR/o.conf" "$path" >/dev/null 2>&1 || s=$?
		case $s in 3 | 5 | 6) ;; *) fail "${f#"$ROOT"/}: status $s" ;; esac
	done
	# an ordinary bounded repetition still works
	printf '[origin "v"]\nmatch = ^/v/([0-9a-f]{8})/(.{1,200})$\nsource = %s/$2\n' \
		"$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/ok.conf"
	echo hello >"$BATS_TEST_TMPDIR/x.txt"
	run "$VR_FETCH" --config "$BATS_TEST_TMPDIR/ok.conf" /v/0123abcd/x.txt
	assert_success
	assert_output hello
}

@test "regressions: a stacked quantifier is a config error (exit 3) naming the line and PCRE2's reason" {
	run timeout 20 "$VR_FETCH" --config "$FUZZ"/regressions/config/timeout-e01f2cf0c3ccab2882a634a014443de2029eef82 /videos/a.mp4
	assert_failure 3
	assert_output --partial "timeout-e01f2cf0c3ccab2882a634a014443de2029eef82:6: match: regex"
	assert_output --partial "quantifier does not follow a repeatable item"
}

@test "catastrophic backtracking: ^/(a+)+\$ on a long /aaa...b stops at the match limit (exit 3), the same regex still matches /aaa" {
	local a
	a=$(printf '%05000d' 0 | tr 0 a)
	printf '[origin "bt"]\nmatch = ^/(a+)+$\nsource = %s/$1\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/bt.conf"
	run timeout 20 "$VR_FETCH" --config "$BATS_TEST_TMPDIR/bt.conf" "/${a}b"
	assert_failure 3
	assert_output --partial "bt.conf:2: match: regex '^/(a+)+\$': matching gave up after 1000000 backtracking steps (the match limit)"
	echo short >"$BATS_TEST_TMPDIR/aaa"
	run timeout 20 "$VR_FETCH" --config "$BATS_TEST_TMPDIR/bt.conf" /aaa
	assert_success
	assert_output short
}
