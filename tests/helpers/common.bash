# tests/helpers/common.bash: the preamble every tests/*.bats file loads
# first (`load helpers/common`): the bats version, bats-support and
# bats-assert, where the tree is and which programs are under test.
#
# Every program is overridable from the environment, so another build is
# tested without touching bin/:
#
#   VR_CHUNK=build/san/bin/vr-chunk bats tests/vr-chunk.bats
#
#   ROOT       the top of the tree (tests/..)
#   VR_BIN     the bin dir (default $ROOT/bin)
#   VR_RANGE VR_FETCH VR_CHUNK VR_RESIZE VR_CACHE
#              the programs (default $ROOT/bin/<prog>, not $VR_BIN: a
#              single override leaves the others where they were)
#   FX         the video fixture cache of scripts/fixtures-video
#              ($VR_VIDEO_FIXTURES, default ~/.cache/vr/fixtures-video)
#
# The program variables and FX are exported: tests hand them to inner
# shells (bash -c '... "$VR_CHUNK" ...').
# shellcheck shell=bash disable=SC2034 # the variables are for the test files

bats_require_minimum_version 1.5.0

# bats-support and bats-assert. Their src files are sourced directly:
# going through load.bash costs two dozen subshells per test, which is
# most of the run time of the quick files on a slow-forking machine.
_vr_load_assert_libs() {
	local d f
	for d in ${BATS_LIB_PATH//:/ } /usr/lib/bats /usr/local/lib/bats /usr/lib/node_modules \
		"$BATS_TEST_DIRNAME/../node_modules"; do
		if [ -f "$d/bats-support/src/output.bash" ] && [ -f "$d/bats-assert/src/assert.bash" ]; then
			for f in "$d"/bats-support/src/{output,error,lang}.bash "$d"/bats-assert/src/*.bash; do
				# shellcheck disable=SC1090
				source "$f"
			done
			return 0
		fi
	done
	bats_load_library bats-support && bats_load_library bats-assert
}
_vr_load_assert_libs || {
	echo "cannot find bats-support and bats-assert: run scripts/setup" >&2
	return 1
}

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
VR_BIN=${VR_BIN:-$ROOT/bin}
VR_RANGE=${VR_RANGE:-$ROOT/bin/vr-range}
VR_FETCH=${VR_FETCH:-$ROOT/bin/vr-fetch}
VR_CHUNK=${VR_CHUNK:-$ROOT/bin/vr-chunk}
VR_RESIZE=${VR_RESIZE:-$ROOT/bin/vr-resize}
VR_CACHE=${VR_CACHE:-$ROOT/bin/vr-cache}
FX=${VR_VIDEO_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vr/fixtures-video}
export VR_RANGE VR_FETCH VR_CHUNK VR_RESIZE VR_CACHE FX

# slurp VAR FILE: VAR gets FILE's text as $(cat FILE) gives it (trailing
# newlines dropped) without the fork and exec, which cost about 10 ms of
# CPU each here; the helpers that run a program hundreds of times use it
slurp() {
	local -n _slurp_to=$1
	_slurp_to=
	IFS= read -r -d '' _slurp_to <"$2" || true
	_slurp_to=${_slurp_to%"${_slurp_to##*[!$'\n']}"}
}

# is_asan PROG: PROG is an AddressSanitizer build (its RSS, with freed
# memory in quarantine, says nothing about the program's own)
is_asan() {
	grep -qa __asan_init "${1:?is_asan: which program?}"
}
