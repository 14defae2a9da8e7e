# tests/helpers/s3.bash — a fake S3 server for bats tests (tests/s3/fake-s3.js:
# s3rver keeps the objects, the aws4 package checks every request's
# Signature Version 4). Load it after helpers/nginx (for the port helpers):
#
#   setup_file()    { s3_start; }
#   teardown_file() { s3_stop; }
#
# s3_start
#     Starts it on 127.0.0.1 on a free port with bucket "media", its data
#     and a request log under $BATS_FILE_TMPDIR/s3. Exports S3_PORT,
#     S3_URL (http://127.0.0.1:PORT), S3_LOG (one line per request:
#     method, URL, status, auth kind, the failure code, the Range) and
#     S3_PID. Credentials: access key S3RVER, secret S3RVER.
# s3_put FILE KEY
#     Uploads FILE as media/KEY, signed by curl --aws-sigv4 (another
#     independent signer).
# s3_stop
#     Kills it and waits until it is gone. Safe to call twice.

S3_DIR_JS=${S3_DIR_JS:-$BATS_TEST_DIRNAME/s3}

s3_start() {
	local dir=$BATS_FILE_TMPDIR/s3 port attempt
	if [ ! -d "$S3_DIR_JS/node_modules/s3rver" ] || [ ! -d "$S3_DIR_JS/node_modules/aws4" ]; then
		echo "s3_start: tests/s3/node_modules is missing: run scripts/setup" >&2
		return 1
	fi
	mkdir -p "$dir/data"
	for attempt in 1 2 3 4 5; do
		port=$(_vr_free_port) || return 1
		: >"$dir/out"
		node "$S3_DIR_JS/fake-s3.js" --port "$port" --directory "$dir/data" --bucket media \
			--log "$dir/requests.log" >"$dir/out" 2>&1 </dev/null 3>&- &
		S3_PID=$!
		for _ in $(seq 1 100); do
			if grep -q '^listening' "$dir/out" 2>/dev/null; then
				export S3_PORT=$port S3_URL=http://127.0.0.1:$port S3_LOG=$dir/requests.log S3_PID
				return 0
			fi
			kill -0 "$S3_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$S3_PID" 2>/dev/null || true
		wait "$S3_PID" 2>/dev/null || true
	done
	echo "s3_start: the fake S3 server did not start (attempt $attempt):" >&2
	cat "$dir/out" >&2
	return 1
}

s3_put() {
	curl -sS --fail -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$1" "$S3_URL/media/$2" 3>&-
}

s3_stop() {
	[ -n "${S3_PID:-}" ] || return 0
	kill "$S3_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$S3_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$S3_PID" 2>/dev/null || true
	unset S3_PID
	return 0
}
