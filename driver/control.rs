// SPDX-License-Identifier: GPL-2.0

//! The `xtun` generic netlink family's handlers (netlink/xtun.yaml): device
//! settings, peers, and peer events. No `unsafe` here. Every change runs
//! under RTNL, which orders it against the device's open/stop/uninit and
//! its files' attach; the data path never takes RTNL.

use kernel::{prelude::*, sync::Arc};

use crate::context::Process;
use crate::genl::{Attr, Dump, Msg, Request};
use crate::nl;
use crate::netdev::{self, DevRef, Found, NetDev, NetRef, RtnlGuard};
use crate::aead::{Cipher, KEY_LEN};
use crate::peers::{AddError, Peer, Tables};
use crate::secure::{InstallError, Key, PeerKeys, Slot};
use crate::port::Port;
use crate::tunnel::{self, DelReason, Event, Tunnel, DEFAULT_PORT};
use crate::udp_tunnel::{self, Endpoint, Route};

/// MACs listed per peer in replies and events.
const MACS_SHOWN: usize = 64;
/// Peers a dump call gathers at a time (about a message's worth).
const DUMP_CHUNK: usize = 64;

/// The xtun device a request names, with its port.
fn device(req: &Request<'_>, rtnl: &netdev::Rtnl) -> Result<(Arc<Port>, DevRef)> {
    let Some(attr) = req.attr(nl::XTUN_A_IFINDEX) else {
        return Err(req.fail(EINVAL, c"missing ifindex"));
    };
    let found = netdev::find_by_index::<Port>(rtnl, &req.net(), attr.u32() as i32);
    match found {
        Found::Ours(port) => match port.dev() {
            Some(dev) => Ok((port, dev)),
            None => Err(req.fail_attr(ENODEV, &attr, c"device is going away")),
        },
        Found::Other => Err(req.fail_attr(EINVAL, &attr, c"not an xtun device")),
        Found::Nothing => Err(req.fail_attr(ENODEV, &attr, c"no such device")),
    }
}

fn tunnel_of<'a>(req: &Request<'_>, port: &'a Port) -> Result<&'a Tunnel> {
    port.tunnel().ok_or_else(|| req.fail(EINVAL, c"not a tunnel device: set its listen-port first"))
}

fn put_device(msg: &mut Msg, port: &Port, dev: &NetDev, rtnl: &netdev::Rtnl) -> Result {
    msg.put_u32(nl::XTUN_A_IFINDEX, dev.ifindex() as u32)?;
    msg.put_str(nl::XTUN_A_IFNAME, dev.name(rtnl))?;
    let Some(t) = port.tunnel() else {
        return msg.put_u32(nl::XTUN_A_MODE, nl::XTUN_MODE_TAP);
    };
    let s = &t.settings;
    msg.put_u32(nl::XTUN_A_MODE, nl::XTUN_MODE_TUNNEL)?;
    let bound = t.bound_port.load(kernel::sync::atomic::Relaxed);
    let port_shown = if t.socket.is_set() { bound } else { s.listen_port.load(kernel::sync::atomic::Relaxed) };
    msg.put_u16(nl::XTUN_A_LISTEN_PORT, port_shown as u16)?;
    msg.put_in_addr(nl::XTUN_A_LOCAL_IPV4, s.local.load(kernel::sync::atomic::Relaxed).to_ne_bytes())?;
    msg.put_u32(nl::XTUN_A_VNI, s.vni.load(kernel::sync::atomic::Relaxed))?;
    msg.put_u8(nl::XTUN_A_LEARN, u8::from(s.learn.load(kernel::sync::atomic::Relaxed)))?;
    msg.put_u32(nl::XTUN_A_PEER_TIMEOUT, s.peer_timeout_s.load(kernel::sync::atomic::Relaxed))?;
    msg.put_u32(nl::XTUN_A_MAX_PEERS, s.max_peers.load(kernel::sync::atomic::Relaxed))?;
    msg.put_u32(nl::XTUN_A_MAX_MACS, s.max_macs.load(kernel::sync::atomic::Relaxed))?;
    msg.put_u32(nl::XTUN_A_PEERS, t.tables.peer_count())?;
    let d = &t.drops;
    msg.put_uint(nl::XTUN_A_RX_UNKNOWN_SRC, d.rx_unknown_src.load(kernel::sync::atomic::Relaxed))?;
    msg.put_uint(nl::XTUN_A_RX_BAD, d.rx_bad.load(kernel::sync::atomic::Relaxed))?;
    msg.put_uint(nl::XTUN_A_RX_WRONG_VNI, d.rx_wrong_vni.load(kernel::sync::atomic::Relaxed))?;
    msg.put_uint(nl::XTUN_A_TX_NO_PEER, d.tx_no_peer.load(kernel::sync::atomic::Relaxed))?;
    msg.put_u8(nl::XTUN_A_SECURE, u8::from(s.secure.load(kernel::sync::atomic::Relaxed)))?;
    msg.put_uint(nl::XTUN_A_RX_AUTH_FAIL, d.rx_auth_fail.load(kernel::sync::atomic::Relaxed))?;
    msg.put_uint(nl::XTUN_A_RX_REPLAY, d.rx_replay.load(kernel::sync::atomic::Relaxed))?;
    msg.put_uint(nl::XTUN_A_TX_NO_KEY, d.tx_no_key.load(kernel::sync::atomic::Relaxed))
}

