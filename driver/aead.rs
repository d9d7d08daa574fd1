// SPDX-License-Identifier: GPL-2.0

//! AEAD transforms of the kernel crypto API, sealing and opening skbs in
//! place: the ciphers of secure mode.
//!
//! C headers: [`include/crypto/aead.h`](srctree/include/crypto/aead.h).

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    prelude::*,
    str::CStr,
    types::Opaque,
};

use crate::context::Process;
use crate::skb::Skb;

/// The bytes of a key (both ciphers take 256-bit keys).
pub(crate) const KEY_LEN: usize = 32;
/// The bytes of a nonce (both ciphers take 96-bit nonces).
pub(crate) const NONCE_LEN: usize = 12;
/// The bytes of the tag a sealed text gains.
pub(crate) const TAG_LEN: usize = 16;

#[repr(C)]
struct CAead {
    _opaque: Opaque<[u8; 0]>,
}

extern "C" {
    fn xtun_aead_init() -> c_int;
    fn xtun_aead_exit();
    fn xtun_aead_new(alg: *const c_char, key: *const u8, key_len: c_uint) -> *mut CAead;
    fn xtun_aead_free(tfm: *mut CAead);
    fn xtun_aead_driver_name(tfm: *mut CAead) -> *const c_char;
    fn xtun_aead_seal(tfm: *mut CAead, skb: *mut bindings::sk_buff, ad_len: c_uint, nonce: *const u8) -> c_int;
    fn xtun_aead_open(
        tfm: *mut CAead,
        skb: *mut bindings::sk_buff,
        offset: c_uint,
        ad_len: c_uint,
        nonce: *const u8,
    ) -> c_int;
}

/// The ciphers secure mode offers (the spec's `cipher` enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cipher {
    Aes256Gcm = 0,
    ChaCha20Poly1305 = 1,
}

impl Cipher {
    pub(crate) fn from_u32(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::Aes256Gcm),
            1 => Some(Self::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// The crypto API's name of the algorithm (ovpn's choice), or none
    /// for WireGuard's: the ChaCha20-Poly1305 library, one pass over the
    /// data, whose state it wipes (crypto/chacha.c leaves the key's words
    /// on the stack, where secure-key-wipe found them).
    fn algorithm(self) -> Option<&'static CStr> {
        match self {
            Self::Aes256Gcm => Some(c"gcm(aes)"),
            Self::ChaCha20Poly1305 => None,
        }
    }
}

/// The queue that frees dropped transforms (freeing may sleep; the last
/// reference to a key can go in softirq). Module-wide: dropping it waits
/// for every free, so it goes after every device.
pub(crate) struct FreeQueue(());

impl FreeQueue {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: called once, from module init (process context).
        to_result(unsafe { xtun_aead_init() })?;
        Ok(Self(()))
    }
}

impl Drop for FreeQueue {
    fn drop(&mut self) {
        // SAFETY: created by `new`; module exit, process context; no key
        // is left (the devices went first), so nothing queues after this.
        unsafe { xtun_aead_exit() };
    }
}

/// A keyed synchronous AEAD transform.
///
/// # Invariants
///
/// `tfm` is a transform from `xtun_aead_new`, freed only by `Drop` (at
/// once before module init, from the [`FreeQueue`] after).
pub(crate) struct Aead {
    tfm: NonNull<CAead>,
    cipher: Cipher,
}

// SAFETY: a keyed transform is only read by requests, from any CPU; each
// request has its own scratch memory (xtun_aead_run).
unsafe impl Send for Aead {}
// SAFETY: as above.
unsafe impl Sync for Aead {}

impl Aead {
    /// A transform of `cipher` keyed with `key`. The caller wipes `key`;
    /// the transform's copy is wiped when it is freed.
    pub(crate) fn new(cipher: Cipher, key: &[u8; KEY_LEN], ctx: &Process) -> Result<Self> {
        Self::with_algorithm(cipher, cipher.algorithm(), key, ctx)
    }

