# A server with learn on learns a client behind NAT at the address and
# port the NAT gave it: the client (ns1, listen-port 4789) reaches the
# server through a router that masquerades its UDP to 10.0.0.1 and a port
# in 20000-20099 (tests/lib.sh, tun_nat_setup); the server (ns2) has no
# static peer, yet answers the ping, and its peer table then holds one
# learned peer at 10.0.0.1:<rewritten port>, through which the server can
# reach the client on its own.
. /xtun/tests/lib.sh
tun_requires_xtun
tun_nat_setup
tun_add 1 192.168.1.100
tun_peer 1 10.0.0.2:$TUN_PORT
tun_up 1 10.100.0.1
tun_add 2 10.0.0.2 learn on
tun_up 2 10.100.0.2
tun_ping 1 10.100.0.2
ep=$(tun_endpoints 2)
echo "# ns2 learned: $ep"
[ "$(echo "$ep" | wc -l)" = 1 ] || fail "ns2 has peers '$(echo $ep)', not one"
port=${ep#10.0.0.1:}
[ "$port" != "$ep" ] && [ "$port" -ge 20000 ] && [ "$port" -le 20099 ] ||
	fail "ns2's learned peer is $ep, not 10.0.0.1 at the rewritten port 20000-20099"
[ "$(tun_peer_field 2 $ep static)" = false ] || fail "the learned peer $ep is marked static"
tun_ping 2 10.100.0.1
