# ARP works through xtun (no IFF_NOARP, Ethernet header_ops): after one
# ping the neighbour table holds 10.99.0.2 as REACHABLE at the MAC the
# responder answered with.
. /xtun/tests/lib.sh
setup_xtun
ip neigh flush dev xtun
xtun-responder --ip 10.99.0.2 --mac 02:00:00:99:00:42 &
wait_for "holds_xtun $!"
ping -I xtun -c 1 -W 2 10.99.0.2 > /dev/null || fail "no reply to the ping that triggers ARP"
neigh=$(ip neigh show 10.99.0.2 dev xtun)
echo "neighbour: $neigh"
echo "$neigh" | grep -q 'lladdr 02:00:00:99:00:42' || fail "wrong or no neighbour MAC"
echo "$neigh" | grep -q 'REACHABLE' || fail "neighbour is not REACHABLE"
