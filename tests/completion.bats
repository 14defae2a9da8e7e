#!/usr/bin/env bats
# Bash completion, generated from the option tables (scripts/completion):
# driven the way bash drives it — the file is sourced into a bash that has
# programmable completion, COMP_WORDS/COMP_CWORD are set for a command line
# and the function that `complete -p` names is called — and checked against
# what the tables say (an option, a command, an enum's values, file names).

load helpers/common

PROGS=${VR_CLI_PROGS:-"vr-range vr-fetch vr-chunk vr-resize vr-cache"}

setup_file() {
	local p
	mkdir -p "$BATS_FILE_TMPDIR/comp"
	for p in $PROGS; do
		"$ROOT/scripts/completion" "$VR_BIN/$p" >"$BATS_FILE_TMPDIR/comp/$p"
	done
}

# comp PROG LINE: the completions bash offers for LINE (words split on
# blanks and '=' as bash does; a trailing blank starts an empty word), one
# per line, sorted
comp() {
	local prog=$1 line=$2
	run bash -c '
		source "$1"
		fn=$(complete -p "$2" | sed -E "s/.*-F ([^ ]+) .*/\1/")
		line=$3
		read -r -a COMP_WORDS <<<"${line//=/ = }"
		[[ $line == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		cd "$4"
		"$fn"
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$BATS_FILE_TMPDIR/comp/$prog" "$prog" "$line" "$BATS_TEST_TMPDIR"
}

@test "every program registers a completion function with complete -F" {
	local p
	for p in $PROGS; do
		run bash -c 'source "$1"; complete -p "$2"' _ "$BATS_FILE_TMPDIR/comp/$p" "$p"
		assert_success
		assert_output --regexp "^complete -F _[a-z_]+ $p\$"
	done
}

@test "options complete from the table, long and short" {
	comp vr-range "vr-range --max-"
	assert_output "--max-buffer"
	comp vr-resize "vr-resize --fi"
	assert_output "--fit"
	comp vr-resize "vr-resize -"
	assert_line -- "-m"
	assert_line -- "--print-key"
	assert_line -- "--progress"
	refute_line -- "--dump-options"
}

@test "enum values complete after the option, also as --opt=value" {
	comp vr-resize "vr-resize --mode "
	assert_output "$(printf '%s\n' audio frame spritesheet video)"
	comp vr-resize "vr-resize -m sp"
	assert_output "spritesheet"
	comp vr-resize "vr-resize --fit=sc"
	assert_output "scale-down"
	comp vr-resize "vr-resize --quality "
	assert_output "$(printf '%s\n' auto high low medium)"
}

@test "files complete where a file is expected, and not where it is not" {
	touch "$BATS_TEST_TMPDIR/clip.mp4" "$BATS_TEST_TMPDIR/conf.ini"
	comp vr-resize "vr-resize --config con"
	assert_output "conf.ini"
	comp vr-resize "vr-resize -w 640 cl"
	assert_output "clip.mp4"
	comp vr-resize "vr-resize --width cl"
	assert_output ""
	comp vr-range "vr-range 0-99 cl"
	assert_output "clip.mp4"
}

@test "commands, their options and the global ones complete for programs with commands" {
	local p
	for p in $PROGS; do
		"$VR_BIN/$p" --dump-options | grep -q '^cmd ' || continue
		local first
		first=$("$VR_BIN/$p" --dump-options | awk '$1 == "cmd" { print $2; exit }')
		comp "$p" "$p "
		assert_line "$first"
		comp "$p" "$p --store s $first --"
		assert_line -- "--help"
		assert_line -- "--metrics"
	done
}
@test "make install puts the completions where bash-completion looks for them" {
	run make -C "$ROOT" -s install PREFIX=/usr DESTDIR="$BATS_TEST_TMPDIR/root"
	assert_success
	local p
	for p in $PROGS; do
		[ -s "$BATS_TEST_TMPDIR/root/usr/share/bash-completion/completions/$p" ]
	done
}
