# With learn off, a valid VXLAN frame from a source that is no peer (a
# stranger at 10.0.0.3:4789, next to the peer 10.0.0.1) is dropped and
# counted in rx_unknown_src, one per datagram: nothing is delivered and no
# peer is learned. The same frame from the peer is then delivered, so the
# source alone made the difference (and its arrival marks that the
# stranger's datagrams, sent first, were all handled).
. /xtun/tests/lib.sh
tun_requires_xtun
tun_ns_setup
tun_add 2 10.0.0.2 learn off
tun_peer 2 10.0.0.1:$TUN_PORT
tun_up 2 10.100.0.2
ip1 addr add 10.0.0.3/24 dev veth1 || fail "cannot add the stranger's 10.0.0.3"
rx0=$(tun_stat 2 rx_packets)
unknown0=$(tun_field 2 rx_unknown_src)
n1 xtun-udp frame --count 5 --from 10.0.0.3:$TUN_PORT --to 10.0.0.2:$TUN_PORT || fail "xtun-udp from the stranger"
n1 xtun-udp frame --from 10.0.0.1:$TUN_PORT --to 10.0.0.2:$TUN_PORT || fail "xtun-udp from the peer"
wait_for "[ \"\$(tun_neigh 2 10.100.0.9)\" = 02:00:00:00:00:09 ]" 30
wait_for "[ \$((\$(tun_field 2 rx_unknown_src) - unknown0)) -ge 5 ]" 10
unknown=$(($(tun_field 2 rx_unknown_src) - unknown0))
rx=$(($(tun_stat 2 rx_packets) - rx0))
peers=$(tun_field 2 peers)
echo "# rx_unknown_src +$unknown, rx_packets +$rx, peers $peers ($(tun_endpoints 2 | tr '\n' ' '))"
[ $unknown = 5 ] || fail "5 datagrams from a stranger counted $unknown times in rx_unknown_src"
[ $rx = 1 ] || fail "xt0 delivered $rx frames: the stranger's 5 were to be dropped, the peer's 1 delivered"
[ "$peers" = 1 ] || fail "$peers peers after a stranger's datagrams with learn off"
