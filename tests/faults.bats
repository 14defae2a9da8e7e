#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2016,SC2002,SC2034 # vars for helpers; $1 in single quotes is bash -c's
# Fault injection, systematic and repeated: kill -9 of writers at random
# points, file size limits and a full file system during writes, origins
# that fail in every way (404, 500, reset, stall, short body, a lying
# Content-Length), chunks with a flipped byte, and store files that are not
# databases. Real processes, real SQLite files, the real nginx. The single-
# shot versions of some of these live in vr-chunk.bats and vr-cache.bats;
# here each fault is repeated over many points and followed by the whole
# set of invariants: verify passes, nothing partial is visible, gc leaves
# no abandoned generation, and a retry gives the right bytes. An MP4 miss
# streams fragmented MP4 (what ref80.mp4, a --no-store run, is) while the
# store keeps the progressive copy of the same encode: stored entries and
# hits are held to ref80.mp4 by their decoded frames (entry_matches), to
# each other byte for byte.
# VR_CHUNK, VR_CACHE and VR_FETCH point at other builds (build/rel/bin/...).

load helpers/common
load helpers/store
load helpers/nginx
load helpers/faults

# Every test here has its own store, directory and listener (the files of
# setup_file are only read), and most of their time is waiting (kills after
# a delay, stalled origins, fsyncs): they may run at the same time, up to
# make check's BATS_JOBS, although make check runs the tests of other files
# in order (--no-parallelize-within-files sets this variable; bats runs a
# file's tests in parallel when it is False).
BATS_NO_PARALLELIZE_WITHIN_FILE=False

Q=(-w 80 --compression low)

setup_file() {
	local t
	for t in "$VR_CHUNK" "$VR_CACHE" "$VR_FETCH"; do
		[ -x "$t" ] || { echo "build first: make ($t)" >&2; return 1; }
	done
	for t in openssl sqlite3 jq nc perl setsid ffmpeg ffprobe; do
		command -v "$t" >/dev/null || { echo "$t is needed" >&2; return 1; }
	done
	"$ROOT/scripts/fixtures-video" "$FX" >/dev/null
	local d=$BATS_FILE_TMPDIR
	gen $((4 << 20)) >"$d/A"              # two different 4 MiB inputs
	gen2 $((4 << 20)) >"$d/B"
	gen2 100000 >"$d/old"                 # a small previous version
	gen 200000 >"$d/mid"                  # 3 chunks of 64 KiB and a short one
	gen $((3 << 20)) | tail -c 3000000 >"$d/big3" # about 3 MiB of raw source
	mkdir -p "$d/root/v" "$d/web"
	cp "$FX/short-90p.mp4" "$d/root/v/a.mp4" # 10 s 160x90: half a second to transform
	cp "$FX/noaudio.mp4" "$d/root/v/b.mp4"
	cp "$d/big3" "$d/root/v/big.bin"
	cp "$d/root/v/a.mp4" "$d/web/a.mp4"
	cat >"$d/vr.conf" <<EOF
[origin "local"]
match = ^/videos/(.*)\$
source = $d/root/v/\$1
EOF
	# the clean reference runs, never stored, and how long a miss takes
	local t0
	t0=$(now_ms)
	VR_CONFIG=$d/vr.conf "$VR_CACHE" --store "$d/none.db" get /videos/a.mp4 "${Q[@]}" --no-store -o "$d/ref80.mp4"
	echo $(($(now_ms) - t0)) >"$d/miss_ms"
	[ -s "$d/ref80.mp4" ]
	nginx_start "$d/web"
}

teardown_file() {
	nginx_stop
}

setup() {
	D=$BATS_FILE_TMPDIR
	S=$BATS_TEST_TMPDIR/s.db
	export OUT=$BATS_TEST_TMPDIR/out ERR=$BATS_TEST_TMPDIR/err EXP=$BATS_TEST_TMPDIR/exp
	export S VR_CHUNK D
	export VR_CONFIG=$D/vr.conf XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg XDG_CACHE_HOME=$BATS_TEST_TMPDIR/xdg-cache
	unset VR_STORE VR_METRICS
	BG_PIDS=()
	FPID=
	MNT=
	cd "$BATS_TEST_TMPDIR" || return 1
}

teardown() {
	local p
	for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	exec 6>&- 7>&- 8>&- 9>&- || true
	fault_stop
	if [ -n "$MNT" ] && mountpoint -q "$MNT"; then
		umount "$MNT" || umount -l "$MNT"
	fi
}

# cache ARGS...: vr-cache with stdout in $OUT, stderr in $ERR and $stderr
cache() {
	status=0
	"$VR_CACHE" "$@" >"$OUT" 2>"$ERR" 3>&- || status=$?
	slurp stderr "$ERR"
}

# result_of METRICS: the result field of its last get line
result_of() {
	jq -r 'select(.command == "get") | .result' "$1" | tail -n 1
}

# entry_matches KIND FILE REF: FILE, a stored entry or a hit of one, is what
# a clean run makes: for KIND raw, REF's bytes; for KIND mp4, where REF is
# the stream of a clean run (fragmented), the progressive copy of the same
# frames
entry_matches() {
	case $1 in
	raw) cmp "$2" "$3" || return 1 ;;
	mp4)
		progressive_mp4 "$2" || return 1
		same_frames "$2" "$3" || return 1
		;;
	*)
		echo "entry_matches: kind $1?"
		return 1
		;;
	esac
}

