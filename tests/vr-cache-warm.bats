#!/usr/bin/env bats
# vr-cache warm: batch pre-warming from a job list. Most jobs are raw (no
# transform: the source bytes are cached), which is fast; one tiny video
# checks that the query form and the option form of a line name the same
# key. Counts come from the --json summary and the per-job metrics lines;
# every test has its own store. VR_CACHE=path runs another build (e.g.
# build/san/bin/vr-cache) without touching bin/.

load helpers/common
load helpers/store

setup_file() {
	[ -x "$VR_CACHE" ] || { echo "build first: make" >&2; return 1; }
	local t
	for t in jq ffmpeg sqlite3 perl; do
		command -v "$t" >/dev/null || { echo "$t is needed" >&2; return 1; }
	done
	local d=$BATS_FILE_TMPDIR i
	mkdir -p "$d/src"
	# 240 small distinct files: raw jobs
	for i in $(seq 1 240); do
		printf 'file %d\n' "$i" >"$d/src/f$i.bin"
		head -c $((4096 + i * 37)) /dev/zero >>"$d/src/f$i.bin"
	done
	printf 'spaced\n' >"$d/src/my file.bin"
	ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=96x64:rate=10:duration=1 \
		-pix_fmt yuv420p -c:v libx264 -g 10 "$d/src/tiny.mp4"
}

setup() {
	D=$BATS_FILE_TMPDIR
	S="$BATS_TEST_TMPDIR/store.db"
	M="$BATS_TEST_TMPDIR/metrics.jsonl"
	OUT="$BATS_TEST_TMPDIR/out"
	ERR="$BATS_TEST_TMPDIR/err"
	export S M D OUT ERR
	# no test may touch the real cache or a metrics file of the caller
	unset VR_STORE VR_METRICS VR_CONFIG
	export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/xdg" XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/xdgc"
	cd "$BATS_TEST_TMPDIR" || return 1
}

# warm ARGS...: vr-cache warm on the test's store with metrics; stdout in
# $OUT (and $output), stderr in $ERR (and $stderr), status in $status
warm() {
	status=0
	"$VR_CACHE" --store "$S" --metrics "$M" warm "$@" >"$OUT" 2>"$ERR" 3>&- || status=$?
	slurp output "$OUT"
	slurp stderr "$ERR"
}

# j FIELD: a field of the --json summary in $OUT
j() { jq -r ".$1" "$OUT"; }

# jobs_for N...: a job line per file number
jobs_for() {
	local i
	for i in "$@"; do printf '%s\n' "$D/src/f$i.bin"; done
}

@test "--help prints the usage on stdout and exits 0" {
	run "$VR_CACHE" warm --help
	assert_success
	assert_output --partial "--shard K/N"
	assert_output --partial "--memory-limit"
}

@test "usage errors exit 2" {
	for a in "--jobs 0" "--shard 4/3" "--shard 0/3" "--shard x" "--queue 0" \
		"--memory-limit lots" "--job-timeout -1" "--min-jobs 4 --max-jobs 2" "a b" "--bogus"; do
		# shellcheck disable=SC2086
		run "$VR_CACHE" --store "$S" warm $a </dev/null
		[ "$status" -eq 2 ] || { echo "warm $a: status $status"; return 1; }
	done
	run "$VR_CACHE" --store "$S" warm "$D/nonexistent-list"
	[ "$status" -eq 5 ]
}

@test "warm stores every job, then a second run finds them all fresh" {
	jobs_for $(seq 1 20) >list
	warm --json list
	assert_success
	[ "$(j jobs)" -eq 20 ]
	[ "$(j misses)" -eq 20 ]
	[ "$(j failed)" -eq 0 ]
	[ "$(sqlite3 "$S" "select count(*) from entries")" -eq 20 ]
	warm --json list
	assert_success
	[ "$(j hits)" -eq 20 ]
	[ "$(j misses)" -eq 0 ]
	# fresh entries are skipped without opening them
	[ "$(jq -s '[.[] | select(.type=="job" and .fresh==1)] | length' "$M")" -eq 20 ]
	# and get serves what warm stored
	run bash -c '"$0" --store "$S" get "$1" | cmp - "$1"' "$VR_CACHE" "$D/src/f7.bin"
	assert_success
}

