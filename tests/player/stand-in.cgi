#!/bin/sh
# tests/player/stand-in.cgi — a stand-in for `vr-cache cgi` (RFC 3875), so
# that tests/helpers/cgi.bash and tests/player/play.mjs are tested before and
# apart from the real one. Started by cgi.bash's generated script:
#
#   cgi_start "$PLAYER_DIR/stand-in.cgi"
#
# By the last part of PATH_INFO (the prefix, /videos/ say, is ignored):
#   env       200 text/plain: the environment, sorted (HEAD: headers only)
#   stream    200 text/plain: 20000 bytes 'x' and a newline, then sleeps
#             ?sleep=S seconds (default 2), then "END\n"
#   hang      sleeps 10 s, then 200 text/plain "late\n" (a server that
#             never answers in time)
#   bytes     200 application/octet-stream: ?n=N zero bytes, with
#             Content-Length
#   NAME      the file $STANDIN_ROOT/NAME: 200 or, for Range: bytes=A-[B] or
#             bytes=-N, 206 with Content-Range (416 past the end); ETag and
#             Last-Modified, 304 for a matching If-None-Match;
#             Accept-Ranges: bytes; HEAD: headers only; 404 if absent
# Each request is logged on stderr (fcgiwrap.log): "stand-in: METHOD PATH_INFO
# range=HTTP_RANGE inm=HTTP_IF_NONE_MATCH".
set -u

echo "stand-in: ${REQUEST_METHOD:-?} ${PATH_INFO:-?} range=${HTTP_RANGE:-} inm=${HTTP_IF_NONE_MATCH:-}" >&2

crlf=$(printf '\r')
hdr() { printf '%s\r\n' "$*"; }
param() { # param NAME: the value of NAME=... in QUERY_STRING
	printf '%s' "${QUERY_STRING:-}" | tr '&' '\n' | sed -n "s/^$1=//p" | head -n 1
}
status() {
	hdr "Status: $1"
	hdr "Content-Type: text/plain"
	hdr ""
	[ "${REQUEST_METHOD:-GET}" = HEAD ] || echo "$1"
	exit 0
}

name=${PATH_INFO##*/}
case $name in
env)
	hdr "Status: 200 OK"
	hdr "Content-Type: text/plain"
	hdr ""
	[ "${REQUEST_METHOD:-GET}" = HEAD ] && exit 0
	env | LC_ALL=C sort
	exit 0
	;;
stream)
	hdr "Status: 200 OK"
	hdr "Content-Type: text/plain"
	hdr ""
	head -c 20000 /dev/zero | tr '\0' x
	echo
	s=$(param sleep)
	sleep "${s:-2}"
	echo END
	exit 0
	;;
hang)
	sleep 10
	hdr "Status: 200 OK"
	hdr "Content-Type: text/plain"
	hdr ""
	echo late
	exit 0
	;;
bytes)
	n=$(param n)
	n=${n:-0}
	hdr "Status: 200 OK"
	hdr "Content-Type: application/octet-stream"
	hdr "Content-Length: $n"
	hdr ""
	[ "${REQUEST_METHOD:-GET}" = HEAD ] || head -c "$n" /dev/zero
	exit 0
	;;
'' | . | ..) status "404 Not Found" ;;
esac

file=${STANDIN_ROOT:-/nonexistent}/$name
[ -f "$file" ] || status "404 Not Found"

size=$(stat -c %s "$file")
mtime=$(stat -c %Y "$file")
etag="\"$size-$mtime\""
lastmod=$(LC_ALL=C TZ=GMT date -d "@$mtime" '+%a, %d %b %Y %H:%M:%S GMT')

common() {
	hdr "Content-Type: video/mp4"
	hdr "Accept-Ranges: bytes"
	hdr "ETag: $etag"
	hdr "Last-Modified: $lastmod"
}

if [ "${HTTP_IF_NONE_MATCH:-}" = "$etag" ]; then
	hdr "Status: 304 Not Modified"
	common
	hdr ""
	exit 0
fi

first=0
last=$((size - 1))
code="200 OK"
range=${HTTP_RANGE:-}
range=${range%"$crlf"}
case $range in
bytes=*-*)
	spec=${range#bytes=}
	a=${spec%%-*}
	b=${spec#*-}
	case "$a:$b" in
	*[!0-9:]* | :) status "416 Range Not Satisfiable" ;;
	:*) # the last b bytes
		first=$((size - b))
		[ "$first" -lt 0 ] && first=0
		;;
	*:) first=$a ;;
	*)
		first=$a
		[ "$b" -lt "$last" ] && last=$b
		;;
	esac
	if [ "$first" -ge "$size" ] || [ "$first" -gt "$last" ]; then
		hdr "Status: 416 Range Not Satisfiable"
		hdr "Content-Range: bytes */$size"
		hdr "Content-Type: text/plain"
		hdr ""
		exit 0
	fi
	code="206 Partial Content"
	;;
esac

len=$((last - first + 1))
hdr "Status: $code"
common
hdr "Content-Length: $len"
[ "$code" = "200 OK" ] || hdr "Content-Range: bytes $first-$last/$size"
hdr ""
[ "${REQUEST_METHOD:-GET}" = HEAD ] && exit 0
# tail seeks in a regular file: a late range costs nothing.
tail -c +"$((first + 1))" "$file" | head -c "$len"
