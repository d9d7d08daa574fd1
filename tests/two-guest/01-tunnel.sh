# A tunnel between the two guests' eth0s carries ping both ways and TCP:
# guest 1 fetches a 4 MiB body from guest 2's web server, byte for byte
# (same length, same content), then sends 4 MiB with iperf3 to guest 2.
# (iperf3 3.12's server stops counting when the client's end message comes,
# so its count is at most what was sent, not equal: the exact check is the
# fetch's.)
. /xtun/tests/two-guest/lib.sh
BYTES=4194304

setup_tunnel
wait_for_peer
ping -c 3 -i 0.2 -W 2 "$OVERLAY_PEER" || fail "no ping through the tunnel to $OVERLAY_PEER"

# The body, in both guests: a hash of each byte's position, so a dropped,
# repeated or reordered segment changes it.
xtun-stack pattern $BYTES > /tmp/body || fail "xtun-stack pattern failed"

# json_bytes SECTION: the byte count of SECTION (sum_sent, sum_received)
# in /tmp/iperf3.json.
json_bytes() {
	awk -v key="\"$1\":" '$1 == key { s = 1 } s && $1 == "\"bytes\":" { sub(/,$/, "", $2); print $2; exit }' /tmp/iperf3.json
}

if [ "$GUEST" = 2 ]; then
	mkdir -p /tmp/www && mv /tmp/body /tmp/www/body
	httpd -f -p "$OVERLAY:8080" -h /tmp/www &
	# One test, then the server exits: guest 1 fetched the body before it
	# started the test, so it is done with us then.
	iperf3 -s -1 -B "$OVERLAY" -J > /tmp/iperf3.json 2>&1 &
	server=$!
	# As long as guest 1's whole transfer: under the debug kernel the
	# fetch alone takes minutes. If guest 1 fails, it powers off and
	# peer_wait fails at once.
	peer_wait "exited $server" 1200
	wait $server || fail "iperf3 server: $(grep '"error"' /tmp/iperf3.json)"
	echo "iperf3 server counted $(json_bytes sum_received) bytes; $TUN_DEV rx_bytes $(tun_stat rx_bytes)"
else
	# fetched / client_done: done; false while the server does not listen
	# yet (connection refused), a failure for anything else.
	fetched() {
		wget -q -O /tmp/got "http://$OVERLAY_PEER:8080/body" 2> /tmp/wget.err && return 0
		grep -q "refused" /tmp/wget.err && return 1
		fail "fetching the body: $(cat /tmp/wget.err)"
	}
	client_done() {
		iperf3 -c "$OVERLAY_PEER" -n $BYTES -J > /tmp/iperf3.json 2>&1 && return 0
		grep -q "Connection refused" /tmp/iperf3.json && return 1
		fail "iperf3 client: $(grep '"error"' /tmp/iperf3.json)"
	}
	peer_wait fetched
	got=$(wc -c < /tmp/got)
	[ "$got" -eq $BYTES ] || fail "fetched $got bytes, not $BYTES"
	cmp -s /tmp/got /tmp/body || fail "the fetched body differs from what guest 2 serves"
	echo "fetched $got bytes, the same as served"
	peer_wait client_done
	sent=$(json_bytes sum_sent)
	counted=$(json_bytes sum_received)
	echo "iperf3 sent $sent bytes, the server counted $counted; $TUN_DEV tx_bytes $(tun_stat tx_bytes)"
	[ -n "$sent" ] || fail "iperf3 gave no byte count: $(head -c 400 /tmp/iperf3.json)"
	[ "$sent" -eq $BYTES ] || fail "iperf3 sent $sent bytes, not $BYTES"
	[ "$counted" -gt 0 ] && [ "$counted" -le "$sent" ] || fail "the iperf3 server counted $counted bytes of $sent"
fi
