# ethtool -i (SIOCETHTOOL get_drvinfo) names the driver, version (the kernel release: no driver version) and bus.
. /xtun/tests/lib.sh
out=$(ethtool -i xtun) || fail "ethtool -i failed"
echo "$out"
echo "$out" | grep -q '^driver: xtun$' || fail "driver is not xtun"
echo "$out" | grep -q '^version: [0-9]' || fail "no version"
echo "$out" | grep -q '^bus-info: xtun$' || fail "bus-info is not xtun"
