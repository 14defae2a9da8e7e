#!/usr/bin/env bats
# vr-av.so, the FFmpeg plugin vr-cache opens on its first miss and
# vr-resize when a transform starts: what it imports from its host is
# exactly lib/av/IMPORTS, and both export every one of those symbols (a
# missing one would fail only at dlopen, on the first transform). vr-fetch
# has no plugin: its http transport is libcurl, opened on first use.
# VR_AV_PLUGIN=path, VR_CACHE=path, VR_RESIZE=path and VR_FETCH=path check
# another build (e.g. build/san/bin/) without touching bin/.

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

# not_exported PROG: the plugin's imports that PROG does not export (none
# is right: a missing one would fail only at dlopen)
not_exported() {
	comm -23 <(imported | LC_ALL=C sort -u) <(nm -D --defined-only "$1" | awk '{print $NF}' | LC_ALL=C sort -u)
}

@test "vr-cache exports every symbol the plugin imports" {
	run not_exported "$VR_CACHE"
	assert_success
	assert_output ''
}

@test "vr-resize exports every symbol the plugin imports, links no FFmpeg, and opens it only to transform" {
	run not_exported "$VR_RESIZE"
	assert_success
	assert_output ''
	run ldd "$VR_RESIZE"
	assert_success
	refute_output --partial libav
	# what the dynamic loader opens (LD_DEBUG=files): nothing of FFmpeg to
	# answer --help, --version, --print-key or a usage error ...
	cd "$BATS_TEST_TMPDIR"
	run --separate-stderr env LD_DEBUG=files "$VR_RESIZE" -w 160 --print-key in.mp4
	assert_success
	[[ $stderr != *vr-av.so* ]] || fail "--print-key opened the plugin: $stderr"
	[[ $stderr != *libavcodec* ]] || fail "--print-key loaded libavcodec"
	run --separate-stderr env LD_DEBUG=files "$VR_RESIZE" --help
	assert_success
	[[ $stderr != *libavcodec* ]] || fail "--help loaded libavcodec"
	run --separate-stderr env LD_DEBUG=files "$VR_RESIZE" -w -3 in.mp4
	assert_failure 2
	[[ $stderr != *libavcodec* ]] || fail "a usage error loaded libavcodec"
	# ... and the plugin with FFmpeg for a transform, whose output ffprobe reads
	ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x180:rate=25 -t 1 in.mp4
	run --separate-stderr env LD_DEBUG=files "$VR_RESIZE" -w 160 -o out.mp4 in.mp4
	assert_success
	[[ $stderr == *vr-av.so* ]] || fail "the transform did not open vr-av.so"
	[[ $stderr == *libavcodec* ]] || fail "the transform did not load libavcodec"
	run ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 out.mp4
	assert_output "160,90"
}
