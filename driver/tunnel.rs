// SPDX-License-Identifier: GPL-2.0

//! Tunnel mode: a device's frames travel as VXLAN-format UDP datagrams
//! (RFC 7348) to peers, in the kernel. No `unsafe` here.
//!
//! - xmit: destination MAC -> peer through the learned table; broadcast,
//!   multicast and unknown unicast go to every peer (head-end
//!   replication); with no peer the frame is dropped and counted.
//!   Datagrams leave from the listen port (one stable source port, so a
//!   NAT keeps one mapping per client, as WireGuard), outer DF clear
//!   (vxlan's default), TTL the route's (64), TOS 0 plus the inner ECN.
//! - rx: the header must be VXLAN's with our VNI; the source address:port
//!   must be a peer's (or, for a static peer, its address: vxlan sends
//!   from hashed ports), else the datagram is dropped and counted, unless
//!   `learn` is on, which makes a peer of it within `max-peers`. The inner
//!   source MAC is learned behind the peer; the frame goes up through GRO.
//! - keepalive: the 8-byte header with the I flag clear and "XTK" in the
//!   reserved bytes, nothing after. vxlan drops it before any counter
//!   (an I flag clear is invalid in RFC 7348); xtun notes the peer alive.
//! - ageing (a periodic work while the device is up): learned peers
//!   silent for `peer-timeout` go, learned MACs after 300 s; keepalives
//!   are sent; peer events go out to `xtunctl monitor`.

use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use crate::context::{BhOff, Process};
use crate::netdev::{NetDev, Rtnl, ETH_HLEN};
use crate::peers::{AddError, Mac, Peer, Tables};
use crate::skb::Skb;
use crate::secure::{self, NoKey, RxError};
use crate::udp_tunnel::{self, Datagram, Encap, Endpoint, GroCells, RcuBox, Sent, ENCAP_HLEN};

/// The default UDP port (IANA's for VXLAN).
pub(crate) const DEFAULT_PORT: u16 = 4789;
/// What a frame gains on the wire: outer IPv4, UDP and VXLAN headers
/// (36 bytes) before the inner Ethernet header (14): the MTU a tunnel
/// device loses (1450 on a 1500 underlay), and the headroom it needs for
/// the outer headers and the underlay's link header (vxlan_headroom).
pub(crate) const OVERHEAD: u32 = 20 + ENCAP_HLEN as u32 + ETH_HLEN as u32;
/// The same in secure mode: outer IPv4 and UDP, the secure header and tag,
/// the inner Ethernet header (74: MTU 1426 on a 1500 underlay).
pub(crate) const SECURE_OVERHEAD: u32 = 20 + 8 + secure::OVERHEAD as u32 + ETH_HLEN as u32;
/// Learned MACs live this long without traffic (the bridge's default).
const MAC_TIMEOUT_MS: u64 = 300_000;
/// The VXLAN I flag: a valid VNI follows.
const FLAG_VNI: u8 = 0x08;
/// The keepalive's mark in the header's reserved bytes.
const KEEPALIVE_MARK: [u8; 3] = *b"XTK";

/// Settings, as `xtunctl set` gives them.
pub(crate) struct Settings {
    pub(crate) listen_port: Atomic<u32>,
    pub(crate) local: Atomic<u32>,
    pub(crate) vni: Atomic<u32>,
    pub(crate) learn: Atomic<bool>,
    pub(crate) peer_timeout_s: Atomic<u32>,
    pub(crate) max_peers: Atomic<u32>,
    pub(crate) max_macs: Atomic<u32>,
    /// Secure mode: only authenticated datagrams (set before any peer).
    pub(crate) secure: Atomic<bool>,
}

/// Counters of datagrams and frames dropped, per device.
pub(crate) struct Drops {
    pub(crate) rx_unknown_src: Atomic<u64>,
    pub(crate) rx_bad: Atomic<u64>,
    pub(crate) rx_wrong_vni: Atomic<u64>,
    pub(crate) tx_no_peer: Atomic<u64>,
    pub(crate) rx_auth_fail: Atomic<u64>,
    pub(crate) rx_replay: Atomic<u64>,
    pub(crate) tx_no_key: Atomic<u64>,
}

