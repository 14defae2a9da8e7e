#!/usr/bin/env bats
# The command-line surface as one thing: for every program, the option
# tables of lib/base/cli (printed by the hidden --dump-options), the --help text
# of the program and of each command, and the options the man page defines
# (its .It Fl lines) must name the same options with the same letters. A
# drift in any of the three fails here, naming the option. Then the
# conventions every program shares: --help of every command, diagnostics
# prefixed with the program's name, usage errors exit 2.

load helpers/common

MAN="$ROOT/man"
PROGS=${VR_CLI_PROGS:-"vr-range vr-fetch vr-chunk vr-resize vr-cache"}

# table PROG [CMD]: "name letter" of the options at one level (CMD "-":
# the program's own and the global ones), sorted
table() {
	"$VR_BIN/$1" --dump-options | awk -v c="${2:--}" '$1 == "opt" && ($2 == c || $2 == "-") {
		l = $4 == "-" ? "-" : substr($4, 2); print substr($3, 3), l }' | sort -u
}

# commands PROG: its command names
commands() {
	"$VR_BIN/$1" --dump-options | awk '$1 == "cmd" { print $2 }'
}

# helpopts PROG [CMD]: "name letter" of the option lines of --help
helpopts() {
	if [ -n "${2:-}" ]; then "$VR_BIN/$1" "$2" --help; else "$VR_BIN/$1" --help; fi |
		sed -nE 's/^  (-([A-Za-z]), )?    ?--([a-z0-9][a-z0-9-]*).*/\3 \2/p; s/^  -([A-Za-z]), --([a-z0-9][a-z0-9-]*).*/\2 \1/p' |
		awk '{ print $1, ($2 == "" ? "-" : $2) }' | sort -u
}

# alltable PROG [MAN]: "name letter" of every option of every level that
# man page MAN defines (default: the program's own; a table may say that
# another page defines its options, as vr-resize(1) does the transform
# options of vr-cache get)
alltable() {
	"$VR_BIN/$1" --dump-options | awk -v m="${2:-$1}" -v p="$1" '$1 == "opt" {
		page = $7 == "-" ? p : $7
		if (page != m) next
		l = $4 == "-" ? "-" : substr($4, 2); print substr($3, 3), l }' | sort -u
}

# manopts PROG: "name letter" of the options its man page defines (.It Fl
# lines; "Fl x , Fl \-name" pairs a letter with a name)
manopts() {
	grep -h '^\.It .*Fl \\-' "$MAN/$1.1" | sed -E 's/ Ns Op = Ns Ar [a-z]+//g' |
		awk '{
			n = split($0, w, " "); letter = "-"
			for (i = 1; i <= n; i++) {
				if (w[i] != "Fl") continue
				t = w[i + 1]
				if (t ~ /^\\-/) { name = substr(t, 3); gsub(/[^a-z0-9-]/, "", name); print name, letter; letter = "-" }
				else if (length(t) == 1) letter = t
			}
		}' | sort -u
}

@test "each program's --help lists exactly the options of its table" {
	local p out fail=0
	for p in $PROGS; do
		out=$(diff <(table "$p" -) <(helpopts "$p")) || { echo "$p --help differs from its table (< table, > help):"; echo "$out"; fail=1; }
	done
	[ "$fail" = 0 ]
}

@test "each command's --help lists exactly the options of its table and the global ones" {
	local p c out fail=0
	for p in $PROGS; do
		for c in $(commands "$p"); do
			out=$(diff <(table "$p" "$c") <(helpopts "$p" "$c")) || { echo "$p $c --help differs (< table, > help):"; echo "$out"; fail=1; }
		done
	done
	[ "$fail" = 0 ]
}

@test "each man page defines exactly the options of the program's tables, with the same letters" {
	local p out fail=0
	for p in $PROGS; do
		out=$(diff <(alltable "$p") <(manopts "$p")) || { echo "$p(1) differs from the tables (< table, > man page):"; echo "$out"; fail=1; }
		# options another page defines for it are all there
		local m
		for m in $("$VR_BIN/$p" --dump-options | awk '$1 == "opt" && $7 != "-" { print $7 }' | sort -u); do
			out=$(comm -23 <(alltable "$p" "$m") <(manopts "$m")) || true
			[ -z "$out" ] || { echo "$p: options it says $m(1) defines are not there:"; echo "$out"; fail=1; }
		done
	done
	[ "$fail" = 0 ]
}

