# A frame queued while a poller registers must wake it: thousands of rounds
# in which the frame lands just as poll(2) / EPOLL_CTL_ADD queue the
# poller, each bounded by a generous timeout that only a lost wake-up hits.
. /xtun/tests/lib.sh
setup_xtun
xtun-review poll-race || fail "xtun-review poll-race"
