# shellcheck shell=bash
# scripts/bench-lib.sh — the measuring kit behind scripts/bench. Sourced, not run.
#
# A bench run is a list of sections; a section is a list of cases; a case is
# one job (the same bytes in, the same bytes out) done by several tools, the
# vr tool first so that every peer row can be compared with it:
#
#   section range "vr-range against cat, tail | head and dd"
#   measure -i "$BIG" -o pipe -x "0:$S" "pipe 0- > pipe" vr-range -- "$VR_RANGE" bytes=0-
#   measure -i "$BIG" -o pipe -x "0:$S" "pipe 0- > pipe" cat      -- cat
#   target "vr-range from a pipe at least as fast as cat" "$ok" "1.2 s vs 1.3 s"
#
# measure [-i FILE] [-o null|pipe] [-b BYTES] [-x OFF:LEN] [-p PREP] [-c CHECK]
#         [-n RUNS] [-M] CASE TOOL -- CMD...
#   Runs CMD $VR_BENCH_RUNS times (default 3; $VR_BENCH_RUNS_SHORT, default
#   10, when the first run took under $BENCH_SHORT s: a short run is mostly
#   process start-up, whose jitter only more samples wash out) and prints one
#   row: the best
#   (least) wall time, MiB/s = BYTES / wall, the largest peak RSS, and the
#   ratio vr wall / this wall (the vr tool is the case's first row: a ratio
#   below 1 means vr was faster; it is also peer MiB/s over vr MiB/s).
#     -i FILE  stdin is a pipe fed by `cat FILE`; the producer is not timed
#     -o null  stdout is /dev/null (cheap: some tools splice into it for free)
#     -o pipe  stdout is a pipe into `cat >/dev/null`, the honest sink (default)
#     -b N     bytes the job moves, for MiB/s (default: LEN of -x, the size
#              of -X FILE, else $S)
#     -x OFF:LEN  the output must be bytes OFF..OFF+LEN-1 of $BIG: one extra,
#              untimed run checks it with cksum (VR_BENCH_VERIFY=0 skips it)
#     -X FILE  the output must equal FILE (same check)
#     -p PREP  a command line (eval'd, untimed) run before every run: e.g.
#              remove the store or the output file the last run left
#     -c CHECK a command line (eval'd, untimed) run once after the timed
#              runs, on what the last run left (a file it wrote, a store): it
#              must exit 0, else the row says CHECK FAILED. For jobs whose
#              output is not on stdout or not byte-exact (see same_bytes,
#              decodes). Build both with q, which quotes each word.
#     -n RUNS  exactly RUNS runs (no $VR_BENCH_RUNS, no short-run extension)
#     -M       the row's wall is the median of the runs, not the least (for
#              jobs through servers and several processes, whose best run is
#              luck; say so in a note or the tool name)
#   Only CMD is timed: /usr/bin/time gives its peak RSS (for `sh -c 'a | b'`
#   that is the largest process of the pipeline, not their sum), and bash's
#   $EPOCHREALTIME around it gives microsecond wall time (time's own %e has
#   10 ms steps). A run's exit status is kept; a failing row says so. The CPU
#   time (user + sys of CMD and its children, time's %U + %S, 10 ms steps) of
#   the least-CPU run goes to $RESULTS always, and into the table as a
#   'cpu s' column when the section sets BENCH_SHOW_CPU=1.
#
# record CASE TOOL SECONDS [STATUS [BYTES [NOTE]]]
#   A row for a time measured some other way (a client's time to first byte,
#   a player's event): no run, the same table, ratio and $RESULTS line.
#
# Every row also goes to $RESULTS (tab-separated); result_get reads it back
# for the targets, which are printed together at the end of the run.

LC_ALL=C
export LC_ALL

BENCH_RUNS=${VR_BENCH_RUNS:-3}
BENCH_RUNS_SHORT=${VR_BENCH_RUNS_SHORT:-10}
BENCH_SHORT=0.2
BENCH_VERIFY=${VR_BENCH_VERIFY:-1}
TIME_BIN=${TIME_BIN:-/usr/bin/time}

declare -gA R_WALL=() R_CPU=() R_RSS=() R_STATUS=() R_CMD=() CASE_REF=() EXPECT_CACHE=() VERIFIED=()
declare -ga TARGETS=()
SECTION=''
LAST_CASE=''
BENCH_SHOW_CPU=0

bench_die() {
	echo "bench: error: $*" >&2
	exit 1
}

bench_note() {
	printf '  %s\n' "$*"
}

