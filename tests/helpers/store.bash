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

# vc ARGS...: run vr-chunk on the test's store ($S); stdout in $OUT, stderr
# in $ERR and $stderr, status in $status
vc() {
	run bash -c '"$0" --store "$S" "$@" >"$OUT" 2>"$ERR"' "$VR_CHUNK" "$@"
	stderr=$(cat "$ERR")
}

# vcin INPUT ARGS...: the same with INPUT arriving through a pipe
vcin() {
	local in=$1
	shift
	run bash -c 'cat "$1" | "$0" --store "$S" "${@:2}" >"$OUT" 2>"$ERR"' "$VR_CHUNK" "$in" "$@"
	stderr=$(cat "$ERR")
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
