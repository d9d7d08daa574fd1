# A deleted key leaves no copy in memory: while the tunnel is keyed, the
# bytes of both its keys are found in the kernel's RAM (the transforms'
# copies: the check can see them); after ns1 deletes its key and ns2 its
# device, no copy is left in RAM: not in freed memory, netlink's request,
# a stack, or xtunctl's pages. The scan reads all RAM through /proc/kcore
# and finds the 32 bytes where they lie in a row in physical memory.
. /xtun/tests/lib.sh
tun_secure_pair
# Traffic through every path that holds a key: small frames, GSO frames
# cut and sealed, an opened stream.
tun_ping 1 10.100.0.2
tun_iperf 1 2 10.100.0.2 1M
keys="$TUN_KEYS/a $TUN_KEYS/b"

# scan: one line per key file, `FILE COPIES`, into /tmp/memscan.out.
scan() {
	xtun-memscan $keys > /tmp/memscan.out || fail "xtun-memscan: $(cat /tmp/memscan.out)"
	sed 's/^/# /' /tmp/memscan.out
}

scan
for k in $keys; do
	copies=$(awk -v k=$k '$1 == k { print $2 }' /tmp/memscan.out)
	[ "${copies:-0}" -ge 1 ] || fail "the installed key $k is not found in RAM: the scan cannot see keys"
done

nx 1 xtunctl key del xt0 peer $SECURE_ID slot primary || fail "ns1: key del"
nx 2 ip link del xt0 || fail "ns2: ip link del xt0"
# Transforms are freed by a work after the last datagram lets go of them.
none_left() { scan && awk '$1 !~ /^#/ && $2 != 0 { left = 1 } END { exit left }' /tmp/memscan.out; }
none_left || { sleep 2; none_left; } ||
	fail "keys still in RAM after key del (ns1) and link del (ns2): $(grep -v '^#' /tmp/memscan.out | tr '\n' ' ')"
