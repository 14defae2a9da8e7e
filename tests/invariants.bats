#!/usr/bin/env bats
# invariants: what scripts/mutate found the suite did not pin down, proved
# from the outside with an independent oracle (the sqlite3 shell, cmp, the
# per-job metrics lines). Every test has its own store. VR_CACHE=path runs
# another build (e.g. build/san/bin/vr-cache) without touching bin/.

load helpers/common

setup_file() {
	[ -x "$VR_CACHE" ] || { echo "build first: make" >&2; return 1; }
	local t
	for t in sqlite3 jq cmp; do
		command -v "$t" >/dev/null || { echo "$t is needed" >&2; return 1; }
	done
}

setup() {
	S="$BATS_TEST_TMPDIR/store.db"
	M="$BATS_TEST_TMPDIR/metrics.jsonl"
	export S M
	# no test may touch the real cache or a metrics file of the caller
	unset VR_STORE VR_METRICS VR_CONFIG
	export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/xdg" XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/xdgc"
	cd "$BATS_TEST_TMPDIR" || return 1
}

q() { sqlite3 "$S" "$1"; }

@test "forget: a success forgets the remembered failure, in the store too, so the next get is a hit" {
	local src=$BATS_TEST_TMPDIR/late.bin
	run "$VR_CACHE" --store "$S" get "$src" -o got
	assert_equal "$status" 5
	assert_equal "$(q 'SELECT count(*) FROM negative')" 1
	# the source appears; the failure is still remembered until a success
	head -c 70000 /dev/urandom >"$src"
	run "$VR_CACHE" --store "$S" get "$src" -o got
	assert_equal "$status" 5
	# a success (past the remembered failure) forgets it
	run "$VR_CACHE" --store "$S" get "$src" --bypass -o got
	assert_success
	cmp got "$src"
	assert_equal "$(q 'SELECT count(*) FROM negative')" 0
	assert_equal "$(q "SELECT count(*) FROM entries WHERE state = 'ready'")" 1
	# so the next get is served from the store
	run "$VR_CACHE" --store "$S" --metrics "$M" get "$src" -o hit
	assert_success
	cmp hit "$src"
	assert_equal "$(jq -r .result "$M")" hit
}

@test "warm counts: the summary agrees with the per-job lines, and a duplicate in flight is coalesced" {
	local i
	mkdir src
	for i in 1 2 3; do head -c $((100000 + i)) /dev/urandom >"src/f$i.bin"; done
	# one key 40 times in a row: all but the first are read while it runs
	{
		for i in $(seq 40); do echo "$PWD/src/f1.bin"; done
		echo "$PWD/src/f2.bin"
		echo "$PWD/src/missing.bin"
		echo "$PWD/src/f3.bin"
		echo "$PWD/src/f2.bin"
	} >list
	run bash -c '"$0" --store "$S" --metrics "$M" warm --json --jobs 2 list >summary.json 2>err' "$VR_CACHE"
	assert_equal "$status" 1 # the missing source
	s() { jq -r ".$1" summary.json; }
	# per-job lines, counted by result
	r() { jq -s "[.[] | select(.type == \"job\" and .result == \"$1\")] | length" "$M"; }
	assert_equal "$(s jobs)" 44
	assert_equal "$(jq -s '[.[] | select(.type == "job")] | length' "$M")" 44
	assert_equal "$(s misses)" 3
	assert_equal "$(r miss)" 3
	assert_equal "$(s failed)" 1
	assert_equal "$(s hits)" "$(r hit)"
	assert_equal "$(s coalesced)" "$(r coalesced)"
	assert_equal $(($(s hits) + $(s coalesced) + $(s misses) + $(s failed))) 44
	[ "$(s coalesced)" -ge 1 ]
	# the batch line says the same as the summary
	assert_equal "$(jq -s -r '[.[] | select(.type == "batch")][0] | "\(.jobs) \(.hits) \(.misses) \(.coalesced) \(.failed)"' "$M")" \
		"$(s jobs) $(s hits) $(s misses) $(s coalesced) $(s failed)"
	# three entries, each byte for byte its source
	assert_equal "$(q "SELECT count(*) FROM entries WHERE state = 'ready'")" 3
	for i in 1 2 3; do
		"$VR_CACHE" --store "$S" get "$PWD/src/f$i.bin" -o "got$i"
		cmp "got$i" "src/f$i.bin"
	done
}
