# A tunnel holds many static peers: 1000 (300 under the debug kernel),
# each with an endpoint of its own (10.0.0.2, ports 10000 up) and a MAC,
# are added one by one and `xtunctl show` counts and lists every one; all
# are deleted again (the last by id), leaving an empty table; 99-kmemleak
# then finds nothing of them left behind.
. /xtun/tests/lib.sh
tun_requires_xtun
tun_ns_setup
count=$(many_count)
tun_add 1 10.0.0.1 max-peers $count max-macs $count
tun_up 1 10.100.0.1
# One shell inside ns1 for the whole loop: an `ip netns exec` per peer
# would cost more than the peers.
n1 sh -c 'i=0
	while [ $i -lt $1 ]; do
		xtunctl peer add xt0 endpoint 10.0.0.2:$((10000 + i)) mac $(printf "02:00:00:00:%02x:%02x" $((i / 256)) $((i % 256))) || exit 1
		i=$((i + 1))
	done' sh $count || fail "adding $count peers"
[ "$(tun_field 1 peers)" = $count ] || fail "xtunctl show counts $(tun_field 1 peers) peers after adding $count"
listed=$(tun_endpoints 1 | sort -u | wc -l)
[ "$listed" = $count ] || fail "xtunctl show lists $listed distinct endpoints for $count peers"
echo "# $count peers added, each listed once"
last=10.0.0.2:$((10000 + count - 1))
id=$(tun_peer_field 1 $last id)
[ -n "$id" ] || fail "no id for the peer $last"
n1 sh -c 'i=0
	while [ $i -lt $(($1 - 1)) ]; do
		xtunctl peer del xt0 endpoint 10.0.0.2:$((10000 + i)) || exit 1
		i=$((i + 1))
	done' sh $count || fail "deleting $count peers"
n1 xtunctl peer del xt0 id $id || fail "xtunctl peer del xt0 id $id ($last)"
[ "$(tun_field 1 peers)" = 0 ] || fail "$(tun_field 1 peers) peers left after deleting all $count"
[ -z "$(tun_endpoints 1)" ] || fail "xtunctl show still lists $(tun_endpoints 1 | wc -l) endpoints"
echo "# all $count deleted, the last by id $id"