/// What a peer event says.
pub(crate) enum Event {
    Learned(Arc<Peer>),
    Gone(Arc<Peer>, DelReason),
    /// Its primary key spent its counters (secure mode).
    KeyExhausted(Arc<Peer>),
}

/// Why a peer went (the spec's `del-reason`).
#[derive(Clone, Copy)]
pub(crate) enum DelReason {
    Userspace = 0,
    Expired = 1,
}

/// The socket type of a tunnel: its receiver is the port (which owns the
/// device slot the data path needs).
pub(crate) type Socket = udp_tunnel::TunnelSocket<crate::port::Port>;
pub(crate) type Ageing = udp_tunnel::Periodic<crate::port::Port>;

/// A device's tunnel state.
pub(crate) struct Tunnel {
    pub(crate) settings: Settings,
    pub(crate) tables: Tables,
    pub(crate) drops: Drops,
    /// The socket, while the device is up.
    pub(crate) socket: RcuBox<Socket>,
    /// Its bound port (the listen port, or the one picked for 0).
    pub(crate) bound_port: Atomic<u32>,
    pub(crate) gro: RcuBox<GroCells>,
    /// The ageing work, while the device is up (RTNL).
    pub(crate) ageing: RcuBox<Ageing>,
    /// A peer's primary key ran out of counters since the last pass.
    key_spent: Atomic<bool>,
}

fn vxlan_header(vni: u32) -> [u8; 8] {
    let v = (vni << 8).to_be_bytes();
    [FLAG_VNI, 0, 0, 0, v[0], v[1], v[2], 0]
}

fn keepalive_header(vni: u32) -> [u8; 8] {
    let v = (vni << 8).to_be_bytes();
    [0, KEEPALIVE_MARK[0], KEEPALIVE_MARK[1], KEEPALIVE_MARK[2], v[0], v[1], v[2], 0]
}

/// What the 8 bytes after the UDP header say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Header {
    Frame { vni: u32 },
    Keepalive { vni: u32 },
    Bad,
}

pub(crate) fn parse_header(h: &[u8]) -> Header {
    let [flags, r1, r2, r3, v0, v1, v2, r4] = match h {
        [a, b, c, d, e, f, g, i] => [*a, *b, *c, *d, *e, *f, *g, *i],
        _ => return Header::Bad,
    };
    let vni = u32::from_be_bytes([0, v0, v1, v2]);
    if r4 != 0 {
        return Header::Bad;
    }
    match (flags, [r1, r2, r3]) {
        (FLAG_VNI, [0, 0, 0]) => Header::Frame { vni },
        (0, KEEPALIVE_MARK) => Header::Keepalive { vni },
        _ => Header::Bad,
    }
}

fn is_unicast(mac: &Mac) -> bool {
    mac[0] & 1 == 0
}

fn is_valid_source(mac: &Mac) -> bool {
    is_unicast(mac) && *mac != [0; 6]
}

impl Tunnel {
    pub(crate) fn new(listen_port: u16) -> Result<Self> {
        Ok(Self {
            settings: Settings {
                listen_port: Atomic::new(u32::from(listen_port)),
                local: Atomic::new(0),
                vni: Atomic::new(1),
                learn: Atomic::new(false),
                peer_timeout_s: Atomic::new(180),
                max_peers: Atomic::new(16384),
                max_macs: Atomic::new(16384),
                secure: Atomic::new(false),
            },
            tables: Tables::new(udp_tunnel::random_u32())?,
            drops: Drops {
                rx_unknown_src: Atomic::new(0),
                rx_bad: Atomic::new(0),
                rx_wrong_vni: Atomic::new(0),
                tx_no_peer: Atomic::new(0),
                rx_auth_fail: Atomic::new(0),
                rx_replay: Atomic::new(0),
                tx_no_key: Atomic::new(0),
            },
            socket: RcuBox::new(),
            bound_port: Atomic::new(0),
            gro: RcuBox::new(),
            ageing: RcuBox::new(),
            key_spent: Atomic::new(false),
        })
    }

