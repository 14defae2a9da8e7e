#!/usr/bin/env bash
# tests/player/make-fixture.sh — the video the player tests play.
#
#   tests/player/make-fixture.sh [--frag] [--from SRC.mp4] OUT.mp4 [DURATION]
#
# Writes DURATION seconds (default 120) of 640x360 25 fps yuv420p H.264 + AAC
# (48 kHz mono sine) made from ffmpeg's lavfi sources: testsrc2 as the moving
# background, and a centered 160x160 grey patch whose luma is
#
#     Y = 16 + 2 * floor(t)        (limited range, Cb = Cr = 128; capped at 254)
#
# so a frame tells its own second: Y 216 is 100 s. Shown in RGB (a canvas),
# the patch is R = G = B = (Y - 16) * 255 / 219, e.g. 233 at 100 s; the patch
# spans x 240..399, y 100..259 (the centre 16x16 is x 312..327, y 172..187).
# A keyframe starts every whole second (GOP 1 s): a +2 step in a flat patch is
# below what a P-frame at this quality bothers to code, so with a longer GOP
# the patch lagged a few frames behind odd seconds; from a keyframe it is
# exact (measured within 0.5 of Y in every frame). No B-frames: without a
# composition delay the fragmented variant (which gets no edit list) keeps
# the same timeline, frame k at k/25 s, as the progressive one.
#
#   (default)        progressive, moov first (-movflags +faststart)
#   --frag           fragmented: empty moov + a fragment per keyframe
#                    (-movflags frag_keyframe+empty_moov)
#   --from SRC.mp4   remux SRC (a file this script made) instead of encoding
#                    anew: --frag --from progressive.mp4 costs no encode
#
# An existing OUT made by this version of the script with the same DURATION
# and layout is kept (idempotent; ffprobe reads the stamp in its comment tag).
# OUT is written to a temporary name and renamed. Fixtures are generated,
# never committed. Encoding 120 s takes 8-12 s on two cores (~8.7 MB).
set -euo pipefail

# Bump when the picture or the encoding changes.
FIXTURE_VERSION=3

usage() {
	sed -n '3,5p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

frag=0
from=''
while [ $# -gt 0 ]; do
	case $1 in
	--frag) frag=1 ;;
	--from)
		[ $# -ge 2 ] || usage
		from=$2
		shift
		;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
	shift
done
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	usage
fi
out=$1
duration=${2:-120}
case $duration in
'' | *[!0-9]* | 0) echo "make-fixture: DURATION must be a whole number of seconds > 0" >&2; exit 2 ;;
esac
if [ "$duration" -gt 119 ] && [ "$duration" -ne 120 ]; then
	# Y would pass 254 after 119 s; 120 is allowed (the last second is 254).
	echo "make-fixture: DURATION must be at most 120 (the patch luma saturates)" >&2
	exit 2
fi

if [ "$frag" -eq 1 ]; then
	layout=frag
	movflags=frag_keyframe+empty_moov
else
	layout=faststart
	movflags=+faststart
fi
stamp="vr-player-fixture v$FIXTURE_VERSION d$duration $layout"

if [ -s "$out" ] && command -v ffprobe >/dev/null 2>&1; then
	have=$(ffprobe -v error -show_entries format_tags=comment -of default=nw=1:nk=1 "$out" 2>/dev/null || true)
	if [ "$have" = "$stamp" ]; then
		exit 0
	fi
fi

tmp="$out.tmp.$$.mp4"
trap 'rm -f "$tmp"' EXIT

if [ -n "$from" ]; then
	ffmpeg -nostdin -v error -y -i "$from" -map 0 -c copy \
		-metadata comment="$stamp" -movflags "$movflags" "$tmp"
else
	# The patch is made in YUV by geq (so Y is exact before encoding) on a
	# 160x160 source, which keeps geq cheap; overlay keeps yuv420p.
	ffmpeg -nostdin -v error -y \
		-f lavfi -i "testsrc2=s=640x360:r=25:d=$duration" \
		-f lavfi -i "color=c=black:s=160x160:r=25:d=$duration,format=yuv420p,geq=lum='min(254,16+2*floor(T))':cb=128:cr=128" \
		-f lavfi -i "sine=f=440:r=48000:d=$duration" \
		-filter_complex "[0:v][1:v]overlay=(W-w)/2:(H-h)/2:shortest=1,format=yuv420p[v]" \
		-map '[v]' -map 2:a \
		-c:v libx264 -preset veryfast -crf 28 -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 \
		-c:a aac -b:a 64k -ac 1 \
		-metadata comment="$stamp" -movflags "$movflags" "$tmp"
fi
mv -f "$tmp" "$out"
trap - EXIT
