// SPDX-License-Identifier: GPL-2.0

//! The tunnel's tables, in safe Rust: peers by UDP endpoint (and static
//! ones by address too), MAC addresses learned behind peers (the
//! forwarding database), and the list a flooded frame goes to. No
//! `unsafe` here.
//!
//! Locking: each table is split into [`SHARDS`] red-black trees, each under
//! its own spinlock, taken with bottom halves off ([`BhOff`]) from the data
//! path (xmit, the socket's receive) and from control (netlink, ageing),
//! for one tree operation at a time, or a batch of [`BATCH`] removals: no
//! lock is held across a send, an allocation that sleeps or another lock;
//! walks take bottom halves off per shard (a 64th of the table), removals
//! per batch, so a pass over a full table never keeps softirqs waiting
//! long. A lookup costs one uncontended lock and
//! an `Arc` clone; a flood only clones the `Arc` of a list rebuilt by
//! control (copy on write, the RCU idea with one pointer-sized critical
//! section). vxlan uses RCU hash lists; the Rust bindings of 7.2 have no
//! RCU pointers. Both tables are bounded (`max-peers`, `max-macs`), and
//! shards are picked by a keyed `jhash`, so a flood of spoofed sources can
//! neither grow memory without limit nor aim at one tree.

use kernel::{
    alloc::Flags,
    new_spinlock,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, SpinLock,
    },
};

use crate::context::{BhOff, Process};
use crate::secure::PeerKeys;
use crate::udp_tunnel::{jhash3, Endpoint, Route};

/// Trees per table: enough that CPUs rarely meet on one lock.
pub(crate) const SHARDS: usize = 64;
/// Removals per lock hold in a walk.
pub(crate) const BATCH: usize = 16;
/// Up to this many peers, control rebuilds the flood list at once; beyond
/// it, the ageing work does within a tick, so adding peers one by one
/// stays linear.
const FLOOD_EAGER: u32 = 4096;

/// A key that picks its shard through a keyed hash.
pub(crate) trait ShardKey: Ord + Copy + Unpin {
    fn hash(&self, seed: u32) -> u32;
}

impl ShardKey for Endpoint {
    fn hash(&self, seed: u32) -> u32 {
        jhash3(u32::from_ne_bytes(self.addr), u32::from(self.port), 0, seed)
    }
}

/// A MAC address.
pub(crate) type Mac = [u8; 6];

impl ShardKey for Mac {
    fn hash(&self, seed: u32) -> u32 {
        let m = self;
        jhash3(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), u32::from_ne_bytes([m[4], m[5], 0, 0]), 1, seed)
    }
}

impl ShardKey for [u8; 4] {
    fn hash(&self, seed: u32) -> u32 {
        jhash3(u32::from_ne_bytes(*self), 0, 2, seed)
    }
}

impl ShardKey for u32 {
    fn hash(&self, seed: u32) -> u32 {
        jhash3(*self, 0, 3, seed)
    }
}

/// A map split over [`SHARDS`] locked trees.
pub(crate) struct Sharded<K: ShardKey, V: Unpin> {
    shards: KVec<Pin<KBox<SpinLock<RBTree<K, V>>>>>,
    /// The hash key (random per table).
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
        &self.shards[key.hash(self.seed) as usize % SHARDS]
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

    /// Replaces or inserts, unless `keep_old` says the present value
    /// stays: then gives `value` back. `Ok` holds the value replaced.
    pub(crate) fn upsert(
        &self,
        key: K,
        value: V,
        node: RBTreeNodeReservation<K, V>,
        keep_old: impl FnOnce(&V) -> bool,
        _bh: &BhOff,
    ) -> Result<Option<V>, V> {
        let mut tree = self.shard(&key).lock();
        if tree.get(&key).is_some_and(keep_old) {
            return Err(value);
        }
        let old = tree.remove(&key);
        tree.insert(node.into_node(key, value));
        Ok(old)
    }

    /// Removes the value under `key` if `pred` says so, in one locked step.
    pub(crate) fn remove_if(&self, key: &K, pred: impl FnOnce(&V) -> bool, _bh: &BhOff) -> Option<V> {
        let mut tree = self.shard(key).lock();
        if tree.get(key).is_some_and(pred) {
            tree.remove(key)
        } else {
            None
        }
    }

