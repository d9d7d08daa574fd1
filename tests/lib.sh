# Shared helpers for guest tests; each test sources this file.
set -u
. /etc/profile

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "$*"; exit 77; }
stat() { cat /sys/class/net/xtun/statistics/$1; }

# Every test starts from: xtun loaded, 10.99.0.1/24 on it, link up.
setup_xtun() {
	[ -c /dev/xtun ] || insmod /lib/modules/xtun.ko || fail "cannot load xtun.ko"
	# No IPv6 on xtun: its router solicitations and DAD would add frames
	# that the exact counter checks do not expect.
	echo 1 > /proc/sys/net/ipv6/conf/xtun/disable_ipv6
	ip addr flush dev xtun
	ip addr add 10.99.0.1/24 dev xtun || fail "cannot address xtun"
	ip link set xtun up || fail "cannot bring xtun up"
}

# Leave no background programs behind.
cleanup() { kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