# Parses a size such as 1G, 256M, 64K, 1048576 (binary units) into bytes.
parse_size() {
	local s=$1 n unit
	if [[ ! $s =~ ^([0-9]+)([KkMmGgTt]?)(i?[Bb])?$ ]]; then
		return 1
	fi
	n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
	case $unit in
	K | k) n=$((n << 10)) ;;
	M | m) n=$((n << 20)) ;;
	G | g) n=$((n << 30)) ;;
	T | t) n=$((n << 40)) ;;
	esac
	echo "$n"
}

# Prints a byte count the short way: 1 GiB, 256 MiB, 1 KiB, 1500 B.
human_bytes() {
	local n=$1
	if ((n >= 1 << 30 && n % (1 << 30) == 0)); then
		echo "$((n >> 30)) GiB"
	elif ((n >= 1 << 20 && n % (1 << 20) == 0)); then
		echo "$((n >> 20)) MiB"
	elif ((n >= 1 << 10 && n % (1 << 10) == 0)); then
		echo "$((n >> 10)) KiB"
	else
		echo "$n B"
	fi
}

# Succeeds when the executable was built with AddressSanitizer (its RSS and
# speed then say nothing about a release build).
is_sanitized() {
	grep -q -a __asan_init "$1" 2>/dev/null
}

# ---------------------------------------------------------------- output

TABLE_FMT='  %-28s %-24s %9s %9s %9s %8s  %s\n'
TABLE_FMT_CPU='  %-28s %-24s %9s %8s %9s %9s %8s  %s\n'

section() {
	SECTION=$1
	shift
	LAST_CASE=''
	BENCH_SHOW_CPU=0
	printf '\n== %s: %s\n' "$SECTION" "$*"
}

table_head() {
	if [ "$BENCH_SHOW_CPU" = 1 ]; then
		# shellcheck disable=SC2059
		printf "$TABLE_FMT_CPU" case tool 'wall s' 'cpu s' 'MiB/s' 'RSS KiB' 'vr/peer' ''
		# shellcheck disable=SC2059
		printf "$TABLE_FMT_CPU" '----' '----' '------' '-----' '-----' '-------' '-------' ''
		return 0
	fi
	# shellcheck disable=SC2059
	printf "$TABLE_FMT" case tool 'wall s' 'MiB/s' 'RSS KiB' 'vr/peer' ''
	# shellcheck disable=SC2059
	printf "$TABLE_FMT" '----' '----' '------' '-----' '-------' '-------' ''
}

# row CASE TOOL WALL CPU MIBS RSS RATIO NOTE — one table line (CPU only shown
# when BENCH_SHOW_CPU=1); a blank line between cases keeps them apart.
row() {
	if [ -n "$LAST_CASE" ] && [ "$LAST_CASE" != "$1" ]; then
		echo
	fi
	LAST_CASE=$1
	if [ "$BENCH_SHOW_CPU" = 1 ]; then
		# shellcheck disable=SC2059
		printf "$TABLE_FMT_CPU" "$@"
	else
		# shellcheck disable=SC2059
		printf "$TABLE_FMT" "$1" "$2" "$3" "${@:5}"
	fi
}

# ---------------------------------------------------------------- data

# make_random_file PATH BYTES — random bytes, made once (kept when the size
# already matches). /dev/urandom is a few hundred MiB/s on a current kernel;
# random data keeps every range distinct, so the checksums mean something.
make_random_file() {
	local path=$1 bytes=$2 have
	have=$(stat -c %s "$path" 2>/dev/null || echo -1)
	if [ "$have" = "$bytes" ]; then
		return 0
	fi
	echo "bench: writing $(human_bytes "$bytes") of random data to $path" >&2
	head -c "$bytes" /dev/urandom >"$path.part"
	mv -f "$path.part" "$path"
}

# Reads FILE once so that every later run reads it from the page cache.
warm_cache() {
	cat -- "$@" >/dev/null
}

# cksum of bytes OFF..OFF+LEN-1 of $BIG, cached.
expected_cksum() {
	local key=$1 off len
	if [ -z "${EXPECT_CACHE[$key]:-}" ]; then
		case $key in
		file:*)
			EXPECT_CACHE[$key]=$(cksum <"${key#file:}")
			;;
		*)
			off=${key%%:*} len=${key#*:}
			EXPECT_CACHE[$key]=$(dd if="$BIG" bs=1M skip="$off" count="$len" \
				iflag=skip_bytes,count_bytes status=none | cksum)
			;;
		esac
	fi
	echo "${EXPECT_CACHE[$key]}"
}

