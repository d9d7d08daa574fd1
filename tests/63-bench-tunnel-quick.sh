# The tunnel benchmark program runs end to end on every variant (the
# underlay, xtun's tunnel, the kernel's vxlan, the userspace forwarder
# xtun-forward, xtun with 10 and with 100 peers, xtun's secure mode with
# ChaCha20-Poly1305 and with AES-256-GCM, the kernel's WireGuard) and
# yields a positive figure for each metric, and names the AEAD drivers the
# kernel picked, so the bench code cannot rot. (Figures come from
# `cargo xtask bench --tunnel`, not here.)
. /xtun/tests/lib.sh
load_xtun
xtun-tbench all --rounds 1 --seconds 0.2 --tcp-seconds 1 --peers 100 > /tmp/tbench.json || fail "xtun-tbench failed"
cat /tmp/tbench.json
check() { # METRIC VARIANT...
	metric=$1
	shift
	for v in "$@"; do
		line=$(grep "\"metric\":\"$metric\"" /tmp/tbench.json | grep "\"device\":\"$v\"")
		[ -n "$line" ] || fail "no $metric for $v"
		value=$(echo "$line" | sed 's/.*"value":\([0-9.]*\).*/\1/')
		awk "BEGIN { exit !($value > 0) }" || fail "$metric for $v is $value"
	done
}
check ping_rtt_us underlay xtun vxlan forwarder xtun-chacha xtun-aes wireguard
check tcp_mbit_s underlay xtun vxlan forwarder xtun-chacha xtun-aes wireguard
check udp_pps underlay xtun vxlan forwarder xtun10 xtun10k
crypto=$(grep '^# crypto: ' /tmp/tbench.json) || fail "no crypto line"
case "$crypto" in *"not instantiated"*) fail "a secure-mode AEAD is not in /proc/crypto: $crypto" ;; esac
! ip netns list | grep -q xtb || fail "namespaces left behind: $(ip netns list)"
[ ! -e /tmp/xtb-keys ] || fail "key files left behind"