    /// `cipher` from the crypto API's `algorithm`, or from the library.
    fn with_algorithm(cipher: Cipher, algorithm: Option<&CStr>, key: &[u8; KEY_LEN], _ctx: &Process) -> Result<Self> {
        let name = algorithm.map_or(core::ptr::null(), |a| a.as_char_ptr());
        // SAFETY: the name is a C string or null, the key `KEY_LEN` readable
        // bytes; process context may sleep, as allocation wants.
        let raw = from_err_ptr(unsafe { xtun_aead_new(name, key.as_ptr(), KEY_LEN as c_uint) })?;
        Ok(Self { tfm: NonNull::new(raw).ok_or(ENOMEM)?, cipher })
    }

    pub(crate) fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The implementation the crypto API picked (as `/proc/crypto`'s
    /// `driver`).
    pub(crate) fn driver_name(&self) -> &CStr {
        // SAFETY: the transform is live (type invariants); its algorithm's
        // name is a static C string that lives as long as the transform.
        unsafe { CStr::from_char_ptr(xtun_aead_driver_name(self.tfm.as_ptr())) }
    }

    /// Encrypts `skb` in place after its first `ad_len` bytes, which are
    /// authenticated as they are, and appends the tag.
    pub(crate) fn seal(&self, skb: &mut Skb, ad_len: usize, nonce: &[u8; NONCE_LEN]) -> Result {
        // SAFETY: transform live, skb ours (not shared), nonce readable.
        to_result(unsafe { xtun_aead_seal(self.tfm.as_ptr(), skb.as_raw(), ad_len as c_uint, nonce.as_ptr()) })
    }

    /// Checks and decrypts `skb` in place from `offset`: `ad_len` bytes of
    /// associated data, the ciphertext, the tag, which is then trimmed.
    /// `EBADMSG`: not authentic.
    pub(crate) fn open(&self, skb: &mut Skb, offset: usize, ad_len: usize, nonce: &[u8; NONCE_LEN]) -> Result {
        // SAFETY: as `seal`.
        to_result(unsafe {
            xtun_aead_open(self.tfm.as_ptr(), skb.as_raw(), offset as c_uint, ad_len as c_uint, nonce.as_ptr())
        })
    }
}

impl Drop for Aead {
    fn drop(&mut self) {
        // SAFETY: ours by the type invariants, freed once (queued: any
        // context); the crypto API wipes the key schedule as it frees it.
        unsafe { xtun_aead_free(self.tfm.as_ptr()) };
    }
}

#[kunit_tests(xtun_aead)]
mod tests {
    use super::*;
    use crate::context::in_test_process;

    const AD: &[u8] = b"header:16 bytes.";
    const TEXT: &[u8] = b"an ethernet frame, or something like it, sixty-odd bytes long...";

    /// Seals AD + TEXT under `cipher`, then opens it with `open_key` after
    /// `tamper` changed the sealed bytes; the opened bytes, or the error.
    fn round_trip(cipher: Cipher, open_key: u8, tamper: impl FnOnce(&mut [u8])) -> Result<Result<KVec<u8>>> {
        in_test_process(|ctx| {
            let nonce = [0, 0, 0, 0, 7, 7, 7, 7, 7, 7, 7, 7];
            let sealer = Aead::new(cipher, &[1; KEY_LEN], ctx)?;
            let opener = Aead::new(cipher, &[open_key; KEY_LEN], ctx)?;
            let mut skb = Skb::from_parts(&[AD, TEXT], 24)?;
            sealer.seal(&mut skb, AD.len(), &nonce)?;
            let mut sealed = skb.to_vec(GFP_KERNEL)?;
            assert_eq!(sealed.len(), AD.len() + TEXT.len() + TAG_LEN);
            assert_eq!(&sealed[..AD.len()], AD);
            assert!(&sealed[AD.len()..AD.len() + TEXT.len()] != TEXT);
            tamper(&mut sealed);
            let mut skb = Skb::from_parts(&[&sealed], 40)?;
            Ok(match opener.open(&mut skb, 0, AD.len(), &nonce) {
                Ok(()) => Ok(skb.to_vec(GFP_KERNEL)?),
                Err(e) => Err(e),
            })
        })
    }