# ---------------------------------------------------------------- checks

# q WORD... — the words quoted for eval: the command line of -p and -c.
q() {
	local out
	printf -v out '%q ' "$@"
	echo "${out% }"
}

# same_bytes KEY CMD... — CMD's stdout is the bytes of expected_cksum KEY
# (OFF:LEN of $BIG, or file:PATH). A check for -c: read a store back.
same_bytes() {
	local key=$1 got
	shift
	got=$("$@" | cksum) || return 1
	[ "$got" = "$(expected_cksum "$key")" ]
}

# decodes FILE — FILE exists and ffprobe opens it without an error and finds
# a video stream (or picture) in it. A check for -c: the outputs of video
# tools differ byte for byte between tools, so they are checked this way.
decodes() {
	local out
	[ -s "$1" ] || return 1
	out=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name \
		-of csv=p=0 -- "$1" 2>&1) || return 1
	[ -n "$out" ] && ! grep -q -i error <<<"$out"
}

# same_frames A B — A and B decode to the same frames, every stream's, in
# order (ffmpeg's framemd5: the stream and the hash of each frame's data;
# timestamps aside). For two containers of one encode (a fragmented MP4
# and its progressive remux).
same_frames() {
	local a b
	a=$(ffmpeg -nostdin -v error -i "$1" -map 0 -f framemd5 - | awk -F, '!/^#/ { print $1, $NF }') || return 1
	b=$(ffmpeg -nostdin -v error -i "$2" -map 0 -f framemd5 - | awk -F, '!/^#/ { print $1, $NF }') || return 1
	[ -n "$a" ] && [ "$a" = "$b" ]
}

# ---------------------------------------------------------------- running

# _bench_timed TAG CMD... — runs CMD under time(1); writes "t0 t1 rc" to
# TAG.t and "maxrss exit user sys" (last line) to TAG.rss, CMD's stderr to
# TAG.err.
_bench_timed() {
	local tag=$1 t0 t1 rc
	shift
	t0=$EPOCHREALTIME
	"$TIME_BIN" -f '%M %x %U %S' -o "$tag.rss" "$@" 2>"$tag.err"
	rc=$?
	t1=$EPOCHREALTIME
	echo "$t0 $t1 $rc" >"$tag.t"
	return 0
}

# _bench_sink SINK TAG CMD... — CMD's stdout to /dev/null, a pipe, or cksum.
_bench_sink() {
	local sink=$1 tag=$2
	shift 2
	case $sink in
	null) _bench_timed "$tag" "$@" >/dev/null ;;
	pipe) _bench_timed "$tag" "$@" | cat >/dev/null ;;
	cksum) _bench_timed "$tag" "$@" | cksum ;;
	esac
}

# _bench_once IN SINK TAG CMD... — one run; IN empty means stdin /dev/null.
# A producer killed by SIGPIPE (the tool stopped reading early, as a range
# tool should) is normal, so the pipeline's status is ignored; the tool's own
# status is in TAG.t.
_bench_once() {
	local in=$1 sink=$2 tag=$3
	shift 3
	if [ -n "$in" ]; then
		cat -- "$in" | _bench_sink "$sink" "$tag" "$@" || true
	else
		_bench_sink "$sink" "$tag" "$@" </dev/null || true
	fi
}

