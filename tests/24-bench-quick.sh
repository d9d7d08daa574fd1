# The benchmark program runs end to end on both devices (xtun and the
# kernel's tap) and yields a positive figure for every metric, so the
# bench code cannot rot. (Figures come from `cargo xtask bench`, not here.)
. /xtun/tests/lib.sh
ip link set xtun down
xtun-bench all --pairs 1 --seconds 0.2 > /tmp/bench.json || fail "xtun-bench failed"
cat /tmp/bench.json
for metric in read_pps mq_read_pps write_pps napi_write_pps ping_rtt_us tcp_mbps; do
	for dev in xtun tap; do
		line=$(grep "\"metric\":\"$metric\"" /tmp/bench.json | grep "\"device\":\"$dev\"")
		[ -n "$line" ] || fail "no $metric for $dev"
		value=$(echo "$line" | sed 's/.*"value":\([0-9.]*\).*/\1/')
		awk "BEGIN { exit !($value > 0) }" || fail "$metric for $dev is $value"
	done
done
