// SPDX-License-Identifier: GPL-2.0

//! Secure mode: per-peer AEAD keys, the wire header, the replay check.
//! No `unsafe` here.
//!
//! The datagram after the UDP header (WireGuard's data message and
//! OpenVPN's DATA_V2 are the models):
//!
//! ```text
//!  0      1      2      3      4                    8                   16
//! +------+------+------+------+--------------------+-------------------+
//! | 0x01 |key id|   0  |   0  | peer id (BE u32)   | counter (BE u64)  |
//! +------+------+------+------+--------------------+-------------------+
//! | the inner Ethernet frame, encrypted (none for a keepalive)  | tag 16 |
//! +-------------------------------------------------------------+--------+
//! ```
//!
//! The 16 header bytes are authenticated (the AEAD's associated data); the
//! nonce is 4 zero bytes and the counter. Type 0x01 sets a reserved VXLAN
//! flag and clears the I flag, so vxlan drops it as invalid. Each key
//! seals with its own send key and opens with its own receive key (one
//! per direction, as ovpn's and WireGuard's), so the two ends' counters
//! never share a nonce space.
//!
//! Keys: a peer has a primary slot (sends and receives) and a secondary
//! slot (receives only: the next key, or the previous one while the other
//! end catches up), as ovpn's. Rotation under traffic: add the new key as
//! secondary at both ends, swap, delete the old one.

use kernel::{
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, SpinLock,
    },
};

use crate::aead::{Aead, Cipher, KEY_LEN, NONCE_LEN};
use crate::context::{BhOff, Process};
use crate::replay::{Rejected, ReplayWindow, COUNTER_LIMIT};
use crate::skb::Skb;
use crate::udp_tunnel::Sealer;

/// The header's length (the associated data).
pub(crate) const HEADER_LEN: usize = 16;
/// What secure mode adds to a frame besides the outer IPv4 and UDP
/// headers: the header and the tag.
pub(crate) const OVERHEAD: usize = HEADER_LEN + crate::aead::TAG_LEN;
/// The first byte of a secure datagram.
pub(crate) const TYPE_DATA: u8 = 0x01;

/// A secure datagram's header, parsed.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) struct Header {
    pub(crate) key_id: u8,
    pub(crate) peer_id: u32,
    pub(crate) counter: u64,
}

impl Header {
    pub(crate) fn parse(h: &[u8; HEADER_LEN]) -> Option<Self> {
        if h[0] != TYPE_DATA || h[2] != 0 || h[3] != 0 {
            return None;
        }
        let peer_id = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let mut counter = [0; 8];
        counter.copy_from_slice(&h[8..]);
        Some(Self { key_id: h[1], peer_id, counter: u64::from_be_bytes(counter) })
    }

    pub(crate) fn bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0; HEADER_LEN];
        h[0] = TYPE_DATA;
        h[1] = self.key_id;
        h[4..8].copy_from_slice(&self.peer_id.to_be_bytes());
        h[8..].copy_from_slice(&self.counter.to_be_bytes());
        h
    }

    fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut n = [0; NONCE_LEN];
        n[4..].copy_from_slice(&self.counter.to_be_bytes());
        n
    }
}

/// The two slots of a peer's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Primary = 0,
    Secondary = 1,
}

impl Slot {
    pub(crate) fn from_u32(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::Primary),
            1 => Some(Self::Secondary),
            _ => None,
        }
    }
}

/// One key: a transform per direction, the next counter to send, the
/// counters received.
#[pin_data]
pub(crate) struct Key {
    pub(crate) id: u8,
    send: Aead,
    recv: Aead,
    next_counter: Atomic<u64>,
    /// Its counters ran out and an event said so (once per key).
    spent_told: Atomic<bool>,
    #[pin]
    window: SpinLock<ReplayWindow>,
}