fn put_peer(msg: &mut Msg, t: &Tunnel, peer: &Arc<Peer>, reason: Option<DelReason>, ctx: &Process) -> Result {
    use kernel::sync::atomic::Relaxed;
    let now = udp_tunnel::now_ms();
    let macs = t.tables.macs_of(peer, MACS_SHOWN, ctx);
    msg.nest(nl::XTUN_A_PEER, |m| {
        m.put_u32(nl::XTUN_A_PEER_ID, peer.id)?;
        let remote = peer.remote();
        m.put_in_addr(nl::XTUN_A_PEER_REMOTE_IPV4, remote.addr)?;
        m.put_be16(nl::XTUN_A_PEER_REMOTE_PORT, remote.port)?;
        if peer.is_static {
            m.put_flag(nl::XTUN_A_PEER_STATIC)?;
        }
        m.put_u32(nl::XTUN_A_PEER_KEEPALIVE, (peer.keepalive_ms / 1000) as u32)?;
        for mac in macs.iter() {
            m.put_bytes(nl::XTUN_A_PEER_MAC, mac)?;
        }
        m.put_uint(nl::XTUN_A_PEER_LAST_SEEN_MS, now.saturating_sub(peer.last_seen()))?;
        let timeout = t.timeout_ms();
        if let Some(left) = peer.expires_in(now, timeout) {
            m.put_uint(nl::XTUN_A_PEER_EXPIRES_MS, left)?;
        }
        m.put_uint(nl::XTUN_A_PEER_RX_PACKETS, peer.rx_packets.load(Relaxed))?;
        m.put_uint(nl::XTUN_A_PEER_RX_BYTES, peer.rx_bytes.load(Relaxed))?;
        m.put_uint(nl::XTUN_A_PEER_TX_PACKETS, peer.tx_packets.load(Relaxed))?;
        m.put_uint(nl::XTUN_A_PEER_TX_BYTES, peer.tx_bytes.load(Relaxed))?;
        if let Some(reason) = reason {
            m.put_u32(nl::XTUN_A_PEER_DEL_REASON, reason as u32)?;
        }
        if let Some(keys) = &peer.keys {
            put_keys(m, keys, ctx)?;
        }
        Ok(())
    })
}

