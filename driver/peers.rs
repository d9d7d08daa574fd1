// SPDX-License-Identifier: GPL-2.0

//! The tunnel's tables, in safe Rust: peers by UDP endpoint (and static
//! ones by address too), and MAC addresses learned behind peers (the
//! forwarding database). No `unsafe` here.
//!
//! Locking: each table is split into [`SHARDS`] red-black trees, each under
//! its own spinlock, taken with bottom halves off ([`BhOff`]) from the data
//! path (xmit, the socket's receive) and from control (netlink, ageing),
//! for one tree operation at a time: no lock is held across a send, an
//! allocation that sleeps or another lock. A lookup costs one uncontended
//! lock and an `Arc` clone; control never holds a lock the data path needs
//! for more than one tree operation. (vxlan uses RCU hash lists; the Rust
//! bindings of 7.2 have no RCU pointers, and these locks never show in
//! the profile.) Both tables are bounded (`max-peers`, `max-macs`), so a
//! flood of spoofed sources cannot grow memory without limit.

use kernel::{
    new_spinlock,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    alloc::Flags,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, SpinLock,
    },
};

use crate::context::BhOff;
use crate::udp_tunnel::{Endpoint, Route};

/// Trees per table: enough that CPUs rarely meet on one lock.
pub(crate) const SHARDS: usize = 64;

/// A key that picks its shard.
pub(crate) trait ShardKey: Ord + Copy + Unpin {
    fn mix(&self) -> u32;
}

impl ShardKey for Endpoint {
    fn mix(&self) -> u32 {
        u32::from_ne_bytes(self.addr) ^ (u32::from(self.port) << 16 | u32::from(self.port))
    }
}

/// A MAC address.
pub(crate) type Mac = [u8; 6];

impl ShardKey for Mac {
    fn mix(&self) -> u32 {
        u32::from_ne_bytes([self[2], self[3], self[4], self[5]]) ^ u32::from(self[0]) << 8 ^ u32::from(self[1])
    }
}

impl ShardKey for [u8; 4] {
    fn mix(&self) -> u32 {
        u32::from_ne_bytes(*self)
    }
}

/// A map split over [`SHARDS`] locked trees.
pub(crate) struct Sharded<K: ShardKey, V: Unpin> {
    shards: KVec<Pin<KBox<SpinLock<RBTree<K, V>>>>>,
    /// Keyed mixing (random per table), so that sources an attacker picks
    /// do not all land in one tree.
    seed: u32,
}