# one_of FILE A B: FILE's bytes are exactly A's or B's (B may be "none")
one_of() {
	cmp -s "$1" "$2" && return 0
	[ "$3" != none ] && cmp -s "$1" "$3" && return 0
	echo "$1 ($(stat -c %s "$1") bytes) is neither $2 nor $3"
	return 1
}

# --------------------------------------------------- kill -9 of writers

@test "kill -9 of vr-chunk put of 1 MiB from a pipe at 25 random points: verify passes, nothing partial, gc reclaims, a retry stores" {
	local dur t0 i key next prev rc delay pid wr gen0 gen1 dmax=0
	local -A have=() # key -> the file of its ready version
	local n_before=0 n_mid=0 n_done=0 reclaimed=0 chunks_mid=0
	head -c $((1 << 20)) "$D/A" >A2
	head -c $((1 << 20)) "$D/B" >B2
	# how long one clean put of 1 MiB from a pipe in 8 KiB chunks takes here
	t0=$(now_ms)
	cat A2 | "$VR_CHUNK" --store "$S" put probe --chunk-size 8K
	dur=$(($(now_ms) - t0))
	"$VR_CHUNK" --store "$S" rm probe
	for i in $(seq 1 25); do
		if ((i % 5 == 0)); then key=new$i; else key=k; fi # a key never stored, now and then
		prev=${have[$key]:-none}
		if [ "$prev" = A2 ]; then next=B2; else next=A2; fi
		gen0=$(q "SELECT coalesce(max(id), 0) FROM entries WHERE key = CAST('$key' AS BLOB) AND state = 'ready'")
		delay=$(rand_ms 3 $((dur / 2))) # the rest of its time is start-up, exit and the checkpoint
		cat "$next" | "$VR_CHUNK" --store "$S" put "$key" --chunk-size 8K 2>put.err 3>&- &
		pid=$!
		BG_PIDS+=("$pid")
		ms_sleep "$delay"
		kill -9 "$pid" 2>/dev/null || true
		rc=0
		wait "$pid" || rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 137 ] || { echo "round $i: put exit $rc: $(cat put.err)"; return 1; }
		read -r wr gen1 < <(q "SELECT (SELECT count(*) FROM entries WHERE state = 'writing'),
			(SELECT coalesce(max(id), 0) FROM entries WHERE key = CAST('$key' AS BLOB) AND state = 'ready')" | tr '|' ' ')
		# the key reads as the previous version, or the new one if the put
		# published before the kill, or not at all: never a part
		vc get "$key"
		if [ "$gen1" != "$gen0" ]; then
			n_done=$((n_done + 1))
			[ "$status" -eq 0 ] && cmp "$OUT" "$next" || { echo "round $i: published, but get $status: $stderr"; return 1; }
		elif [ "$prev" = none ]; then
			[ "$status" -eq 5 ] || { echo "round $i ($delay ms): get of a key never stored: $status, $(stat -c %s "$OUT") bytes"; return 1; }
		else
			[ "$status" -eq 0 ] && cmp "$OUT" "$prev" || { echo "round $i ($delay ms): not the previous version: $status $stderr"; return 1; }
		fi
		if [ "$gen1" = "$gen0" ]; then
			if [ "$wr" -gt 0 ]; then
				n_mid=$((n_mid + 1))
				chunks_mid=$((chunks_mid + $(writing_chunks)))
			else
				n_before=$((n_before + 1))
			fi
		fi
		vc verify
		[ "$status" -eq 0 ] || { echo "round $i ($delay ms): verify exit $status: $stderr"; return 1; }
		# the writer is dead: gc may and does reclaim its generation and lock
		vc gc --json
		[ "$status" -eq 0 ] || { echo "round $i: gc exit $status: $stderr"; return 1; }
		[ "$(jq .abandoned "$OUT")" -eq "$wr" ] || { echo "round $i: $wr writing, gc: $(cat "$OUT")"; return 1; }
		reclaimed=$((reclaimed + wr))
		store_clean
		# the retry stores the whole input; its time spreads the next kill
		t0=$(now_ms)
		cat "$next" | "$VR_CHUNK" --store "$S" put "$key" --chunk-size 8K 2>put.err 3>&-
		dur=$(($(now_ms) - t0))
		[ "$dur" -gt "$dmax" ] && dmax=$dur
		vc get "$key"
		[ "$status" -eq 0 ] && cmp "$OUT" "$next" || { echo "round $i: retry: $status $stderr"; return 1; }
		have[$key]=$next
	done
	vc verify
	assert_equal "$status" 0
	store_clean
	echo "# put kills: 25 (delays from 3 ms to half a put's time, at most $dmax ms): $n_before before the first row, $n_mid mid-stream" \
		"($chunks_mid chunks of 8 KiB abandoned), $n_done after publishing; gc reclaimed $reclaimed" >&3
	[ "$n_mid" -gt 0 ] # some kills did land mid-stream
}

