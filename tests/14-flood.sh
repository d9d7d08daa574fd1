# with no reader the queue stays bounded, drops are counted, traffic recovers.
. /xtun/tests/lib.sh
setup_xtun
xtun-check flood || fail "xtun-check flood"
