# SO_TIMESTAMPING: xmit stamps each frame in software (skb_tx_timestamp).
. /xtun/tests/lib.sh
setup_xtun
xtun-review tx-timestamp || fail "xtun-review tx-timestamp"
