# Two tunnel devices, each the other's static peer over a veth underlay
# (tests/lib.sh's picture), carry Ethernet both ways: ping answers from
# either side, and each side's ARP entry for the other holds the MAC of
# the far xt0, so ARP itself crossed the tunnel (broadcast out, unicast
# back). TUN_KIND=vxlan runs it on the kernel's vxlan.
. /xtun/tests/lib.sh
tun_pair
tun_ping 1 10.100.0.2
tun_ping 2 10.100.0.1
mac1=$(tun_mac 1)
mac2=$(tun_mac 2)
[ "$(tun_neigh 1 10.100.0.2)" = "$mac2" ] || fail "ns1 has '$(tun_neigh 1 10.100.0.2)' for 10.100.0.2, not ns2's xt0 $mac2"
[ "$(tun_neigh 2 10.100.0.1)" = "$mac1" ] || fail "ns2 has '$(tun_neigh 2 10.100.0.1)' for 10.100.0.1, not ns1's xt0 $mac1"
echo "# ARP through the tunnel: 10.100.0.2 is $mac2 in ns1, 10.100.0.1 is $mac1 in ns2"