@test "gc while live writers are mid-stream (one stopped) reclaims only the dead writer's rows, 3 times over" {
	local i pids=() rc before after
	for i in 1 2 3 4; do
		rm -f "f$i"
		mkfifo "f$i"
	done
	for i in 1 2 3; do
		"$VR_CHUNK" --store "$S" put "live$i" --chunk-size 16K <"f$i" 2>"live$i.err" 3>&- &
		pids+=($!)
		BG_PIDS+=($!)
	done
	"$VR_CHUNK" --store "$S" put dead --chunk-size 16K <f4 2>dead.err 3>&- &
	local dead=$!
	BG_PIDS+=("$dead")
	exec 6>f1 7>f2 8>f3 9>f4
	for i in 6 7 8 9; do head -c 100000 "$D/A" >&"$i"; done
	for i in live1 live2 live3 dead; do wait_key_chunks "$i" 6; done
	kill -STOP "${pids[0]}" # stopped (Ctrl-Z), its lease still valid
	kill -9 "$dead"
	wait "$dead" || true
	exec 9>&-
	before=$(q "SELECT group_concat(id) FROM entries WHERE state = 'writing' AND CAST(key AS TEXT) LIKE 'live%'")
	assert_equal "$(q "SELECT count(*) FROM entries WHERE state = 'writing'")" 4
	for i in 1 2 3; do
		vc gc --json
		assert_success
		assert_equal "$(jq -c '[.abandoned,.stale_locks]' "$OUT")" "[$((i == 1)),$((i == 1))]"
		after=$(q "SELECT group_concat(id) FROM entries WHERE state = 'writing' AND CAST(key AS TEXT) LIKE 'live%'")
		assert_equal "$after" "$before"
		assert_equal "$(q "SELECT count(*) FROM entries WHERE key = CAST('dead' AS BLOB)")" 0
		assert_equal "$(q 'SELECT count(*) FROM locks')" 3
	done
	kill -CONT "${pids[0]}"
	for i in 6 7 8; do tail -c +100001 "$D/A" >&"$i"; done
	exec 6>&- 7>&- 8>&-
	rc=0
	for i in "${pids[@]}"; do wait "$i" || rc=$?; done
	[ "$rc" -eq 0 ] || { cat live*.err; return 1; }
	for i in 1 2 3; do
		vc get "live$i"
		same "$D/A"
	done
	vc get dead
	assert_failure 5
	vc verify
	assert_success
	store_clean
}

@test "kill -9 of vr-cache get misses at 16 random points, transform and raw: verify passes, nothing partial served, the retry equals a clean run" {
	local miss i ref kind delay pid rc key n_pub=0 n_mid=0 wr reclaimed=0 t0 raw_ms r left temps=0
	local -a args
	# where a miss writes the progressive copy of its MP4: a SIGKILL leaves
	# it there until gc (a miss that ends adds none)
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	miss=$(cat "$D/miss_ms")
	t0=$(now_ms)
	"$VR_CACHE" --store "$D/none.db" get /videos/big.bin --no-store -o /dev/null
	raw_ms=$(($(now_ms) - t0))
	for i in $(seq 1 16); do
		if ((i % 2)); then
			args=(/videos/a.mp4 "${Q[@]}") ref=$D/ref80.mp4 kind=mp4
			delay=$(rand_ms 3 "$miss")
		else
			args=(/videos/big.bin) ref=$D/big3 kind=raw
			delay=$(rand_ms 3 "$raw_ms")
		fi
		rm -f pub.out
		key=$("$VR_CACHE" --store "$S" get "${args[@]}" --print-key)
		"$VR_CACHE" --store "$S" get "${args[@]}" -o killed.out 2>kill.err 3>&- &
		pid=$!
		BG_PIDS+=("$pid")
		ms_sleep "$delay"
		kill -9 "$pid" 2>/dev/null || true
		rc=0
		wait "$pid" || rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 137 ] || { echo "round $i: exit $rc: $(cat kill.err)"; return 1; }
		left=$(find "$TMPDIR" -mindepth 1 | wc -l)
		temps=$((temps + left))
		# an -o file is there only whole (killed after its rename): the
		# stream a clean run writes
		[ ! -e killed.out ] || cmp killed.out "$ref" || { echo "round $i: a partial -o file"; return 1; }
		rm -f killed.out
		run "$VR_CHUNK" --store "$S" verify
		[ "$status" -eq 0 ] || [ "$status" -eq 5 ] || { echo "round $i ($delay ms): verify $status: $output"; return 1; }
		if [ "$status" -eq 5 ]; then
			[[ $output == *"no store at"* ]] # killed before the store was made
		fi
		wr=0
		[ -e "$S" ] && wr=$(writing_rows)
		if [ -e "$S" ] && [ "$(q "SELECT count(*) FROM entries WHERE key = CAST('$key' AS BLOB) AND state = 'ready'")" -eq 1 ]; then
			n_pub=$((n_pub + 1)) # killed after publishing: must be whole
			"$VR_CHUNK" --store "$S" get "$key" >pub.out
			entry_matches "$kind" pub.out "$ref"
		elif [ "$wr" -gt 0 ]; then
			n_mid=$((n_mid + 1))
		fi
		reclaimed=$((reclaimed + wr))
		# the retry: a miss that takes over the dead leader's lock, byte for
		# byte the clean run's stream, or a hit of what it published
		cache --store "$S" --metrics m.jsonl get "${args[@]}" -o retry.out
		[ "$status" -eq 0 ] || { echo "round $i: retry exit $status: $stderr"; return 1; }
		r=$(result_of m.jsonl)
		if [ "$r" = hit ]; then
			[ -e pub.out ] || { echo "round $i: a hit, but nothing was published"; return 1; }
			cmp retry.out pub.out
		else
			assert_equal "$r" miss
			cmp retry.out "$ref"
		fi
		# a hit is the stored entry, which is what the clean run makes
		cache --store "$S" --metrics m.jsonl get "${args[@]}" -o hit.out
		assert_equal "$(result_of m.jsonl)" hit
		"$VR_CHUNK" --store "$S" get "$key" >entry.out
		cmp hit.out entry.out
		entry_matches "$kind" hit.out "$ref"
		assert_equal "$(find "$TMPDIR" -mindepth 1 | wc -l)" "$left"
		run "$VR_CACHE" --store "$S" gc
		assert_success
		[ -z "$(ls -A "$TMPDIR")" ] # the killed miss's copy too
		store_clean
		run "$VR_CHUNK" --store "$S" verify
		assert_success
		# the next round misses again
		"$VR_CHUNK" --store "$S" rm "$key"
	done
	echo "# vr-cache kills: 16 (transform delays 3-$miss ms, raw 3-$raw_ms ms): $n_mid with a generation" \
		"being written, $n_pub after publishing; $reclaimed abandoned generations reclaimed;" \
		"$temps temporary copies left by killed misses, removed by gc" >&3
}

