# a second open is EBUSY while the first is open.
. /xtun/tests/lib.sh
setup_xtun
xtun-check second-open || fail "xtun-check second-open"
