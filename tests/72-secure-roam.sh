# The server follows a client that moves, but only on proof: ns1's tunnel
# moves to a new address (10.0.0.11) between pings and ns2's peer follows
# with the first authenticated datagram from there; forged datagrams naming
# the peer from yet another address (10.0.0.12) fail authentication and
# move nothing.
. /xtun/tests/lib.sh
tun_secure_pair
tun_ping 1 10.100.0.2
ipx 1 addr add 10.0.0.11/24 dev veth1 || fail "ns1: second address"
ipx 1 addr add 10.0.0.12/24 dev veth1 || fail "ns1: third address"
nx 1 xtunctl set xt0 local 10.0.0.11 || fail "ns1: xtunctl set xt0 local 10.0.0.11"
tun_ping 1 10.100.0.2
[ "$(tun_endpoints 2)" = 10.0.0.11:$TUN_PORT ] || fail "ns2's peer is at $(tun_endpoints 2), not 10.0.0.11:$TUN_PORT"
echo "# ns2's peer moved to $(tun_endpoints 2)"
auth0=$(tun_counter 2 rx_auth_fail)
n1 xtun-udp secure-forge --from 10.0.0.12:$TUN_PORT --to 10.0.0.2:$TUN_PORT --peer-id $SECURE_ID --count 20 | tail -n 1 | sed 's/^/# /'
wait_for "[ \$((\$(tun_counter 2 rx_auth_fail) - auth0)) -ge 20 ]" 10
[ "$(tun_endpoints 2)" = 10.0.0.11:$TUN_PORT ] || fail "forged datagrams moved ns2's peer to $(tun_endpoints 2)"
tun_ping 2 10.100.0.1