measure() {
	local in='' sink=pipe bytes='' expect='' prep='' check='' opt OPTIND=1 fixed_runs='' median=0
	while getopts 'i:o:b:x:X:p:c:n:M' opt; do
		case $opt in
		n) fixed_runs=$OPTARG ;;
		M) median=1 ;;
		i) in=$OPTARG ;;
		o) sink=$OPTARG ;;
		b) bytes=$OPTARG ;;
		x) expect=$OPTARG ;;
		X) expect=file:$OPTARG ;;
		p) prep=$OPTARG ;;
		c) check=$OPTARG ;;
		*) bench_die "measure: bad option" ;;
		esac
	done
	shift $((OPTIND - 1))
	local name=$1 tool=$2
	[ "${3:-}" = -- ] || bench_die "measure $name $tool: expected -- before the command"
	shift 3
	case $sink in null | pipe) ;; *) bench_die "measure: -o null|pipe, not $sink" ;; esac
	if [ -z "$bytes" ]; then
		if [[ $expect == file:* ]]; then
			bytes=$(stat -c %s "${expect#file:}")
		elif [[ $expect == *:* ]]; then
			bytes=${expect#*:}
		else
			bytes=$S
		fi
	fi

	local tag=$BENCH_TMP/run i t0 t1 rc rss usr sys cpu='' best='' peak=0 status=ok runs=${fixed_runs:-$BENCH_RUNS} errs=''
	local -a walls=()
	for ((i = 0; i < runs; i++)); do
		rm -f "$tag".*
		if [ -n "$prep" ]; then
			eval "$prep" || bench_die "measure $name $tool: the prep command failed: $prep"
		fi
		_bench_once "$in" "$sink" "$tag" "$@"
		if [ ! -s "$tag.t" ]; then
			status='not run'
			break
		fi
		read -r t0 t1 rc <"$tag.t"
		read -r rss _ usr sys < <(tail -n 1 "$tag.rss" 2>/dev/null || echo '0 0 0 0')
		if [ "$rc" != 0 ]; then
			status="exit $rc"
			if [ "$rc" -gt 128 ]; then
				status="killed by signal $((rc - 128))"
			fi
			errs=$(sed 's/^/    | /' "$tag.err" | head -n 5)
			continue # a failed run's time and RSS mean nothing
		fi
		rss=${rss:-0}
		if ((rss > peak)); then
			peak=$rss
		fi
		cpu=$(awk -v u="${usr:-0}" -v s="${sys:-0}" -v c="$cpu" \
			'BEGIN { t = u + s; if (c == "" || t < c + 0) c = t; printf "%.2f", c }')
		best=$(awk -v a="$t0" -v b="$t1" -v best="$best" \
			'BEGIN { w = b - a; if (best == "" || w < best + 0) best = w; printf "%.6f", best }')
		walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')")
		if [ -z "$fixed_runs" ] && [ "$i" = 0 ] && ((BENCH_RUNS_SHORT > runs)) && fcmp "$best" '<' "$BENCH_SHORT"; then
			runs=$BENCH_RUNS_SHORT
		fi
	done

	if [ "$median" = 1 ] && [ "${#walls[@]}" -gt 0 ]; then
		best=$(median "${walls[@]}")
	fi

	# The output check: one more, untimed run into cksum.
	local vkey="$in|$expect|$*"
	if [ "$status" = ok ] && [ -n "$expect" ] && [ "$BENCH_VERIFY" != 0 ]; then
		if [ -z "${VERIFIED[$vkey]:-}" ]; then
			local got want
			[ -z "$prep" ] || eval "$prep" || bench_die "measure $name $tool: the prep command failed: $prep"
			got=$(_bench_once "$in" cksum "$tag" "$@")
			want=$(expected_cksum "$expect")
			if [ "$got" = "$want" ]; then
				VERIFIED[$vkey]=ok
			else
				VERIFIED[$vkey]="WRONG OUTPUT (cksum $got, want $want)"
			fi
		fi
		if [ "${VERIFIED[$vkey]}" != ok ]; then
			status=${VERIFIED[$vkey]}
		fi
	fi
	# The custom check, on what the last (successful) run left.
	if [ "$status" = ok ] && [ -n "$check" ] && [ "$BENCH_VERIFY" != 0 ]; then
		if ! eval "$check" >/dev/null 2>&1; then
			status="CHECK FAILED (${check%% *})"
		fi
	fi

	_bench_row "$name" "$tool" "$best" "${cpu:-}" "$peak" "$status" "$bytes" "${in:+cat $in | }$*${sink:+ > $sink}" ''
	[ -z "$errs" ] || printf '%s\n' "$errs"
}

# median X... — the median of the numbers (the mean of the middle two for an
# even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print 0; exit }
		if (NR % 2) printf "%.6f", v[(NR + 1) / 2]; else printf "%.6f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

record() {
	local name=$1 tool=$2 secs=$3 status=${4:-ok} bytes=${5:-0} note=${6:-}
	_bench_row "$name" "$tool" "$secs" '' 0 "$status" "$bytes" "(measured by the section: $tool)" "$note"
}