@test "a warmed MP4 is stored progressive (moov first): the frames a streamed miss has, and what a hit serves" {
	printf '%s --width 48\n' "$D/src/tiny.mp4" >list
	warm --json list
	assert_success
	[ "$(j misses)" -eq 1 ]
	local key
	key=$(jq -r 'select(.type=="job") | .key' "$M")
	[[ $key == *"mode=video&width=48&"*"format=mp4" ]]
	"$VR_CHUNK" --store "$S" get "$key" >entry.mp4
	progressive_mp4 entry.mp4
	# a streamed miss of the same job, unstored: fragmented, the same frames
	"$VR_CACHE" --store "$S" get "$D/src/tiny.mp4" --width 48 --no-store -o fresh.mp4
	fragmented_mp4 fresh.mp4
	same_frames entry.mp4 fresh.mp4
	# a hit is the warmed entry, byte for byte
	"$VR_CACHE" --store "$S" --metrics "$M" get "$D/src/tiny.mp4" --width 48 -o hit.mp4
	[ "$(jq -r 'select(.command=="get") | .result' "$M" | tail -n 1)" = hit ]
	cmp hit.mp4 entry.mp4
}

@test "duplicate jobs run once: coalesced in flight or fresh afterwards" {
	{ jobs_for 1 2 3 4 5; jobs_for 1 2 3 4 5; jobs_for 5 4 3 2 1; } >list
	warm --json --jobs 2 list
	assert_success
	[ "$(j jobs)" -eq 15 ]
	[ "$(j misses)" -eq 5 ]
	[ $(($(j hits) + $(j coalesced))) -eq 10 ]
	# exactly one transfer per key, from the per-job lines
	[ "$(jq -s '[.[] | select(.type=="job" and .result=="miss")] | map(.key) | unique | length' "$M")" -eq 5 ]
	[ "$(jq -s '[.[] | select(.type=="job" and .transformed==1)] | length' "$M")" -eq 5 ]
}

@test "both forms of a line, quoting and comments" {
	cat >list <<EOF
# a comment, then a blank line

$D/src/tiny.mp4?width=32&mode=frame
  $D/src/tiny.mp4 --width 32 --mode frame   # the same output: one key
$D/src/tiny.mp4 --width=48 -m frame --format png
'$D/src/my file.bin'
	# indented comment
EOF
	warm --json --jobs 1 list
	assert_success
	[ "$(j jobs)" -eq 4 ]
	[ "$(j misses)" -eq 3 ]
	[ "$(j failed)" -eq 0 ]
	[ $(($(j hits) + $(j coalesced))) -eq 1 ]
	[ "$(jq -s '[.[] | select(.type=="job")] | map(.key) | unique | length' "$M")" -eq 3 ]
}

@test "malformed lines are reported with their line numbers and skipped" {
	{
		jobs_for 1 2
		printf '%s --width 5000\n' "$D/src/f3.bin"
		jobs_for 4
		printf '%s --colour red\n' "$D/src/f5.bin"
		printf "'%s\n" "$D/src/f6.bin"
		printf '%s?width=5000\n' "$D/src/f7.bin"
		jobs_for 8
	} >list
	warm --json list
	assert_failure 1
	[[ "$stderr" == *"line 3: width: '5000' is out of range 10-2000"* ]]
	[[ "$stderr" == *"line 5: "* ]]
	[[ "$stderr" == *"line 6: unterminated ' quote"* ]]
	[[ "$stderr" == *"line 7: width: '5000' is out of range 10-2000"* ]]
	[ "$(j malformed)" -eq 4 ]
	[ "$(j failed)" -eq 4 ]
	[ "$(j misses)" -eq 4 ]
	[ "$(jq -s '[.[] | select(.result=="malformed")] | map(.line) | sort | join(",")' -r "$M")" = "3,5,6,7" ]
}

