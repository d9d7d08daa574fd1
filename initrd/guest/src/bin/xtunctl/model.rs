//! What the kernel reports, read from the family's attributes: a device
//! (dev-get), its peers (peer-get) with their key slots (never the keys:
//! the kernel does not send them), and peer events (the `peers` group).
//! An attribute the kernel did not send is None (null in --json); one this
//! program does not know is skipped, so a newer kernel still works.

use std::net::{Ipv4Addr, SocketAddrV4};

use neli::genl::Genlmsghdr;
use serde::Serialize;
use xtun_guest::format_mac;

use crate::genl::{
    bytes, string_of, u32_of, uint, Attr, Cmd, Dev, Keyconf as K, Peer as P, CIPHERS, DEL_REASONS, KEY_SLOTS, MODES,
};

/// One device, with the snake_case names of `show --json`.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Device {
    pub ifname: Option<String>,
    pub ifindex: u32,
    pub mode: Option<String>,
    /// Flattened: in JSON its keys stand among the device's own.
    #[serde(flatten)]
    pub settings: Settings,
    pub peers: Option<u32>,
    pub rx_unknown_src: Option<u64>,
    pub rx_bad: Option<u64>,
    pub rx_wrong_vni: Option<u64>,
    pub tx_no_peer: Option<u64>,
    pub rx_auth_fail: Option<u64>,
    pub rx_replay: Option<u64>,
    pub tx_no_key: Option<u64>,
    pub peer_list: Vec<Peer>,
}

/// A tunnel device's settings: what `set` changes (None leaves a setting
/// as it is) and what dev-get reports.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Settings {
    pub listen_port: Option<u16>,
    pub local: Option<Ipv4Addr>,
    pub vni: Option<u32>,
    pub learn: Option<bool>,
    pub peer_timeout: Option<u32>,
    pub max_peers: Option<u32>,
    pub max_macs: Option<u32>,
    pub secure: Option<bool>,
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Peer {
    pub id: Option<u32>,
    /// "ip:port" in JSON.
    pub endpoint: Option<SocketAddrV4>,
    #[serde(rename = "static")]
    pub is_static: bool,
    pub keepalive: Option<u32>,
    pub macs: Vec<String>,
    pub last_seen_ms: Option<u64>,
    pub expires_ms: Option<u64>,
    pub rx_packets: Option<u64>,
    pub rx_bytes: Option<u64>,
    pub tx_packets: Option<u64>,
    pub tx_bytes: Option<u64>,
    pub rx_auth_fail: Option<u64>,
    pub rx_replay: Option<u64>,
    /// Secure mode: the slots that hold a key.
    pub key_slots: Vec<KeySlot>,
    /// Only in peer-del notifications.
    #[serde(skip)]
    pub del_reason: Option<String>,
}

/// A key slot of a secure-mode peer: which key is there, not the key.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct KeySlot {
    pub slot: Option<String>,
    pub key_id: Option<u32>,
    pub cipher: Option<String>,
    /// The counter (nonce) of the next datagram sent under the key.
    pub send_counter: Option<u64>,
    /// The crypto API implementation the kernel picked.
    pub driver: Option<String>,
}

/// What a notification of the `peers` group tells.
#[derive(Debug, PartialEq)]
pub enum EventKind {
    PeerLearned,
    PeerDel,
    /// The peer's primary key spent its counters: nothing is sent to it
    /// until a new key is swapped in.
    KeyExhausted,
}

/// A notification of the `peers` group.
#[derive(Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub ifindex: u32,
    pub peer: Peer,
}

/// `values[n]`, or the number itself for a value this program does not know.
fn enum_name(values: &[&str], n: u32) -> String {
    values.get(n as usize).map_or_else(|| n.to_string(), |s| s.to_string())
}