    /// Removes every entry `keep` refuses, handing each to `removed` after
    /// the lock is released. One pass: at most [`BATCH`] removals per lock
    /// hold (bottom halves off only for it), resuming at the next key.
    pub(crate) fn retain(&self, ctx: &Process, mut keep: impl FnMut(&K, &V) -> bool, mut removed: impl FnMut(V)) {
        for shard in self.shards.iter() {
            let mut resume: Option<K> = None;
            loop {
                let mut batch: [Option<V>; BATCH] = core::array::from_fn(|_| None);
                let mut taken = 0;
                let mut next = None;
                {
                    let _bh = ctx.bh_off();
                    let mut tree = shard.lock();
                    let mut cursor = match &resume {
                        Some(k) => tree.cursor_lower_bound_mut(k),
                        None => tree.cursor_front_mut(),
                    };
                    while let Some(c) = cursor {
                        let (k, v) = c.current();
                        let key = *k;
                        if keep(k, v) {
                            cursor = c.move_next();
                            continue;
                        }
                        if taken == BATCH {
                            next = Some(key);
                            break;
                        }
                        let (after, node) = c.remove_current();
                        batch[taken] = Some(node.to_key_value().1);
                        taken += 1;
                        // Past the last node the cursor steps back onto an
                        // earlier one: the walk is over.
                        cursor = after.filter(|a| *a.current().0 > key);
                    }
                }
                for value in batch.into_iter().flatten() {
                    removed(value);
                }
                match next {
                    Some(k) => resume = Some(k),
                    None => break,
                }
            }
        }
    }