@test "every command of every program accepts --help: exit 0, usage on stdout, nothing on stderr" {
	local p c
	for p in $PROGS; do
		run --separate-stderr "$VR_BIN/$p" --help
		assert_success
		assert_output --partial "Usage: $p"
		[ -z "$stderr" ]
		for c in $(commands "$p"); do
			run --separate-stderr "$VR_BIN/$p" "$c" --help
			assert_success
			assert_output --partial "Usage: $p $c"
			[ -z "$stderr" ]
		done
	done
}

@test "an unknown option is exit 2 and the message starts with the program's name, in every command" {
	local p c
	for p in $PROGS; do
		run --separate-stderr "$VR_BIN/$p" --no-such-option
		assert_failure 2
		[[ "$stderr" == "$p: error: unknown option '--no-such-option'"* ]]
		for c in $(commands "$p"); do
			run --separate-stderr "$VR_BIN/$p" "$c" --no-such-option
			assert_failure 2
			[[ "$stderr" == "$p: error: unknown option '--no-such-option'"* ]]
			[[ "$stderr" == *"Try '$p $c --help'."* ]]
		done
	done
}

@test "a missing argument and an argument to a flag are usage errors named after the option" {
	run --separate-stderr "$VR_BIN/vr-range" --max-buffer
	assert_failure 2
	[[ "$stderr" == "vr-range: error: option '--max-buffer' needs an argument"* ]]
	run --separate-stderr "$VR_BIN/vr-range" --json=yes 0-1 /dev/null
	assert_failure 2
	[[ "$stderr" == "vr-range: error: option '--json' takes no argument"* ]]
	run --separate-stderr "$VR_BIN/vr-resize" -w
	assert_failure 2
	[[ "$stderr" == "vr-resize: error: option '-w' needs an argument"* ]]
}

@test "a value out of its bounds names the option, the value and the accepted range" {
	run --separate-stderr "$VR_BIN/vr-range" --max-buffer 0 0-1 /dev/null
	assert_failure 2
	[[ "$stderr" == "vr-range: error: --max-buffer: '0' is not a size"*"from 1 to 1T"* ]]
	run --separate-stderr "$VR_BIN/vr-resize" --timeout 2d --print-key
	assert_failure 2
	[[ "$stderr" == "vr-resize: error: --timeout: '2d' is not a duration"*"from 0 to 86400"* ]]
}

@test "--version prints the program's name and the version on stdout" {
	local p
	for p in $PROGS; do
		run --separate-stderr "$VR_BIN/$p" --version
		assert_success
		assert_output --regexp "^$p \(vr\) [0-9]+\.[0-9]+\.[0-9]+$"
	done
}

@test "a directory given as input fails the same way in every program: 'PATH: is a directory', exit 5" {
	local d=$BATS_TEST_TMPDIR/dir S=$BATS_TEST_TMPDIR/s.db
	mkdir "$d"
	local -a cmds=(
		"vr-range 0-1 $d"
		"vr-fetch $d"
		"vr-resize $d"
		"vr-chunk --store $S put k $d"
		"vr-cache --store $S get $d"
		"vr-cache --store $S get $d --width 320"
		"vr-cache --store $S warm $d"
	)
	local c
	for c in "${cmds[@]}"; do
		# shellcheck disable=SC2086 # words of the command
		run --separate-stderr "$VR_BIN"/$c
		echo "$c: $status $stderr"
		assert_failure 5
		[[ "$stderr" == "${c%% *}: error: $d: is a directory"* ]]
	done
}

