# Writes of 0..13 bytes (less than an Ethernet header) each fail with
# EINVAL and count one rx drop; run.sh checks that the kernel log stays
# clean (no out-of-bounds read or BUG in eth_type_trans).
. /xtun/tests/lib.sh
setup_xtun
xtun-check short-writes || fail "xtun-check short-writes"