impl<K: ShardKey, V: Unpin> Sharded<K, V> {
    pub(crate) fn new(seed: u32) -> Result<Self> {
        let mut shards = KVec::with_capacity(SHARDS, GFP_KERNEL)?;
        for _ in 0..SHARDS {
            shards.push(KBox::pin_init(new_spinlock!(RBTree::new()), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        Ok(Self { shards, seed })
    }

    fn shard(&self, key: &K) -> &SpinLock<RBTree<K, V>> {
        // A multiplicative hash of the keyed mix (Knuth); the top bits pick.
        let h = (key.mix() ^ self.seed).wrapping_mul(0x9e37_79b9);
        &self.shards[(h >> 26) as usize % SHARDS]
    }

    /// Runs `f` on the value under `key`, under its shard's lock.
    pub(crate) fn with<R>(&self, key: &K, _bh: &BhOff, f: impl FnOnce(Option<&V>) -> R) -> R {
        let tree = self.shard(key).lock();
        f(tree.get(key))
    }

    /// Inserts `value` under `key` with the node reserved beforehand;
    /// gives the value back if the key is taken.
    pub(crate) fn insert(&self, key: K, value: V, node: RBTreeNodeReservation<K, V>, _bh: &BhOff) -> Result<(), V> {
        let mut tree = self.shard(&key).lock();
        if tree.get(&key).is_some() {
            return Err(value);
        }
        tree.insert(node.into_node(key, value));
        Ok(())
    }

    /// Replaces or inserts, giving back the value replaced.
    pub(crate) fn upsert(&self, key: K, value: V, node: RBTreeNodeReservation<K, V>, _bh: &BhOff) -> Option<V> {
        let mut tree = self.shard(&key).lock();
        let old = tree.remove(&key);
        tree.insert(node.into_node(key, value));
        old
    }

    pub(crate) fn remove(&self, key: &K, _bh: &BhOff) -> Option<V> {
        self.shard(key).lock().remove(key)
    }

    /// Removes every entry `keep` refuses, one at a time, handing each
    /// to `removed` after its shard's lock is released.
    pub(crate) fn retain(&self, bh: &BhOff, mut keep: impl FnMut(&K, &V) -> bool, mut removed: impl FnMut(V)) {
        for shard in self.shards.iter() {
            loop {
                // Find one victim under the lock, remove it, release.
                let victim = {
                    let mut tree = shard.lock();
                    let key = tree.iter().find(|(k, v)| !keep(k, v)).map(|(k, _)| *k);
                    key.and_then(|k| tree.remove(&k))
                };
                match victim {
                    Some(v) => removed(v),
                    None => break,
                }
            }
        }
        let _ = bh;
    }

    /// Calls `f` on every entry, one shard at a time, under its lock.
    pub(crate) fn for_each(&self, _bh: &BhOff, mut f: impl FnMut(&K, &V)) {
        for shard in self.shards.iter() {
            let tree = shard.lock();
            for (k, v) in tree.iter() {
                f(k, v);
            }
        }
    }
}

/// A peer: where its datagrams come from and go to, and what it did.
pub(crate) struct Peer {
    pub(crate) id: u32,
    pub(crate) endpoint: Endpoint,
    /// Added by userspace: never expires. Else learned from traffic.
    pub(crate) is_static: bool,
    /// Milliseconds between keepalives; 0: none.
    pub(crate) keepalive_ms: u64,
    pub(crate) route: Route,
    /// When a datagram last came from it, and when we last sent it one
    /// (ms, [`crate::udp_tunnel::now_ms`]).
    last_seen: Atomic<u64>,
    last_sent: Atomic<u64>,
    pub(crate) rx_packets: Atomic<u64>,
    pub(crate) rx_bytes: Atomic<u64>,
    pub(crate) tx_packets: Atomic<u64>,
    pub(crate) tx_bytes: Atomic<u64>,
    /// Deleted: a holder still in flight drops instead of sending.
    dead: Atomic<bool>,
    /// A learned peer's `peer-learned` notification went out.
    announced: Atomic<bool>,
}

impl Peer {
    pub(crate) fn new(id: u32, endpoint: Endpoint, is_static: bool, keepalive_ms: u64, route: Route, now: u64) -> Self {
        Self {
            id,
            endpoint,
            is_static,
            keepalive_ms,
            route,
            last_seen: Atomic::new(now),
            last_sent: Atomic::new(now),
            rx_packets: Atomic::new(0),
            rx_bytes: Atomic::new(0),
            tx_packets: Atomic::new(0),
            tx_bytes: Atomic::new(0),
            dead: Atomic::new(false),
            announced: Atomic::new(is_static),
        }
    }

    pub(crate) fn last_seen(&self) -> u64 {
        self.last_seen.load(Relaxed)
    }

    pub(crate) fn last_sent(&self) -> u64 {
        self.last_sent.load(Relaxed)
    }

    /// Notes a datagram from the peer at `now`; the store is skipped when
    /// the time did not change, to spare the cache line (as the bridge).
    pub(crate) fn seen(&self, now: u64, bytes: usize) {
        if self.last_seen.load(Relaxed) != now {
            self.last_seen.store(now, Relaxed);
        }
        self.rx_packets.add(1, Relaxed);
        self.rx_bytes.add(bytes as u64, Relaxed);
    }

    /// Notes a keepalive from the peer (no traffic counted).
    pub(crate) fn touched(&self, now: u64) {
        if self.last_seen.load(Relaxed) != now {
            self.last_seen.store(now, Relaxed);
        }
    }

    pub(crate) fn sent(&self, now: u64, bytes: usize) {
        if self.last_sent.load(Relaxed) != now {
            self.last_sent.store(now, Relaxed);
        }
        self.tx_packets.add(1, Relaxed);
        self.tx_bytes.add(bytes as u64, Relaxed);
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Relaxed)
    }

    fn kill(&self) {
        self.dead.store(true, Relaxed);
    }

    /// Whether the peer's `peer-learned` event is still to be sent; true
    /// once.
    pub(crate) fn take_announcement(&self) -> bool {
        !self.announced.xchg(true, Relaxed)
    }

    /// Whether a learned peer silent since `last_seen` has expired at `now`.
    pub(crate) fn expired(&self, now: u64, timeout_ms: u64) -> bool {
        !self.is_static && now.saturating_sub(self.last_seen()) >= timeout_ms
    }

    /// Milliseconds until a learned peer expires (`None` if static).
    pub(crate) fn expires_in(&self, now: u64, timeout_ms: u64) -> Option<u64> {
        (!self.is_static).then(|| (self.last_seen() + timeout_ms).saturating_sub(now))
    }
}

/// A MAC address learned behind (or configured for) a peer.
pub(crate) struct MacEntry {
    pub(crate) peer: Arc<Peer>,
    /// Configured with the peer: never aged, never moved by traffic.
    pub(crate) is_static: bool,
    seen: Atomic<u64>,
}

/// Tree nodes for one peer, reserved before it is added.
pub(crate) struct PeerNodes {
    endpoint: RBTreeNodeReservation<Endpoint, Arc<Peer>>,
    addr: Option<RBTreeNodeReservation<[u8; 4], Arc<Peer>>>,
}

/// A tree node for one MAC, reserved before it is added.
pub(crate) type MacNode = RBTreeNodeReservation<Mac, MacEntry>;

/// Why [`Tables::add_peer`] refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AddError {
    /// A peer has that endpoint already.
    Exists,
    /// The table holds `max-peers` peers.
    Full,
}

/// The peer table and the forwarding database of one tunnel device.
pub(crate) struct Tables {
    by_endpoint: Sharded<Endpoint, Arc<Peer>>,
    /// Static peers by address alone: a kernel vxlan peer sends from a
    /// port hashed per flow (vxlan_core.c `udp_flow_src_port`), and keys
    /// its own FDB by address only.
    static_by_addr: Sharded<[u8; 4], Arc<Peer>>,
    macs: Sharded<Mac, MacEntry>,
    peers: Atomic<u32>,
    learned_macs: Atomic<u32>,
    next_id: Atomic<u32>,
}

impl Tables {
    pub(crate) fn new(seed: u32) -> Result<Self> {
        Ok(Self {
            by_endpoint: Sharded::new(seed)?,
            static_by_addr: Sharded::new(seed.rotate_left(8))?,
            macs: Sharded::new(seed.rotate_left(16))?,
            peers: Atomic::new(0),
            learned_macs: Atomic::new(0),
            next_id: Atomic::new(1),
        })
    }