@test "failing sources do not stop the batch; exit 1 at the end" {
	{
		jobs_for 1
		printf '%s\n' "$D/src/missing-1.bin"
		jobs_for 2 3
		printf '%s\n' "$D/src/missing-2.bin"
		jobs_for 4
	} >list
	warm --json --jobs 2 list
	assert_failure 1
	[ "$(j failed)" -eq 2 ]
	[ "$(j misses)" -eq 4 ]
	[ "$(j malformed)" -eq 0 ]
	[[ "$stderr" == *"line 2: "*"missing-1.bin"* ]]
	[[ "$stderr" == *"line 5: "*"missing-2.bin"* ]]
	# the failure rate (2 of 6) passes 5%: an alert
	[ "$(jq -r '.alerts | index("failures") != null' "$OUT")" = true ]
	[ "$(jq -s -r '[.[] | select(.type=="batch")][0].alerts | join(",")' "$M")" = failures ]
}

@test "--job-timeout bounds a job's wall time: a trickling source and a long transform fail, the rest go on" {
	mkfifo slow.bin
	# a byte every 0.2 s: never a stall, but 8 s in all
	(for _ in $(seq 1 40); do printf x; sleep 0.2; done >slow.bin 2>/dev/null) 3>&- &
	ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=320x240:rate=25:duration=30 \
		-pix_fmt yuv420p -c:v libx264 -preset ultrafast long.mp4
	printf '%s\n%s --format webm -w 320\n%s\n' "$PWD/slow.bin" "$PWD/long.mp4" "$D/src/f1.bin" >list
	local t0=$SECONDS
	warm --json --jobs 3 --job-timeout 1.5 list
	assert_failure 1
	# the stalled job ends at its --job-timeout, not before, and the batch
	# does not wait for the 8 s the slow source would take
	[ $((SECONDS - t0)) -ge 1 ]
	[ $((SECONDS - t0)) -lt 8 ]
	[ "$(j failed)" -eq 2 ]
	[ "$(j misses)" -eq 1 ]
	[[ "$stderr" == *"line 1: "*"ran past its time limit"* ]]
	[[ "$stderr" == *"line 2: "*"ran past its time limit"* ]]
	# neither failure is held against its source: with time, both work
	rm -f slow.bin && printf 'quick\n' >slow.bin
	warm --json --jobs 2 --job-timeout 600 <(head -n 1 list)
	assert_success
	wait
}

@test "--shard K/N: every job lands in exactly one of 3 shards" {
	{ jobs_for $(seq 1 60); printf '%s --width 5000\n' "$D/src/f1.bin"; } >list
	warm --dry-run list
	[ "$status" -eq 1 ] # the malformed line
	[[ "$stderr" == *"line 61: width: '5000'"* ]]
	cut -f1 "$OUT" | sort >all
	[ "$(wc -l <all)" -eq 60 ]
	local k total=0 malformed=0
	for k in 1 2 3; do
		warm --json --shard "$k/3" list
		[ "$(j shard)" = "$k/3" ]
		total=$((total + $(j jobs)))
		malformed=$((malformed + $(j malformed)))
		[ $(($(j jobs) + $(j skipped))) -eq 61 ]
		jq -r 'select(.type=="job" and .result=="miss") | .key' "$M" | sort >"keys$k"
		rm -f "$M"
	done
	[ "$total" -eq 61 ]
	[ "$malformed" -eq 1 ]
	# the union is every key, the shards are disjoint and none is empty
	sort keys1 keys2 keys3 | cmp - all
	[ -z "$(sort keys1 keys2 keys3 | uniq -d)" ]
	[ -s keys1 ]
	[ -s keys2 ]
	[ -s keys3 ]
}

