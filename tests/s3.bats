#!/usr/bin/env bats
# S3-compatible origins (vr.conf(5), S3 SOURCES): requests signed with AWS
# Signature Version 4, checked by a fake S3 server on 127.0.0.1
# (tests/helpers/s3.bash: s3rver, and the aws4 package recomputing every
# signature). The oracles: the uploaded files (cmp), dd for slices, the
# server's request log for what was sent and how it was judged, ffprobe for
# a transform. Credentials come from the environment, and never show.

load helpers/common
load helpers/nginx
load helpers/s3

setup_file() {
	[ -x "$VR_FETCH" ] || { echo "build first: make" >&2; return 1; }
	export D=$BATS_FILE_TMPDIR CONF=$BATS_FILE_TMPDIR/vr.conf
	"$ROOT/scripts/fixtures-video" "$FX" >/dev/null
	head -c 300000 /dev/urandom >"$D/obj.bin"
	s3_start
	s3_put "$D/obj.bin" v/obj.bin
	s3_put "$FX/short-90p.mp4" v/a.mp4
	cat >"$CONF" <<EOF
[origin "media"]
match = ^/media/(.*)\$
source = $S3_URL/media/\$1
s3-region = us-east-1
s3-access-key = \${env:VR_TEST_S3_KEY}
s3-secret-key = \${env:VR_TEST_S3_SECRET}

[origin "presigned"]
match = ^/presigned/(.*)\$
source = $S3_URL/media/\$1
s3-region = us-east-1
s3-access-key = \${env:VR_TEST_S3_KEY}
s3-secret-key = \${env:VR_TEST_S3_SECRET}
s3-presign = 5m
EOF
}

teardown_file() {
	s3_stop
}

setup() {
	export VR_TEST_S3_KEY=S3RVER VR_TEST_S3_SECRET=S3RVER
}

# the number of requests the server has seen
requests() {
	wc -l <"$S3_LOG"
}

@test "the fake server refuses what is not signed, or signed with another secret" {
	run curl -s -o /dev/null -w '%{http_code}' "$S3_URL/media/v/obj.bin"
	assert_output 403
	run curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:nope \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$S3_URL/media/v/obj.bin"
	assert_output 403
	run curl -s -o "$D/curl.bin" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$S3_URL/media/v/obj.bin"
	assert_output 200
	cmp "$D/curl.bin" "$D/obj.bin"
}

@test "vr-fetch: a signed object equals what was uploaded" {
	"$VR_FETCH" --config "$CONF" /media/v/obj.bin >"$D/whole.bin"
	cmp "$D/whole.bin" "$D/obj.bin"
	run tail -n 1 "$S3_LOG"
	assert_output "GET /media/v/obj.bin 200 header"
}

@test "vr-fetch: a signed ranged fetch is the dd slice, asked of the server as a range" {
	"$VR_FETCH" --config "$CONF" -r bytes=100-199 /media/v/obj.bin >"$D/part.bin"
	dd if="$D/obj.bin" of="$D/want.bin" bs=1 skip=100 count=100 status=none
	cmp "$D/part.bin" "$D/want.bin"
	run tail -n 1 "$S3_LOG"
	assert_output "GET /media/v/obj.bin 206 header range=bytes=100-199"
}

@test "vr-fetch: a suffix range and two ranges over a signed source" {
	"$VR_FETCH" --config "$CONF" -r bytes=-1000 /media/v/obj.bin >"$D/tail.bin"
	tail -c 1000 "$D/obj.bin" >"$D/want-tail.bin"
	cmp "$D/tail.bin" "$D/want-tail.bin"
	"$VR_FETCH" --config "$CONF" -r bytes=0-9,299990-299999 /media/v/obj.bin >"$D/two.bin"
	{ head -c 10 "$D/obj.bin"; tail -c 10 "$D/obj.bin"; } >"$D/want-two.bin"
	cmp "$D/two.bin" "$D/want-two.bin"
}

@test "vr-fetch: a presigned origin works, and its URL's credential and signature never show" {
	run --separate-stderr "$VR_FETCH" -vv --config "$CONF" /presigned/v/obj.bin -o "$D/pre.bin"
	assert_success
	cmp "$D/pre.bin" "$D/obj.bin"
	run grep -c ' 200 presigned$' "$S3_LOG"
	assert_output 1
	[[ $stderr == *X-Amz-Signature=\*\*\** || $stderr != *X-Amz-Signature* ]]
	[[ $stderr != *S3RVER* ]]
}

@test "vr-fetch: a wrong secret is exit 6, says the signature was rejected, and shows no secret" {
	VR_TEST_S3_SECRET=wrong-Secret-4711 run --separate-stderr "$VR_FETCH" -vv --config "$CONF" \
		/media/v/obj.bin -o "$D/no.bin"
	assert_failure 6
	[[ $stderr == *'signature or credentials of origin "media" were rejected'* ]]
	[[ $stderr != *wrong-Secret-4711* ]]
	[[ $stderr != *S3RVER* ]]
	run tail -n 1 "$S3_LOG"
	assert_output "GET /media/v/obj.bin 403 header SignatureDoesNotMatch"
}