# ------------------------------------------------------ RLIMIT_FSIZE

@test "RLIMIT_FSIZE during vr-chunk put, 3 limits x 3 chunk sizes: exit 6, the previous version readable, verify passes, the retry stores" {
	local lim cs n=0
	for lim in 256 512 1536; do # KiB; the 3 MB input never fits
		for cs in 4K 64K 1M; do
			rm -f "$S" "$S-wal" "$S-shm"
			vc put k "$D/old" --chunk-size 64K
			vc put other "$D/mid"
			run bash -c 'ulimit -f "$1"; head -c 3000000 "$2" | "$0" --store "$S" put k --chunk-size "$3"' \
				"$VR_CHUNK" "$lim" "$D/A" "$cs"
			[ "$status" -eq 6 ] || { echo "limit ${lim}K, chunks $cs: exit $status: $output"; return 1; }
			[[ $output == *"vr-chunk: error:"* ]]
			vc get k
			assert_success
			same "$D/old"
			vc get other
			same "$D/mid"
			vc verify
			assert_success
			vc gc
			assert_success
			store_clean
			head -c 3000000 "$D/A" >"$EXP"
			vcin "$EXP" put k --chunk-size "$cs"
			assert_success
			vc get k
			same "$EXP"
			n=$((n + 1))
		done
	done
	echo "# RLIMIT_FSIZE put faults: $n" >&3
}

@test "RLIMIT_FSIZE during vr-cache get misses, raw at 4 limits and a transform: exit 6 with --strict, 0 and a warning without, earlier entries readable" {
	cache --store "$S" get /videos/b.mp4 -o early.mp4 # an earlier entry
	assert_equal "$status" 0
	local lim strict n=0 kind
	for lim in 256 512 1024 2048 transform; do
		for strict in --strict ""; do
			"$VR_CHUNK" --store "$S" gc >/dev/null # the WAL folded back, so it grows from 0
			if [ "$lim" = transform ]; then
				set -- /videos/a.mp4 "${Q[@]}"
				ref=$D/ref80.mp4 l=128 kind=mp4
			else
				set -- /videos/big.bin
				ref=$D/big3 l=$lim kind=raw
			fi
			# the output is a pipe to a cat outside the limit
			run --separate-stderr bash -c '(ulimit -f "$1"; exec "$0" --store "$S" get "${@:2}") | cat >served; exit ${PIPESTATUS[0]}' \
				"$VR_CACHE" "$l" "$@" $strict
			if [ -n "$strict" ]; then
				[ "$status" -eq 6 ] || { echo "limit $lim --strict: exit $status: $stderr"; return 1; }
				[[ $stderr == *"the store failed"* ]]
			else
				[ "$status" -eq 0 ] || { echo "limit $lim: exit $status: $stderr"; return 1; }
				[[ $stderr == *"served but not stored"* ]]
			fi
			cmp served "$ref" # the request was still answered in full
			"$VR_CHUNK" --store "$S" stat "$("$VR_CACHE" --store "$S" get "$@" --print-key)" >/dev/null 2>&1 && {
				echo "limit $lim: the key was stored"
				return 1
			}
			cache --store "$S" --metrics m.jsonl get /videos/b.mp4 -o again.mp4
			assert_equal "$(result_of m.jsonl)" hit
			cmp again.mp4 early.mp4
			run "$VR_CHUNK" --store "$S" verify
			assert_success
			run "$VR_CACHE" --store "$S" gc
			assert_success
			store_clean
			n=$((n + 1))
		done
		# without the limit the same request is stored
		cache --store "$S" --metrics m.jsonl get "$@" -o ok.out
		assert_equal "$status" 0
		assert_equal "$(result_of m.jsonl)" miss
		cmp ok.out "$ref"
		"$VR_CHUNK" --store "$S" get "$("$VR_CACHE" --store "$S" get "$@" --print-key)" >entry.out
		entry_matches "$kind" entry.out "$ref"
		"$VR_CHUNK" --store "$S" rm "$("$VR_CACHE" --store "$S" get "$@" --print-key)"
	done
	echo "# RLIMIT_FSIZE vr-cache faults: $n" >&3
}

# ------------------------------------------------ a full file system