    #[test]
    fn seal_then_open() {
        for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
            let opened = round_trip(cipher, 1, |_| {});
            assert!(opened.is_ok_and(|o| o.is_ok_and(|bytes| bytes[..AD.len()] == *AD && bytes[AD.len()..] == *TEXT)));
        }
    }

    #[test]
    fn any_flipped_byte_is_refused() {
        for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
            // In the header, the text and the tag.
            for at in [0, AD.len() - 1, AD.len(), AD.len() + TEXT.len() - 1, AD.len() + TEXT.len() + TAG_LEN - 1] {
                let opened = round_trip(cipher, 1, |b| b[at] ^= 0x20);
                assert!(opened.is_ok_and(|o| o.is_err_and(|e| e.to_errno() == -(bindings::EBADMSG as i32))));
            }
        }
    }

    /// The library's ChaCha20-Poly1305 and the crypto API's (RFC 8439)
    /// make the same bytes, and each opens the other's: the wire format
    /// does not depend on which. The text spans a frag list, so the
    /// scatterlist has many entries, and blocks and the tag cross them.
    #[test]
    fn chacha_library_matches_the_crypto_api() {
        const NONCE: [u8; NONCE_LEN] = [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        let sealed = |aead: &Aead| -> Result<KVec<u8>> {
            let mut skb = Skb::from_parts(&[AD, TEXT], 24)?;
            aead.seal(&mut skb, AD.len(), &NONCE)?;
            skb.to_vec(GFP_KERNEL)
        };
        let opened = |aead: &Aead, sealed: &[u8]| -> Result<KVec<u8>> {
            let mut skb = Skb::from_list(&[&sealed[..21], &sealed[21..50], &sealed[50..]])?;
            aead.open(&mut skb, 0, AD.len(), &NONCE)?;
            skb.to_vec(GFP_KERNEL)
        };
        let checked = in_test_process(|ctx| -> Result<bool> {
            let cipher = Cipher::ChaCha20Poly1305;
            let library = Aead::new(cipher, &[9; KEY_LEN], ctx)?;
            let api = Aead::with_algorithm(cipher, Some(c"rfc7539(chacha20,poly1305)"), &[9; KEY_LEN], ctx)?;
            let (by_library, by_api) = (sealed(&library)?, sealed(&api)?);
            let plain = |o: KVec<u8>| o[..AD.len()] == *AD && o[AD.len()..] == *TEXT;
            Ok(by_library == by_api
                && library.driver_name() != api.driver_name()
                && plain(opened(&library, &by_api)?)
                && plain(opened(&api, &by_library)?))
        });
        assert!(checked.is_ok_and(|same| same));
    }

    /// The library's nonces are 0^4 || 8 bytes: another is refused, not
    /// silently cut.
    #[test]
    fn chacha_library_refuses_other_nonces() {
        let refused = in_test_process(|ctx| -> Result<bool> {
            let library = Aead::new(Cipher::ChaCha20Poly1305, &[9; KEY_LEN], ctx)?;
            let mut skb = Skb::from_parts(&[AD, TEXT], 24)?;
            let sealed = library.seal(&mut skb, AD.len(), &[1; NONCE_LEN]);
            Ok(sealed.is_err_and(|e| e.to_errno() == -(bindings::EINVAL as i32)))
        });
        assert!(refused.is_ok_and(|r| r));
    }

    #[test]
    fn a_wrong_key_is_refused() {
        for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
            let opened = round_trip(cipher, 2, |_| {});
            assert!(opened.is_ok_and(|o| o.is_err_and(|e| e.to_errno() == -(bindings::EBADMSG as i32))));
        }
    }
}
