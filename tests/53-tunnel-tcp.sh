# TCP through the tunnel (iperf3, 20 MiB from ns1 to ns2) arrives whole,
# and the counters agree with it: ns2's xt0 received at least the 20 MiB
# of payload and at most 15% more (TCP/IP and Ethernet headers, ARP), and
# with xtun the per-peer rx_bytes of ns1 in ns2's peer table says the
# same. TUN_KIND=vxlan runs it on vxlan (device counters only).
. /xtun/tests/lib.sh
tun_pair
bytes=$((20 * 1024 * 1024))
rx0=$(tun_stat 2 rx_bytes)
if [ "$TUN_KIND" = xtun ]; then
	peer0=$(tun_peer_field 2 10.0.0.1:$TUN_PORT rx_bytes)
	[ -n "$peer0" ] || fail "ns2 lists no rx_bytes for its peer 10.0.0.1:$TUN_PORT"
fi
tun_iperf 1 2 10.100.0.2 $bytes
# iperf3's client may be done before the last segments it sent reached
# ns2 (its server stops at the client's end message): wait for them.
wait_for "[ \$((\$(tun_stat 2 rx_bytes) - rx0)) -ge $bytes ]" 30
# within BYTES DELTA: the counter grew by the payload and at most 15% more.
within() { awk -v b="$1" -v d="$2" 'BEGIN { exit !(d >= b && d <= b * 1.15) }'; }
rx=$(($(tun_stat 2 rx_bytes) - rx0))
echo "# ns2 xt0 rx_bytes grew by $rx for $bytes bytes of payload"
within $bytes $rx || fail "ns2's xt0 rx_bytes grew by $rx for $bytes bytes of TCP payload"
if [ "$TUN_KIND" = xtun ]; then
	peer=$(($(tun_peer_field 2 10.0.0.1:$TUN_PORT rx_bytes) - peer0))
	echo "# ns2's peer 10.0.0.1:$TUN_PORT rx_bytes grew by $peer"
	within $bytes $peer || fail "the peer's rx_bytes grew by $peer for $bytes bytes of TCP payload"
fi
