# A tunnel goes away cleanly while a ping flood runs through it, in each
# way it can go: ns2's xt0 deleted (ip link del), the xtun module unloaded
# with both ends up and busy (rmmod, then loaded again as 19-load-unload-
# cycle does), and ns2 deleted with its xt0 (ip netns del). After each the
# tunnel is made again and carries pings; the kernel log stays clean
# (run.sh), and 99-kmemleak finds nothing left behind.
# TUN_KIND=vxlan runs it on vxlan, without the module unload.
. /xtun/tests/lib.sh
tun_pair
# flood_until_busy: a ping flood from ns1 over the tunnel, until ns2 has
# received 200 of it. A new xt0 in ns2 has a new MAC: ns1 forgets the old.
flood_until_busy() {
	ip1 neigh flush dev xt0
	tun_ping 1 10.100.0.2
	nx_bg 1 ping -f -w 120 10.100.0.2 > /dev/null 2>&1
	rx0=$(tun_stat 2 rx_packets)
	wait_for "[ \$((\$(tun_stat 2 rx_packets) - rx0)) -ge 200 ]" 60
}
flood_until_busy
ip2 link del xt0 || fail "ns2: ip link del xt0 under a flood"
ip2 link show xt0 > /dev/null 2>&1 && fail "ns2's xt0 outlived ip link del"
echo "# ns2's xt0 deleted under a flood"
tun_add 2 10.0.0.2
tun_peer 2 10.0.0.1:$TUN_PORT
tun_up 2 10.100.0.2
flood_until_busy

if [ "$TUN_KIND" = xtun ]; then
	rmmod xtun || fail "rmmod xtun with two busy tunnel devices"
	[ ! -e /sys/module/xtun ] || fail "xtun still loaded after rmmod"
	ip1 link show xt0 > /dev/null 2>&1 && fail "ns1's xt0 outlived its module"
	echo "# xtun unloaded under a flood"
	kill $(jobs -p) 2> /dev/null
	insmod /lib/modules/xtun.ko || fail "insmod after rmmod"
	tun_pair_devices
	flood_until_busy
fi

/usr/sbin/ip netns del $ns2 || fail "ip netns del $ns2 under a flood"
wait_for "! /usr/sbin/ip netns list | grep -qw $ns2" 30
echo "# $ns2 deleted with its xt0 under a flood"
tun_ns_add 2
ip1 link del veth1 2> /dev/null
tun_link 1 veth1 10.0.0.1/24 2 veth2 10.0.0.2/24
# vxlan goes with its lower device (veth1 went with veth2); xtun's stays.
if ! ip1 link show xt0 > /dev/null 2>&1; then
	tun_add 1 10.0.0.1
	tun_peer 1 10.0.0.2:$TUN_PORT
	tun_up 1 10.100.0.1
fi
tun_add 2 10.0.0.2
tun_peer 2 10.0.0.1:$TUN_PORT
tun_up 2 10.100.0.2
ip1 neigh flush dev xt0
tun_ping 1 10.100.0.2
