# Deleting peers while a ping flood runs through them is safe: ns1's peer
# is deleted by endpoint mid-flood (ns1's frames then have nowhere to go and
# count in tx_no_peer), ns2's by id; the peer tables are empty, the kernel
# log stays clean (run.sh), and with the peers added again the tunnel
# carries pings as before.
. /xtun/tests/lib.sh
tun_requires_xtun
tun_pair
tun_ping 1 10.100.0.2
nx_bg 1 ping -f -w 120 10.100.0.2 > /dev/null 2>&1
rx0=$(tun_stat 2 rx_packets)
wait_for "[ \$((\$(tun_stat 2 rx_packets) - rx0)) -ge 200 ]" 60
nopeer0=$(tun_field 1 tx_no_peer)
n1 xtunctl peer del xt0 endpoint 10.0.0.2:$TUN_PORT || fail "ns1: xtunctl peer del xt0 endpoint 10.0.0.2:$TUN_PORT"
wait_for "[ \$((\$(tun_field 1 tx_no_peer) - nopeer0)) -ge 50 ]" 60
id=$(tun_peer_field 2 10.0.0.1:$TUN_PORT id)
[ -n "$id" ] || fail "ns2 lists no id for its peer 10.0.0.1:$TUN_PORT"
n2 xtunctl peer del xt0 id $id || fail "ns2: xtunctl peer del xt0 id $id"
echo "# ns1's peer deleted by endpoint, ns2's by id $id, while flooding; tx_no_peer +$(($(tun_field 1 tx_no_peer) - nopeer0))"
[ "$(tun_field 1 peers)" = 0 ] && [ "$(tun_field 2 peers)" = 0 ] ||
	fail "peers left: ns1 $(tun_field 1 peers), ns2 $(tun_field 2 peers)"
tun_peer 1 10.0.0.2:$TUN_PORT
tun_peer 2 10.0.0.1:$TUN_PORT
tun_ping 1 10.100.0.2
tun_ping 2 10.100.0.1
