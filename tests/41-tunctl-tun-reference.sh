# The expectations of the 42-tunctl-*, 46-multiqueue-traffic, 47-napi and
# 48-packet-info tests are tun's: every xtun-tunctl scenario passes on the
# kernel's own tun (/dev/net/tun), so a kernel whose tun changes shows up
# here and not as an xtun failure (`many` with 100 devices, to keep the
# suite short).
. /xtun/tests/lib.sh
for scenario in setiff-name setiff-template getfeatures persist owner hwaddr multiqueue mq-flows mq-detach \
	mq-detach-all mq-write napi-write packet-info errors; do
	xtun-tunctl --path /dev/net/tun "$scenario" || fail "xtun-tunctl --path /dev/net/tun $scenario"
done
xtun-tunctl --path /dev/net/tun --count 100 many || fail "xtun-tunctl --path /dev/net/tun --count 100 many"
