# The device offers what tap offers (scatter-gather, frag lists; lockless
# xmit is not visible from userspace) and, as WireGuard/ovpn/veth, has no
# default qdisc.
. /xtun/tests/lib.sh
setup_xtun
features=$(ethtool -k xtun) || fail "ethtool -k failed"
for want in "scatter-gather: on" "tx-scatter-gather-fraglist: on"; do
	echo "$features" | grep -q "^[[:space:]]*$want" || fail "ethtool -k: no '$want'"
done
link=$(ip link show xtun) || fail "ip link show failed"
echo "$link" | head -1
echo "$link" | grep -q "qdisc noqueue" || fail "xtun has a qdisc: $link"
echo "scatter-gather, fraglist; qdisc noqueue"
