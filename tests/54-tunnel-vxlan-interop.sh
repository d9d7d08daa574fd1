# xtun speaks VXLAN as the kernel's vxlan does: xtun in ns1 with ns2 as its
# static peer, vxlan in ns2 (id 42, dstport 4789, remote 10.0.0.1,
# nolearning, source ports hashed per flow as vxlan does by default), and
# ping and TCP (iperf3, 10 MiB) work both ways, ARP included.
. /xtun/tests/lib.sh
TUN_KIND2=vxlan
tun_pair
tun_ping 1 10.100.0.2
tun_ping 2 10.100.0.1
[ "$(tun_neigh 1 10.100.0.2)" = "$(tun_mac 2)" ] || fail "ns1's ARP entry for 10.100.0.2 is not vxlan's MAC"
tun_iperf 1 2 10.100.0.2 $((10 * 1024 * 1024))
tun_iperf 2 1 10.100.0.1 $((10 * 1024 * 1024))