@test "vr-fetch: a wrong secret on a presigned origin is exit 6 too" {
	VR_TEST_S3_SECRET=wrong-Secret-4711 run --separate-stderr "$VR_FETCH" --config "$CONF" \
		/presigned/v/obj.bin -o "$D/no.bin"
	assert_failure 6
	[[ $stderr == *'were rejected'* ]]
	[[ $stderr != *wrong-Secret-4711* ]]
}

@test "vr-fetch: an unset credential is exit 3, names the variable, and sends nothing" {
	before=$(requests)
	unset VR_TEST_S3_SECRET
	run --separate-stderr "$VR_FETCH" --config "$CONF" /media/v/obj.bin -o "$D/no.bin"
	assert_failure 3
	[[ $stderr == *'s3-secret-key: environment variable VR_TEST_S3_SECRET is not set'* ]]
	run requests
	assert_output "$before"
}

@test "metrics lines of a presigned fetch and of a wrong secret hold no credential" {
	"$VR_FETCH" --metrics "$D/fetch.jsonl" --config "$CONF" /presigned/v/obj.bin -o "$D/m.bin"
	VR_TEST_S3_SECRET=wrong-Secret-4711 run "$VR_FETCH" --metrics "$D/fetch.jsonl" --config "$CONF" \
		/media/v/obj.bin -o "$D/no.bin"
	assert_failure 6
	run wc -l <"$D/fetch.jsonl"
	assert_output 2
	run grep -c -e S3RVER -e wrong-Secret -e 'Signature=[0-9a-f]' "$D/fetch.jsonl"
	assert_output 0
}

@test "vr-resize reads a signed source through its origin" {
	"$VR_RESIZE" --config "$CONF" -w 48 -o "$D/r48.mp4" /presigned/v/a.mp4
	run ffprobe -v error -select_streams v:0 -show_entries stream=width -of csv=p=0 "$D/r48.mp4"
	assert_output 48
}

@test "vr-fetch --info names the source without credentials" {
	run "$VR_FETCH" --info --config "$CONF" /presigned/v/obj.bin
	assert_success
	assert_output --partial '"origin":"presigned"'
	refute_output --partial S3RVER
	refute_output --partial Signature=
}

@test "vr-fetch --info of a signed source is a HEAD signed as HEAD: no body, the size" {
	: >"$S3_LOG"
	run "$VR_FETCH" --info --config "$CONF" /media/v/obj.bin
	assert_success
	run jq -r .size <<<"$output"
	assert_output "$(stat -c %s "$D/obj.bin")"
	run grep -c . "$S3_LOG"
	assert_output 1
	run cat "$S3_LOG"
	assert_output --regexp '^HEAD /media/v/obj\.bin 200 '
}

@test "vr-cache: a transform of a signed source, then a hit and its key need no credentials" {
	run "$VR_CACHE" --store "$D/store.db" --config "$CONF" get '/media/v/a.mp4?width=80' -o "$D/a80.mp4"
	assert_success
	run ffprobe -v error -select_streams v:0 -show_entries stream=width -of csv=p=0 "$D/a80.mp4"
	assert_output 80
	before=$(requests)
	unset VR_TEST_S3_KEY VR_TEST_S3_SECRET
	run "$VR_CACHE" --store "$D/store.db" --config "$CONF" get '/media/v/a.mp4?width=80' -o "$D/hit.mp4"
	assert_success
	run ffprobe -v error -select_streams v:0 -show_entries stream=width -of csv=p=0 "$D/hit.mp4"
	assert_output 80
	run "$VR_CACHE" --store "$D/store.db" --config "$CONF" get --print-key '/media/v/a.mp4?width=80'
	assert_success
	run "$VR_CACHE" --store "$D/store.db" --config "$CONF" invalidate /media/v/a.mp4
	assert_success
	run requests
	assert_output "$before"
}

@test "vr-cache: a presigned transform works; a wrong secret is exit 6 with the clear message" {
	run "$VR_CACHE" --store "$D/store2.db" --config "$CONF" --metrics "$D/cache.jsonl" \
		get '/presigned/v/a.mp4?width=64' -o "$D/a64.mp4"
	assert_success
	run grep -c -e S3RVER -e 'Signature=[0-9a-f]' "$D/cache.jsonl"
	assert_output 0
	run ffprobe -v error -select_streams v:0 -show_entries stream=width -of csv=p=0 "$D/a64.mp4"
	assert_output 64
	VR_TEST_S3_SECRET=wrong-Secret-4711 run --separate-stderr "$VR_CACHE" --store "$D/store2.db" \
		--config "$CONF" get '/media/v/a.mp4?width=96' -o "$D/no.mp4"
	assert_failure 6
	[[ $stderr == *'signature or credentials of origin "media" were rejected'* ]]
	[[ $stderr != *wrong-Secret-4711* ]]
}
