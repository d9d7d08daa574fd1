# a short read gets the frame's head and its full length.
. /xtun/tests/lib.sh
setup_xtun
xtun-check truncate || fail "xtun-check truncate"
