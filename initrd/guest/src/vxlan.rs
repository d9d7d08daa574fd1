//! VXLAN datagrams (RFC 7348) as a peer puts them in UDP: an 8-byte header
//! (flags, 24 reserved bits, the 24-bit VNI, 8 reserved bits) before an
//! Ethernet frame. Besides valid ones, every way of being wrong that a
//! tunnel's receive path has to count, and a seeded mix of them (xtun-udp).

use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType, PacketBuilder};

pub const HEADER_LEN: usize = 8;
/// The I flag: the VNI field is valid. RFC 7348 allows no other flag.
pub const FLAG_VNI: u8 = 0x08;
pub const ETH_HLEN: usize = 14;
/// Flags bytes that are not a plain I flag, each sent over a valid frame
/// by `bad-flags` (0x00 there is not a keepalive: a frame follows).
pub const BAD_FLAGS: [u8; 6] = [0x00, 0x04, 0x0c, 0x80, 0x88, 0xff];

/// The 8-byte header: `flags`, then the VNI in the top 24 bits of the
/// second word (network order).
pub fn header(flags: u8, vni: u32) -> [u8; HEADER_LEN] {
    let v = (vni << 8).to_be_bytes();
    [flags, 0, 0, 0, v[0], v[1], v[2], v[3]]
}

/// A valid datagram: the I flag, `vni`, `frame`.
pub fn datagram(flags: u8, vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut d = header(flags, vni).to_vec();
    d.extend_from_slice(frame);
    d
}

/// xtun's keepalive: the header alone with the I flag clear (flags 0,
/// "XTK" in the reserved bytes, the VNI as usual). RFC 7348 receivers such
/// as Linux vxlan drop it; xtun takes it as a sign of life.
pub fn keepalive(vni: u32) -> Vec<u8> {
    let mut h = header(0, vni);
    h[1..4].copy_from_slice(b"XTK");
    h.to_vec()
}

/// What the inner frame says and to whom.
#[derive(Clone, Copy, Debug)]
pub struct Inner {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
}

impl Inner {
    /// A broadcast ARP request: who has `dst_ip`, tell `src_ip` (at
    /// `src_mac`). The receiver answers and keeps a neighbour entry for
    /// `src_ip`, which shows the frame arrived.
    pub fn arp_request(&self) -> Vec<u8> {
        let arp = ArpPacket::new(
            ArpHardwareId::ETHERNET,
            EtherType::IPV4,
            ArpOperation::REQUEST,
            &self.src_mac,
            &self.src_ip,
            &[0; 6],
            &self.dst_ip,
        )
        .expect("Ethernet and IPv4 addresses have valid lengths");
        let builder = PacketBuilder::ethernet2(self.src_mac, [0xff; 6]).arp(arp);
        let mut frame = Vec::with_capacity(builder.size());
        builder.write(&mut frame).expect("writing to a Vec cannot fail");
        frame
    }

    /// An ICMP echo request of exactly `len` bytes of Ethernet frame (at
    /// least the 42 bytes of headers).
    pub fn icmp_echo(&self, seq: u16, len: usize) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2(self.src_mac, self.dst_mac)
            .ipv4(self.src_ip, self.dst_ip, 64)
            .icmpv4_echo_request(0x7874, seq);
        let payload: Vec<u8> = (0..len.saturating_sub(builder.size(0))).map(|i| i as u8).collect();
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder.write(&mut frame, &payload).expect("writing to a Vec cannot fail");
        frame
    }
}

/// xorshift64*: small, fast, and the same sequence for the same seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The kinds a datagram can be, as a receiver must classify them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The I flag, our VNI, at least an Ethernet header: to deliver.
    Valid,
    /// Shorter than a VXLAN header plus an Ethernet header.
    Short,
    /// A flags byte other than 0x08, a frame after it.
    BadFlags,
    /// Valid but for the VNI.
    WrongVni,
    /// The 8-byte keepalive.
    Keepalive,
}

pub const KINDS: [Kind; 5] = [Kind::Valid, Kind::Short, Kind::BadFlags, Kind::WrongVni, Kind::Keepalive];