    pub(crate) fn timeout_ms(&self) -> u64 {
        u64::from(self.settings.peer_timeout_s.load(Relaxed)) * 1000
    }

    /// How often the ageing work runs: often enough for a short timeout.
    pub(crate) fn tick_ms(&self) -> u64 {
        (self.timeout_ms() / 4).clamp(250, 1000)
    }

    /// Opens the socket (the device goes up, or becomes a tunnel while up)
    /// and starts ageing; on failure nothing stays open.
    pub(crate) fn open(&self, dev: &NetDev, port: Arc<crate::port::Port>, ctx: &Process) -> Result {
        let local = self.settings.local.load(Relaxed).to_ne_bytes();
        let listen = self.settings.listen_port.load(Relaxed) as u16;
        let socket = KBox::new(Socket::open(dev, local, listen, port.clone(), ctx)?, GFP_KERNEL)?;
        self.bound_port.store(u32::from(socket.port()), Relaxed);
        drop(self.socket.replace(Some(socket), ctx));
        let ageing = Ageing::start(port, self.tick_ms(), ctx).and_then(|a| Ok(KBox::new(a, GFP_KERNEL)?));
        match ageing {
            Ok(ageing) => drop(self.ageing.replace(Some(ageing), ctx)),
            Err(e) => {
                self.close(ctx);
                return Err(e);
            }
        }
        // Peers added while down (or learned before) are flooded to at once.
        let _ = self.tables.refresh_flood(false, ctx);
        Ok(())
    }

    /// Closes the socket and stops ageing (the device goes down).
    pub(crate) fn close(&self, ctx: &Process) {
        drop(self.ageing.replace(None, ctx));
        drop(self.socket.replace(None, ctx));
    }

    /// The device goes away: peers and GRO cells too.
    pub(crate) fn uninit(&self, _rtnl: &Rtnl, ctx: &Process) {
        self.close(ctx);
        drop(self.gro.replace(None, ctx));
        self.tables.clear(ctx);
    }

    /// Sends `skb`, an Ethernet frame of `dev`, to the peers its
    /// destination calls for. Returns whether anything was sent.
    pub(crate) fn xmit(&self, dev: &NetDev, skb: Skb, bh: &BhOff) -> bool {
        // In secure mode each wire frame is sealed under its own counter:
        // a GSO frame is cut first, once for all its peers, as wg_xmit and
        // ovpn_net_xmit do (vxlan's GSO happens after encapsulation, on
        // the outer UDP, which sealing forbids).
        if !(self.settings.secure.load(Relaxed) && skb.is_gso()) {
            return self.xmit_frame(dev, skb, bh);
        }
        let Ok(segments) = skb.gso_segments() else {
            dev.count_tx_dropped();
            return false;
        };
        let mut sent = false;
        for segment in segments {
            sent |= self.xmit_frame(dev, segment, bh);
        }
        sent
    }

    /// [`Tunnel::xmit`] for one frame that needs no cutting.
    fn xmit_frame(&self, dev: &NetDev, mut skb: Skb, bh: &BhOff) -> bool {
        let Some(socket) = self.socket.get(bh) else {
            dev.count_tx_dropped();
            return false;
        };
        let Some(eth) = skb.head::<ETH_HLEN>() else {
            dev.count_tx_dropped();
            return false;
        };
        let mut dst: Mac = [0; 6];
        dst.copy_from_slice(&eth[..6]);
        let header = vxlan_header(self.settings.vni.load(Relaxed));
        let header = &header;
        let sport = self.bound_port.load(Relaxed) as u16;
        let now = udp_tunnel::now_ms();
        let known = if is_unicast(&dst) { self.tables.peer_for_mac(&dst, bh) } else { None };
        if let Some(peer) = known {
            return self.send_to(dev, socket, skb, &peer, sport, header, now, bh);
        }
        // Head-end replication: a copy to every live peer (a list not yet
        // rebuilt may still hold deleted ones), the frame itself to the last.
        let peers = self.tables.flood_list(bh);
        let mut live = peers.iter().flat_map(|p| p.iter()).filter(|p| !p.is_dead());
        let Some(mut peer) = live.next() else {
            self.drops.tx_no_peer.add(1, Relaxed);
            dev.count_tx_dropped();
            return false;
        };
        let mut sent = false;
        for next in live {
            match skb.clone_atomic() {
                Some(copy) => sent |= self.send_to(dev, socket, copy, peer, sport, header, now, bh),
                None => dev.count_tx_dropped(),
            }
            peer = next;
        }
        sent | self.send_to(dev, socket, skb, peer, sport, header, now, bh)
    }

