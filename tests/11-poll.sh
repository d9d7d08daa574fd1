# poll reports POLLOUT, and a frame wakes a sleeping poll with POLLIN.
. /xtun/tests/lib.sh
setup_xtun
xtun-check poll || fail "xtun-check poll"
