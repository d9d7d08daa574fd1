# A tunnel between the two guests' eth0s carries ping both ways and a TCP
# stream: guest 1 sends BYTES with iperf3 to guest 2's server, and the
# tunnel devices counted at least that much (iperf3 3.12's server under-
# reports what arrives after the client's end message, so its own count
# cannot be checked exactly).
. /xtun/tests/two-guest/lib.sh
BYTES=16777216

setup_tunnel
wait_for_peer
ping -c 3 -i 0.2 -W 2 "$OVERLAY_PEER" || fail "no ping through the tunnel to $OVERLAY_PEER"

# json_bytes SECTION: the byte count of SECTION (sum_sent, sum_received)
# in /tmp/iperf3.json.
json_bytes() {
	awk -v key="\"$1\":" '$1 == key { s = 1 } s && $1 == "\"bytes\":" { sub(/,$/, "", $2); print $2; exit }' /tmp/iperf3.json
}

if [ "$GUEST" = 2 ]; then
	# One test, then the server exits: guest 1 is done with us by then.
	iperf3 -s -1 -B "$OVERLAY" -J > /tmp/iperf3.json 2>&1 &
	server=$!
	wait_for "exited $server" 120
	wait $server || fail "iperf3 server: $(grep '"error"' /tmp/iperf3.json)"
	echo "iperf3 server received $(json_bytes sum_received) bytes; $TUN_DEV rx_bytes $(tun_stat rx_bytes)"
	[ "$(tun_stat rx_bytes)" -ge $BYTES ] || fail "$TUN_DEV received $(tun_stat rx_bytes) bytes, less than the $BYTES sent"
else
	# client_done: ran the test; false while the server is not listening yet.
	client_done() {
		iperf3 -c "$OVERLAY_PEER" -n $BYTES -J > /tmp/iperf3.json 2>&1 && return 0
		grep -q "Connection refused" /tmp/iperf3.json && return 1
		fail "iperf3 client: $(grep '"error"' /tmp/iperf3.json)"
	}
	wait_for client_done 120
	sent=$(json_bytes sum_sent)
	echo "iperf3 sent $sent bytes (the server counted $(json_bytes sum_received)); $TUN_DEV tx_bytes $(tun_stat tx_bytes)"
	[ "$sent" -ge $BYTES ] || fail "iperf3 sent $sent bytes, not $BYTES"
	[ "$(tun_stat tx_bytes)" -ge $BYTES ] || fail "$TUN_DEV sent $(tun_stat tx_bytes) bytes, less than $BYTES"
fi