    #[allow(clippy::too_many_arguments)]
    fn send_to(
        &self,
        dev: &NetDev,
        socket: &Socket,
        skb: Skb,
        peer: &Peer,
        sport: u16,
        header: &[u8; 8],
        now: u64,
        bh: &BhOff,
    ) -> bool {
        if peer.is_dead() {
            dev.count_tx_dropped();
            return false;
        }
        let len = skb.len();
        let sent = match &peer.keys {
            // Never clear text from a secure device (dev_set refuses to
            // turn secure on over peers, but a learned one could race it).
            None if self.settings.secure.load(Relaxed) => {
                self.drops.tx_no_key.add(1, Relaxed);
                dev.count_tx_dropped();
                return false;
            }
            None => socket.send(dev, skb, peer.route.as_ref(), sport, peer.remote(), &Encap::Vxlan(header), OVERHEAD, bh),
            Some(keys) => {
                let sealer = match keys.next_sealer(peer.id, bh) {
                    Ok(sealer) => sealer,
                    Err(no_key) => {
                        if no_key == NoKey::Spent {
                            self.key_spent.store(true, Relaxed);
                        }
                        self.drops.tx_no_key.add(1, Relaxed);
                        dev.count_tx_dropped();
                        return false;
                    }
                };
                let encap = Encap::Sealed { header: &sealer.header_bytes(), sealer: &sealer };
                socket.send(dev, skb, peer.route.as_ref(), sport, peer.remote(), &encap, SECURE_OVERHEAD, bh)
            }
        };
        match sent {
            // The device's tx counters are iptunnel_xmit's (it counts on
            // skb->dev, ours), as for vxlan.
            Ok(Sent::OnWire) => {
                peer.sent(now, len);
                true
            }
            // Too big for the path: the sender got its ICMP; not a drop,
            // and nothing reached the peer.
            Ok(Sent::TooBig) => true,
            Err(_) => {
                dev.count_tx_dropped();
                false
            }
        }
    }

    /// A datagram on the socket, for `dev`.
    pub(crate) fn receive(&self, dev: &NetDev, mut dgram: Datagram, bh: &BhOff) {
        if self.settings.secure.load(Relaxed) {
            return self.receive_secure(dev, dgram, bh);
        }
        let Some(h) = dgram.header() else {
            return self.bad(dev, &self.drops.rx_bad);
        };
        let vni = self.settings.vni.load(Relaxed);
        let from = dgram.source();
        let now = udp_tunnel::now_ms();
        match parse_header(&h[8..]) {
            Header::Bad => self.bad(dev, &self.drops.rx_bad),
            Header::Frame { vni: v } | Header::Keepalive { vni: v } if v != vni => {
                self.bad(dev, &self.drops.rx_wrong_vni)
            }
            // A keepalive proves nothing: it refreshes a peer, never makes one.
            Header::Keepalive { .. } => match self.tables.peer_from(&from, bh) {
                Some(peer) => {
                    peer.seen(now, 0);
                    dgram.consume();
                }
                None => self.bad(dev, &self.drops.rx_unknown_src),
            },
            Header::Frame { .. } => {
                let known = self.tables.peer_from(&from, bh);
                // Decide early, before any work, whether a stranger may
                // become a peer: only with `learn on` and room.
                if known.is_none() && !self.may_learn(&from) {
                    return self.bad(dev, &self.drops.rx_unknown_src);
                }
                let Some((skb, eth)) = dgram.decapsulate(dev, 8) else {
                    return self.bad(dev, &self.drops.rx_bad);
                };
                // Only a whole, valid frame makes a stranger a peer.
                self.deliver(dev, skb, &eth, bh, || known.or_else(|| self.learn_peer(&from, now, bh)));
            }
        }
    }

