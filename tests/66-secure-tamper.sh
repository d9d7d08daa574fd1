# One flipped byte anywhere in a datagram (key id, peer id, counter, the
# encrypted frame, the tag) and it is dropped and counted, nothing
# delivered: ns1 reaches ns2 through xtun-mitm, which flips a byte of every
# datagram from ns1 (offsets taken in turn); no ping gets through, ns2's
# xt0 receives nothing, and every mangled datagram is counted: a flipped
# peer id names no peer (rx_unknown_src), the rest fail authentication
# (rx_auth_fail). ns2's peer stays where it was (nothing authentic came
# from the relay). Then the relay passes datagrams untouched and ping works.
. /xtun/tests/lib.sh
tun_secure_pair 10.0.0.2:5000
tun_static_neigh
tun_mitm flip 1,5,9,15,16,40,-1
rx0=$(tun_stat 2 rx_packets)
nx 1 ping -c 5 -i 0.2 -W 1 10.100.0.2 > /dev/null 2>&1 && fail "a ping crossed a relay that flips a byte of everything"
mitm_stop
mangled=$(mitm_count mangled)
[ "$mangled" -ge 5 ] || fail "the relay mangled only $mangled datagrams"
wait_for "[ \$((\$(tun_counter 2 rx_auth_fail) + \$(tun_counter 2 rx_unknown_src))) -ge $mangled ]" 10
auth=$(tun_counter 2 rx_auth_fail)
unknown=$(tun_counter 2 rx_unknown_src)
rx=$(($(tun_stat 2 rx_packets) - rx0))
echo "# $mangled mangled: rx_auth_fail $auth, rx_unknown_src $unknown, rx_packets +$rx"
[ $((auth + unknown)) = $mangled ] || fail "$mangled mangled datagrams, $auth auth failures + $unknown unknown peers"
[ $auth -gt 0 ] && [ $unknown -gt 0 ] || fail "both kinds of drop expected: auth $auth, unknown $unknown"
[ $rx = 0 ] || fail "ns2's xt0 delivered $rx frames from mangled datagrams"
ep=$(tun_peer_field 2 10.0.0.1:$TUN_PORT id)
[ "$ep" = $SECURE_ID ] || fail "ns2's peer moved off 10.0.0.1:$TUN_PORT on forged datagrams: $(tun_endpoints 2)"
tun_mitm pass
tun_ping 1 10.100.0.2
mitm_stop