impl Key {
    /// A key `id` of `cipher`; the caller wipes the key bytes. The first
    /// datagram sent under it carries `first_counter`.
    pub(crate) fn new(
        id: u8,
        cipher: Cipher,
        send_key: &[u8; KEY_LEN],
        recv_key: &[u8; KEY_LEN],
        first_counter: u64,
        ctx: &Process,
    ) -> Result<Arc<Self>> {
        let send = Aead::new(cipher, send_key, ctx)?;
        let recv = Aead::new(cipher, recv_key, ctx)?;
        Arc::pin_init(
            pin_init!(Self {
                id,
                send,
                recv,
                next_counter: Atomic::new(first_counter),
                spent_told: Atomic::new(false),
                window <- new_spinlock!(ReplayWindow::new()),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn cipher(&self) -> Cipher {
        self.send.cipher()
    }

    pub(crate) fn driver_name(&self) -> &CStr {
        self.send.driver_name()
    }

    /// The counter the next datagram would carry.
    pub(crate) fn next_counter(&self) -> u64 {
        self.next_counter.load(Relaxed)
    }

    /// Takes a counter for a datagram, `None` once they are spent (the
    /// key then never sends again). A compare-and-swap, not an add: the
    /// counter must never pass the limit, let alone wrap.
    fn take_counter(&self) -> Option<u64> {
        let mut counter = self.next_counter.load(Relaxed);
        loop {
            if counter > COUNTER_LIMIT {
                return None;
            }
            match self.next_counter.cmpxchg(counter, counter + 1, Relaxed) {
                Ok(_) => return Some(counter),
                Err(now) => counter = now,
            }
        }
    }
}

/// Why a datagram was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RxError {
    /// No key with its id, or the tag did not verify.
    Auth,
    /// Authentic, but its counter was seen or is too old.
    Replay,
    /// Not checked: no memory, or an skb the scratch space cannot map.
    Dropped,
}

/// Why a key could not be installed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InstallError {
    /// The other slot holds a key with the same id: a datagram could not
    /// say which it was sealed with.
    SameId,
}

/// A peer's secure state.
#[pin_data]
pub(crate) struct PeerKeys {
    #[pin]
    slots: SpinLock<[Option<Arc<Key>>; 2]>,
    pub(crate) rx_auth_fail: Atomic<u64>,
    pub(crate) rx_replay: Atomic<u64>,
    /// The primary key ran out of counters and no event told so yet.
    exhausted_unannounced: Atomic<bool>,
}

impl PeerKeys {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            slots <- new_spinlock!([None, None]),
            rx_auth_fail: Atomic::new(0),
            rx_replay: Atomic::new(0),
            exhausted_unannounced: Atomic::new(false),
        })
    }

    /// Puts `key` in `slot`; returns what was there.
    pub(crate) fn install(&self, slot: Slot, key: Arc<Key>, _bh: &BhOff) -> Result<Option<Arc<Key>>, InstallError> {
        let mut slots = self.slots.lock();
        let other = &slots[1 - slot as usize];
        if other.as_ref().is_some_and(|k| k.id == key.id) {
            return Err(InstallError::SameId);
        }
        Ok(slots[slot as usize].replace(key))
    }

    pub(crate) fn remove(&self, slot: Slot, _bh: &BhOff) -> Option<Arc<Key>> {
        self.slots.lock()[slot as usize].take()
    }

    /// Swaps the slots; false if there was nothing to swap.
    pub(crate) fn swap(&self, _bh: &BhOff) -> bool {
        let mut slots = self.slots.lock();
        if slots[0].is_none() && slots[1].is_none() {
            return false;
        }
        slots.swap(0, 1);
        true
    }

    /// The keys, for `show`.
    pub(crate) fn keys(&self, _bh: &BhOff) -> [Option<Arc<Key>>; 2] {
        self.slots.lock().clone()
    }

    fn primary(&self, _bh: &BhOff) -> Option<Arc<Key>> {
        self.slots.lock()[0].clone()
    }

    fn by_id(&self, id: u8, _bh: &BhOff) -> Option<Arc<Key>> {
        self.slots.lock().iter().flatten().find(|k| k.id == id).cloned()
    }

    /// What seals the next datagram to the peer `peer_id`: the primary key
    /// and the header with its next counter.
    pub(crate) fn next_sealer(&self, peer_id: u32, bh: &BhOff) -> Result<SealWith, NoKey> {
        let key = self.primary(bh).ok_or(NoKey::Missing)?;
        match key.take_counter() {
            Some(counter) => Ok(SealWith { header: Header { key_id: key.id, peer_id, counter }, key }),
            None => {
                // Told once per key, however much traffic keeps trying.
                if !key.spent_told.xchg(true, Relaxed) {
                    self.exhausted_unannounced.store(true, Relaxed);
                }
                Err(NoKey::Spent)
            }
        }
    }

    /// Whether the primary key ran out since the last call (to announce).
    pub(crate) fn take_exhausted(&self) -> bool {
        self.exhausted_unannounced.xchg(false, Relaxed)
    }

    /// Opens `skb`, a datagram whose header `h` (at `offset`) named this
    /// peer, in place, and records its counter. Counts what it refuses.
    pub(crate) fn open(&self, skb: &mut Skb, offset: usize, h: &Header, bh: &BhOff) -> Result<(), RxError> {
        let Some(key) = self.by_id(h.key_id, bh) else {
            self.rx_auth_fail.add(1, Relaxed);
            return Err(RxError::Auth);
        };
        match key.recv.open(skb, offset, HEADER_LEN, &h.nonce()) {
            Ok(()) => {}
            Err(e) if e.to_errno() == -(kernel::bindings::EBADMSG as i32) => {
                self.rx_auth_fail.add(1, Relaxed);
                return Err(RxError::Auth);
            }
            Err(_) => return Err(RxError::Dropped),
        }
        // Only now, with the datagram proven, may its counter move the
        // window.
        let accepted = key.window.lock().accept(h.counter);
        match accepted {
            Ok(()) => Ok(()),
            Err(Rejected::Replayed | Rejected::TooOld) => {
                self.rx_replay.add(1, Relaxed);
                Err(RxError::Replay)
            }
        }
    }
}

/// Why a peer cannot be sent to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NoKey {
    /// No primary key.
    Missing,
    /// The primary key's counters are spent.
    Spent,
}