    /// Calls `f` on every entry, one shard at a time, under its lock, from
    /// process context: bottom halves off per shard only.
    pub(crate) fn for_each_slowly(&self, ctx: &Process, mut f: impl FnMut(&K, &V)) {
        for shard in self.shards.iter() {
            let _bh = ctx.bh_off();
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
    /// Where it was configured or learned: its key in the table.
    pub(crate) endpoint: Endpoint,
    /// Where datagrams to it go: `endpoint`, until a secure peer proves
    /// another source (roaming); [`pack`]ed.
    remote: Atomic<u64>,
    /// Secure mode: its keys and their counters.
    pub(crate) keys: Option<Pin<KBox<PeerKeys>>>,
    /// Added by userspace: never expires. Else learned from traffic.
    pub(crate) is_static: bool,
    /// Milliseconds between keepalives; 0: none.
    pub(crate) keepalive_ms: u64,
    /// A static peer's route cache. Learned peers have none (each route
    /// is looked up per datagram), so that a flood of spoofed sources with
    /// `learn on` costs no per-CPU memory per source.
    pub(crate) route: Option<Route>,
    /// When a datagram last came from it, and when we last sent it one
    /// (ms, [`crate::udp_tunnel::now_ms`]).
    last_seen: Atomic<u64>,
    last_sent: Atomic<u64>,
    pub(crate) rx_packets: Atomic<u64>,
    pub(crate) rx_bytes: Atomic<u64>,
    pub(crate) tx_packets: Atomic<u64>,
    pub(crate) tx_bytes: Atomic<u64>,
    /// Deleted: a holder still in flight drops instead of sending, and MAC
    /// entries pointing here count as absent until the ageing pass
    /// removes them.
    dead: Atomic<bool>,
    /// A learned peer's `peer-learned` notification went out.
    announced: Atomic<bool>,
}

impl Peer {
    pub(crate) fn new(id: u32, endpoint: Endpoint, is_static: bool, keepalive_ms: u64, route: Option<Route>, now: u64) -> Self {
        Self {
            id,
            endpoint,
            remote: Atomic::new(pack(endpoint)),
            keys: None,
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

    /// The same peer in secure mode, with no keys yet.
    pub(crate) fn with_keys(self) -> Result<Self> {
        Ok(Self { keys: Some(KBox::pin_init(PeerKeys::new(), GFP_KERNEL)?), ..self })
    }

    /// Where datagrams to the peer go now.
    pub(crate) fn remote(&self) -> Endpoint {
        unpack(self.remote.load(Relaxed))
    }

    /// An authenticated datagram came from `from`: the peer is there now
    /// (ovpn's float). Returns whether it moved.
    pub(crate) fn roam_to(&self, from: Endpoint) -> bool {
        let packed = pack(from);
        if self.remote.load(Relaxed) == packed {
            return false;
        }
        self.remote.store(packed, Relaxed);
        if let Some(route) = &self.route {
            route.reset();
        }
        true
    }

    pub(crate) fn last_seen(&self) -> u64 {
        self.last_seen.load(Relaxed)
    }

    pub(crate) fn last_sent(&self) -> u64 {
        self.last_sent.load(Relaxed)
    }

    /// Notes traffic from the peer at `now` (`bytes` 0: a keepalive); the
    /// store is skipped when the time did not change, to spare the cache
    /// line (as the bridge).
    pub(crate) fn seen(&self, now: u64, bytes: usize) {
        if self.last_seen.load(Relaxed) != now {
            self.last_seen.store(now, Relaxed);
        }
        if bytes > 0 {
            self.rx_packets.add(1, Relaxed);
            self.rx_bytes.add(bytes as u64, Relaxed);
        }
    }

    /// Notes a frame (`bytes` 0: a keepalive) sent to the peer.
    pub(crate) fn sent(&self, now: u64, bytes: usize) {
        if self.last_sent.load(Relaxed) != now {
            self.last_sent.store(now, Relaxed);
        }
        if bytes > 0 {
            self.tx_packets.add(1, Relaxed);
            self.tx_bytes.add(bytes as u64, Relaxed);
        }
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

/// An endpoint in one word, so that a peer's can change atomically.
fn pack(e: Endpoint) -> u64 {
    (u64::from(u32::from_ne_bytes(e.addr)) << 16) | u64::from(e.port)
}

fn unpack(v: u64) -> Endpoint {
    Endpoint { addr: ((v >> 16) as u32).to_ne_bytes(), port: v as u16 }
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
    id: RBTreeNodeReservation<u32, Arc<Peer>>,
    addr: Option<RBTreeNodeReservation<[u8; 4], Arc<Peer>>>,
}

/// A tree node for one MAC, reserved before it is added.
pub(crate) type MacNode = RBTreeNodeReservation<Mac, MacEntry>;

/// The peers a flooded frame goes to (copy on write).
pub(crate) type FloodList = Arc<KVec<Arc<Peer>>>;

/// Why [`Tables::add_peer`] refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AddError {
    /// A peer has that endpoint already.
    Exists,
    /// A peer has that id already.
    IdTaken,
    /// The table holds `max-peers` peers.
    Full,
}

/// The peer table and the forwarding database of one tunnel device.
pub(crate) struct Tables {
    by_endpoint: Sharded<Endpoint, Arc<Peer>>,
    /// Every peer by id: control's lookups, and secure mode's receive
    /// (the header names the peer).
    by_id: Sharded<u32, Arc<Peer>>,
    /// Static peers by address alone: a kernel vxlan peer sends from a
    /// port hashed per flow (vxlan_core.c `udp_flow_src_port`), and keys
    /// its own FDB by address only.
    static_by_addr: Sharded<[u8; 4], Arc<Peer>>,
    macs: Sharded<Mac, MacEntry>,
    flood: Pin<KBox<SpinLock<Option<FloodList>>>>,
    /// The peer set changed since the flood list was built.
    flood_stale: Atomic<bool>,
    /// What the ageing pass has to walk for: learned peers (expiry), peers
    /// with keepalives, MACs behind deleted peers (a sweep). With none, a
    /// pass over a table of static peers walks nothing.
    learned_peers: Atomic<u32>,
    keepalive_peers: Atomic<u32>,
    sweep_macs: Atomic<bool>,
    peers: Atomic<u32>,
    learned_macs: Atomic<u32>,
    next_id: Atomic<u32>,
}

impl Tables {
    pub(crate) fn new(seed: u32) -> Result<Self> {
        Ok(Self {
            by_endpoint: Sharded::new(seed)?,
            by_id: Sharded::new(seed.rotate_left(24))?,
            static_by_addr: Sharded::new(seed.rotate_left(8))?,
            macs: Sharded::new(seed.rotate_left(16))?,
            flood: KBox::pin_init(new_spinlock!(None), GFP_KERNEL)?,
            flood_stale: Atomic::new(false),
            learned_peers: Atomic::new(0),
            keepalive_peers: Atomic::new(0),
            sweep_macs: Atomic::new(false),
            peers: Atomic::new(0),
            learned_macs: Atomic::new(0),
            next_id: Atomic::new(1),
        })
    }

    pub(crate) fn peer_count(&self) -> u32 {
        self.peers.load(Relaxed)
    }

    /// A new peer number (32 bits: wraps after four billion peers).
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
            id: RBTreeNodeReservation::new(flags)?,
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
        if self.by_id.insert(peer.id, peer.clone(), nodes.id, bh).is_err() {
            self.by_endpoint.remove_if(&peer.endpoint, |p| Arc::ptr_eq(p, &peer), bh);
            self.peers.fetch_sub(1, Relaxed);
            return Err(AddError::IdTaken);
        }
        if !peer.is_static {
            self.learned_peers.add(1, Relaxed);
        }
        if peer.keepalive_ms > 0 {
            self.keepalive_peers.add(1, Relaxed);
        }
        if let (true, Some(addr_node)) = (peer.is_static, nodes.addr) {
            // The first static peer at an address takes address matches.
            let _ = self.static_by_addr.insert(peer.endpoint.addr, peer, addr_node, bh);
        }
        self.flood_stale.store(true, Relaxed);
        Ok(())
    }

    /// Removes the peer at `endpoint` if `which` says it is the one meant
    /// (checked under the lock: a peer relearned meanwhile at the same
    /// endpoint is another). The MACs behind it count as absent at once
    /// and go with the next ageing pass. Control only (RTNL), so static
    /// peers change one at a time.
    pub(crate) fn remove_peer(&self, endpoint: &Endpoint, which: impl FnOnce(&Peer) -> bool, ctx: &Process) -> Option<Arc<Peer>> {
        // Reserved first: a static peer's address may pass to another.
        let heir_node = RBTreeNodeReservation::new(GFP_KERNEL).ok();
        let peer = self.by_endpoint.remove_if(endpoint, |p| which(p), &ctx.bh_off())?;
        self.forget(&peer, ctx);
        if let (true, Some(node)) = (peer.is_static, heir_node) {
            self.hand_over_address(&peer, node, ctx);
        }
        Some(peer)
    }

    /// If `gone`, a static peer, took address matches, another static peer
    /// at its address takes them over.
    fn hand_over_address(&self, gone: &Arc<Peer>, node: RBTreeNodeReservation<[u8; 4], Arc<Peer>>, ctx: &Process) {
        let addr = gone.endpoint.addr;
        if self.static_by_addr.remove_if(&addr, |p| Arc::ptr_eq(p, gone), &ctx.bh_off()).is_none() {
            return;
        }
        let mut heir = None;
        self.by_endpoint.for_each_slowly(ctx, |_, p| {
            if heir.is_none() && p.is_static && p.endpoint.addr == addr {
                heir = Some(p.clone());
            }
        });
        if let Some(heir) = heir {
            let _ = self.static_by_addr.insert(addr, heir, node, &ctx.bh_off());
        }
    }

    fn forget(&self, peer: &Arc<Peer>, ctx: &Process) {
        peer.kill();
        self.by_id.remove_if(&peer.id, |p| Arc::ptr_eq(p, peer), &ctx.bh_off());
        self.peers.fetch_sub(1, Relaxed);
        if !peer.is_static {
            self.learned_peers.fetch_sub(1, Relaxed);
        }
        if peer.keepalive_ms > 0 {
            self.keepalive_peers.fetch_sub(1, Relaxed);
        }
        self.flood_stale.store(true, Relaxed);
        self.sweep_macs.store(true, Relaxed);
    }

    /// The peer with number `id`.
    pub(crate) fn peer_by_id(&self, id: u32, bh: &BhOff) -> Option<Arc<Peer>> {
        self.by_id.with(&id, bh, |p| p.cloned())
    }

    /// Every peer with a number at least `from`, sorted, at most `max`
    /// (a dump's next message worth and a bit).
    pub(crate) fn peers_from_id(&self, from: u32, max: usize, ctx: &Process) -> Result<KVec<Arc<Peer>>> {
        let mut out: KVec<Arc<Peer>> = KVec::with_capacity(max, GFP_KERNEL)?;
        self.by_endpoint.for_each_slowly(ctx, |_, p| {
            if p.id >= from {
                if out.len() == max {
                    // Keep the `max` lowest: replace the highest if lower.
                    if let Some((i, hi)) = out.iter().enumerate().max_by_key(|(_, q)| q.id) {
                        if p.id < hi.id {
                            out[i] = p.clone();
                        }
                    }
                } else {
                    let _ = out.push(p.clone(), GFP_ATOMIC); // within capacity
                }
            }
        });
        out.sort_unstable_by_key(|p| p.id);
        Ok(out)
    }

    /// The peers a flooded frame goes to.
    pub(crate) fn flood_list(&self, _bh: &BhOff) -> Option<FloodList> {
        self.flood.lock().clone()
    }

    /// Rebuilds the flood list if the peer set changed (control, the
    /// ageing work); with `eager_only`, only while the table is small
    /// enough that rebuilding on every change stays cheap.
    pub(crate) fn refresh_flood(&self, eager_only: bool, ctx: &Process) -> Result {
        if !self.flood_stale.load(Relaxed) || (eager_only && self.peer_count() > FLOOD_EAGER) {
            return Ok(());
        }
        self.flood_stale.store(false, Relaxed);
        let mut peers = KVec::with_capacity(self.peer_count() as usize + BATCH, GFP_KERNEL)?;
        let mut result = Ok(());
        self.by_endpoint.for_each_slowly(ctx, |_, p| {
            if result.is_ok() {
                result = peers.push(p.clone(), GFP_ATOMIC);
            }
        });
        if result.is_err() {
            self.flood_stale.store(true, Relaxed);
            return Err(ENOMEM);
        }
        let list = Arc::new(peers, GFP_KERNEL)?;
        // The guard must be a local declared after `_bh`, so that it is
        // dropped first: a block's tail-expression temporaries outlive its
        // locals, and the lock would be released with bottom halves on.
        let old = {
            let _bh = ctx.bh_off();
            let mut flood = self.flood.lock();
            flood.replace(list)
        };
        drop(old);
        Ok(())
    }

    /// Removes the learned peers silent for `timeout_ms` at `now`, returns
    /// them (to announce; a peer is removed even if the list cannot hold it).
    pub(crate) fn expire_peers(&self, now: u64, timeout_ms: u64, ctx: &Process) -> KVec<Arc<Peer>> {
        let mut gone = KVec::new();
        if self.learned_peers.load(Relaxed) == 0 {
            return gone;
        }
        self.by_endpoint.retain(ctx, |_, p| !p.expired(now, timeout_ms), |p| {
            self.forget(&p, ctx);
            let _ = gone.push(p, GFP_KERNEL);
        });
        gone
    }

    /// The live peer behind `mac`.
    pub(crate) fn peer_for_mac(&self, mac: &Mac, bh: &BhOff) -> Option<Arc<Peer>> {
        self.macs.with(mac, bh, |e| e.filter(|e| !e.peer.is_dead()).map(|e| e.peer.clone()))
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
        if known == Some(true) || peer.is_dead() {
            return;
        }
        let Ok(node) = RBTreeNodeReservation::new(GFP_ATOMIC) else { return };
        // A new MAC takes a place within the bound; a moved one keeps its own.
        if known.is_none() && self.learned_macs.fetch_add(1, Relaxed) >= max_macs {
            self.learned_macs.fetch_sub(1, Relaxed);
            return;
        }
        let entry = MacEntry { peer: peer.clone(), is_static: false, seen: Atomic::new(now) };
        match self.macs.upsert(mac, entry, node, |old| old.is_static, bh) {
            // A static entry came in meanwhile: it stays, and our place goes.
            Err(_) if known.is_none() => {
                self.learned_macs.fetch_sub(1, Relaxed);
            }
            // The MAC went meanwhile: this is a new one after all.
            Ok(None) if known.is_some() => {
                self.learned_macs.fetch_add(1, Relaxed);
            }
            // Another CPU learned it meanwhile and took its place: we
            // replaced its entry, so ours is one place too many.
            Ok(Some(_)) if known.is_none() => {
                self.learned_macs.fetch_sub(1, Relaxed);
            }
            _ => {}
        }
    }

    /// Configures `mac` behind `peer` for good.
    pub(crate) fn add_static_mac(&self, mac: Mac, peer: &Arc<Peer>, node: MacNode, bh: &BhOff) {
        let entry = MacEntry { peer: peer.clone(), is_static: true, seen: Atomic::new(0) };
        if let Ok(Some(old)) = self.macs.upsert(mac, entry, node, |_| false, bh) {
            if !old.is_static {
                self.learned_macs.fetch_sub(1, Relaxed);
            }
        }
    }

    /// Forgets learned MACs silent for `timeout_ms`, and every MAC behind
    /// a deleted peer.
    pub(crate) fn expire_macs(&self, now: u64, timeout_ms: u64, ctx: &Process) {
        let learned = &self.learned_macs;
        if learned.load(Relaxed) == 0 && !self.sweep_macs.xchg(false, Relaxed) {
            return;
        }
        self.macs.retain(
            ctx,
            |_, e| !e.peer.is_dead() && (e.is_static || now.saturating_sub(e.seen.load(Relaxed)) < timeout_ms),
            |e| {
                if !e.is_static {
                    learned.fetch_sub(1, Relaxed);
                }
            },
        );
    }

    /// The MACs behind `peer`, at most `max` (one walk of the MAC table).
    pub(crate) fn macs_of(&self, peer: &Arc<Peer>, max: usize, ctx: &Process) -> KVec<Mac> {
        let mut out = KVec::new();
        self.macs.for_each_slowly(ctx, |mac, e| {
            if out.len() < max && Arc::ptr_eq(&e.peer, peer) {
                let _ = out.push(*mac, GFP_ATOMIC);
            }
        });
        out
    }

    /// Whether the ageing pass has peers to look at for keepalives or
    /// `peer-learned` events (a learned peer, maybe unannounced).
    pub(crate) fn any_to_visit(&self) -> bool {
        self.keepalive_peers.load(Relaxed) > 0 || self.learned_peers.load(Relaxed) > 0
    }

    /// Every peer, for the ageing pass's keepalives and announcements.
    pub(crate) fn all_peers(&self, ctx: &Process) -> Result<KVec<Arc<Peer>>> {
        let mut out = KVec::with_capacity(self.peer_count() as usize + BATCH, GFP_KERNEL)?;
        let mut result = Ok(());
        self.by_endpoint.for_each_slowly(ctx, |_, p| {
            if result.is_ok() {
                result = out.push(p.clone(), GFP_ATOMIC);
            }
        });
        result.map(|()| out).map_err(|_| ENOMEM)
    }

    /// Removes every peer and MAC (the device goes).
    pub(crate) fn clear(&self, ctx: &Process) {
        self.macs.retain(ctx, |_, _| false, |_| {});
        self.static_by_addr.retain(ctx, |_, _| false, |_| {});
        self.by_id.retain(ctx, |_, _| false, |_| {});
        self.by_endpoint.retain(ctx, |_, _| false, |p| p.kill());
        let old = {
            let _bh = ctx.bh_off();
            let mut flood = self.flood.lock();
            flood.take()
        };
        drop(old);
        self.peers.store(0, Relaxed);
        self.learned_peers.store(0, Relaxed);
        self.keepalive_peers.store(0, Relaxed);
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
        Ok(Arc::new(Peer::new(t.new_id(), e, is_static, 0, Some(route), now), GFP_KERNEL)?)
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
            assert!(t.remove_peer(&ep(3, 4789), |_| true, ctx).is_some());
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
            // A second static peer at the address takes its matches over
            // when the first goes; a delete that names another id is none.
            assert_eq!(add(&t, &peer(&t, ep(1, 4790), true, 0, ctx)?, 10, ctx)?, Ok(()));
            assert!(t.remove_peer(&ep(1, 4789), |_| false, ctx).is_none());
            assert!(t.remove_peer(&ep(1, 4789), |_| true, ctx).is_some());
            let found = t.peer_from(&ep(1, 51000), &ctx.bh_off());
            assert!(found.is_some_and(|p| p.endpoint == ep(1, 4790)));
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
            assert!(t.expire_peers(1000 + 4999, 5000, ctx).is_empty());
            let gone = t.expire_peers(1000 + 5000, 5000, ctx);
            assert_eq!(gone.len(), 1);
            assert!(gone[0].is_dead());
            assert_eq!(t.peer_count(), 1);
            assert!(t.peer_for_mac(&[2, 0, 0, 0, 0, 1], &ctx.bh_off()).is_none());
            // Static peers never expire.
            assert!(t.expire_peers(u64::MAX / 2, 5000, ctx).is_empty());
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
            t.expire_macs(1_000_000, 300_000, ctx);
            assert!(behind([2, 0, 0, 0, 0, 1]).is_none());
            assert!(behind([2, 0, 0, 0, 0, 9]).is_some());
            t.learn_mac([2, 0, 0, 0, 0, 3], &a, 1_000_000, 2, &ctx.bh_off());
            assert!(behind([2, 0, 0, 0, 0, 3]).is_some());
            Ok(())
        });
        assert!(done.is_ok());
    }
}