/// A secure peer's counters and key slots: ids, cipher, next counter,
/// implementation; never key material.
fn put_keys(m: &mut Msg, keys: &PeerKeys, ctx: &Process) -> Result {
    use kernel::sync::atomic::Relaxed;
    m.put_uint(nl::XTUN_A_PEER_RX_AUTH_FAIL, keys.rx_auth_fail.load(Relaxed))?;
    m.put_uint(nl::XTUN_A_PEER_RX_REPLAY, keys.rx_replay.load(Relaxed))?;
    let slots = keys.keys(&ctx.bh_off());
    for (slot, key) in [Slot::Primary, Slot::Secondary].into_iter().zip(slots.iter()) {
        let Some(key) = key else { continue };
        m.nest(nl::XTUN_A_PEER_KEYCONF, |k| {
            k.put_u32(nl::XTUN_A_KEYCONF_SLOT, slot as u32)?;
            k.put_u32(nl::XTUN_A_KEYCONF_KEY_ID, u32::from(key.id))?;
            k.put_u32(nl::XTUN_A_KEYCONF_CIPHER, key.cipher() as u32)?;
            k.put_uint(nl::XTUN_A_KEYCONF_SEND_COUNTER, key.next_counter())?;
            k.put_str(nl::XTUN_A_KEYCONF_DRIVER, key.driver_name())
        })?;
    }
    Ok(())
}

pub(crate) fn dev_get(req: &Request<'_>, ctx: &Process) -> Result {
    let rtnl = RtnlGuard::lock(ctx);
    let (port, dev) = device(req, &rtnl)?;
    req.reply(nl::XTUN_CMD_DEV_GET, |msg| put_device(msg, &port, &dev, &rtnl))
}

pub(crate) fn dev_dump(dump: &mut Dump<'_>, ctx: &Process) -> Result {
    let net = dump.net();
    let rtnl = RtnlGuard::lock(ctx);
    loop {
        let Ok(from) = i32::try_from(*dump.cursor(0)) else { return Ok(()) };
        let Some((index, port)) = netdev::next_of_kind::<Port>(&rtnl, &net, from) else { return Ok(()) };
        if let Some(dev) = port.dev() {
            if !dump.message(nl::XTUN_CMD_DEV_GET, |msg| put_device(msg, &port, &dev, &rtnl))? {
                return Ok(());
            }
        }
        *dump.cursor(0) = index as c_long + 1;
    }
}

