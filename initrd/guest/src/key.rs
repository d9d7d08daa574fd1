//! Secure mode's keys on this side of the kernel: `genkey`, and the key
//! files `key add` reads. A key file holds 32 bytes in base64, as
//! `wg genkey` prints them (44 characters and a newline), so either tool
//! makes them. Every buffer that holds a key, decoded or in base64, is
//! wiped when dropped (`Zeroizing`).

use std::{fs::File, io::Read};

use base64::{engine::general_purpose::STANDARD, Engine};
use zeroize::Zeroizing;

/// XTUN_A_KEYCONF_SEND_KEY and _RECV_KEY are this long (256 bits).
pub const KEY_LEN: usize = 32;

pub type Key = Zeroizing<[u8; KEY_LEN]>;

/// A fresh random key, in base64.
pub fn genkey() -> Result<Zeroizing<String>, String> {
    let mut key = Key::default();
    File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut key[..]))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(encode(&key))
}

pub fn encode(key: &Key) -> Zeroizing<String> {
    Zeroizing::new(STANDARD.encode(&key[..]))
}

/// A key from its base64 text; white space around it (the newline) is
/// not part of it.
pub fn decode(text: &str) -> Result<Key, String> {
    let mut key = Key::default();
    // Decoded straight into the key: no other buffer holds it.
    match STANDARD.decode_slice(text.trim(), &mut key[..]) {
        Ok(KEY_LEN) => Ok(key),
        _ => Err(format!("not a key: {KEY_LEN} bytes in base64 are expected (as xtunctl genkey or wg genkey print)")),
    }
}

/// The key in the file `path` (its `key add` argument `what`).
pub fn read(what: &str, path: &str) -> Result<Key, String> {
    let mut text = Zeroizing::new(String::new());
    File::open(path).and_then(|mut f| f.read_to_string(&mut text)).map_err(|e| format!("{what} {path}: {e}"))?;
    decode(&text).map_err(|why| format!("{what} {path}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genkey_prints_keys_that_decode() {
        let (a, b) = (genkey().unwrap(), genkey().unwrap());
        assert_eq!(a.len(), 44);
        assert!(a.ends_with('='));
        assert_ne!(a, b);
        assert_eq!(encode(&decode(&a).unwrap()), a);
    }

    #[test]
    fn reads_what_wg_genkey_prints() {
        // A `wg genkey` output, newline included.
        let key = decode("yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n").unwrap();
        assert_eq!(key[..4], [0xc8, 0x09, 0xf3, 0xe5]);
        assert_eq!(key[31], 0x69);
    }

    #[test]
    fn other_lengths_and_text_are_not_keys() {
        assert!(decode("").is_err());
        // 16 and 33 bytes.
        assert!(decode("AAAAAAAAAAAAAAAAAAAAAA==").is_err());
        assert!(decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_err());
        assert!(decode("yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm!=").is_err());
        assert!(decode("yAnz5TF-lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=").is_err());
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = read("send-key", "/nonexistent/k").unwrap_err();
        assert!(e.starts_with("send-key /nonexistent/k: "), "{e}");
    }
}
