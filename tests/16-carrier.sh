# Carrier follows /dev/xtun: off while closed, on while open, off again.
. /xtun/tests/lib.sh
setup_xtun
xtun-check carrier || fail "xtun-check carrier"
ip link show xtun | grep -q 'NO-CARRIER' || fail "ip link does not show NO-CARRIER when closed"