@test "a full 8 MiB tmpfs under the store: put and a miss fail with 6, earlier entries readable, verify passes" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs (the RLIMIT_FSIZE tests cover write failures)"
	mkdir -p mnt
	mount -t tmpfs -o size=8m tmpfs "$BATS_TEST_TMPDIR/mnt" 2>mount.err ||
		skip "mount -t tmpfs is not permitted here: $(cat mount.err) (the RLIMIT_FSIZE tests cover write failures)"
	MNT=$BATS_TEST_TMPDIR/mnt
	S=$MNT/s.db
	vc put early "$D/mid" --chunk-size 64K
	assert_success
	# 8 MiB never fit (the WAL holds them before the file does), from a
	# file and from a pipe, in big and small chunks
	cat "$D/A" "$D/B" >ab
	local cs n=0
	for cs in 1M 16K; do
		vc put big ab --chunk-size "$cs"
		[ "$status" -eq 6 ] || { echo "put of 8 MiB from a file ($cs): exit $status: $stderr"; return 1; }
		[[ $stderr == *"disk full"* ]]
		vcin ab put big --chunk-size "$cs"
		[ "$status" -eq 6 ] || { echo "put of 8 MiB from a pipe ($cs): exit $status: $stderr"; return 1; }
		[[ $stderr == *"disk full"* ]]
		vc get big
		assert_failure 5
		vc get early
		assert_success
		same "$D/mid"
		vc verify
		assert_success
		# a dead writer's rows go with gc, which itself needs room to write:
		# on a full disk it may fail, and says why
		vc gc
		[ "$status" -eq 0 ] || { [ "$status" -eq 6 ] && [[ $stderr == *"disk full"* ]]; } ||
			{ echo "gc on a full disk: exit $status: $stderr"; return 1; }
		vc get early
		same "$D/mid"
		n=$((n + 2))
	done
	# the failed writes left the WAL as large as the room was: the disk is
	# full (else make it so, but for 300 KiB), then a vr-cache miss (its
	# output goes elsewhere)
	local avail
	avail=$(df --output=avail -k "$MNT" | tail -n 1)
	[ "$avail" -le 300 ] || dd if=/dev/zero of="$MNT/filler" bs=1K count=$((avail - 300)) status=none
	cache --store "$S" get /videos/a.mp4 "${Q[@]}" --strict -o strict.mp4
	assert_equal "$status" 6
	[[ $stderr == *"the store failed"* ]]
	cache --store "$S" get /videos/a.mp4 "${Q[@]}" -o served.mp4
	assert_equal "$status" 0
	[[ $stderr == *"served but not stored"* ]]
	cmp served.mp4 "$D/ref80.mp4"
	vc get early
	assert_success
	same "$D/mid"
	vc verify
	assert_success
	# with the disk full, even a 1-byte put fails and leaves no trace
	printf x >one
	vc put tiny one
	assert_failure 6
	vc get tiny
	assert_failure 5
	# the operator gives the file system room (SQLite needs about the WAL's
	# size free to fold the WAL back): the store takes writes again
	rm -f "$MNT/filler"
	mount -o remount,size=32m "$MNT"
	vc verify
	assert_success
	run "$VR_CACHE" --store "$S" gc
	assert_success
	store_clean
	vc get early
	same "$D/mid"
	# with room again, a retry is stored
	cache --store "$S" --metrics m.jsonl get /videos/a.mp4 "${Q[@]}" -o ok.mp4
	assert_equal "$status" 0
	assert_equal "$(result_of m.jsonl)" miss
	cmp ok.mp4 "$D/ref80.mp4"
	cache --store "$S" --metrics m.jsonl get /videos/a.mp4 "${Q[@]}" -o hit.mp4
	assert_equal "$(result_of m.jsonl)" hit
	"$VR_CHUNK" --store "$S" get "$("$VR_CACHE" get /videos/a.mp4 "${Q[@]}" --print-key)" >entry.mp4
	cmp hit.mp4 entry.mp4
	entry_matches mp4 hit.mp4 "$D/ref80.mp4"
	vcin "$D/old" put big
	assert_success
	vc get big
	same "$D/old"
	echo "# full file system faults: $((n + 2))" >&3
}

# --------------------------------------------------------- origin faults

# fault_setup NAME: the origin of fault NAME; sets URL (the base URL that
# fails), WANT (exit status) and MSG (a regex the message matches)
fault_setup() {
	fault_stop
	case $1 in
	404) URL=$NGINX_URL/missing WANT=5 MSG='404' ;;
	500) URL=$NGINX_URL/err500 WANT=6 MSG='HTTP 5(00|xx) \(server error\)' ;;
	reset) # accepts, sends nothing, closes
		: >resp.http
		fault_listen resp.http
		URL=http://127.0.0.1:$FPORT WANT=6 MSG='End of file|connection|reset'
		;;
	stall) # a head and half the body, then silence for longer than the timeout
		http_response resp.http '200 OK' "Content-Length: $(stat -c %s "$D/web/a.mp4")" "$D/web/a.mp4" 200000
		fault_listen resp.http 4
		URL=http://127.0.0.1:$FPORT WANT=7 MSG='no data for 500ms'
		;;
	short) # Content-Length larger than the body, then the connection closes
		http_response resp.http '200 OK' "Content-Length: $(stat -c %s "$D/web/a.mp4")" "$D/web/a.mp4" 200000
		fault_listen resp.http
		URL=http://127.0.0.1:$FPORT WANT=6 MSG='prematurely|partial file|broken off'
		;;
	badlength) # a negative Content-Length: libcurl refuses the head
		http_response resp.http '200 OK' 'Content-Length: -20' "$D/web/a.mp4" 100000
		fault_listen resp.http
		URL=http://127.0.0.1:$FPORT WANT=6 MSG='prematurely|partial file|broken off|Invalid Content-Length'
		;;
	esac
}

FAULTS=(404 500 reset stall short badlength)