impl Device {
    /// A dev-get reply.
    pub fn parse(msg: &Genlmsghdr<Cmd, Dev>) -> Result<Device, String> {
        let mut d = Device::default();
        let s = &mut d.settings;
        for a in msg.attrs().iter() {
            match a.nla_type().nla_type() {
                Dev::Ifindex => d.ifindex = u32_of(a)?,
                Dev::Ifname => d.ifname = Some(string_of(a)),
                Dev::Mode => d.mode = Some(enum_name(MODES, u32_of(a)?)),
                Dev::ListenPort => s.listen_port = Some(u16::from_ne_bytes(bytes(a)?)),
                Dev::LocalIpv4 => s.local = Some(Ipv4Addr::from(bytes::<_, 4>(a)?)),
                Dev::Vni => s.vni = Some(u32_of(a)?),
                Dev::Learn => s.learn = Some(bytes::<_, 1>(a)?[0] != 0),
                Dev::PeerTimeout => s.peer_timeout = Some(u32_of(a)?),
                Dev::MaxPeers => s.max_peers = Some(u32_of(a)?),
                Dev::MaxMacs => s.max_macs = Some(u32_of(a)?),
                Dev::Peers => d.peers = Some(u32_of(a)?),
                Dev::RxUnknownSrc => d.rx_unknown_src = Some(uint(a)?),
                Dev::RxBad => d.rx_bad = Some(uint(a)?),
                Dev::RxWrongVni => d.rx_wrong_vni = Some(uint(a)?),
                Dev::TxNoPeer => d.tx_no_peer = Some(uint(a)?),
                Dev::Secure => s.secure = Some(bytes::<_, 1>(a)?[0] != 0),
                Dev::RxAuthFail => d.rx_auth_fail = Some(uint(a)?),
                Dev::RxReplay => d.rx_replay = Some(uint(a)?),
                Dev::TxNoKey => d.tx_no_key = Some(uint(a)?),
                _ => {}
            }
        }
        Ok(d)
    }

    /// Whether the device has peers to ask for: a tap device has none.
    pub fn is_tunnel(&self) -> bool {
        self.mode.as_deref() != Some("tap")
    }
}

/// The `XTUN_A_PEER` nests of a peer-get reply.
pub fn peers_of(msg: &Genlmsghdr<Cmd, Dev>) -> Result<Vec<Peer>, String> {
    msg.attrs().iter().filter(|a| *a.nla_type().nla_type() == Dev::Peer).map(Peer::parse).collect()
}

impl Peer {
    /// One `XTUN_A_PEER` nest.
    pub fn parse(nest: &Attr<Dev>) -> Result<Peer, String> {
        let attrs = nest.get_attr_handle::<P>().map_err(|e| format!("bad peer nest: {e}"))?;
        let mut p = Peer::default();
        let (mut ip, mut port) = (None, None);
        for a in attrs.iter() {
            match a.nla_type().nla_type() {
                P::Id => p.id = Some(u32_of(a)?),
                P::RemoteIpv4 => ip = Some(Ipv4Addr::from(bytes::<_, 4>(a)?)),
                P::RemotePort => port = Some(u16::from_be_bytes(bytes(a)?)),
                P::Static => p.is_static = true,
                P::Keepalive => p.keepalive = Some(u32_of(a)?),
                P::Mac => p.macs.push(format_mac(&bytes(a)?)),
                P::LastSeenMs => p.last_seen_ms = Some(uint(a)?),
                P::ExpiresMs => p.expires_ms = Some(uint(a)?),
                P::RxPackets => p.rx_packets = Some(uint(a)?),
                P::RxBytes => p.rx_bytes = Some(uint(a)?),
                P::TxPackets => p.tx_packets = Some(uint(a)?),
                P::TxBytes => p.tx_bytes = Some(uint(a)?),
                P::DelReason => p.del_reason = Some(enum_name(DEL_REASONS, u32_of(a)?)),
                P::RxAuthFail => p.rx_auth_fail = Some(uint(a)?),
                P::RxReplay => p.rx_replay = Some(uint(a)?),
                P::Keyconf => p.key_slots.push(KeySlot::parse(a)?),
                _ => {}
            }
        }
        if let (Some(ip), Some(port)) = (ip, port) {
            p.endpoint = Some(SocketAddrV4::new(ip, port));
        }
        Ok(p)
    }
}

