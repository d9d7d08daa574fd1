//! Replies a peer on the far side of a device gives: ARP replies and ICMP
//! echo replies for one IPv4 address (xtun-responder, xtun-bench).

use etherparse::{
    ArpOperation, ArpPacket, EtherType, Icmpv4Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice,
};

/// The reply to `frame`, if it is an ARP request or ICMP echo request for `ip`.
pub fn answer(frame: &[u8], ip: [u8; 4], mac: [u8; 6]) -> Option<Vec<u8>> {
    let packet = SlicedPacket::from_ethernet(frame).ok()?;
    let eth = packet.link.as_ref()?.to_header()?.ethernet2()?;
    match packet.net.as_ref()? {
        NetSlice::Arp(arp) => {
            let arp = arp.to_packet().try_eth_ipv4().ok()?;
            if arp.operation != ArpOperation::REQUEST || arp.target_ipv4 != ip {
                return None;
            }
            let reply = ArpPacket::new(
                etherparse::ArpHardwareId::ETHERNET,
                EtherType::IPV4,
                ArpOperation::REPLY,
                &mac,
                &ip,
                &arp.sender_mac,
                &arp.sender_ipv4,
            )
            .ok()?;
            let builder = PacketBuilder::ethernet2(mac, arp.sender_mac).arp(reply);
            let mut out = Vec::with_capacity(builder.size());
            builder.write(&mut out).ok()?;
            Some(out)
        }
        NetSlice::Ipv4(ipv4) => {
            let header = ipv4.header();
            if header.destination() != ip {
                return None;
            }
            let Some(TransportSlice::Icmpv4(icmp)) = &packet.transport else { return None };
            let Icmpv4Type::EchoRequest(echo) = icmp.icmp_type() else { return None };
            let builder = PacketBuilder::ethernet2(mac, eth.source)
                .ipv4(ip, header.source(), 64)
                .icmpv4_echo_reply(echo.id, echo.seq);
            let payload = icmp.payload();
            let mut out = Vec::with_capacity(builder.size(payload.len()));
            builder.write(&mut out, payload).ok()?;
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: [u8; 4] = [10, 99, 0, 2];
    const MAC: [u8; 6] = [2, 0, 0, 0x99, 0, 2];
    const PEER_MAC: [u8; 6] = [2, 1, 1, 1, 1, 1];

    #[test]
    fn answers_arp_request_for_its_ip_only() {
        let request = |target: [u8; 4]| {
            let arp = ArpPacket::new(
                etherparse::ArpHardwareId::ETHERNET,
                EtherType::IPV4,
                ArpOperation::REQUEST,
                &PEER_MAC,
                &[10, 99, 0, 1],
                &[0; 6],
                &target,
            )
            .unwrap();
            let b = PacketBuilder::ethernet2(PEER_MAC, [0xff; 6]).arp(arp);
            let mut f = Vec::new();
            b.write(&mut f).unwrap();
            f
        };
        let reply = answer(&request(IP), IP, MAC).expect("a reply");
        let p = SlicedPacket::from_ethernet(&reply).unwrap();
        let Some(NetSlice::Arp(arp)) = p.net else { panic!("not ARP") };
        let arp = arp.to_packet().try_eth_ipv4().unwrap();
        assert_eq!(arp.operation, ArpOperation::REPLY);
        assert_eq!(arp.sender_mac, MAC);
        assert_eq!(arp.target_mac, PEER_MAC);
        assert!(answer(&request([10, 99, 0, 3]), IP, MAC).is_none());
    }

    #[test]
    fn answers_echo_request_with_same_id_seq_payload() {
        let b = PacketBuilder::ethernet2(PEER_MAC, MAC).ipv4([10, 99, 0, 1], IP, 64).icmpv4_echo_request(7, 9);
        let mut f = Vec::new();
        b.write(&mut f, b"payload").unwrap();
        let reply = answer(&f, IP, MAC).expect("a reply");
        let p = SlicedPacket::from_ethernet(&reply).unwrap();
        let Some(TransportSlice::Icmpv4(icmp)) = p.transport else { panic!("not ICMP") };
        let Icmpv4Type::EchoReply(echo) = icmp.icmp_type() else { panic!("not a reply") };
        assert_eq!((echo.id, echo.seq), (7, 9));
        assert_eq!(icmp.payload(), b"payload");
        let Some(NetSlice::Ipv4(ip)) = p.net else { panic!() };
        assert_eq!(ip.header().destination(), [10, 99, 0, 1]);
    }
}
