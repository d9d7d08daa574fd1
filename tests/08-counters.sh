# sysfs counters match frames written and read.
. /xtun/tests/lib.sh
setup_xtun
xtun-check counters || fail "xtun-check counters"