@test "backpressure: the queue never holds more than --queue jobs" {
	jobs_for $(seq 1 120) >list
	# through a pipe: the length is unknown and the reader must wait
	run bash -c 'cat list | "$0" --store "$S" --metrics "$M" warm --json --queue 3 --jobs 1 >"$OUT" 2>"$ERR"' "$VR_CACHE"
	assert_success
	[ "$(j jobs)" -eq 120 ]
	[ "$(j queue_capacity)" -eq 3 ]
	[ "$(j queue_max_depth)" -le 3 ]
	[ "$(j queue_blocked)" -gt 0 ]
	[ "$(jq -s '[.[] | select(.type=="job") | .queue_depth] | max' "$M")" -le 3 ]
}

@test "concurrency stays within --min-jobs and --max-jobs and drops under memory pressure" {
	jobs_for $(seq 1 200) >list
	warm --json --min-jobs 1 --max-jobs 3 list
	assert_success
	[ "$(j min_jobs)" -eq 1 ]
	[ "$(j max_jobs)" -eq 3 ]
	[ "$(j concurrency_min)" -ge 1 ]
	[ "$(j concurrency_max)" -le 3 ]
	[ "$(jq -s '[.[] | select(.type=="job") | .concurrency] | max' "$M")" -le 3 ]
	# a limit far under the process's RSS: lowered to the floor, an alert
	rm -f "$S" "$M"
	warm --json -v --min-jobs 2 --max-jobs 4 --memory-limit 1M list
	assert_success
	[ "$(j concurrency_min)" -eq 2 ]
	[ "$(j concurrency_max)" -le 4 ]
	[ "$(j concurrency_changes)" -ge 1 ]
	[[ "$stderr" == *"concurrency 4 -> 2 (rss"* ]]
	[ "$(jq -r '.alerts | index("rss") != null' "$OUT")" = true ]
	[ "$(jq -s '[.[] | select(.type=="job") | .concurrency] | min' "$M")" -ge 2 ]
	# --jobs N: fixed
	rm -f "$S" "$M"
	warm --json --jobs 2 list
	[ "$(j concurrency_min)" -eq 2 ]
	[ "$(j concurrency_max)" -eq 2 ]
	[ "$(j concurrency_changes)" -eq 0 ]
}

@test "--json summary has every field; metrics lines are whole, one per job and one for the batch" {
	{ jobs_for $(seq 1 30); jobs_for 1; printf '%s --width 1\n' "$D/src/f2.bin"; } >list
	warm --json --jobs 4 list
	assert_failure 1
	local f
	for f in shard lines jobs hits misses coalesced skipped failed malformed bytes wall_ms \
		peak_rss_kb queue_capacity queue_max_depth queue_rejections concurrency_changes \
		concurrency_min concurrency_max min_jobs max_jobs memory_limit_kb inflight_evictions \
		alerts exit; do
		jq -e "has(\"$f\")" "$OUT" >/dev/null || { echo "no $f"; return 1; }
	done
	[ "$(j lines)" -eq 32 ]
	[ "$(j jobs)" -eq 32 ]
	[ "$(j exit)" -eq 1 ]
	[ "$(j bytes)" -gt 0 ]
	# every line parses (no interleaving), 32 job lines and one batch line
	[ "$(jq -c . "$M" | wc -l)" -eq 33 ]
	[ "$(jq -s '[.[] | select(.type=="job")] | length' "$M")" -eq 32 ]
	[ "$(jq -s -r '[.[] | select(.type=="batch")][0] | "\(.jobs) \(.misses) \(.malformed) \(.open_streams)"' "$M")" = "32 30 1 0" ]
	for f in key result bytes_stored wall_ms transform_ms peak_rss_kb queue_depth inflight concurrency; do
		jq -se "map(select(.type==\"job\" and .result==\"miss\")) | all(has(\"$f\"))" "$M" >/dev/null ||
			{ echo "job lines lack $f"; return 1; }
	done
}

