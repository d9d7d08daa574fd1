# While the link is down poll reports no EPOLLERR (it cannot be masked: a
# level-triggered loop would spin) and no EPOLLOUT, as tun; EPOLLOUT is
# back once the link is up.
. /xtun/tests/lib.sh
setup_xtun
xtun-review down-poll || fail "xtun-review down-poll"
