# A reader blocked in read() sleeps on while the link is down (as tun) and
# reads the next frame once it is up again.
. /xtun/tests/lib.sh
setup_xtun
xtun-check blocked-reader || fail "xtun-check blocked-reader"