# _bench_row CASE TOOL WALL CPU RSS STATUS BYTES COMMAND NOTE — the bookkeeping
# of one row (R_* arrays, the case's reference, the table line, $RESULTS).
_bench_row() {
	local name=$1 tool=$2 best=$3 cpu=$4 peak=$5 status=$6 bytes=$7 cmd=$8 note=$9
	local key="$SECTION|$name|$tool" ratio='' mibs
	[ -n "$best" ] || best=0 # no run succeeded: the row shows '-
	R_WALL[$key]=$best
	R_CPU[$key]=${cpu:-0}
	R_RSS[$key]=$peak
	R_STATUS[$key]=$status
	R_CMD[$key]=$cmd
	if [ -z "${CASE_REF[$SECTION|$name]:-}" ]; then
		CASE_REF[$SECTION|$name]=$best
		ratio='-'
	else
		ratio=$(awk -v v="${CASE_REF[$SECTION|$name]}" -v p="$best" \
			'BEGIN { if (p > 0 && v > 0) printf "%.2f", v / p; else print "-" }')
	fi
	mibs=$(awk -v b="$bytes" -v w="$best" 'BEGIN { if (w > 0 && b > 0) printf "%.0f", b / w / 1048576; else print "-" }')
	[ "$status" = ok ] || note="<- $status"
	local shown=-
	fcmp "$best" '>' 0 && shown=$(printf '%.4f' "$best")
	local cshown=-
	[ -z "$cpu" ] || cshown=$cpu
	row "$name" "$tool" "$shown" "$cshown" "$mibs" "$peak" "$ratio" "$note"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SECTION" "$name" "$tool" "$best" \
		"$mibs" "$peak" "$ratio" "$bytes" "$status" "${R_CMD[$key]//[$'\t\n']/ }" "${cpu:-}" >>"$RESULTS"
}

# measure_floor — sets FLOOR (seconds) and FLOOR_RSS (KiB): the best of 10
# runs of `true` through the same harness, i.e. what starting a process costs
# here. Short cases are mostly this; the targets subtract it where it matters.
measure_floor() {
	local tag=$BENCH_TMP/floor i t0 t1 rc w rss
	FLOOR='' FLOOR_RSS=0
	for ((i = 0; i < 10; i++)); do
		rm -f "$tag".*
		_bench_once '' pipe "$tag" true
		read -r t0 t1 rc <"$tag.t"
		read -r rss _ < <(tail -n 1 "$tag.rss")
		w=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
		if [ -z "$FLOOR" ] || fcmp "$w" '<' "$FLOOR"; then
			FLOOR=$w
		fi
		if ((rss > FLOOR_RSS)); then
			FLOOR_RSS=$rss
		fi
	done
}

# self_wall_ms CMD... — the least wall_ms a vr tool reports itself in its
# metrics line ($VR_METRICS) over $BENCH_RUNS runs, stdout into a pipe: its
# time without exec and the dynamic loader. '' when it writes none.
self_wall_ms() {
	local m=$BENCH_TMP/metrics.jsonl i
	rm -f "$m"
	for ((i = 0; i < BENCH_RUNS; i++)); do
		VR_METRICS=$m "$@" </dev/null 2>/dev/null | cat >/dev/null || true
	done
	[ -s "$m" ] || return 0
	sed -n 's/.*"wall_ms":\([0-9.]*\).*/\1/p' "$m" | sort -n | head -n 1
}

# result_get SECTION CASE TOOL wall|cpu|rss|status — a measured value ('' if none).
result_get() {
	local key="$1|$2|$3"
	case $4 in
	wall) echo "${R_WALL[$key]:-}" ;;
	cpu) echo "${R_CPU[$key]:-}" ;;
	rss) echo "${R_RSS[$key]:-}" ;;
	status) echo "${R_STATUS[$key]:-}" ;;
	esac
}

# ---------------------------------------------------------------- targets

# rows_ok SECTION CASE|TOOL... — succeeds when every named row was measured
# and its status is ok (a target built on a failed row must not PASS).
rows_ok() {
	local s=$1 r
	shift
	for r in "$@"; do
		[ "${R_STATUS[$s|$r]:-missing}" = ok ] || return 1
	done
}

# target DESCRIPTION PASS|FAIL|SKIP DETAIL — recorded now, printed at the end.
target() {
	TARGETS+=("$(printf '%-4s  %s\n        %s' "$2" "$1" "$3")")
}

# fcmp A OP B — floating-point comparison for the targets (OP: < <= > >=).
fcmp() {
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
		r = (op == "<") ? a < b : (op == "<=") ? a <= b : (op == ">") ? a > b : a >= b
		exit !r }'
}

print_targets() {
	local t fails=0
	printf '\n== targets\n'
	if [ "${#TARGETS[@]}" -eq 0 ]; then
		echo "  (none: no section with targets ran)"
		return 0
	fi
	for t in "${TARGETS[@]}"; do
		printf '  %s\n' "$t"
		[[ $t == FAIL* ]] && fails=$((fails + 1))
	done
	if [ "$fails" -gt 0 ]; then
		printf '\n  %d target(s) FAIL (the bench is informational: exit status stays 0)\n' "$fails"
	else
		printf '\n  no target fails\n'
	fi
}
