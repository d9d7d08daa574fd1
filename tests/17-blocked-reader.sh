# A reader blocked in read() wakes with EIO when the link goes down.
. /xtun/tests/lib.sh
setup_xtun
xtun-check blocked-reader || fail "xtun-check blocked-reader"
