# Datagrams that are not valid VXLAN for the device are dropped and counted,
# never delivered, even from its own peer: each length 0..21 (short of the
# VXLAN and Ethernet headers) and the bad flags bytes (anything but 0x08)
# in rx_bad, a wrong VNI in rx_wrong_vni; a keepalive (I flag clear, 8
# bytes) is counted in neither and delivers nothing; an inner frame over
# the MTU (1600 bytes) is delivered or counted, not lost unaccounted.
# Each batch ends with a valid ARP request from a new inner address: once
# ns2 has a neighbour entry for it, everything sent before was handled.
# ns1 has no tunnel; xtun-udp sends from ns2's peer, 10.0.0.1:4789.
# TUN_KIND=vxlan checks only that nothing but the valid frames arrives.
. /xtun/tests/lib.sh
tun_ns_setup
tun_add 2 10.0.0.2
tun_peer 2 10.0.0.1:$TUN_PORT
tun_up 2 10.100.0.2
send() { n1 xtun-udp "$@" --from 10.0.0.1:$TUN_PORT --to 10.0.0.2:$TUN_PORT | tail -n 1 | sed 's/^/# /'; }
counter() { if [ "$TUN_KIND" = xtun ]; then tun_field 2 $1; else echo 0; fi; }
# control N: a valid ARP request from 10.100.0.N, and its arrival.
control() {
	send frame --inner-src 10.100.0.$1 --src-mac 02:00:00:00:00:$1
	wait_for "[ \"\$(tun_neigh 2 10.100.0.$1)\" = 02:00:00:00:00:$1 ]" 30
}
rx0=$(tun_stat 2 rx_packets)
bad0=$(counter rx_bad)
vni0=$(counter rx_wrong_vni)
send short
send bad-flags
send wrong-vni --vni 43 --count 3
send keepalive
control 10
if [ "$TUN_KIND" = xtun ]; then
	wait_for "[ \$((\$(counter rx_bad) - bad0)) -ge 28 ] && [ \$((\$(counter rx_wrong_vni) - vni0)) -ge 3 ]" 10
fi
rx=$(($(tun_stat 2 rx_packets) - rx0))
bad=$(($(counter rx_bad) - bad0))
vni=$(($(counter rx_wrong_vni) - vni0))
echo "# rx_packets +$rx, rx_bad +$bad, rx_wrong_vni +$vni"
[ $rx = 1 ] || fail "ns2's xt0 delivered $rx frames; only the valid ARP request should arrive"
if [ "$TUN_KIND" = xtun ]; then
	[ $bad = 28 ] || fail "rx_bad +$bad for 22 short and 6 bad-flags datagrams"
	[ $vni = 3 ] || fail "rx_wrong_vni +$vni for 3 wrong-VNI datagrams"
fi

rx0=$(tun_stat 2 rx_packets)
bad0=$(counter rx_bad)
send oversized --len 1600 --inner icmp
control 11
rx=$(($(tun_stat 2 rx_packets) - rx0))
bad=$(($(counter rx_bad) - bad0))
echo "# oversized: rx_packets +$rx (the ARP request included), rx_bad +$bad"
[ $((rx + bad)) = 2 ] || fail "a 1600-byte inner frame and an ARP request: rx_packets +$rx, rx_bad +$bad"