/// Seals one datagram: a key and the header that names its counter.
pub(crate) struct SealWith {
    header: Header,
    key: Arc<Key>,
}

impl SealWith {
    pub(crate) fn header_bytes(&self) -> [u8; HEADER_LEN] {
        self.header.bytes()
    }
}

impl Sealer for SealWith {
    /// `skb` holds this header, then the frame.
    fn seal(&self, skb: &mut Skb) -> Result {
        self.key.send.seal(skb, HEADER_LEN, &self.header.nonce())
    }
}

#[kunit_tests(xtun_secure)]
mod tests {
    use super::*;
    use crate::context::in_test_process;

    #[test]
    fn header_round_trip() {
        let h = Header { key_id: 3, peer_id: 0x0102_0304, counter: 0x1122_3344_5566_7788 };
        let b = h.bytes();
        assert_eq!(b[0], TYPE_DATA);
        assert_eq!(&b[4..8], &[1, 2, 3, 4]);
        assert_eq!(Header::parse(&b), Some(h));
        // Nonce: 4 zero bytes, the counter big-endian.
        assert_eq!(&h.nonce()[..4], &[0; 4]);
        assert_eq!(&h.nonce()[4..], &0x1122_3344_5566_7788u64.to_be_bytes());
    }

    #[test]
    fn other_headers_are_refused() {
        let mut b = Header { key_id: 0, peer_id: 1, counter: 0 }.bytes();
        b[0] = 0x08; // VXLAN's I flag
        assert_eq!(Header::parse(&b), None);
        let mut b = Header { key_id: 0, peer_id: 1, counter: 0 }.bytes();
        b[2] = 1; // reserved
        assert_eq!(Header::parse(&b), None);
    }

    /// Keys with these ids in both slots of a fresh peer.
    fn peer_with(primary: Option<u8>, first_counter: u64, ctx: &Process) -> Result<Pin<KBox<PeerKeys>>> {
        let keys = KBox::pin_init(PeerKeys::new(), GFP_KERNEL)?;
        if let Some(id) = primary {
            let key = Key::new(id, Cipher::ChaCha20Poly1305, &[1; KEY_LEN], &[2; KEY_LEN], first_counter, ctx)?;
            drop(keys.install(Slot::Primary, key, &ctx.bh_off()));
        }
        Ok(keys)
    }

    #[test]
    fn counters_run_out_once_and_say_so() {
        let done = in_test_process(|ctx| -> Result {
            let keys = peer_with(Some(1), COUNTER_LIMIT, ctx)?;
            let last = keys.next_sealer(9, &ctx.bh_off()).map(|s| s.header);
            assert_eq!(last, Ok(Header { key_id: 1, peer_id: 9, counter: COUNTER_LIMIT }));
            assert!(!keys.take_exhausted());
            for _ in 0..3 {
                assert!(keys.next_sealer(9, &ctx.bh_off()).is_err_and(|e| e == NoKey::Spent));
            }
            assert!(keys.take_exhausted());
            // Told once: more tries on the spent key say nothing new.
            assert!(keys.next_sealer(9, &ctx.bh_off()).is_err_and(|e| e == NoKey::Spent));
            assert!(!keys.take_exhausted());
            // No key at all is another matter.
            let none = peer_with(None, 0, ctx)?;
            assert!(none.next_sealer(9, &ctx.bh_off()).is_err_and(|e| e == NoKey::Missing));
            assert!(!none.take_exhausted());
            Ok(())
        });
        assert!(done.is_ok());
    }

    #[test]
    fn swap_moves_sending_to_the_new_key() {
        let done = in_test_process(|ctx| -> Result {
            let keys = peer_with(Some(1), 0, ctx)?;
            let next = Key::new(2, Cipher::ChaCha20Poly1305, &[3; KEY_LEN], &[4; KEY_LEN], 0, ctx)?;
            assert!(keys.install(Slot::Secondary, next, &ctx.bh_off()).is_ok_and(|old| old.is_none()));
            assert!(keys.next_sealer(5, &ctx.bh_off()).is_ok_and(|s| s.header.key_id == 1));
            assert!(keys.swap(&ctx.bh_off()));
            assert!(keys.next_sealer(5, &ctx.bh_off()).is_ok_and(|s| s.header.key_id == 2));
            // The old key still opens (it is the secondary now): found by id.
            // (No assertion with bottom halves off: a failing one would end
            // the test thread with them still off.)
            let both = keys.by_id(1, &ctx.bh_off()).is_some() && keys.by_id(2, &ctx.bh_off()).is_some();
            assert!(both);
            drop(keys.remove(Slot::Secondary, &ctx.bh_off()));
            assert!(keys.by_id(1, &ctx.bh_off()).is_none());
            // Two slots never hold one id.
            let twin = Key::new(2, Cipher::ChaCha20Poly1305, &[5; KEY_LEN], &[6; KEY_LEN], 0, ctx)?;
            assert!(keys.install(Slot::Secondary, twin, &ctx.bh_off()).is_err_and(|e| e == InstallError::SameId));
            Ok(())
        });
        assert!(done.is_ok());
    }
}
