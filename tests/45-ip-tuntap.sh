# iproute2's ip tuntap, unmodified, with /dev/xtun bound over /dev/net/tun:
# `ip tuntap add dev t0 mode tap` makes a persistent xtun device (TUNSETIFF
# + TUNSETPERSIST), `ip tuntap del` removes it (attach, persist off, close).
. /xtun/tests/lib.sh
setup_xtun
unshare -m sh -c 'mount --bind /dev/xtun /dev/net/tun && /usr/sbin/ip tuntap add dev tt0 mode tap' ||
	fail "ip tuntap add dev tt0 mode tap"
[ -e /sys/class/net/tt0 ] || fail "no tt0 after ip tuntap add"
[ "$(ethtool -i tt0 | sed -n 's/^driver: //p')" = xtun ] || fail "tt0 is not an xtun device"
unshare -m sh -c 'mount --bind /dev/xtun /dev/net/tun && /usr/sbin/ip tuntap del dev tt0 mode tap' ||
	fail "ip tuntap del dev tt0 mode tap"
wait_for "[ ! -e /sys/class/net/tt0 ]" 10
echo "# ip tuntap add/del made and removed tt0"