pub(crate) fn dev_set(req: &Request<'_>, ctx: &Process) -> Result {
    use kernel::sync::atomic::Relaxed;
    let rtnl = RtnlGuard::lock(ctx);
    let (port, dev) = device(req, &rtnl)?;
    let listen = req.attr(nl::XTUN_A_LISTEN_PORT);
    let local = req.attr(nl::XTUN_A_LOCAL_IPV4);
    if port.tunnel().is_none() {
        let Some(listen) = listen else {
            return Err(req.fail(EINVAL, c"not a tunnel device: set its listen-port first"));
        };
        if port.files() > 0 {
            return Err(req.fail_attr(EBUSY, &listen, c"a file is attached: the device is a tap"));
        }
        Port::make_tunnel(&port, &dev, listen.u16(), &rtnl, ctx)
            .map_err(|e| req.fail_attr(e, &listen, c"cannot make a tunnel device"))?;
    }
    let t = tunnel_of(req, &port)?;
    let s = &t.settings;
    // Secure mode and learning exclude each other; checked before anything
    // changes.
    let secure = req.attr(nl::XTUN_A_SECURE).map_or(s.secure.load(Relaxed), |a| a.u8() != 0);
    let learn = req.attr(nl::XTUN_A_LEARN).map_or(s.learn.load(Relaxed), |a| a.u8() != 0);
    if secure && learn {
        return Err(req.fail(EINVAL, c"secure mode learns no peers: set learn off"));
    }
    let mut reopen = false;
    if let Some(a) = listen {
        reopen |= s.listen_port.xchg(u32::from(a.u16()), Relaxed) != u32::from(a.u16());
    }
    if let Some(a) = local {
        let v = u32::from_ne_bytes(a.in_addr());
        reopen |= s.local.xchg(v, Relaxed) != v;
    }
    if let Some(a) = req.attr(nl::XTUN_A_VNI) {
        s.vni.store(a.u32(), Relaxed);
    }
    if let Some(a) = req.attr(nl::XTUN_A_LEARN) {
        s.learn.store(a.u8() != 0, Relaxed);
    }
    if let Some(a) = req.attr(nl::XTUN_A_PEER_TIMEOUT) {
        s.peer_timeout_s.store(a.u32(), Relaxed);
    }
    if let Some(a) = req.attr(nl::XTUN_A_MAX_PEERS) {
        s.max_peers.store(a.u32(), Relaxed);
    }
    if let Some(a) = req.attr(nl::XTUN_A_MAX_MACS) {
        s.max_macs.store(a.u32(), Relaxed);
    }
    if let Some(a) = req.attr(nl::XTUN_A_SECURE) {
        if secure != s.secure.load(Relaxed) {
            // Learning is off (above), so no peer can appear meanwhile.
            if t.tables.peer_count() > 0 {
                return Err(req.fail_attr(EBUSY, &a, c"secure mode changes only on a device with no peers"));
            }
            s.secure.store(secure, Relaxed);
            let (overhead, tail) = if secure {
                (tunnel::SECURE_OVERHEAD, crate::aead::TAG_LEN)
            } else {
                (tunnel::OVERHEAD, 0)
            };
            udp_tunnel::make_tunnel_device(&dev, (overhead as usize) - tail, tail, 1500 - overhead, secure, &rtnl)
                .map_err(|e| req.fail_attr(e, &a, c"cannot change the device's MTU"))?;
        }
    }
    if reopen && dev.is_running() {
        t.close(ctx);
        t.open(&dev, port.clone(), ctx).map_err(|e| req.fail(e, c"cannot open the UDP socket on that address and port (the device stays up without one: set another, or down and up)"))?;
    }
    Ok(())
}

/// The `peer` nest of a request.
fn peer_attrs<'r>(req: &'r Request<'_>) -> Result<Attr<'r>> {
    req.attr(nl::XTUN_A_PEER).ok_or_else(|| req.fail(EINVAL, c"missing peer"))
}

fn endpoint_of(req: &Request<'_>, peer: &Attr<'_>) -> Result<Option<Endpoint>> {
    let (mut addr, mut port) = (None, None);
    for a in peer.nested() {
        match a.kind() {
            nl::XTUN_A_PEER_REMOTE_IPV4 => addr = Some(a.in_addr()),
            nl::XTUN_A_PEER_REMOTE_PORT => port = Some(a.be16()),
            _ => {}
        }
    }
    match (addr, port) {
        (Some(addr), port) => Ok(Some(Endpoint { addr, port: port.unwrap_or(DEFAULT_PORT) })),
        (None, Some(_)) => Err(req.fail_attr(EINVAL, peer, c"remote-port without remote-ipv4")),
        (None, None) => Ok(None),
    }
}

