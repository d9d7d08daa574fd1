//! What the kernel reports, read from the family's attributes: a device
//! (dev-get), its peers (peer-get) and peer events (the `peers` group).
//! An attribute the kernel did not send is None (null in --json); one this
//! program does not know is skipped, so a newer kernel still works.

use std::net::{Ipv4Addr, SocketAddrV4};

use neli::genl::Genlmsghdr;
use serde::Serialize;
use xtun_guest::format_mac;

use crate::genl::{bytes, string_of, u32_of, uint, Attr, Cmd, Dev, Peer as P, DEL_REASONS, MODES};

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
    /// Only in peer-del notifications.
    #[serde(skip)]
    pub del_reason: Option<String>,
}

/// A notification of the `peers` group.
#[derive(Debug, PartialEq)]
pub struct Event {
    pub learned: bool,
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
                _ => {}
            }
        }
        if let (Some(ip), Some(port)) = (ip, port) {
            p.endpoint = Some(SocketAddrV4::new(ip, port));
        }
        Ok(p)
    }
}

impl Event {
    /// A notification; None for a command that is not one.
    pub fn parse(msg: &Genlmsghdr<Cmd, Dev>) -> Result<Option<Event>, String> {
        let learned = match msg.cmd() {
            Cmd::PeerLearnedNtf => true,
            Cmd::PeerDelNtf => false,
            _ => return Ok(None),
        };
        let attrs = msg.attrs().get_attr_handle();
        let ifindex = attrs.get_attribute(Dev::Ifindex).map(u32_of).transpose()?.unwrap_or(0);
        let peer = attrs.get_attribute(Dev::Peer).map(Peer::parse).transpose()?.unwrap_or_default();
        Ok(Some(Event { learned, ifindex, peer }))
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
        assert!(!event.learned && event.ifindex == 5 && event.peer.id == Some(3));
        ntf = message(
            Cmd::PeerDelNtf,
            vec![attr(Dev::Ifindex, 5u32), nest(Dev::Peer, &[attr(P::Id, 1u32), attr(P::DelReason, 1u32)])],
        );
        assert_eq!(Event::parse(&ntf).unwrap().unwrap().peer.del_reason.as_deref(), Some("expired"));
        let learned = message(Cmd::PeerLearnedNtf, vec![attr(Dev::Ifindex, 5u32), peer_nest(3, true)]);
        assert!(Event::parse(&learned).unwrap().unwrap().learned);
        assert_eq!(Event::parse(&device(1)).unwrap(), None);
    }
}