impl KeySlot {
    /// One `XTUN_A_PEER_KEYCONF` nest.
    pub fn parse(nest: &Attr<P>) -> Result<KeySlot, String> {
        let attrs = nest.get_attr_handle::<K>().map_err(|e| format!("bad keyconf nest: {e}"))?;
        let mut k = KeySlot::default();
        for a in attrs.iter() {
            match a.nla_type().nla_type() {
                K::Slot => k.slot = Some(enum_name(KEY_SLOTS, u32_of(a)?)),
                K::KeyId => k.key_id = Some(u32_of(a)?),
                K::Cipher => k.cipher = Some(enum_name(CIPHERS, u32_of(a)?)),
                K::SendCounter => k.send_counter = Some(uint(a)?),
                K::Driver => k.driver = Some(string_of(a)),
                // Key material never comes back; were it sent, it would not be kept.
                _ => {}
            }
        }
        Ok(k)
    }
}

impl Event {
    /// A notification; None for a command that is not one.
    pub fn parse(msg: &Genlmsghdr<Cmd, Dev>) -> Result<Option<Event>, String> {
        let kind = match msg.cmd() {
            Cmd::PeerLearnedNtf => EventKind::PeerLearned,
            Cmd::PeerDelNtf => EventKind::PeerDel,
            Cmd::KeyExhaustedNtf => EventKind::KeyExhausted,
            _ => return Ok(None),
        };
        let attrs = msg.attrs().get_attr_handle();
        let ifindex = attrs.get_attribute(Dev::Ifindex).map(u32_of).transpose()?.unwrap_or(0);
        let peer = attrs.get_attribute(Dev::Peer).map(Peer::parse).transpose()?.unwrap_or_default();
        Ok(Some(Event { kind, ifindex, peer }))
    }
}

/// Builds messages as the kernel would send them, for the tests here and
/// in show.rs.
#[cfg(test)]
pub mod fake {
    use super::*;
    use crate::genl::{attr, endpoint_attrs, message, nest};

    pub fn peer_nest(id: u32, learned: bool) -> Attr<Dev> {
        let mut attrs = vec![attr(P::Id, id)];
        attrs.extend(endpoint_attrs("10.0.0.2:4789".parse().unwrap()));
        if !learned {
            attrs.push(attr(P::Static, Vec::<u8>::new()));
        }
        attrs.push(attr(P::Keepalive, 25u32));
        attrs.push(attr(P::Mac, [2u8, 0, 0, 0, 0, 1]));
        attrs.push(attr(P::Mac, [2u8, 0, 0, 0, 0, 2]));
        attrs.push(attr(P::LastSeenMs, 3200u32));
        if learned {
            attrs.push(attr(P::ExpiresMs, 176_800u64));
        }
        // uint: 4 bytes while the value fits, else 8.
        attrs.push(attr(P::RxPackets, 10u32));
        attrs.push(attr(P::RxBytes, 5_000_000_000u64));
        attrs.push(attr(P::TxPackets, 12u32));
        attrs.push(attr(P::TxBytes, 1480u32));
        nest(Dev::Peer, &attrs)
    }

    /// A key slot as put_keys sends it.
    pub fn keyconf(slot: u32, key_id: u32, cipher: u32, counter: u64, driver: &str) -> Attr<P> {
        nest(
            P::Keyconf,
            &[
                attr(K::Slot, slot),
                attr(K::KeyId, key_id),
                attr(K::Cipher, cipher),
                attr(K::SendCounter, counter),
                attr(K::Driver, driver),
            ],
        )
    }

