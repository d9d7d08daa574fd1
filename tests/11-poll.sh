# poll reports POLLOUT, and POLLIN within 100 ms of a frame.
. /xtun/tests/lib.sh
setup_xtun
xtun-check poll || fail "xtun-check poll"
