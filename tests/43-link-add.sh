# ip link add makes xtun devices as Linux users make devices: any number,
# kind xtun in `ip -d link`, each with its own MAC, counters and carrier
# (off: nobody attached), deleted by ip link del; 1000 made and deleted in
# a batch leave nothing behind. The module's own xtun stays as it was.
. /xtun/tests/lib.sh
setup_xtun
ip link add xa0 type xtun || fail "ip link add xa0 type xtun"
ip link add xa1 type xtun || fail "ip link add xa1 type xtun"
ip -d link show xa0 | grep -qw xtun || { ip -d link show xa0; fail "ip -d link does not name the kind xtun"; }
mac0=$(cat /sys/class/net/xa0/address)
mac1=$(cat /sys/class/net/xa1/address)
[ "$mac0" != "$mac1" ] || fail "xa0 and xa1 share the MAC $mac0"
[ "$(ethtool -i xa0 | sed -n 's/^driver: //p')" = xtun ] || fail "xa0 is not driven by xtun"
ip link set xa0 up || fail "cannot bring xa0 up"
[ "$(cat /sys/class/net/xa0/carrier)" = 0 ] || fail "xa0 has carrier with no file attached"
[ "$(cat /sys/class/net/xa0/statistics/tx_packets)" = 0 ] || fail "a new device counts tx packets"
ip link add xa0 type xtun 2> /dev/null && fail "a second xa0 was made"
# What ip link add asks for wins over the driver's defaults; a bad address
# is refused (as dummy and veth).
ip link add xa2 address 02:11:22:33:44:55 mtu 9000 txqueuelen 1000 type xtun ||
	fail "ip link add xa2 with address, mtu 9000, txqueuelen 1000"
[ "$(cat /sys/class/net/xa2/address)" = 02:11:22:33:44:55 ] || fail "xa2 address $(cat /sys/class/net/xa2/address)"
[ "$(cat /sys/class/net/xa2/mtu)" = 9000 ] || fail "xa2 mtu $(cat /sys/class/net/xa2/mtu)"
[ "$(cat /sys/class/net/xa2/tx_queue_len)" = 1000 ] || fail "xa2 txqueuelen $(cat /sys/class/net/xa2/tx_queue_len)"
ip link del xa2
ip link add xa3 address 01:00:5e:00:00:01 type xtun 2> /dev/null && fail "a multicast address was taken"
[ ! -e /sys/class/net/xa3 ] || fail "xa3 made with a multicast address"
ip link del xa0 || fail "ip link del xa0"
ip link del xa1 || fail "ip link del xa1"
[ ! -e /sys/class/net/xa0 ] && [ ! -e /sys/class/net/xa1 ] || fail "devices left after ip link del"

# Without a name, the kernel enumerates xtun%d.
ip link add type xtun || fail "ip link add type xtun (no name)"
ip -br link | grep -q '^xtun0 ' || { ip -br link; fail "no xtun0 after ip link add type xtun"; }
ip link del xtun0 || fail "ip link del xtun0"

# 1000 devices in one batch (300 under the debug kernel), and away again.
count=$(many_count)
i=0
: > /tmp/add.batch
: > /tmp/del.batch
while [ $i -lt "$count" ]; do
	echo "link add xb$i type xtun" >> /tmp/add.batch
	echo "link del xb$i" >> /tmp/del.batch
	i=$((i + 1))
done
ip -batch /tmp/add.batch || fail "adding $count devices"
n=$(ls /sys/class/net | grep -c '^xb')
[ "$n" = "$count" ] || fail "$n devices after adding $count"
ip -batch /tmp/del.batch || fail "deleting $count devices"
n=$(ls /sys/class/net | grep -c '^xb')
[ "$n" = 0 ] || fail "$n devices left after deleting $count"
[ -e /sys/class/net/xtun ] || fail "the module's xtun is gone"
echo "# $count devices made and deleted"