    /// A decapsulated frame with Ethernet header `eth`: checked, its
    /// source MAC learned behind the peer `peer_for` gives, delivered.
    fn deliver(&self, dev: &NetDev, skb: Skb, eth: &[u8; 14], bh: &BhOff, peer_for: impl FnOnce() -> Option<Arc<Peer>>) {
        let now = udp_tunnel::now_ms();
        let mut src: Mac = [0; 6];
        src.copy_from_slice(&eth[6..12]);
        if !is_valid_source(&src) {
            drop(skb);
            return self.bad(dev, &self.drops.rx_bad);
        }
        // Our own frame came back (a loop): vxlan drops it too.
        if dev.has_address(&src) {
            drop(skb);
            return dev.count_rx_dropped();
        }
        let Some(peer) = peer_for() else {
            drop(skb);
            return self.bad(dev, &self.drops.rx_unknown_src);
        };
        peer.seen(now, skb.len() + ETH_HLEN);
        self.tables.learn_mac(src, &peer, now, self.settings.max_macs.load(Relaxed), bh);
        match self.gro.get(bh) {
            Some(gro) => gro.receive(skb, bh),
            None => dev.count_rx_dropped(),
        }
    }

    /// A datagram in secure mode: it must name a peer and open with one of
    /// its keys before anything about it counts; only then may it move the
    /// replay window, move the peer (roaming) or reach the stack.
    fn receive_secure(&self, dev: &NetDev, mut dgram: Datagram, bh: &BhOff) {
        const UDP_HLEN: usize = 8;
        let Some(head) = dgram.head::<{ UDP_HLEN + secure::HEADER_LEN }>() else {
            return self.bad(dev, &self.drops.rx_bad);
        };
        let mut bytes = [0; secure::HEADER_LEN];
        bytes.copy_from_slice(&head[UDP_HLEN..]);
        let Some(header) = secure::Header::parse(&bytes) else {
            return self.bad(dev, &self.drops.rx_bad);
        };
        let Some(peer) = self.tables.peer_by_id(header.peer_id, bh) else {
            return self.bad(dev, &self.drops.rx_unknown_src);
        };
        let Some(keys) = &peer.keys else {
            return self.bad(dev, &self.drops.rx_unknown_src);
        };
        match keys.open(dgram.skb_mut(), UDP_HLEN, &header, bh) {
            Ok(()) => {}
            Err(RxError::Auth) => return self.bad(dev, &self.drops.rx_auth_fail),
            Err(RxError::Replay) => return self.bad(dev, &self.drops.rx_replay),
            Err(RxError::Dropped) => return dev.count_rx_dropped(),
        }
        peer.roam_to(dgram.source());
        if dgram.len() == UDP_HLEN + secure::HEADER_LEN {
            // A keepalive.
            peer.seen(udp_tunnel::now_ms(), 0);
            return dgram.consume();
        }
        let Some((skb, eth)) = dgram.decapsulate(dev, secure::HEADER_LEN) else {
            return self.bad(dev, &self.drops.rx_bad);
        };
        self.deliver(dev, skb, &eth, bh, || Some(peer.clone()));
    }

    fn bad(&self, dev: &NetDev, counter: &Atomic<u64>) {
        counter.add(1, Relaxed);
        dev.count_rx_dropped();
    }

    /// Whether a datagram from the stranger `from` may make a peer:
    /// learning on, room in the table, a real source port.
    fn may_learn(&self, from: &Endpoint) -> bool {
        self.settings.learn.load(Relaxed)
            && from.port != 0
            && self.tables.peer_count() < self.settings.max_peers.load(Relaxed)
    }