/// One fuzz datagram for a device with `vni`: a kind drawn from `rng`
/// (valid ones half the time), and its bytes: valid headers carry mutated
/// copies of `inner`'s frames (bytes flipped, cut, or random throughout).
pub fn fuzz(rng: &mut Rng, vni: u32, inner: &Inner) -> (Kind, Vec<u8>) {
    let kind = match rng.below(10) {
        0..=4 => Kind::Valid,
        5 => Kind::Short,
        6 | 7 => Kind::BadFlags,
        8 => Kind::WrongVni,
        _ => Kind::Keepalive,
    };
    let bytes = match kind {
        Kind::Valid => datagram(FLAG_VNI, vni, &mutated(rng, inner)),
        Kind::Short => {
            let mut d = datagram(FLAG_VNI, vni, &mutated(rng, inner));
            d.truncate(rng.below((HEADER_LEN + ETH_HLEN) as u64) as usize);
            d
        }
        Kind::BadFlags => {
            let flags = loop {
                let f = rng.next_u64() as u8;
                if f != FLAG_VNI {
                    break f;
                }
            };
            datagram(flags, vni, &mutated(rng, inner))
        }
        Kind::WrongVni => {
            let other = (vni + 1 + rng.below(0xff_fffe) as u32) & 0xff_ffff;
            datagram(FLAG_VNI, other, &mutated(rng, inner))
        }
        Kind::Keepalive => keepalive(vni),
    };
    (kind, bytes)
}

/// A frame of at least an Ethernet header: an ARP request or an ICMP echo
/// with a few bytes flipped or cut short, or random bytes throughout.
fn mutated(rng: &mut Rng, inner: &Inner) -> Vec<u8> {
    let mut frame = match rng.below(4) {
        0 => inner.arp_request(),
        1 | 2 => inner.icmp_echo(rng.below(65536) as u16, 42 + rng.below(1400) as usize),
        _ => (0..ETH_HLEN + rng.below(1450) as usize).map(|_| rng.next_u64() as u8).collect(),
    };
    for _ in 0..rng.below(8) {
        let i = rng.below(frame.len() as u64) as usize;
        frame[i] ^= 1 << rng.below(8);
    }
    if rng.below(4) == 0 {
        let keep = ETH_HLEN + rng.below((frame.len() - ETH_HLEN + 1) as u64) as usize;
        frame.truncate(keep);
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: Inner = Inner {
        src_mac: [2, 0, 0, 0, 0, 9],
        dst_mac: [0xff; 6],
        src_ip: [10, 100, 0, 9],
        dst_ip: [10, 100, 0, 2],
    };

    #[test]
    fn header_is_rfc_7348() {
        assert_eq!(header(FLAG_VNI, 42), [0x08, 0, 0, 0, 0, 0, 42, 0]);
        assert_eq!(header(FLAG_VNI, 0xab_cdef), [0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
        assert_eq!(keepalive(42), [0, b'X', b'T', b'K', 0, 0, 42, 0]);
    }

    #[test]
    fn frames_parse_back() {
        let arp = INNER.arp_request();
        assert_eq!(arp.len(), 42);
        let p = etherparse::SlicedPacket::from_ethernet(&arp).unwrap();
        assert!(matches!(p.net, Some(etherparse::NetSlice::Arp(_))));
        let icmp = INNER.icmp_echo(1, 1600);
        assert_eq!(icmp.len(), 1600);
        let p = etherparse::SlicedPacket::from_ethernet(&icmp).unwrap();
        assert!(matches!(p.transport, Some(etherparse::TransportSlice::Icmpv4(_))));
    }

    #[test]
    fn fuzz_kinds_match_their_bytes_and_replay_by_seed() {
        let mut rng = Rng::new(7);
        let mut seen = Vec::new();
        for _ in 0..5000 {
            let (kind, d) = fuzz(&mut rng, 42, &INNER);
            let vni_ok = d.len() >= HEADER_LEN && d[4..7] == [0, 0, 42];
            match kind {
                Kind::Valid => assert!(d.len() >= HEADER_LEN + ETH_HLEN && d[0] == FLAG_VNI && vni_ok),
                Kind::Short => assert!(d.len() < HEADER_LEN + ETH_HLEN && (d.is_empty() || d[0] == FLAG_VNI)),
                Kind::BadFlags => assert!(d.len() >= HEADER_LEN + ETH_HLEN && d[0] != FLAG_VNI && vni_ok),
                Kind::WrongVni => assert!(d.len() >= HEADER_LEN + ETH_HLEN && d[0] == FLAG_VNI && !vni_ok),
                Kind::Keepalive => assert_eq!(d, keepalive(42)),
            }
            if !seen.contains(&kind) {
                seen.push(kind);
            }
        }
        assert_eq!(seen.len(), KINDS.len());
        let (mut a, mut b) = (Rng::new(99), Rng::new(99));
        for _ in 0..100 {
            assert_eq!(fuzz(&mut a, 42, &INNER), fuzz(&mut b, 42, &INNER));
        }
    }
}
