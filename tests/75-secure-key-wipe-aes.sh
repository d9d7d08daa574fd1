# secure-key-wipe with AES-256-GCM: the crypto API's gcm(aes) transforms
# (key schedules, request contexts) leave no copy of a deleted key either.
TUN_CIPHER=aes-256-gcm
. /xtun/tests/74-secure-key-wipe.sh
