#!/usr/bin/env bats
# vr-av.so, the FFmpeg plugin vr-cache opens on its first miss: what it
# imports from its host is exactly lib/av/IMPORTS, and vr-cache exports
# every one of those symbols (a missing one would fail only at dlopen, on
# the first miss). vr-fetch has no plugin: its http transport is libcurl,
# opened on first use. VR_AV_PLUGIN=path, VR_CACHE=path and VR_FETCH=path
# check another build (e.g. build/san/bin/) without touching bin/.

load helpers/common

PLUGIN=${VR_AV_PLUGIN:-"$ROOT/bin/vr-av.so"}
IMPORTS=$ROOT/lib/av/IMPORTS

setup_file() {
	[ -f "$PLUGIN" ] && [ -x "$VR_CACHE" ] || { echo "build first: make" >&2; return 1; }
	command -v nm >/dev/null || { echo "nm is needed (binutils)" >&2; return 1; }
}

# the list, without its comment lines
listed() { grep -v '^#' "$IMPORTS" | grep -v '^$'; }

# the vr_ symbols the plugin leaves for its host to define
imported() { nm -D --undefined-only "$PLUGIN" | awk '$NF ~ /^vr_/ {print $NF}' | sort -u; }

@test "lib/av/IMPORTS is sorted, one symbol a line, no duplicates" {
	run listed
	assert_success
	[ "${#lines[@]}" -gt 0 ]
	run bash -c 'grep -v "^#" "$1" | grep -v "^$" | grep -vxE "vr_[A-Za-z0-9_]+"' _ "$IMPORTS"
	assert_output ''
	run bash -c 'grep -v "^#" "$1" | grep -v "^$" | LC_ALL=C sort -c -u' _ "$IMPORTS"
	assert_success
}

@test "the plugin imports from its host exactly what lib/av/IMPORTS lists" {
	run diff <(listed | LC_ALL=C sort) <(imported | LC_ALL=C sort)
	# "> vr_x": a new import (list it, or keep the code in lib/av);
	# "< vr_x": an import gone (drop it from the list)
	assert_success
	assert_output ''
}

@test "vr-fetch needs no plugin: no vr_ symbol left undefined, no FFmpeg or libcurl linked" {
	run bash -c 'nm -D --undefined-only "$1" | awk '"'"'$NF ~ /^vr_/ {print $NF}'"'"'' _ "$VR_FETCH"
	assert_success
	assert_output ''
	run ldd "$VR_FETCH"
	assert_success
	refute_output --partial libav
	refute_output --partial libcurl
}

@test "vr-cache exports every symbol the plugin imports" {
	local exported
	exported=$(nm -D --defined-only "$VR_CACHE" | awk '{print $NF}' | LC_ALL=C sort -u)
	run comm -23 <(imported | LC_ALL=C sort -u) <(printf '%s\n' "$exported")
	assert_success
	assert_output ''
}