pub(crate) fn peer_new(req: &Request<'_>, ctx: &Process) -> Result {
    use kernel::sync::atomic::Relaxed;
    let rtnl = RtnlGuard::lock(ctx);
    let (port, dev) = device(req, &rtnl)?;
    let t = tunnel_of(req, &port)?;
    let attrs = peer_attrs(req)?;
    let Some(endpoint) = endpoint_of(req, &attrs)? else {
        return Err(req.fail_attr(EINVAL, &attrs, c"missing remote-ipv4"));
    };
    if endpoint.addr == [0; 4] || endpoint.addr[0] >= 224 {
        return Err(req.fail_attr(EINVAL, &attrs, c"remote-ipv4 must be a unicast address"));
    }
    let mut keepalive_ms = 0;
    let mut macs = KVec::new();
    let mut id = None;
    for a in attrs.nested() {
        match a.kind() {
            nl::XTUN_A_PEER_ID => id = Some(a.u32()),
            nl::XTUN_A_PEER_KEEPALIVE => keepalive_ms = u64::from(a.u32()) * 1000,
            nl::XTUN_A_PEER_MAC => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(a.bytes());
                if mac[0] & 1 != 0 || mac == [0; 6] {
                    return Err(req.fail_attr(EINVAL, &a, c"a peer's MAC must be unicast"));
                }
                macs.push((mac, Tables::mac_node()?), GFP_KERNEL)?;
            }
            _ => {}
        }
    }
    // Secure mode: userspace names the peer (its id on the wire); plain
    // mode numbers peers itself.
    let secure = t.settings.secure.load(Relaxed);
    let id = match (secure, id) {
        (true, Some(id)) => id,
        (true, None) => return Err(req.fail_attr(EINVAL, &attrs, c"secure mode: give the peer's id")),
        (false, None) => t.tables.new_id(),
        (false, Some(_)) => return Err(req.fail_attr(EINVAL, &attrs, c"peer ids are the kernel's outside secure mode")),
    };
    let now = udp_tunnel::now_ms();
    let route = Some(Route::new(ctx)?);
    let mut peer = Peer::new(id, endpoint, true, keepalive_ms, route, now);
    if secure {
        peer = peer.with_keys()?;
    }
    let peer = Arc::new(peer, GFP_KERNEL)?;
    let nodes = Tables::reserve(true, GFP_KERNEL)?;
    let bh = ctx.bh_off();
    t.tables.add_peer(peer.clone(), nodes, t.settings.max_peers.load(Relaxed), &bh).map_err(|e| match e {
        AddError::Exists => req.fail_attr(EEXIST, &attrs, c"a peer has this endpoint"),
        AddError::IdTaken => req.fail_attr(EEXIST, &attrs, c"a peer has this id"),
        AddError::Full => req.fail(ENOSPC, c"the device holds max-peers peers"),
    })?;
    for (mac, node) in macs {
        t.tables.add_static_mac(mac, &peer, node, &bh);
    }
    drop(bh);
    let _ = dev;
    // On failure, the ageing work rebuilds the flood list.
    let _ = t.tables.refresh_flood(true, ctx);
    Ok(())
}

pub(crate) fn peer_del(req: &Request<'_>, ctx: &Process) -> Result {
    let rtnl = RtnlGuard::lock(ctx);
    let (port, dev) = device(req, &rtnl)?;
    let t = tunnel_of(req, &port)?;
    let attrs = peer_attrs(req)?;
    let id = attrs.nested().find(|a| a.kind() == nl::XTUN_A_PEER_ID).map(|a| a.u32());
    let endpoint = endpoint_of(req, &attrs)?;
    let endpoint = match (id, endpoint) {
        (None, None) => return Err(req.fail_attr(EINVAL, &attrs, c"give the peer's id or endpoint")),
        (None, Some(e)) => e,
        (Some(id), e) => match t.tables.peer_by_id(id, &ctx.bh_off()) {
            Some(p) if e.is_none_or(|e| e == p.endpoint) => p.endpoint,
            Some(_) => return Err(req.fail_attr(EINVAL, &attrs, c"that id has another endpoint")),
            None => return Err(req.fail_attr(ENOENT, &attrs, c"no such peer")),
        },
    };
    // By id: that peer, not one relearned at its endpoint meanwhile.
    let removed = t.tables.remove_peer(&endpoint, |p| id.is_none_or(|id| p.id == id), ctx);
    let Some(peer) = removed else {
        return Err(req.fail_attr(ENOENT, &attrs, c"no such peer"));
    };
    let _ = t.tables.refresh_flood(true, ctx);
    announce(&dev, t, [Event::Gone(peer, DelReason::Userspace)], ctx);
    Ok(())
}

