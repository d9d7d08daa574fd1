# The kernel's own tun selftest (tools/testing/selftests/net/tun.c of 7.2,
# built by xtask as /usr/bin/tun-selftest) passes on /dev/xtun: TUNSETIFF
# creates a multiqueue tap and attaches a second queue, and every order of
# TUNSETQUEUE detach/attach, close and RTM_DELLINK ends cleanly.
#
# XTUN_SELFTEST_DEV=xtun (default): /dev/xtun is bind-mounted on
# /dev/net/tun in a mount namespace of the test's own, so the selftest,
# unchanged, opens xtun. XTUN_SELFTEST_DEV=tun: the kernel's tun, the
# reference the selftest is written for (it passes there).
. /xtun/tests/lib.sh

dev=${XTUN_SELFTEST_DEV:-xtun}

# KTAP comments: what is left out, by name, and why.
echo "# tun-selftest on $dev"
echo "# excluded: fixture tun_vnet_udptnl (send_gso_packet, recv_gso_packet; 48 variants, 96 tests):"
echo "#   they need IFF_VNET_HDR, TUNSETVNETHDRSZ (virtio_net_hdr_v1_hash_tunnel), TUNSETOFFLOAD"
echo "#   (TUN_F_CSUM, TUN_F_UDP_TUNNEL_GSO[_CSUM], TUN_F_USO4/6) and a geneve device: xtun has no"
echo "#   vnet header or offloads, and the guest kernel no CONFIG_GENEVE"
set -- -F tun_vnet_udptnl

case "$dev" in
tun)
	exec tun-selftest "$@"
	;;
xtun)
	[ -c /dev/xtun ] || insmod /lib/modules/xtun.ko || fail "cannot load xtun.ko"
	# Every test of the tun fixture opens an IFF_MULTI_QUEUE|IFF_NAPI tap.
	needs_feature IFF_MULTI_QUEUE
	needs_feature IFF_NAPI
	# The bind mount dies with the namespace, whatever happens to the test.
	exec unshare -m sh -c 'mount --bind /dev/xtun /dev/net/tun && exec tun-selftest "$@"' tun-selftest "$@"
	;;
*)
	fail "XTUN_SELFTEST_DEV=$dev: want tun or xtun"
	;;
esac
