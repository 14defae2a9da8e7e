# Helpers for tests/faults.bats: a one-connection HTTP origin that answers
# with handcrafted bytes (or closes at once, or stalls), random delays, kill
# bookkeeping and byte-level damage of a store. Needs helpers/nginx.bash
# (for _vr_free_port and _vr_port_listening) and helpers/store.bash (q).
# shellcheck shell=bash disable=SC2016,SC2015,SC2059

# fault_listen RESPONSE [HOLD]: a listener on a free 127.0.0.1 port that
# accepts one connection, reads the request's head, sends the bytes of
# RESPONSE (an empty file: none), keeps the connection open HOLD more
# seconds (default 0) and closes it. The request is read first so that the
# close is an end of file: a socket closed with unread data sends a reset
# instead ("Connection reset by peer" for a body cut short, which nc -q 0
# gave once under SAN=1, when it closed before the request had come).
# Sets FPORT and FPID (the leader of its own process group).
fault_listen() {
	local resp=$1 hold=${2:-0} i
	fault_stop
	FPORT=$(_vr_free_port) || return 1
	setsid perl -MIO::Socket::INET -e '
		my ($resp, $port, $hold) = @ARGV;
		open(my $f, "<:raw", $resp) or die "$resp: $!\n";
		my $out = do { local $/; <$f> } // "";
		my $srv = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port,
			Listen => 1, ReuseAddr => 1) or die "listen: $!\n";
		my $c = $srv->accept or die "accept: $!\n";
		my $req = "";
		while ($req !~ /\r\n\r\n/) {
			my $n = sysread($c, $req, 65536, length $req);
			last unless $n;
		}
		for (my $at = 0; $at < length $out;) {
			my $n = syswrite($c, $out, length($out) - $at, $at);
			last unless $n;
			$at += $n;
		}
		select(undef, undef, undef, $hold) if $hold > 0;
		close $c;' "$resp" "$FPORT" "$hold" </dev/null >/dev/null 2>&1 3>&- &
	FPID=$!
	for i in $(seq 1 100); do
		_vr_port_listening "$FPORT" && return 0
		sleep 0.02
	done
	echo "fault_listen: nothing listens on $FPORT" >&2
	return 1
}

# fault_stop: the listener and whatever it started are gone. Safe twice.
fault_stop() {
	[ -n "${FPID:-}" ] || return 0
	kill -KILL -- "-$FPID" 2>/dev/null || kill -KILL "$FPID" 2>/dev/null || true
	wait "$FPID" 2>/dev/null || true
	FPID=
}

# http_response FILE STATUS_LINE HEADERS BODY_FILE [BODY_BYTES]: FILE gets
# "HTTP/1.1 STATUS_LINE", the header lines of HEADERS ('\n'-separated),
# Connection: close and the first BODY_BYTES (default all) of BODY_FILE.
http_response() {
	local f=$1 st=$2 hdrs=$3 body=$4 n=${5:-}
	{
		printf 'HTTP/1.1 %s\r\n' "$st"
		if [ -n "$hdrs" ]; then
			printf '%s\n' "$hdrs" | sed 's/$/\r/'
		fi
		printf 'Connection: close\r\n\r\n'
		if [ -n "$n" ]; then head -c "$n" "$body"; else cat "$body"; fi
	} >"$f"
}

# rand_ms LO HI: a random whole number of milliseconds in LO..HI
rand_ms() {
	echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1)))
}

# ms_sleep MS: sleep MS milliseconds
ms_sleep() {
	local s
	printf -v s '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
	sleep "$s"
}

# now_ms: the time in milliseconds (bash's clock: no fork)
now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((t / 1000))
}

# writing_rows: generations of the store still in state 'writing'
writing_rows() {
	q "SELECT count(*) FROM entries WHERE state = 'writing'"
}

# store_clean: no writing generation, no lock, no chunk outside a ready entry
store_clean() {
	local r
	r=$(q "SELECT (SELECT count(*) FROM entries WHERE state = 'writing'), (SELECT count(*) FROM locks),
		(SELECT count(*) FROM chunks), (SELECT coalesce(sum(chunk_count), 0) FROM entries WHERE state = 'ready')")
	local IFS="|"
	# shellcheck disable=SC2086 # split on |
	set -- $r
	[ "$1" -eq 0 ] && [ "$2" -eq 0 ] && [ "$3" -eq "$4" ] || {
		echo "store not clean: $1 writing, $2 locks, $3 chunks for $4 ready"
		return 1
	}
}

# flip_byte_sql KEY IDX POS: byte POS of chunk IDX of KEY's ready entry
# changed (XOR 0x01), through an UPDATE with the whole chunk as a blob
# literal; the SQL goes through stdin (a 64 KiB chunk is over the
# 128 KiB limit of one argument in hex).
flip_byte_sql() {
	local key=$1 idx=$2 pos=$3 hex b where
	where="entry = (SELECT id FROM entries WHERE key = CAST('$key' AS BLOB) AND state = 'ready') AND idx = $idx"
	hex=$(q "SELECT hex(data) FROM chunks WHERE $where")
	[ -n "$hex" ] || { echo "no chunk $idx of $key" >&2; return 1; }
	b=$(printf '%02X' $((16#${hex:$((2 * pos)):2} ^ 1)))
	printf "UPDATE chunks SET data = X'%s%s%s' WHERE %s;\n" \
		"${hex:0:$((2 * pos))}" "$b" "${hex:$((2 * pos + 2))}" "$where" |
		sqlite3 -batch -cmd '.timeout 10000' "$S"
}

# flip_byte_file FILE NEEDLE_FILE: in FILE (a store with no WAL), the first
# byte of the first occurrence of NEEDLE_FILE's bytes changed (XOR 0x01) in
# place; prints the offset
flip_byte_file() {
	local off b
	off=$(perl -0777 -e 'open my $h, "<:raw", $ARGV[1] or die; local $/; my $n = <$h>;
		open my $f, "<:raw", $ARGV[0] or die; my $d = <$f>; print index($d, $n)' "$1" "$2")
	[ "$off" -ge 0 ] || { echo "needle not found in $1" >&2; return 1; }
	b=$(od -An -tu1 -j "$off" -N 1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
	echo "$off"
}

# fingerprint PATH: what a file or folder is, to tell it was left untouched
fingerprint() {
	if [ -d "$1" ]; then
		echo "dir $(stat -c '%a %Y' "$1") $(ls -A "$1" | paste -sd,)"
	else
		echo "file $(stat -c '%s %Y' "$1") $(sha256sum <"$1" | cut -c1-64)"
	fi
}

# wait_key_chunks KEY N: until KEY's generation being written has N chunks
wait_key_chunks() {
	local i
	for ((i = 0; i < 400; i++)); do
		[ "$(q "SELECT count(*) FROM chunks WHERE entry IN (SELECT id FROM entries
			WHERE key = CAST('$1' AS BLOB) AND state = 'writing')" 2>/dev/null)" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.05
	done
	echo "$1: no generation with $2 chunks appeared" >&2
	return 1
}
