# At the largest MTU a whole frame is written (linear head, the rest in
# page fragments) and read back.
. /xtun/tests/lib.sh
setup_xtun
xtun-review big-frame || fail "xtun-review big-frame"
