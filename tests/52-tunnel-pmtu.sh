# The tunnel's MTU is the underlay's less the 50 bytes of outer IPv4, UDP
# and VXLAN headers and the inner Ethernet header (1450 on a 1500 veth):
# a 1450-byte packet with DF set (ping -M do -s 1422) crosses, a 1451-byte
# one and a 1528-byte one fail at once with a local "message too long"
# error instead of vanishing or hanging. TUN_KIND=vxlan runs it on vxlan.
. /xtun/tests/lib.sh
tun_pair
mtu=$(nx 1 cat /sys/class/net/xt0/mtu)
[ "$mtu" = 1450 ] || fail "xt0's MTU is $mtu on a 1500-byte underlay, not 1450"
tun_ping 1 10.100.0.2 -M do -s 1422
tun_ping 2 10.100.0.1 -M do -s 1422
for size in 1423 1500; do
	t0=$(cut -d' ' -f1 /proc/uptime)
	out=$(timeout 20 /usr/sbin/ip netns exec $ns1 ping -c 1 -W 2 -M do -s $size 10.100.0.2 2>&1)
	rc=$?
	took=$(awk -v t0="$t0" '{ printf "%.1f", $1 - t0 }' /proc/uptime)
	echo "# ping -M do -s $size: exit $rc after $took s: $(echo "$out" | grep -i 'too long' | head -n 1)"
	[ $rc = 0 ] && fail "ping -M do -s $size crossed a 1450-byte MTU"
	awk -v t="$took" 'BEGIN { exit !(t < 15) }' || fail "ping -M do -s $size hung for $took s"
	echo "$out" | grep -qi 'message too long' || fail "ping -M do -s $size: no 'message too long': $out"
done