pub(crate) fn peer_dump(dump: &mut Dump<'_>, ctx: &Process) -> Result {
    let Some(ifindex) = dump.attr(nl::XTUN_A_IFINDEX).map(|a| a.u32() as i32) else {
        return Err(EINVAL);
    };
    let net = dump.net();
    let (port, dev) = {
        let rtnl = RtnlGuard::lock(ctx);
        match netdev::find_by_index::<Port>(&rtnl, &net, ifindex) {
            Found::Ours(port) => {
                let dev = port.dev().ok_or(ENODEV)?;
                (port, dev)
            }
            _ => return Err(ENODEV),
        }
    };
    let Some(t) = port.tunnel() else { return Err(EINVAL) };
    loop {
        let Ok(from) = u32::try_from(*dump.cursor(0)) else { return Ok(()) };
        let peers = t.tables.peers_from_id(from, DUMP_CHUNK, ctx)?;
        if peers.is_empty() {
            return Ok(());
        }
        for peer in peers.iter() {
            let put = dump.message(nl::XTUN_CMD_PEER_GET, |msg| {
                msg.put_u32(nl::XTUN_A_IFINDEX, dev.ifindex() as u32)?;
                put_peer(msg, t, peer, None, ctx)
            })?;
            if !put {
                return Ok(());
            }
            *dump.cursor(0) = peer.id as c_long + 1;
        }
    }
}

/// Sends peer events to `xtunctl monitor` (the `peers` group of the
/// device's namespace). A failure loses the event, nothing else.
pub(crate) fn announce(dev: &NetDev, t: &Tunnel, events: impl IntoIterator<Item = Event>, ctx: &Process) {
    // A namespace being dismantled has nobody left to tell.
    let Some(net) = NetRef::of(dev) else { return };
    for event in events {
        let (cmd, peer, reason) = match event {
            Event::Learned(p) => (nl::XTUN_CMD_PEER_LEARNED_NTF, p, None),
            Event::Gone(p, r) => (nl::XTUN_CMD_PEER_DEL_NTF, p, Some(r)),
            Event::KeyExhausted(p) => (nl::XTUN_CMD_KEY_EXHAUSTED_NTF, p, None),
        };
        let _ = crate::genl::notify(&net, cmd, ctx, |msg| {
            msg.put_u32(nl::XTUN_A_IFINDEX, dev.ifindex() as u32)?;
            put_peer(msg, t, &peer, reason, ctx)
        });
    }
}

/// The secure peer a key request names (by id), and its keys.
fn key_peer<'r>(req: &'r Request<'_>, t: &Tunnel, ctx: &Process) -> Result<(Arc<Peer>, Attr<'r>)> {
    let attrs = peer_attrs(req)?;
    let Some(id) = attrs.nested().find(|a| a.kind() == nl::XTUN_A_PEER_ID) else {
        return Err(req.fail_attr(EINVAL, &attrs, c"missing the peer's id"));
    };
    let Some(peer) = t.tables.peer_by_id(id.u32(), &ctx.bh_off()) else {
        return Err(req.fail_attr(ENOENT, &id, c"no such peer"));
    };
    if peer.keys.is_none() {
        return Err(req.fail(EINVAL, c"keys are for secure mode (xtunctl set DEV secure on)"));
    }
    Ok((peer, attrs))
}

/// The keyconf nest of a key request, and its slot.
fn keyconf<'r>(req: &Request<'_>, attrs: &Attr<'r>) -> Result<(Attr<'r>, Slot)> {
    let Some(conf) = attrs.nested().find(|a| a.kind() == nl::XTUN_A_PEER_KEYCONF) else {
        return Err(req.fail_attr(EINVAL, attrs, c"missing keyconf"));
    };
    let slot = conf.nested().find(|a| a.kind() == nl::XTUN_A_KEYCONF_SLOT).map_or(Some(Slot::Primary), |a| Slot::from_u32(a.u32()));
    let Some(slot) = slot else {
        return Err(req.fail_attr(EINVAL, &conf, c"slot is primary or secondary"));
    };
    Ok((conf, slot))
}