@test "progress on stderr with --progress, nothing with --quiet" {
	jobs_for $(seq 1 40) >list
	warm --progress --jobs 1 list
	assert_success
	[[ "$stderr" == *"40/40"* ]] || [[ "$stderr" == *"hit "*"miss "* ]]
	[[ "$stderr" == *"warm: 40 jobs"* ]]
	rm -f "$S"
	warm --quiet list
	assert_success
	[ -z "$stderr" ]
	# stdin by default, and "-"
	rm -f "$S"
	run bash -c 'jobs() { for i in 1 2 3; do echo "$D/src/f$i.bin"; done; }; jobs | "$0" --store "$S" warm --json - >"$OUT" 2>"$ERR"' "$VR_CACHE"
	assert_success
	[ "$(j misses)" -eq 3 ]
}

@test "warm counts: the progress line, the summary and the JSON put each job in one category; a remembered failure is failed and remembered" {
	{ jobs_for 1 1 1 1 1 1 1 1 2; printf '%s\n' "$D/src/missing.bin"; } >list
	# r RESULT: per-job metrics lines with that result (the oracle)
	r() { jq -s "[.[] | select(.type == \"job\" and .result == \"$1\")] | length" "$M"; }
	local round pl
	for round in 1 2; do
		: >"$M"
		warm --json --progress --jobs 1 list
		assert_failure 1
		assert_equal "$(j jobs)" 10
		assert_equal "$(j hits) $(j misses) $(j coalesced)" "$(r hit) $(r miss) $(r coalesced)"
		assert_equal "$(j failed)" $(($(r error) + $(r negative)))
		assert_equal "$(j remembered)" "$(r negative)"
		assert_equal $(($(j hits) + $(j misses) + $(j coalesced) + $(j failed))) 10
		# the progress bar's last state and the summary line: the same counts
		pl=$(tr '\r' '\n' <"$ERR" | grep -a ' hit ' | tail -n 1)
		[[ $pl == *" 10/10  hit $(j hits) miss $(j misses) coalesced $(j coalesced) fail $(j failed) "* ]] ||
			{ echo "round $round: progress '$pl'"; return 1; }
		grep -q "warm: 10 jobs: $(j hits) hits, $(j misses) misses, $(j coalesced) coalesced, $(j failed) failed (0 malformed, $(j remembered) remembered)" "$ERR" ||
			{ echo "round $round: summary"; cat "$ERR"; return 1; }
	done
	# the second round answered the missing source from its remembered
	# failure, without trying it: failed, and counted as remembered
	assert_equal "$(j failed) $(j remembered) $(j misses)" "1 1 0"
	assert_equal "$(sqlite3 "$S" 'select count(*) from negative')" 1
}

@test "peak RSS stays flat from job 20 to job 200" {
	is_asan "$VR_CACHE" && skip "ASan build: RSS is not representative (freed memory sits in quarantine)"
	jobs_for $(seq 1 200) >list
	warm --json --jobs 2 list
	assert_success
	[ "$(j misses)" -eq 200 ]
	local first last
	first=$(jq -s '[.[] | select(.type=="job")][19].peak_rss_kb' "$M")
	last=$(jq -s '[.[] | select(.type=="job")][-1].peak_rss_kb' "$M")
	echo "peak RSS after 20 jobs: $first KiB, after 200: $last KiB" >&3
	# no growth per job: 180 more jobs may not add more than 8 MiB
	[ $((last - first)) -le 8192 ]
}

@test "a high failure rate lowers the concurrency, logged with --verbose" {
	local i
	for i in $(seq 1 300); do printf '%s\n' "$D/src/nope/$i.bin"; done >list
	warm --json -v --min-jobs 1 --max-jobs 4 list
	assert_failure 1
	[ "$(j failed)" -eq 300 ]
	[[ "$stderr" == *"concurrency 4 -> 3 (failures"* ]]
	[ "$(j concurrency_min)" -lt 4 ]
	[ "$(j concurrency_changes)" -ge 1 ]
	[ "$(jq -s -r '[.[] | select(.type=="batch")][0].concurrency_changes' "$M")" -ge 1 ]
}