    pub(crate) fn peer_count(&self) -> u32 {
        self.peers.load(Relaxed)
    }

    pub(crate) fn new_id(&self) -> u32 {
        self.next_id.fetch_add(1, Relaxed)
    }

    /// The peer whose datagrams come from `from`: exact endpoint, else a
    /// static peer at that address.
    pub(crate) fn peer_from(&self, from: &Endpoint, bh: &BhOff) -> Option<Arc<Peer>> {
        self.by_endpoint
            .with(from, bh, |p| p.cloned())
            .or_else(|| self.static_by_addr.with(&from.addr, bh, |p| p.cloned()))
    }

    /// Reserves the tree nodes a new peer needs, before any lock or
    /// bottom-halves-off section (`GFP_KERNEL` in control, `GFP_ATOMIC`
    /// when learning).
    pub(crate) fn reserve(is_static: bool, flags: Flags) -> Result<PeerNodes> {
        Ok(PeerNodes {
            endpoint: RBTreeNodeReservation::new(flags)?,
            addr: if is_static { Some(RBTreeNodeReservation::new(flags)?) } else { None },
        })
    }

    /// Reserves the tree node for a static MAC (control, `GFP_KERNEL`).
    pub(crate) fn mac_node() -> Result<MacNode> {
        Ok(RBTreeNodeReservation::new(GFP_KERNEL)?)
    }

