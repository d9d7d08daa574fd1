# xtun.ko is loaded: /dev/xtun is a misc char device and xtun is a real
# Ethernet interface (ether type, random locally administered unicast MAC,
# MTU 1500, txqueuelen 500, ARP on, carrier off while nobody has it open).
# Carrier can only be read while the interface is up, so the check brings
# it up (nobody holds /dev/xtun yet) and down again.
. /xtun/tests/lib.sh
grep -q '^xtun ' /proc/modules || fail "xtun is not in /proc/modules"
[ -c /dev/xtun ] || fail "/dev/xtun is not a character device"
grep -q ' xtun$' /proc/misc || fail "xtun is not a misc device"
ip -d link show xtun || fail "no xtun interface"
[ "$(cat /sys/class/net/xtun/type)" = 1 ] || fail "type is not ARPHRD_ETHER"
[ "$(cat /sys/class/net/xtun/mtu)" = 1500 ] || fail "MTU is not 1500"
[ "$(cat /sys/class/net/xtun/tx_queue_len)" = 500 ] || fail "txqueuelen is not 500"
[ "$(cat /sys/class/net/xtun/addr_assign_type)" = 1 ] || fail "MAC is not random (NET_ADDR_RANDOM)"
first=$(cut -c1-2 /sys/class/net/xtun/address)
[ $((0x$first & 2)) = 2 ] || fail "MAC is not locally administered"
[ $((0x$first & 1)) = 0 ] || fail "MAC is multicast"
flags=$(cat /sys/class/net/xtun/flags)
[ $((flags & 0x80)) = 0 ] || fail "IFF_NOARP is set"
ip link set xtun up || fail "cannot bring xtun up"
carrier=$(cat /sys/class/net/xtun/carrier) || fail "cannot read the carrier of the up interface"
[ "$carrier" = 0 ] || fail "carrier is '$carrier' with nobody holding /dev/xtun"
ip link show xtun | grep -q NO-CARRIER || fail "ip link does not show NO-CARRIER with nobody holding /dev/xtun"
ip link set xtun down
echo "xtun $(cat /sys/class/net/xtun/address) mtu 1500 qlen 500"