# batch FIELD: a field of the batch metrics line in $M, compact JSON
batch() { jq -s -c "[.[] | select(.type==\"batch\")][0].$1" "$M"; }

# A list whose outcome is known: f1 warmed before (a fresh hit), f2 and f3
# misses, a missing source and a malformed line (both failed), a comment.
known_list() {
	warm --jobs 1 <(jobs_for 1)
	assert_success
	rm -f "$M"
	{
		printf '# known outcome\n'
		jobs_for 1 2 3
		printf '%s\n' "$D/src/missing-9.bin"
		printf '%s --width 5000\n' "$D/src/f4.bin"
	} >list
}

@test "FILE before the options: warm FILE --json" {
	jobs_for 1 2 3 >list
	run bash -c '"$0" --store "$S" warm list --json --jobs 2 >"$OUT" 2>"$ERR"' "$VR_CACHE"
	assert_success
	[ "$(j jobs)" -eq 3 ]
	[ "$(j misses)" -eq 3 ]
	[ "$(j max_jobs)" -eq 2 ]
}

@test "global options after the command and after FILE" {
	jobs_for 1 2 >list
	run bash -c '"$0" warm list --json --store "$S" --metrics "$M" -q >"$OUT" 2>"$ERR"' "$VR_CACHE"
	assert_success
	[ "$(j misses)" -eq 2 ]
	[ "$(sqlite3 "$S" "select count(*) from entries")" -eq 2 ]
	[ "$(batch jobs)" -eq 2 ]
	[ ! -s "$ERR" ]
	# and before the command: the same store, now fresh
	run bash -c '"$0" --store "$S" --metrics "$M" warm --json list >"$OUT" 2>"$ERR"' "$VR_CACHE"
	assert_success
	[ "$(j hits)" -eq 2 ]
	# a global option's value is checked wherever it stands
	run -2 "$VR_CACHE" warm list --bogus --store "$S"
	run -2 "$VR_CACHE" warm list --store
}

@test "--json counts match the known job list" {
	known_list
	warm --json --jobs 1 list
	assert_failure 1
	[ "$(j lines)" -eq 6 ]
	[ "$(j jobs)" -eq 5 ]
	[ "$(j hits)" -eq 1 ]
	[ "$(j misses)" -eq 2 ]
	[ "$(j coalesced)" -eq 0 ]
	[ "$(j skipped)" -eq 0 ]
	[ "$(j failed)" -eq 2 ]
	[ "$(j malformed)" -eq 1 ]
	[ "$(j exit)" -eq 1 ]
	[ "$(j shard)" = 1/1 ]
	[ "$(j min_jobs)" -eq 1 ]
	[ "$(j max_jobs)" -eq 1 ]
}

@test "the batch metrics line's counts match the known job list" {
	known_list
	warm --jobs 1 list
	assert_failure 1
	[ "$(batch lines)" -eq 6 ]
	[ "$(batch jobs)" -eq 5 ]
	[ "$(batch hits)" -eq 1 ]
	[ "$(batch misses)" -eq 2 ]
	[ "$(batch coalesced)" -eq 0 ]
	[ "$(batch skipped)" -eq 0 ]
	[ "$(batch failed)" -eq 2 ]
	[ "$(batch malformed)" -eq 1 ]
	[ "$(batch exit)" -eq 1 ]
	[ "$(batch shard)" = '"1/1"' ]
	[ "$(batch min_jobs)" -eq 1 ]
	[ "$(batch max_jobs)" -eq 1 ]
	# and one job line per job, by result
	[ "$(jq -s '[.[] | select(.type=="job")] | length' "$M")" -eq 5 ]
	[ "$(jq -s '[.[] | select(.type=="job" and .result=="hit")] | length' "$M")" -eq 1 ]
	[ "$(jq -s '[.[] | select(.type=="job" and .result=="miss")] | length' "$M")" -eq 2 ]
	[ "$(jq -s '[.[] | select(.type=="job" and .result=="malformed")] | length' "$M")" -eq 1 ]
	[ "$(jq -s '[.[] | select(.type=="job" and .result=="error")] | length' "$M")" -eq 1 ]
}

