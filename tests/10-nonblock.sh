# O_NONBLOCK read on an empty queue is EAGAIN, without sleeping.
. /xtun/tests/lib.sh
setup_xtun
xtun-check nonblock || fail "xtun-check nonblock"
