# RWF_NOWAIT / IOCB_NOWAIT (io_uring, preadv2) is honoured: EAGAIN on an
# empty queue instead of EOPNOTSUPP (the file is opened with FMODE_NOWAIT).
. /xtun/tests/lib.sh
setup_xtun
xtun-review nowait || fail "xtun-review nowait"