    /// Adds `peer`, within `max_peers`.
    pub(crate) fn add_peer(&self, peer: Arc<Peer>, nodes: PeerNodes, max_peers: u32, bh: &BhOff) -> Result<(), AddError> {
        // Reserve a place in the count first, so racing learners cannot
        // pass the bound together.
        if self.peers.fetch_add(1, Relaxed) >= max_peers {
            self.peers.fetch_sub(1, Relaxed);
            return Err(AddError::Full);
        }
        if self.by_endpoint.insert(peer.endpoint, peer.clone(), nodes.endpoint, bh).is_err() {
            self.peers.fetch_sub(1, Relaxed);
            return Err(AddError::Exists);
        }
        if let (true, Some(addr_node)) = (peer.is_static, nodes.addr) {
            // The first static peer at an address takes address matches.
            let _ = self.static_by_addr.insert(peer.endpoint.addr, peer, addr_node, bh);
        }
        Ok(())
    }

    /// Removes the peer at `endpoint` and the MACs behind it.
    pub(crate) fn remove_peer(&self, endpoint: &Endpoint, bh: &BhOff) -> Option<Arc<Peer>> {
        let peer = self.by_endpoint.remove(endpoint, bh)?;
        self.forget(&peer, bh);
        Some(peer)
    }

    fn forget(&self, peer: &Arc<Peer>, bh: &BhOff) {
        peer.kill();
        self.peers.fetch_sub(1, Relaxed);
        if peer.is_static {
            let mine = self.static_by_addr.with(&peer.endpoint.addr, bh, |p| p.is_some_and(|p| Arc::ptr_eq(p, peer)));
            if mine {
                self.static_by_addr.remove(&peer.endpoint.addr, bh);
            }
        }
        let learned = &self.learned_macs;
        self.macs.retain(bh, |_, e| !Arc::ptr_eq(&e.peer, peer), |e| {
            if !e.is_static {
                learned.fetch_sub(1, Relaxed);
            }
        });
    }

    /// The peer with number `id`.
    pub(crate) fn peer_by_id(&self, id: u32, bh: &BhOff) -> Option<Arc<Peer>> {
        let mut found = None;
        self.by_endpoint.for_each(bh, |_, p| {
            if p.id == id {
                found = Some(p.clone());
            }
        });
        found
    }

    /// Every peer, in no order (`GFP_ATOMIC`: the data path floods with it).
    pub(crate) fn all_peers(&self, flags: Flags, bh: &BhOff) -> Result<KVec<Arc<Peer>>> {
        let mut out = KVec::with_capacity(self.peer_count() as usize, flags)?;
        let mut result = Ok(());
        self.by_endpoint.for_each(bh, |_, p| {
            if result.is_ok() {
                result = out.push(p.clone(), flags).map_err(Error::from);
            }
        });
        result.map(|()| out)
    }

    /// Removes the learned peers silent for `timeout_ms` at `now`.
    pub(crate) fn expire_peers(&self, now: u64, timeout_ms: u64, bh: &BhOff) -> KVec<Arc<Peer>> {
        let mut gone = KVec::new();
        let mut victims = KVec::new();
        self.by_endpoint.retain(bh, |_, p| !p.expired(now, timeout_ms), |p| {
            // On allocation failure the peer is still gone; it is only
            // not announced.
            let _ = victims.push(p, GFP_ATOMIC);
        });
        for p in victims {
            self.forget(&p, bh);
            let _ = gone.push(p, GFP_ATOMIC);
        }
        gone
    }

    /// The peer behind `mac`.
    pub(crate) fn peer_for_mac(&self, mac: &Mac, bh: &BhOff) -> Option<Arc<Peer>> {
        self.macs.with(mac, bh, |e| e.map(|e| e.peer.clone()))
    }

