# a short read gets the frame's head and returns the buffer's length (as
# tun's read); the rest of the frame is dropped, the next read gets the next.
. /xtun/tests/lib.sh
setup_xtun
xtun-check truncate || fail "xtun-check truncate"