@test "vr-fetch against a failing origin: 404 5, 500 6, reset 6, stall 7, short body 6, bad Content-Length 6; nothing written; a retry succeeds" {
	local f n=0
	for f in "${FAULTS[@]}"; do
		fault_setup "$f"
		run "$VR_FETCH" --retries 0 --timeout 0.5 -o got.mp4 "$URL/a.mp4"
		[ "$status" -eq "$WANT" ] || { echo "$f: exit $status, expected $WANT: $output"; return 1; }
		[[ $output =~ $MSG ]] || { echo "$f: message '$output' does not match /$MSG/"; return 1; }
		[ ! -e got.mp4 ]
		[ -z "$(find . -mindepth 1 ! -name resp.http)" ] || { echo "$f: left $(ls -A)"; return 1; }
		run "$VR_FETCH" --retries 0 --timeout 0.5 -o got.mp4 "$NGINX_URL/a.mp4"
		assert_success
		cmp got.mp4 "$D/web/a.mp4"
		rm -f got.mp4
		n=$((n + 1))
	done
	# a Content-Length shorter than what is sent frames the body: the rest
	# is not part of the response
	http_response resp.http '200 OK' 'Content-Length: 1000' "$D/web/a.mp4" 5000
	fault_listen resp.http
	run "$VR_FETCH" --retries 0 -o got.bin "http://127.0.0.1:$FPORT/a.mp4"
	assert_success
	cmp got.bin <(head -c 1000 "$D/web/a.mp4")
	# the slow location with a time limit on the run
	run "$VR_FETCH" --max-time 0.5 -o got.slow "$NGINX_URL/slow/a.mp4"
	assert_failure 7
	[ ! -e got.slow ]
	echo "# vr-fetch origin faults: $((n + 2))" >&3
}

@test "vr-cache get raw and transform against a failing origin: the status, a message, nothing stored, remembered; a retry against the good origin stores" {
	local f mode key n=0 ref kind
	local -a args
	for f in "${FAULTS[@]}"; do
		for mode in raw transform; do
			fault_setup "$f"
			S=$BATS_TEST_TMPDIR/$f-$mode.db
			printf '[origin "o"]\nmatch = ^/o/(.*)$\nsource = %s/$1\nretries = 0\ntimeout = 0.5\n' "$URL" >bad.conf
			printf '[origin "o"]\nmatch = ^/o/(.*)$\nsource = %s/$1\nretries = 0\n' "$NGINX_URL" >good.conf
			if [ "$mode" = raw ]; then
				args=(/o/a.mp4) ref=$D/web/a.mp4 kind=raw
			else
				args=(/o/a.mp4 "${Q[@]}") ref=$D/ref80.mp4 kind=mp4
			fi
			key=$("$VR_CACHE" --config bad.conf get "${args[@]}" --print-key)
			cache --config bad.conf --store "$S" get "${args[@]}" --timeout 0.5 -o got.mp4
			[ "$status" -eq "$WANT" ] || { echo "$f $mode: exit $status, expected $WANT: $stderr"; return 1; }
			[[ $stderr =~ $MSG ]] || { echo "$f $mode: message '$stderr' does not match /$MSG/"; return 1; }
			[ ! -e got.mp4 ]
			[ ! -s "$OUT" ]
			# nothing stored, nothing half-written, the failure remembered
			run "$VR_CHUNK" --store "$S" ls --json
			assert_success
			assert_output ''
			store_clean
			assert_equal "$(q 'SELECT status FROM negative')" "$WANT"
			run "$VR_CHUNK" --store "$S" verify
			assert_success
			# remembered: the same status at once, without the origin
			cache --config bad.conf --store "$S" get "${args[@]}" -o got.mp4
			assert_equal "$status" "$WANT"
			[[ $stderr == *remembered* ]]
			# the origin mended: a retry (past the remembered failure) stores;
			# what it streams is the clean run's bytes
			cache --config good.conf --store "$S" --metrics m.jsonl get "${args[@]}" --bypass -o got.mp4
			[ "$status" -eq 0 ] || { echo "$f $mode: retry exit $status: $stderr"; return 1; }
			cmp got.mp4 "$ref"
			cache --config good.conf --store "$S" --metrics m.jsonl get "${args[@]}" -o hit.mp4
			assert_equal "$(result_of m.jsonl)" hit
			"$VR_CHUNK" --store "$S" get "$key" >entry.mp4
			cmp hit.mp4 entry.mp4
			entry_matches "$kind" hit.mp4 "$ref"
			assert_equal "$("$VR_CHUNK" --store "$S" ls --json | jq -r .key)" "$key"
			rm -f got.mp4 hit.mp4 entry.mp4 m.jsonl
			n=$((n + 1))
		done
	done
	echo "# vr-cache origin faults: $n" >&3
}

# ----------------------------------------------------- corrupted chunks

@test "one flipped byte in each chunk, at a random place, the first byte and the last: verify names the key, get stops before the chunk with 6" {
	local idx pos size n=0
	for idx in 0 1 2 3; do
		size=65536
		[ "$idx" -eq 3 ] && size=$((200000 - 3 * 65536))
		for pos in $([ "$idx" -eq 0 ] && echo 0) $((RANDOM * 32768 % size + RANDOM % size)) $([ "$idx" -eq 3 ] && echo $((size - 1))); do
			pos=$((pos % size))
			vc put k "$D/mid" --chunk-size 64K
			vc put other "$D/old"
			flip_byte_sql k "$idx" "$pos"
			vc verify
			assert_failure 6
			[[ $stderr == *"key k: chunk $idx "* ]] || { echo "chunk $idx byte $pos: $stderr"; return 1; }
			[[ $stderr != *"key other"* ]]
			vc get k
			assert_failure 6
			# never wrong bytes: what came out is the chunks before the bad one
			assert_equal "$(stat -c %s "$OUT")" $((idx * 65536))
			cmp "$OUT" <(head -c $((idx * 65536)) "$D/mid")
			vc get k --range "bytes=$((idx * 65536 + pos))-$((idx * 65536 + pos))"
			assert_failure 6
			[ ! -s "$OUT" ]
			vc get other
			same "$D/old"
			n=$((n + 1))
		done
	done
	echo "# flipped bytes found: $n" >&3
}