    /// Learns that `mac` is behind `peer` at `now`: refreshes, moves (a
    /// host that roamed to another peer) or inserts within `max_macs`. A
    /// static entry stays as configured.
    pub(crate) fn learn_mac(&self, mac: Mac, peer: &Arc<Peer>, now: u64, max_macs: u32, bh: &BhOff) {
        // None: absent; Some(true): nothing to do; Some(false): behind another peer.
        let known = self.macs.with(&mac, bh, |e| {
            e.map(|e| {
                if e.is_static || Arc::ptr_eq(&e.peer, peer) {
                    if e.seen.load(Relaxed) != now {
                        e.seen.store(now, Relaxed);
                    }
                    true
                } else {
                    false
                }
            })
        });
        if known == Some(true) {
            return;
        }
        let Ok(node) = RBTreeNodeReservation::new(GFP_ATOMIC) else { return };
        // A new MAC takes a place within the bound; a moved one keeps its own.
        if known.is_none() && self.learned_macs.fetch_add(1, Relaxed) >= max_macs {
            self.learned_macs.fetch_sub(1, Relaxed);
            return;
        }
        let entry = MacEntry { peer: peer.clone(), is_static: false, seen: Atomic::new(now) };
        match self.macs.upsert(mac, entry, node, bh) {
            // Raced: a static entry came in meanwhile (it stays counted out),
            // or the MAC vanished between our look and the insert.
            Some(old) if old.is_static && known.is_none() => {}
            Some(old) if !old.is_static && known.is_none() => {
                self.learned_macs.fetch_sub(1, Relaxed);
            }
            None if known.is_some() => {
                self.learned_macs.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }

    /// Configures `mac` behind `peer` for good.
    pub(crate) fn add_static_mac(&self, mac: Mac, peer: &Arc<Peer>, node: MacNode, bh: &BhOff) {
        let entry = MacEntry { peer: peer.clone(), is_static: true, seen: Atomic::new(0) };
        if let Some(old) = self.macs.upsert(mac, entry, node, bh) {
            if !old.is_static {
                self.learned_macs.fetch_sub(1, Relaxed);
            }
        }
    }

    /// Forgets learned MACs silent for `timeout_ms`.
    pub(crate) fn expire_macs(&self, now: u64, timeout_ms: u64, bh: &BhOff) {
        let learned = &self.learned_macs;
        self.macs.retain(
            bh,
            |_, e| e.is_static || now.saturating_sub(e.seen.load(Relaxed)) < timeout_ms,
            |_| {
                learned.fetch_sub(1, Relaxed);
            },
        );
    }

    /// The MACs behind `peer`, at most `max`.
    pub(crate) fn macs_of(&self, peer: &Arc<Peer>, max: usize, bh: &BhOff) -> KVec<Mac> {
        let mut out = KVec::new();
        self.macs.for_each(bh, |mac, e| {
            if out.len() < max && Arc::ptr_eq(&e.peer, peer) {
                let _ = out.push(*mac, GFP_ATOMIC);
            }
        });
        out
    }

    /// Removes every peer and MAC (the device goes).
    pub(crate) fn clear(&self, bh: &BhOff) {
        self.macs.retain(bh, |_, _| false, |_| {});
        self.static_by_addr.retain(bh, |_, _| false, |_| {});
        self.by_endpoint.retain(bh, |_, _| false, |p| p.kill());
        self.peers.store(0, Relaxed);
        self.learned_macs.store(0, Relaxed);
    }
}

#[kunit_tests(xtun_peers)]
mod tests {
    use super::*;
    use crate::context::{in_test_process, Process};

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint { addr: [10, 0, 0, last], port }
    }

    // Setup that can only fail for want of memory returns `Result`, and
    // each test asserts it got through (a panic would be a kernel BUG).

    fn peer(t: &Tables, e: Endpoint, is_static: bool, now: u64, ctx: &Process) -> Result<Arc<Peer>> {
        let route = Route::new(ctx)?;
        Ok(Arc::new(Peer::new(t.new_id(), e, is_static, 0, route, now), GFP_KERNEL)?)
    }

    fn add(t: &Tables, p: &Arc<Peer>, max: u32, ctx: &Process) -> Result<Result<(), AddError>> {
        let nodes = Tables::reserve(p.is_static, GFP_KERNEL)?;
        Ok(t.add_peer(p.clone(), nodes, max, &ctx.bh_off()))
    }

    #[test]
    fn peers_are_bounded_and_unique() {
        let done = in_test_process(|ctx| -> Result {
            let t = Tables::new(7)?;
            for i in 1..=3 {
                assert_eq!(add(&t, &peer(&t, ep(i, 4789), false, 0, ctx)?, 3, ctx)?, Ok(()));
            }
            assert_eq!(add(&t, &peer(&t, ep(9, 4789), false, 0, ctx)?, 3, ctx)?, Err(AddError::Full));
            assert_eq!(t.peer_count(), 3);
            assert!(t.remove_peer(&ep(3, 4789), &ctx.bh_off()).is_some());
            assert_eq!(add(&t, &peer(&t, ep(1, 4789), false, 0, ctx)?, 3, ctx)?, Err(AddError::Exists));
            assert_eq!(t.peer_count(), 2);
            Ok(())
        });
        assert!(done.is_ok());
    }

    #[test]
    fn static_peers_match_by_address() {
        let done = in_test_process(|ctx| -> Result {
            let t = Tables::new(1)?;
            assert_eq!(add(&t, &peer(&t, ep(1, 4789), true, 0, ctx)?, 10, ctx)?, Ok(()));
            assert_eq!(add(&t, &peer(&t, ep(2, 4789), false, 0, ctx)?, 10, ctx)?, Ok(()));
            // vxlan sends from a hashed port: its static peer is found anyway.
            let found = t.peer_from(&ep(1, 51000), &ctx.bh_off());
            assert!(found.is_some_and(|p| p.endpoint == ep(1, 4789)));
            // A learned peer is its exact endpoint only (NAT: another port is another client).
            assert!(t.peer_from(&ep(2, 51000), &ctx.bh_off()).is_none());
            Ok(())
        });
        assert!(done.is_ok());
    }

    #[test]
    fn learned_peers_expire_with_their_macs() {
        let done = in_test_process(|ctx| -> Result {
            let t = Tables::new(3)?;
            let learned = peer(&t, ep(1, 1000), false, 1000, ctx)?;
            let fixed = peer(&t, ep(2, 4789), true, 1000, ctx)?;
            assert_eq!(add(&t, &learned, 10, ctx)?, Ok(()));
            assert_eq!(add(&t, &fixed, 10, ctx)?, Ok(()));
            t.learn_mac([2, 0, 0, 0, 0, 1], &learned, 1000, 10, &ctx.bh_off());
            assert!(t.expire_peers(1000 + 4999, 5000, &ctx.bh_off()).is_empty());
            let gone = t.expire_peers(1000 + 5000, 5000, &ctx.bh_off());
            assert_eq!(gone.len(), 1);
            assert!(gone[0].is_dead());
            assert_eq!(t.peer_count(), 1);
            assert!(t.peer_for_mac(&[2, 0, 0, 0, 0, 1], &ctx.bh_off()).is_none());
            // Static peers never expire.
            assert!(t.expire_peers(u64::MAX / 2, 5000, &ctx.bh_off()).is_empty());
            Ok(())
        });
        assert!(done.is_ok());
    }

    #[test]
    fn macs_are_bounded_move_and_age() {
        let done = in_test_process(|ctx| -> Result {
            let t = Tables::new(5)?;
            let a = peer(&t, ep(1, 1), false, 0, ctx)?;
            let b = peer(&t, ep(2, 2), false, 0, ctx)?;
            let node = Tables::mac_node()?;
            let behind = |mac: Mac| t.peer_for_mac(&mac, &ctx.bh_off());
            t.add_static_mac([2, 0, 0, 0, 0, 9], &a, node, &ctx.bh_off());
            t.learn_mac([2, 0, 0, 0, 0, 1], &a, 0, 2, &ctx.bh_off());
            t.learn_mac([2, 0, 0, 0, 0, 2], &a, 0, 2, &ctx.bh_off());
            t.learn_mac([2, 0, 0, 0, 0, 3], &a, 0, 2, &ctx.bh_off()); // over the bound
            assert!(behind([2, 0, 0, 0, 0, 3]).is_none());
            // A host that moved is found behind its new peer, within the
            // bound; a static MAC stays.
            t.learn_mac([2, 0, 0, 0, 0, 1], &b, 10, 2, &ctx.bh_off());
            t.learn_mac([2, 0, 0, 0, 0, 9], &b, 10, 2, &ctx.bh_off());
            assert!(behind([2, 0, 0, 0, 0, 1]).is_some_and(|p| Arc::ptr_eq(&p, &b)));
            assert!(behind([2, 0, 0, 0, 0, 9]).is_some_and(|p| Arc::ptr_eq(&p, &a)));
            // Ageing forgets learned MACs only, and frees their places.
            t.expire_macs(1_000_000, 300_000, &ctx.bh_off());
            assert!(behind([2, 0, 0, 0, 0, 1]).is_none());
            assert!(behind([2, 0, 0, 0, 0, 9]).is_some());
            t.learn_mac([2, 0, 0, 0, 0, 3], &a, 1_000_000, 2, &ctx.bh_off());
            assert!(behind([2, 0, 0, 0, 0, 3]).is_some());
            Ok(())
        });
        assert!(done.is_ok());
    }
}
