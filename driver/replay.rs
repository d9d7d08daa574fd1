// SPDX-License-Identifier: GPL-2.0

//! The anti-replay window of secure mode: a sliding bitmap (RFC 6479, as
//! WireGuard's `counter.c`). A counter is accepted once; in-window
//! reordering is fine, a repeat or a counter older than the window is
//! refused. No `unsafe` here, and no locking: the caller serialises (one
//! window per key, under the key's lock), and calls it only for packets
//! that authenticated, so a forger cannot move the window.

use kernel::prelude::*;

/// Bits in one bitmap word.
const WORD_BITS: u64 = u64::BITS as u64;
/// Words in the bitmap: a power of two, so the ring index is a mask.
const WORDS: usize = 32;
/// The window: the newest counter and the `WINDOW - 1` before it are
/// accepted once each; the bitmap less the word being recycled (1984).
pub(crate) const WINDOW: u64 = (WORDS as u64 - 1) * WORD_BITS;
/// The last counter a key may send or accept: past it the key is spent
/// (WireGuard's REJECT_AFTER_MESSAGES keeps the same margin).
pub(crate) const COUNTER_LIMIT: u64 = u64::MAX - WINDOW - 1;

/// Why a counter was refused.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Rejected {
    /// Seen before (or past the key's limit).
    Replayed,
    /// Older than the window reaches.
    TooOld,
}

/// The counters seen under one key.
pub(crate) struct ReplayWindow {
    /// One more than the highest counter accepted (0: none yet).
    next: u64,
    /// Bit `c % (WORDS * 64)` set: counter `c` was accepted (for `c` in
    /// the window).
    bitmap: [u64; WORDS],
}

impl ReplayWindow {
    pub(crate) const fn new() -> Self {
        Self { next: 0, bitmap: [0; WORDS] }
    }

    /// Accepts `counter` if it is new and recent enough, and records it.
    pub(crate) fn accept(&mut self, counter: u64) -> Result<(), Rejected> {
        if counter > COUNTER_LIMIT {
            return Err(Rejected::Replayed);
        }
        if counter + WINDOW < self.next {
            return Err(Rejected::TooOld);
        }
        let word = (counter / WORD_BITS) as usize;
        if counter >= self.next {
            // Slide forward: the words after the old top's, up to the new
            // one's, now stand for new counters (at most the whole ring).
            let old_word = if self.next == 0 { 0 } else { ((self.next - 1) / WORD_BITS) as usize };
            let fresh = (word - old_word).min(WORDS);
            for i in 1..=fresh {
                self.bitmap[(old_word + i) % WORDS] = 0;
            }
            self.next = counter + 1;
        }
        let bit = 1u64 << (counter % WORD_BITS);
        let slot = &mut self.bitmap[word % WORDS];
        if *slot & bit != 0 {
            return Err(Rejected::Replayed);
        }
        *slot |= bit;
        Ok(())
    }
}

#[kunit_tests(xtun_replay)]
mod tests {
    use super::*;

    #[test]
    fn in_order_once_each() {
        let mut w = ReplayWindow::new();
        for c in 0..5000 {
            assert_eq!(w.accept(c), Ok(()));
        }
        assert_eq!(w.accept(4999), Err(Rejected::Replayed));
        assert_eq!(w.accept(0), Err(Rejected::TooOld));
    }

    #[test]
    fn reordered_within_the_window() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.accept(3000), Ok(()));
        // Every counter the window reaches, backwards, once.
        for c in (3000 - WINDOW + 1..3000).rev() {
            assert_eq!(w.accept(c), Ok(()));
        }
        for c in 3000 - WINDOW + 1..=3000 {
            assert_eq!(w.accept(c), Err(Rejected::Replayed));
        }
        assert_eq!(w.accept(3000 - WINDOW), Err(Rejected::TooOld));
    }

    #[test]
    fn a_jump_forgets_the_old_bits() {
        let mut w = ReplayWindow::new();
        for c in 0..64 {
            assert_eq!(w.accept(c), Ok(()));
        }
        // Far ahead: the ring is reused, the words that now stand for new
        // counters must be clear (the same slots held 0..63).
        let far = 64 * WORDS as u64 * 3;
        assert_eq!(w.accept(far), Ok(()));
        for c in far - 63..far {
            assert_eq!(w.accept(c), Ok(()));
        }
        // One word ahead of the top: a partial slide.
        assert_eq!(w.accept(far + 64), Ok(()));
        assert_eq!(w.accept(far + 1), Ok(()));
        assert_eq!(w.accept(far + 1), Err(Rejected::Replayed));
        assert_eq!(w.accept(far), Err(Rejected::Replayed));
    }

    #[test]
    fn the_first_counter_may_be_anything() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.accept(1_000_000), Ok(()));
        assert_eq!(w.accept(999_999), Ok(()));
        assert_eq!(w.accept(1_000_000), Err(Rejected::Replayed));
    }

    #[test]
    fn spent_counters_are_refused() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.accept(COUNTER_LIMIT), Ok(()));
        assert_eq!(w.accept(COUNTER_LIMIT + 1), Err(Rejected::Replayed));
        assert_eq!(w.accept(u64::MAX), Err(Rejected::Replayed));
    }
}