    /// A new learned peer at `from` (its route looked up per datagram).
    fn learn_peer(&self, from: &Endpoint, now: u64, bh: &BhOff) -> Option<Arc<Peer>> {
        let peer = Arc::new(Peer::new(self.tables.new_id(), *from, false, 0, None, now), GFP_ATOMIC).ok()?;
        let nodes = Tables::reserve(false, GFP_ATOMIC).ok()?;
        match self.tables.add_peer(peer.clone(), nodes, self.settings.max_peers.load(Relaxed), bh) {
            Ok(()) => Some(peer),
            // Another CPU learned it first: use that one.
            Err(AddError::Exists) => self.tables.peer_from(from, bh),
            Err(AddError::Full | AddError::IdTaken) => None,
        }
    }

    /// One ageing pass: expires learned peers and MACs, refreshes the
    /// flood list, sends due keepalives; returns the events to announce.
    /// Bottom halves go off per table batch or send only.
    pub(crate) fn age(&self, dev: &NetDev, ctx: &Process) -> KVec<Event> {
        let now = udp_tunnel::now_ms();
        let mut events = KVec::new();
        for peer in self.tables.expire_peers(now, self.timeout_ms(), ctx) {
            let _ = events.push(Event::Gone(peer, DelReason::Expired), GFP_KERNEL);
        }
        self.tables.expire_macs(now, MAC_TIMEOUT_MS, ctx);
        // On failure the list stays stale and the next pass tries again.
        let _ = self.tables.refresh_flood(false, ctx);
        // A key spent in the data path is announced from here.
        if !self.tables.any_to_visit() && !self.key_spent.xchg(false, Relaxed) {
            return events;
        }
        let Ok(peers) = self.tables.all_peers(ctx) else { return events };
        let header = keepalive_header(self.settings.vni.load(Relaxed));
        let sport = self.bound_port.load(Relaxed) as u16;
        for peer in peers {
            if peer.take_announcement() {
                let _ = events.push(Event::Learned(peer.clone()), GFP_KERNEL);
            }
            if peer.keepalive_ms > 0 && now.saturating_sub(peer.last_sent()) >= peer.keepalive_ms {
                let bh = ctx.bh_off();
                if let Some(socket) = self.socket.get(&bh) {
                    let sent = match &peer.keys {
                        None => socket.send_bare(dev, peer.route.as_ref(), sport, peer.remote(), &Encap::Vxlan(&header), &bh),
                        Some(keys) => match keys.next_sealer(peer.id, &bh) {
                            Ok(sealer) => {
                                let encap = Encap::Sealed { header: &sealer.header_bytes(), sealer: &sealer };
                                socket.send_bare(dev, peer.route.as_ref(), sport, peer.remote(), &encap, &bh)
                            }
                            Err(_) => Err(ENOENT),
                        },
                    };
                    if sent.is_ok() {
                        peer.sent(now, 0);
                    }
                }
            }
            if peer.keys.as_ref().is_some_and(|k| k.take_exhausted()) {
                let _ = events.push(Event::KeyExhausted(peer.clone()), GFP_KERNEL);
            }
        }
        events
    }
}

#[kunit_tests(xtun_tunnel)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        assert_eq!(parse_header(&vxlan_header(42)), Header::Frame { vni: 42 });
        assert_eq!(parse_header(&vxlan_header(0xff_ffff)), Header::Frame { vni: 0xff_ffff });
        assert_eq!(parse_header(&keepalive_header(7)), Header::Keepalive { vni: 7 });
    }

    #[test]
    fn bad_headers() {
        assert_eq!(parse_header(&[0x08, 0, 0, 0, 0, 0, 1, 1]), Header::Bad); // reserved byte 7
        assert_eq!(parse_header(&[0x0c, 0, 0, 0, 0, 0, 1, 0]), Header::Bad); // another flag
        assert_eq!(parse_header(&[0, 0, 0, 0, 0, 0, 1, 0]), Header::Bad); // no I flag, no mark
        assert_eq!(parse_header(&[0x08, 0, 0]), Header::Bad); // short
    }

    #[test]
    fn sources() {
        assert!(is_valid_source(&[2, 0, 0, 0, 0, 1]));
        assert!(!is_valid_source(&[0; 6]));
        assert!(!is_valid_source(&[0xff; 6]));
        assert!(!is_valid_source(&[1, 0, 0x5e, 0, 0, 1]));
    }
}
