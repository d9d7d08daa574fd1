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
# The peers as "ENDPOINT MAC" lines, fed to one shell inside ns1: a
# process or an `ip netns exec` per peer would cost more than the peers.
awk -v n=$count 'BEGIN { for (i = 0; i < n; i++)
	printf "10.0.0.2:%d 02:00:00:00:%02x:%02x\n", 10000 + i, int(i / 256), i % 256 }' > /tmp/peers
n1 sh -c 'while read ep mac; do xtunctl peer add xt0 endpoint $ep mac $mac || exit 1; done' < /tmp/peers ||
	fail "adding $count peers"
[ "$(tun_field 1 peers)" = $count ] || fail "xtunctl show counts $(tun_field 1 peers) peers after adding $count"
listed=$(tun_endpoints 1 | sort -u | wc -l)
[ "$listed" = $count ] || fail "xtunctl show lists $listed distinct endpoints for $count peers"
echo "# $count peers added, each listed once"
last=10.0.0.2:$((10000 + count - 1))
id=$(tun_peer_field 1 $last id)
[ -n "$id" ] || fail "no id for the peer $last"
head -n $((count - 1)) /tmp/peers | n1 sh -c 'while read ep mac; do xtunctl peer del xt0 endpoint $ep || exit 1; done' ||
	fail "deleting $count peers"
n1 xtunctl peer del xt0 id $id || fail "xtunctl peer del xt0 id $id ($last)"
[ "$(tun_field 1 peers)" = 0 ] || fail "$(tun_field 1 peers) peers left after deleting all $count"
[ -z "$(tun_endpoints 1)" ] || fail "xtunctl show still lists $(tun_endpoints 1 | wc -l) endpoints"
echo "# all $count deleted, the last by id $id"