@test "the --json summary and the batch metrics line have one shape" {
	known_list
	warm --json --jobs 1 list
	assert_failure 1
	# every summary field is in the batch line, with the same type
	assert_equal "$(jq -n -c --slurpfile s "$OUT" --slurpfile m "$M" \
		'($s[0] | keys) - ([$m[] | select(.type=="batch")][0] | keys)')" '[]'
	assert_equal "$(jq -n -c --slurpfile s "$OUT" --slurpfile m "$M" \
		'[$m[] | select(.type=="batch")][0] as $b | [$s[0] | to_entries[] | select((.value | type) != ($b[.key] | type)) | .key]')" '[]'
	# the same values, field by field
	assert_equal "$(jq -c .shard "$OUT")" "$(batch shard)"
	assert_equal "$(jq -c .lines "$OUT")" "$(batch lines)"
	assert_equal "$(jq -c .jobs "$OUT")" "$(batch jobs)"
	assert_equal "$(jq -c .hits "$OUT")" "$(batch hits)"
	assert_equal "$(jq -c .misses "$OUT")" "$(batch misses)"
	assert_equal "$(jq -c .coalesced "$OUT")" "$(batch coalesced)"
	assert_equal "$(jq -c .skipped "$OUT")" "$(batch skipped)"
	assert_equal "$(jq -c .failed "$OUT")" "$(batch failed)"
	assert_equal "$(jq -c .malformed "$OUT")" "$(batch malformed)"
	assert_equal "$(jq -c .bytes "$OUT")" "$(batch bytes)"
	assert_equal "$(jq -c .queue_capacity "$OUT")" "$(batch queue_capacity)"
	assert_equal "$(jq -c .queue_max_depth "$OUT")" "$(batch queue_max_depth)"
	assert_equal "$(jq -c .queue_rejections "$OUT")" "$(batch queue_rejections)"
	assert_equal "$(jq -c .queue_blocked "$OUT")" "$(batch queue_blocked)"
	assert_equal "$(jq -c .concurrency_changes "$OUT")" "$(batch concurrency_changes)"
	assert_equal "$(jq -c .concurrency_ups "$OUT")" "$(batch concurrency_ups)"
	assert_equal "$(jq -c .concurrency_downs "$OUT")" "$(batch concurrency_downs)"
	assert_equal "$(jq -c .concurrency_min "$OUT")" "$(batch concurrency_min)"
	assert_equal "$(jq -c .concurrency_max "$OUT")" "$(batch concurrency_max)"
	assert_equal "$(jq -c .min_jobs "$OUT")" "$(batch min_jobs)"
	assert_equal "$(jq -c .max_jobs "$OUT")" "$(batch max_jobs)"
	assert_equal "$(jq -c .memory_limit_kb "$OUT")" "$(batch memory_limit_kb)"
	assert_equal "$(jq -c .inflight_max "$OUT")" "$(batch inflight_max)"
	assert_equal "$(jq -c .inflight_evictions "$OUT")" "$(batch inflight_evictions)"
	assert_equal "$(jq -c .alerts "$OUT")" "$(batch alerts)"
	assert_equal "$(jq -c .exit "$OUT")" "$(batch exit)"
	# the figures measured at different moments: one unit and type each
	assert_equal "$(jq -r '.wall_ms | type' "$OUT")" number
	assert_equal "$(batch 'wall_ms | type')" '"number"'
	assert_equal "$(jq -r '.peak_rss_kb | type' "$OUT")" number
	assert_equal "$(batch 'peak_rss_kb | type')" '"number"'
	# an array stays an array
	assert_equal "$(jq -r '.alerts | type' "$OUT")" array
	assert_equal "$(batch 'alerts | type')" '"array"'
}