@test "a signal ends a program with 128+N, as the shell convention says" {
	local f=$BATS_TEST_TMPDIR/fifo S=$BATS_TEST_TMPDIR/s.db
	mkfifo "$f"
	local -a cmds=("vr-range 0-" "vr-chunk --store $S put k" "vr-resize" "vr-fetch -")
	local c sig want pid
	for c in "${cmds[@]}"; do
		for sig in TERM INT; do
			want=$((128 + $(kill -l "$sig")))
			# the writer keeps the fifo open and silent, so the program blocks reading
			sleep 30 >"$f" &
			local holder=$!
			# shellcheck disable=SC2086
			bash -c 'trap "" INT; exec "$@" <"$0" >/dev/null 2>&1' "$f" "$VR_BIN"/$c &
			pid=$!
			# signal only once the program catches it (an ASan build under
			# load takes a while to start; before that, the SIGINT a
			# background job inherits as ignored would be lost)
			local n mask signum
			signum=$(kill -l "$sig")
			for n in $(seq 200); do
				mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
				[ -n "$mask" ] && (((16#$mask >> (signum - 1)) & 1)) && break
				sleep 0.05
			done
			sleep 0.2
			kill -s "$sig" "$pid"
			local st=0
			wait "$pid" || st=$?
			kill "$holder" 2>/dev/null || true
			wait "$holder" 2>/dev/null || true
			echo "$c: SIG$sig gave $st"
			[ "$st" -eq "$want" ]
		done
	done
}

@test "a failing run's metrics line names what it was about (credentials hidden)" {
	local m=$BATS_TEST_TMPDIR/m.jsonl S=$BATS_TEST_TMPDIR/s.db
	run "$VR_BIN/vr-fetch" --metrics "$m" "http://user:secret@127.0.0.1:1/x.mp4" --retries 0
	assert_failure
	run "$VR_BIN/vr-range" --metrics "$m" 0-1 "$BATS_TEST_TMPDIR/none.bin"
	assert_failure 5
	run "$VR_BIN/vr-resize" --metrics "$m" "$BATS_TEST_TMPDIR/none.mp4"
	assert_failure 5
	run "$VR_BIN/vr-chunk" --store "$S" --metrics "$m" get nokey
	assert_failure 5
	run "$VR_BIN/vr-cache" --store "$S" --metrics "$m" get "$BATS_TEST_TMPDIR/none.mp4"
	assert_failure 5
	[ "$(wc -l <"$m")" -eq 5 ]
	[ "$(jq -r 'select(.program == "vr-fetch") | .source' "$m")" = "http://***@127.0.0.1:1/x.mp4" ]
	[ "$(jq -r 'select(.program == "vr-range") | .source' "$m")" = "$BATS_TEST_TMPDIR/none.bin" ]
	[ "$(jq -r 'select(.program == "vr-resize") | .source' "$m")" = "$BATS_TEST_TMPDIR/none.mp4" ]
	[ "$(jq -r 'select(.program == "vr-chunk") | .key' "$m")" = nokey ]
	[ "$(jq -r 'select(.program == "vr-cache") | .source' "$m")" = "$BATS_TEST_TMPDIR/none.mp4" ]
	run grep -c secret "$m"
	assert_output 0
}

@test "an empty range is the whole body in every program that takes one" {
	local f=$BATS_TEST_TMPDIR/in.bin S=$BATS_TEST_TMPDIR/s.db r
	head -c 100000 /dev/urandom >"$f"
	"$VR_BIN/vr-chunk" --store "$S" put k "$f"
	for r in '' ' '; do
		run bash -c '"$0" "$1" "$2" | cmp - "$2"' "$VR_BIN/vr-range" "$r" "$f"
		assert_success
		run bash -c '"$0" -r "$1" "$2" | cmp - "$2"' "$VR_BIN/vr-fetch" "$r" "$f"
		assert_success
		run bash -c '"$0" --store "$1" get k --range "$2" | cmp - "$3"' "$VR_BIN/vr-chunk" "$S" "$r" "$f"
		assert_success
		run bash -c '"$0" --store "$1" get "$3" --range "$2" | cmp - "$3"' "$VR_BIN/vr-cache" "$S" "$r" "$f"
		assert_success
	done
}
