# Helpers for the two-guest tests (tests/two-guest/NN-*.sh). Both guests run
# each test: $GUEST (1 or 2) says which side this one is, $GUEST_IP is its
# eth0 on the lab bridge, $PEER_IP the other guest's.
#
#   guest 1                                      guest 2
#   TUN_DEV 10.200.0.1/24                        TUN_DEV 10.200.0.2/24
#     UDP 4789, VNI 42                             UDP 4789, VNI 42
#   eth0 10.98.0.2 ====== lab bridge xtbr0 ====== eth0 10.98.0.3
. /xtun/tests/lib.sh
[ -n "${PEER_IP:-}" ] || skip "not one of two guests (no PEER_IP): run with cargo xtask test"

# xtun: its tunnel mode (issue 14), the default; vxlan: the kernel's, the
# reference the scripts were proven on (TUN_KIND=vxlan).
TUN_KIND=${TUN_KIND:-xtun}
OVERLAY=10.200.0.$GUEST
OVERLAY_PEER=10.200.0.$((3 - GUEST))
TUN_DEV=

# setup_tunnel: TUN_DEV, a $TUN_KIND tunnel to the other guest over eth0
# (static remote), with $OVERLAY/24 on it, up. The one place that knows
# the kind: the tests that use it are the same for both.
setup_tunnel() {
	case "$TUN_KIND" in
	vxlan)
		TUN_DEV=vx0
		ip link add vx0 type vxlan id 42 dstport 4789 remote "$PEER_IP" dev eth0 ||
			fail "cannot create the vxlan device"
		;;
	xtun)
		TUN_DEV=xt0
		load_xtun
		ip link add xt0 type xtun || fail "cannot create an xtun tunnel device"
		xtunctl set xt0 listen-port 4789 vni 42 || fail "xtunctl set failed"
		xtunctl peer add xt0 endpoint "$PEER_IP:4789" || fail "xtunctl peer add failed"
		;;
	*) fail "unknown TUN_KIND=$TUN_KIND (vxlan or xtun)" ;;
	esac
	trap 'cleanup; ip link del "$TUN_DEV" 2>/dev/null' EXIT
	ip addr add "$OVERLAY/24" dev "$TUN_DEV" || fail "cannot address $TUN_DEV"
	ip link set "$TUN_DEV" up || fail "cannot bring $TUN_DEV up"
}

# tun_stat NAME: a statistics counter of the tunnel device.
tun_stat() { cat /sys/class/net/$TUN_DEV/statistics/$1; }

# wait_for_peer: the other guest boots and sets up its end in its own time;
# wait until its overlay address answers (each try waits up to 1 s).
wait_for_peer() {
	wait_for "ping -c 1 -W 1 $OVERLAY_PEER > /dev/null 2>&1" 60
}

# peer_wait CONDITION [LIMIT]: wait_for CONDITION (LIMIT s, default 60),
# once the other guest is up; if it powers off meanwhile (its side failed),
# fail at once rather than wait out the limit. Its eth0 is pinged every
# 20th try.
peer_wait() {
	local t0 n=0 limit=${2:-60}
	t0=$(cut -d' ' -f1 /proc/uptime)
	until eval "$1"; do
		n=$((n + 1))
		if [ $((n % 20)) -eq 0 ] && ! ping -c 1 -W 1 "$PEER_IP" > /dev/null 2>&1; then
			fail "the other guest ($PEER_IP) is gone; was waiting for: $1"
		fi
		if awk -v t0="$t0" -v limit="$limit" '{ exit !($1 - t0 > limit) }' /proc/uptime; then
			fail "waited $limit s for: $1"
		fi
		sleep 0.05
	done
}
