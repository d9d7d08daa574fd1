# the write limit follows the MTU.
. /xtun/tests/lib.sh
setup_xtun
xtun-check mtu || fail "xtun-check mtu"
