# The guest's eth0 answers pings from the lab namespace over the bridge:
# the host pings 10.98.0.2 while the suite runs; here we wait for the
# kernel to have answered three echo requests, and ping the lab back.
. /xtun/tests/lib.sh
[ "${XTUN_NET:-}" = tap ] || skip "no lab bridge (QEMU user networking)"
replies() {
	awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "OutEchoReps") c = i; h = 1 } else print $c }' /proc/net/snmp
}
replied() { [ "$(replies)" -ge "$1" ]; }
wait_for "replied 3"
echo "eth0 answered $(replies) echo requests from the lab"
ping -c 2 -W 2 10.98.0.1 || fail "the lab bridge 10.98.0.1 does not answer"