    /// A static secure-mode peer with both slots full.
    pub fn secure_peer_nest(id: u32) -> Attr<Dev> {
        let mut attrs = vec![attr(P::Id, id)];
        attrs.extend(endpoint_attrs("10.0.0.2:4789".parse().unwrap()));
        attrs.push(attr(P::Static, Vec::<u8>::new()));
        attrs.push(attr(P::RxAuthFail, 3u32));
        attrs.push(attr(P::RxReplay, 0u32));
        attrs.push(keyconf(0, 1, 0, 17, "gcm-aes-aesni"));
        attrs.push(keyconf(1, 2, 1, 0, "rfc7539(chacha20-simd,poly1305-simd)"));
        nest(Dev::Peer, &attrs)
    }

    pub fn device(mode: u32) -> Genlmsghdr<Cmd, Dev> {
        message(
            Cmd::DevGet,
            vec![
                attr(Dev::Ifindex, 5u32),
                attr(Dev::Ifname, "xt0"),
                attr(Dev::Mode, mode),
                attr(Dev::ListenPort, 4789u16),
                attr(Dev::LocalIpv4, [192u8, 168, 1, 2]),
                attr(Dev::Vni, 42u32),
                attr(Dev::Learn, 1u8),
                attr(Dev::PeerTimeout, 180u32),
                attr(Dev::MaxPeers, 16384u32),
                attr(Dev::MaxMacs, 1024u32),
                attr(Dev::Peers, 1u32),
                attr(Dev::RxUnknownSrc, 7u32),
                attr(Dev::RxBad, 0u64),
                attr(Dev::RxWrongVni, 1u32),
                attr(Dev::TxNoPeer, 2u32),
                attr(Dev::Secure, 1u8),
                attr(Dev::RxAuthFail, 3u32),
                attr(Dev::RxReplay, 4u32),
                attr(Dev::TxNoKey, 5u64),
                // An attribute from a newer kernel.
                attr(Dev::UnrecognizedConst(99), 1u32),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{fake::*, *};
    use crate::genl::{attr, message, nest};

    #[test]
    fn reads_a_device_in_every_byte_order() {
        let d = Device::parse(&device(1)).unwrap();
        assert_eq!((d.ifname.as_deref(), d.ifindex, d.mode.as_deref()), (Some("xt0"), 5, Some("tunnel")));
        let s = &d.settings;
        assert_eq!(s.listen_port, Some(4789));
        assert_eq!(s.local, Some(Ipv4Addr::new(192, 168, 1, 2)));
        assert_eq!((s.vni, s.learn, s.peer_timeout), (Some(42), Some(true), Some(180)));
        assert_eq!((s.max_peers, s.max_macs, d.peers), (Some(16384), Some(1024), Some(1)));
        assert_eq!((d.rx_unknown_src, d.rx_bad, d.rx_wrong_vni, d.tx_no_peer), (Some(7), Some(0), Some(1), Some(2)));
        assert_eq!((s.secure, d.rx_auth_fail, d.rx_replay, d.tx_no_key), (Some(true), Some(3), Some(4), Some(5)));
        assert!(d.is_tunnel());
        assert!(!Device::parse(&device(0)).unwrap().is_tunnel());
        assert_eq!(Device::parse(&device(7)).unwrap().mode.as_deref(), Some("7"));
    }

    #[test]
    fn reads_a_peer_nest() {
        let msg = message(Cmd::PeerGet, vec![attr(Dev::Ifindex, 5u32), peer_nest(3, true)]);
        let peers = peers_of(&msg).unwrap();
        let p = &peers[0];
        assert_eq!(p.id, Some(3));
        assert_eq!(p.endpoint, Some("10.0.0.2:4789".parse().unwrap()));
        assert!(!p.is_static);
        assert_eq!(p.macs, ["02:00:00:00:00:01", "02:00:00:00:00:02"]);
        assert_eq!((p.keepalive, p.last_seen_ms, p.expires_ms), (Some(25), Some(3200), Some(176_800)));
        assert_eq!(
            (p.rx_packets, p.rx_bytes, p.tx_packets, p.tx_bytes),
            (Some(10), Some(5_000_000_000), Some(12), Some(1480))
        );
        assert!(peers_of(&message(Cmd::PeerGet, vec![peer_nest(4, false)])).unwrap()[0].is_static);
        assert!(p.key_slots.is_empty() && p.rx_auth_fail.is_none());
    }

    #[test]
    fn reads_a_secure_peers_key_slots() {
        let p = Peer::parse(&secure_peer_nest(7)).unwrap();
        assert_eq!((p.id, p.rx_auth_fail, p.rx_replay), (Some(7), Some(3), Some(0)));
        let primary = KeySlot {
            slot: Some("primary".into()),
            key_id: Some(1),
            cipher: Some("aes-256-gcm".into()),
            send_counter: Some(17),
            driver: Some("gcm-aes-aesni".into()),
        };
        assert_eq!(p.key_slots[0], primary);
        let secondary = &p.key_slots[1];
        assert_eq!(
            (secondary.slot.as_deref(), secondary.cipher.as_deref()),
            (Some("secondary"), Some("chacha20-poly1305"))
        );
        // Numbers this program does not know stay numbers.
        let odd = Peer::parse(&nest(Dev::Peer, &[keyconf(2, 3, 9, 0, "x")])).unwrap();
        assert_eq!((odd.key_slots[0].slot.as_deref(), odd.key_slots[0].cipher.as_deref()), (Some("2"), Some("9")));
        let bad = nest(Dev::Peer, &[nest(P::Keyconf, &[attr(K::KeyId, 1u8)])]);
        assert!(Peer::parse(&bad).is_err());
    }

    #[test]
    fn a_wrong_length_is_an_error() {
        let msg = message(Cmd::DevGet, vec![attr(Dev::Vni, 42u16)]);
        assert!(Device::parse(&msg).unwrap_err().contains("Vni"));
        let msg = message(Cmd::PeerGet, vec![nest(Dev::Peer, &[attr(P::RxBytes, 1u16)])]);
        assert!(peers_of(&msg).is_err());
    }

    #[test]
    fn reads_notifications() {
        let mut ntf = message(Cmd::PeerDelNtf, vec![attr(Dev::Ifindex, 5u32), peer_nest(3, true)]);
        // The del reason is one more attribute of the nest.
        let Some(event) = Event::parse(&ntf).unwrap() else { panic!("not an event") };
        assert!(event.kind == EventKind::PeerDel && event.ifindex == 5 && event.peer.id == Some(3));
        ntf = message(
            Cmd::PeerDelNtf,
            vec![attr(Dev::Ifindex, 5u32), nest(Dev::Peer, &[attr(P::Id, 1u32), attr(P::DelReason, 1u32)])],
        );
        assert_eq!(Event::parse(&ntf).unwrap().unwrap().peer.del_reason.as_deref(), Some("expired"));
        let learned = message(Cmd::PeerLearnedNtf, vec![attr(Dev::Ifindex, 5u32), peer_nest(3, true)]);
        assert_eq!(Event::parse(&learned).unwrap().unwrap().kind, EventKind::PeerLearned);
        let exhausted = message(Cmd::KeyExhaustedNtf, vec![attr(Dev::Ifindex, 5u32), secure_peer_nest(7)]);
        let event = Event::parse(&exhausted).unwrap().unwrap();
        assert_eq!(
            (event.kind, event.peer.id, event.peer.key_slots[0].key_id),
            (EventKind::KeyExhausted, Some(7), Some(1))
        );
        assert_eq!(Event::parse(&device(1)).unwrap(), None);
    }
}