pub(crate) fn key_new(req: Request<'_>, ctx: &Process) -> Result {
    let result = install_key(&req, ctx);
    // The request's copy of the keys goes whatever happened (an error
    // reply would echo the request back), as WireGuard's.
    req.wipe_keys();
    result
}

fn install_key(req: &Request<'_>, ctx: &Process) -> Result {
    let rtnl = RtnlGuard::lock(ctx);
    let (port, _dev) = device(req, &rtnl)?;
    let t = tunnel_of(req, &port)?;
    let (peer, attrs) = key_peer(req, t, ctx)?;
    let (conf, slot) = keyconf(req, &attrs)?;
    let (mut id, mut cipher, mut send, mut recv, mut first) = (None, None, None, None, 0);
    for a in conf.nested() {
        match a.kind() {
            nl::XTUN_A_KEYCONF_KEY_ID => id = Some(a.u32() as u8),
            nl::XTUN_A_KEYCONF_CIPHER => cipher = Cipher::from_u32(a.u32()),
            nl::XTUN_A_KEYCONF_SEND_KEY => send = <&[u8; KEY_LEN]>::try_from(a.bytes()).ok(),
            nl::XTUN_A_KEYCONF_RECV_KEY => recv = <&[u8; KEY_LEN]>::try_from(a.bytes()).ok(),
            nl::XTUN_A_KEYCONF_SEND_COUNTER => first = a.uint(),
            _ => {}
        }
    }
    let (Some(id), Some(cipher), Some(send), Some(recv)) = (id, cipher, send, recv) else {
        return Err(req.fail_attr(EINVAL, &conf, c"a key needs key-id, cipher, send-key and recv-key"));
    };
    // One key both ways would give both ends the same nonces.
    if send == recv {
        return Err(req.fail_attr(EINVAL, &conf, c"send-key and recv-key must differ"));
    }
    // The transforms copy the keys; the request's copy is netlink's.
    let key = Key::new(id, cipher, send, recv, first, ctx)
        .map_err(|e| req.fail_attr(e, &conf, c"the kernel's crypto API refused the cipher or key"))?;
    let Some(keys) = &peer.keys else { return Err(EINVAL) };
    match keys.install(slot, key, &ctx.bh_off()) {
        Ok(old) => drop(old),
        Err(InstallError::SameId) => {
            return Err(req.fail_attr(EEXIST, &conf, c"the other slot holds a key with this key-id"))
        }
    }
    Ok(())
}

pub(crate) fn key_swap(req: &Request<'_>, ctx: &Process) -> Result {
    let rtnl = RtnlGuard::lock(ctx);
    let (port, _dev) = device(req, &rtnl)?;
    let t = tunnel_of(req, &port)?;
    let (peer, _) = key_peer(req, t, ctx)?;
    if !peer.keys.as_ref().is_some_and(|k| k.swap(&ctx.bh_off())) {
        return Err(req.fail(ENOENT, c"the peer has no key to swap"));
    }
    Ok(())
}

pub(crate) fn key_del(req: &Request<'_>, ctx: &Process) -> Result {
    let rtnl = RtnlGuard::lock(ctx);
    let (port, _dev) = device(req, &rtnl)?;
    let t = tunnel_of(req, &port)?;
    let (peer, attrs) = key_peer(req, t, ctx)?;
    let (_, slot) = keyconf(req, &attrs)?;
    let Some(old) = peer.keys.as_ref().and_then(|k| k.remove(slot, &ctx.bh_off())) else {
        return Err(req.fail(ENOENT, c"no key in that slot"));
    };
    drop(old);
    Ok(())
}