@test "a byte flipped in the store file itself is found by verify, vr-chunk get and a vr-cache hit (exit 6, never the whole)" {
	cache --store "$S" get /videos/big.bin -o first.bin # raw: 3 chunks of 1 MiB
	assert_equal "$status" 0
	cmp first.bin "$D/big3"
	local key
	key=$("$VR_CACHE" get /videos/big.bin --print-key)
	"$VR_CHUNK" --store "$S" gc --vacuum # no WAL: every byte is in the file
	[ ! -e "$S-wal" ]
	# 32 bytes from the middle of chunk 1 (one of a few places, in case one
	# straddles the end of an overflow page)
	local at
	for at in 500000 510000 520000 530000; do
		tail -c +$((1048576 + at + 1)) "$D/big3" | head -c 32 >needle
		flip_byte_file "$S" needle 2>/dev/null && break
	done
	vc verify
	assert_failure 6
	[[ $stderr == *"chunk 1"* ]]
	[[ $stderr == *"big.bin"* ]] # names the key
	vc get "$key"
	assert_failure 6
	# a prefix (chunk 0 at most), never wrong bytes nor the whole
	[ "$(stat -c %s "$OUT")" -le 1048576 ]
	cmp "$OUT" <(head -c "$(stat -c %s "$OUT")" "$D/big3")
	# a hit on it fails once (exit 6): a prefix (chunk 0 at most), never
	# wrong bytes nor the whole; the damaged generation is then removed
	cache --store "$S" get /videos/big.bin
	assert_equal "$status" 6
	[[ $stderr == *"does not match its checksum"* ]]
	[[ $stderr == *"damaged"*"removed"* ]]
	[ "$(stat -c %s "$OUT")" -le 1048576 ]
	cmp "$OUT" <(head -c "$(stat -c %s "$OUT")" "$D/big3")
	vc get "$key"
	assert_failure 5
	# the next request is a miss that stores it right
	cache --store "$S" get /videos/big.bin --range 1548576-1548700
	assert_equal "$status" 0
	cmp "$OUT" <(tail -c +1548577 "$D/big3" | head -c 125)
	cache --store "$S" get /videos/big.bin -o again.bin
	assert_equal "$status" 0
	cmp again.bin "$D/big3"
	vc verify
	assert_success
}

@test "a flipped byte in chunk 0 of a transformed entry: the hit finds it before writing, removes the entry and is answered as a miss" {
	cache --store "$S" --metrics m.jsonl get /videos/a.mp4 "${Q[@]}" -o first.mp4
	assert_equal "$status" 0
	cmp first.mp4 "$D/ref80.mp4"
	local key
	key=$("$VR_CACHE" get /videos/a.mp4 "${Q[@]}" --print-key)
	"$VR_CHUNK" --store "$S" get "$key" >entry.mp4
	entry_matches mp4 entry.mp4 "$D/ref80.mp4"
	assert_equal "$(q "SELECT chunk_count FROM entries WHERE key = CAST('$key' AS BLOB) AND state = 'ready'")" 1
	flip_byte_sql "$key" 0 $(($(stat -c %s entry.mp4) / 2))
	run "$VR_CHUNK" --store "$S" verify
	assert_failure 6
	# chunk 0 is checked before any byte goes out: the damaged generation
	# is dropped with a warning naming the key and the chunk, and the same
	# request makes the entry anew
	cache --store "$S" --metrics m.jsonl get /videos/a.mp4 "${Q[@]}" -o healed.mp4
	assert_equal "$status" 0
	[[ $stderr == *"$key: the stored entry is damaged"* ]]
	[[ $stderr == *"chunk 0 does not match its checksum"* ]]
	[[ $stderr == *"damaged"*"removed"* ]]
	assert_equal "$(result_of m.jsonl)" miss
	# served as a miss: the clean run's stream, byte for byte
	cmp healed.mp4 "$D/ref80.mp4"
	# nothing damaged is left: the new entry verifies and the next request
	# is a hit of it, the progressive copy of the same frames
	run "$VR_CHUNK" --store "$S" verify
	assert_success
	store_clean
	assert_equal "$(q "SELECT count(*) FROM entries")" 1
	cache --store "$S" --metrics m.jsonl get /videos/a.mp4 "${Q[@]}" -o hit.mp4
	assert_equal "$status" 0
	assert_equal "$(result_of m.jsonl)" hit
	"$VR_CHUNK" --store "$S" get "$key" >entry2.mp4
	cmp hit.mp4 entry2.mp4
	cmp entry2.mp4 entry.mp4 # one deterministic encode: the entry as it was before the damage
	entry_matches mp4 hit.mp4 healed.mp4
	run ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 hit.mp4
	assert_success
	[ "$output" -gt 0 ]
}

