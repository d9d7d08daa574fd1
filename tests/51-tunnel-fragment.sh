# An IPv4 packet larger than the tunnel's MTU (ping -s 3000 over 1450) is
# fragmented before encapsulation and reassembled on the far side: every
# echo is answered in full, both ways. TUN_KIND=vxlan runs it on vxlan.
. /xtun/tests/lib.sh
tun_pair
tun_ping 1 10.100.0.2 -s 3000
tun_ping 2 10.100.0.1 -s 3000
out=$(n1 ping -c 1 -W 5 -s 3000 10.100.0.2) || fail "ping -s 3000: $out"
echo "$out" | grep -q '^3008 bytes from 10.100.0.2' || fail "no 3008-byte reply: $out"