@test "a flipped byte in a later chunk: the hit fails (6) after the chunks before it, never wrong bytes, removes the entry; the next request stores it again" {
	cache --store "$S" --metrics m.jsonl get /videos/big.bin -o first.bin # raw: 3 chunks of 1 MiB
	assert_equal "$status" 0
	cmp first.bin "$D/big3"
	local key pos
	key=$("$VR_CACHE" get /videos/big.bin --print-key)
	assert_equal "$(q "SELECT chunk_count FROM entries WHERE key = CAST('$key' AS BLOB) AND state = 'ready'")" 3
	pos=$(((RANDOM * 32768 + RANDOM) % (3000000 - 2097152)))
	flip_byte_sql "$key" 2 "$pos"
	# stdout is $OUT: what went out before the damage was found
	cache --store "$S" --metrics m.jsonl get /videos/big.bin
	assert_equal "$status" 6
	[[ $stderr == *"chunk 2 does not match its checksum"* ]]
	[[ $stderr == *"$key: the stored entry is damaged"*"removed"* ]]
	assert_equal "$(result_of m.jsonl)" error
	# chunks 0 and 1, the source's bytes: never the damaged one
	assert_equal "$(stat -c %s "$OUT")" 2097152
	cmp "$OUT" <(head -c 2097152 "$D/big3")
	# removed by that hit
	vc get "$key"
	assert_failure 5
	vc verify
	assert_success
	store_clean
	# the next request is a miss that stores it right, then a hit
	cache --store "$S" --metrics m.jsonl get /videos/big.bin -o again.bin
	assert_equal "$status" 0
	assert_equal "$(result_of m.jsonl)" miss
	cmp again.bin "$D/big3"
	cache --store "$S" --metrics m.jsonl get /videos/big.bin -o hit.bin
	assert_equal "$(result_of m.jsonl)" hit
	cmp hit.bin "$D/big3"
	vc verify
	assert_success
}

# ------------------------------------------------ a store that is not one

# bad_store KIND PATH: PATH made into a store file of KIND
bad_store() {
	rm -rf "$2" "$2-wal" "$2-shm" "$2-journal"
	case $1 in
	text) printf 'this is a text file, not a store\n' >"$2" ;;
	random) gen 300000 | tail -c 100000 >"$2" ;;
	header) head -c 100 "$D/good.db" >"$2" ;; # the SQLite header only
	half) head -c $(($(stat -c %s "$D/good.db") / 2)) "$D/good.db" >"$2" ;;
	onepage) head -c 65536 "$D/good.db" >"$2" ;;
	dir) mkdir -p "$2" ;;
	esac
}

@test "store files that are not databases (text, random, SQLite header only, half or one page of a store, a folder): exit 6, a message, untouched" {
	"$VR_CHUNK" --store "$D/good.db" put k "$D/mid" --chunk-size 64K
	"$VR_CHUNK" --store "$D/good.db" gc --vacuum
	local kind c fp n=0 st
	for kind in text random header half onepage dir; do
		st=$BATS_TEST_TMPDIR/bad/store.db
		mkdir -p bad
		bad_store "$kind" "$st"
		fp=$(fingerprint "$st")
		for c in ls 'get k' "put k $D/old" 'verify' 'gc' 'rm k'; do
			# shellcheck disable=SC2086
			run --separate-stderr "$VR_CHUNK" --store "$st" $c
			[ "$status" -eq 6 ] || { echo "$kind, vr-chunk $c: exit $status: $stderr"; return 1; }
			[[ $stderr =~ "vr-chunk: error: $st: "(not a vr store|store is corrupt|open: unable to open) ]] ||
				{ echo "$kind, vr-chunk $c: '$stderr'"; return 1; }
			n=$((n + 1))
		done
		for c in stats gc 'invalidate /videos/a.mp4'; do
			# shellcheck disable=SC2086
			run --separate-stderr "$VR_CACHE" --store "$st" $c
			[ "$status" -eq 6 ] || { echo "$kind, vr-cache $c: exit $status: $stderr"; return 1; }
			[[ $stderr == *"vr-cache: error: $st: "* ]] || { echo "$kind, vr-cache $c: '$stderr'"; return 1; }
			n=$((n + 1))
		done
		# a get still answers, but says it could not store; --strict fails
		cache --store "$st" get /videos/b.mp4 -o served.mp4
		assert_equal "$status" 0
		[[ $stderr == *"served but not stored: $st: "* ]]
		cmp served.mp4 "$D/root/v/b.mp4"
		cache --store "$st" get /videos/b.mp4 --strict -o strict.mp4
		assert_equal "$status" 6
		[[ $stderr == *"the store failed: $st: "* ]]
		[ ! -e strict.mp4 ]
		rm -f served.mp4
		n=$((n + 2))
		assert_equal "$(fingerprint "$st")" "$fp"
		assert_equal "$(ls -A bad)" store.db # no -wal, -shm or -journal beside it
	done
	echo "# not-a-store runs: $n" >&3
}

@test "a zero-byte store file is no store for readers (left as it is); a put makes it one" {
	: >"$S"
	vc ls
	assert_failure 5
	[ ! -s "$OUT" ]
	[[ $stderr == *"no store at"* ]]
	vc get k
	assert_failure 5
	[ ! -s "$S" ]
	[ ! -e "$S-wal" ]
	vc put k "$D/mid"
	assert_success
	vc get k
	same "$D/mid"
	vc verify
	assert_success
	: >"$S"
	rm -f "$S-wal" "$S-shm"
	cache --store "$S" get /videos/b.mp4 --strict -o o.mp4
	assert_equal "$status" 0
	cmp o.mp4 "$D/root/v/b.mp4"
	assert_equal "$(sqlite3 "$S" 'PRAGMA application_id')" 1987182593
}
