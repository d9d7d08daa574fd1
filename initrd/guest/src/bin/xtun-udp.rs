//! Sends crafted VXLAN datagrams from a chosen UDP source to a tunnel's
//! port: valid ones and each kind a receiver must count and drop, for the
//! tunnel tests (tests/5x-tunnel-*.sh); and, for secure mode, datagrams in
//! its format (driver/secure.rs) that an attacker without the keys can
//! make. The last line says what was sent of each kind, for the test to
//! compare with the device's counters.

use std::{net::UdpSocket, time::SystemTime};

use xtun_guest::{
    cli,
    cli::*,
    parse_ipv4, parse_mac,
    vxlan::{self, Inner, Kind, Rng, BAD_FLAGS, ETH_HLEN, FLAG_VNI, HEADER_LEN, KINDS},
};

const USAGE: &str = "\
usage: xtun-udp MODE --to IP:PORT [--from IP:PORT] [--vni N] [--count N] [OPTIONS]

Sends VXLAN datagrams (RFC 7348) over UDP from --from (default: any
address, a free port) to --to. MODE:
  frame       valid datagrams (I flag, --vni) carrying --inner
  short       one datagram of each length 0..21, a valid one cut short of
              the VXLAN and Ethernet headers
  bad-flags   a valid frame under each flags byte 0x00 0x04 0x0c 0x80 0x88 0xff
  wrong-vni   valid datagrams but for the VNI: --vni names the wrong one
  oversized   valid datagrams whose inner frame (an ICMP echo) is --len bytes
  keepalive   the 8-byte header with the I flag clear (xtun's keepalive)
  fuzz        --count seeded datagrams: valid headers over mutated frames
              (half), short, bad flags, wrong VNI, keepalives
Or datagrams in xtun's secure format (driver/secure.rs: a 16-byte header
[0x01, key id, 0, 0, peer id (BE u32), counter (BE u64)], the sealed
frame, a 16-byte tag) as an attacker without the keys makes them, for a
receiver that knows the sender as peer --peer-id holding key --key-id:
  secure-forge
              --count datagrams naming --peer-id and --key-id, each with a
              random counter (never 0), --len random bytes of ciphertext
              and a random 16-byte tag: every one fails authentication
  secure-fuzz --count seeded datagrams: cut to 0..40 bytes, a type byte
              other than 0x01, non-zero reserved bytes, another peer id,
              --peer-id under a random key id, --peer-id and --key-id over
              0..1500 random bytes; each counted as one kind of four:
              short         under 16 bytes: no whole header (rx_bad)
              bad_type      a whole header with a type other than 0x01 or
                            non-zero reserved bytes (rx_bad)
              unknown_peer  a whole header naming a random peer id
                            other than --peer-id (rx_unknown_src)
              forged        a whole header naming --peer-id under
                            --key-id or a random key id (which may match
                            no key) over anything (rx_auth_fail); this
                            includes datagrams of 16..31 bytes, a header
                            with no room for the tag: the receiver counts
                            them as authentication failures
Options:
  --vni N           the VNI (default 42)
  --count N         datagrams (frame, wrong-vni, oversized, keepalive,
                    secure-forge; default 1) or the fuzz total (fuzz,
                    secure-fuzz; default 1000)
  --inner arp|icmp  frame's inner frame: an ARP request for --inner-dst
                    (default), or an ICMP echo request to it
  --inner-src IP    inner sender (default 10.100.0.9)
  --inner-dst IP    inner target (default 10.100.0.2)
  --src-mac MAC     inner source MAC (default 02:00:00:00:00:09)
  --dst-mac MAC     inner destination MAC of ICMP (default broadcast)
  --len N           oversized's inner frame length (default 1600), or
                    secure-forge's ciphertext length (default 98)
  --peer-id N       the secure header's peer id (default 7)
  --key-id N        the secure header's key id, 0..255 (default 1)
  --seed N          fuzz's and secure-fuzz's seed (default from the clock);
                    printed first; secure-forge takes it too, unprinted
The last line: `sent total=N valid=N short=N bad_flags=N wrong_vni=N keepalive=N`,
or in the secure modes `sent total=N short=N bad_type=N unknown_peer=N forged=N`.
";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Frame,
    Short,
    BadFlags,
    WrongVni,
    Oversized,
    Keepalive,
    Fuzz,
    SecureForge,
    SecureFuzz,
}

struct Args {
    mode: Mode,
    to: String,
    from: String,
    vni: u32,
    count: Option<u64>,
    icmp: bool,
    inner: Inner,
    len: Option<usize>,
    peer_id: u32,
    key_id: u8,
    seed: Option<u64>,
}

impl Default for Args {
    /// The defaults the usage names.
    fn default() -> Args {
        Args {
            mode: Mode::Frame,
            to: String::new(),
            from: "0.0.0.0:0".into(),
            vni: 42,
            count: None,
            icmp: false,
            inner: Inner {
                src_mac: [2, 0, 0, 0, 0, 9],
                dst_mac: [0xff; 6],
                src_ip: [10, 100, 0, 9],
                dst_ip: [10, 100, 0, 2],
            },
            len: None,
            peer_id: 7,
            key_id: 1,
            seed: None,
        }
    }
}

fn parse_args() -> Args {
    cli::parse(USAGE, |p| {
        let mut a = Args::default();
        let mut mode = None;
        let ip = |v: String| parse_ipv4(&v).ok_or_else(|| Error::from(format!("bad IPv4 address {v:?}")));
        let mac = |v: String| parse_mac(&v).ok_or_else(|| Error::from(format!("bad MAC address {v:?}")));
        while let Some(arg) = p.next()? {
            match arg {
                Long("to") => a.to = p.value()?.string()?,
                Long("from") => a.from = p.value()?.string()?,
                Long("vni") => a.vni = p.value()?.parse()?,
                Long("count") => a.count = Some(p.value()?.parse()?),
                Long("inner") => {
                    a.icmp = match p.value()?.string()?.as_str() {
                        "arp" => false,
                        "icmp" => true,
                        other => return Err(format!("--inner {other:?}: want arp or icmp").into()),
                    }
                }
                Long("inner-src") => a.inner.src_ip = ip(p.value()?.string()?)?,
                Long("inner-dst") => a.inner.dst_ip = ip(p.value()?.string()?)?,
                Long("src-mac") => a.inner.src_mac = mac(p.value()?.string()?)?,
                Long("dst-mac") => a.inner.dst_mac = mac(p.value()?.string()?)?,
                Long("len") => a.len = Some(p.value()?.parse()?),
                Long("peer-id") => a.peer_id = p.value()?.parse()?,
                Long("key-id") => a.key_id = p.value()?.parse()?,
                Long("seed") => a.seed = Some(p.value()?.parse()?),
                Short('h') | Long("help") => cli::help(USAGE),
                Value(word) if mode.is_none() => {
                    mode = Some(match word.string()?.as_str() {
                        "frame" => Mode::Frame,
                        "short" => Mode::Short,
                        "bad-flags" => Mode::BadFlags,
                        "wrong-vni" => Mode::WrongVni,
                        "oversized" => Mode::Oversized,
                        "keepalive" => Mode::Keepalive,
                        "fuzz" => Mode::Fuzz,
                        "secure-forge" => Mode::SecureForge,
                        "secure-fuzz" => Mode::SecureFuzz,
                        other => return Err(format!("unknown mode {other:?}").into()),
                    })
                }
                _ => return Err(arg.unexpected()),
            }
        }
        a.mode = mode.ok_or("no MODE given")?;
        if a.to.is_empty() {
            return Err("--to IP:PORT is required".into());
        }
        if a.vni > 0xff_ffff {
            return Err(format!("--vni {} does not fit 24 bits", a.vni).into());
        }
        if a.mode == Mode::Oversized && a.len.is_some_and(|len| len < 42) {
            return Err("--len must hold the 42 bytes of Ethernet, IPv4 and ICMP headers".into());
        }
        Ok(a)
    })
}

/// The names of the VXLAN kinds in the last line, in [`KINDS`]' order.
const VXLAN_KINDS: [&str; 5] = ["valid", "short", "bad_flags", "wrong_vni", "keepalive"];

/// What a run sends: every datagram with its kind, an index into `kinds`
/// (the kinds' names in the last line), in sending order.
struct Run {
    kinds: &'static [&'static str],
    datagrams: Vec<(usize, Vec<u8>)>,
}

impl Run {
    fn vxlan(datagrams: Vec<(Kind, Vec<u8>)>) -> Run {
        let index = |kind| KINDS.iter().position(|k| *k == kind).expect("every kind is in KINDS");
        Run { kinds: &VXLAN_KINDS, datagrams: datagrams.into_iter().map(|(kind, d)| (index(kind), d)).collect() }
    }

    fn secure(datagrams: Vec<(Secure, Vec<u8>)>) -> Run {
        Run { kinds: &SECURE_KINDS, datagrams: datagrams.into_iter().map(|(kind, d)| (kind as usize, d)).collect() }
    }

    /// The last line, given how many of each kind were sent.
    fn last_line(&self, sent: &[u64]) -> String {
        let mut line = format!("sent total={}", sent.iter().sum::<u64>());
        for (name, n) in self.kinds.iter().zip(sent) {
            line += &format!(" {name}={n}");
        }
        line
    }
}

/// The seed of a seeded mode: --seed, or one from the clock.
fn seed(a: &Args) -> u64 {
    a.seed
        .unwrap_or_else(|| SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64))
}

/// Every datagram of the run with its kind, in sending order.
fn datagrams(a: &Args) -> Run {
    let frame = || if a.icmp { a.inner.icmp_echo(1, 98) } else { a.inner.arp_request() };
    let count = a.count.unwrap_or(1);
    let repeat = |kind, d: Vec<u8>| Run::vxlan((0..count).map(|_| (kind, d.clone())).collect());
    match a.mode {
        Mode::Frame => repeat(Kind::Valid, vxlan::datagram(FLAG_VNI, a.vni, &frame())),
        Mode::WrongVni => repeat(Kind::WrongVni, vxlan::datagram(FLAG_VNI, a.vni, &frame())),
        Mode::Oversized => {
            repeat(Kind::Valid, vxlan::datagram(FLAG_VNI, a.vni, &a.inner.icmp_echo(1, a.len.unwrap_or(1600))))
        }
        Mode::Keepalive => repeat(Kind::Keepalive, vxlan::keepalive(a.vni)),
        Mode::Short => {
            let whole = vxlan::datagram(FLAG_VNI, a.vni, &frame());
            Run::vxlan((0..HEADER_LEN + ETH_HLEN).map(|n| (Kind::Short, whole[..n].to_vec())).collect())
        }
        Mode::BadFlags => {
            Run::vxlan(BAD_FLAGS.iter().map(|&f| (Kind::BadFlags, vxlan::datagram(f, a.vni, &frame()))).collect())
        }
        Mode::Fuzz => {
            let seed = seed(a);
            println!("# xtun-udp fuzz seed {seed} (replay with --seed {seed})");
            let mut rng = Rng::new(seed);
            Run::vxlan((0..a.count.unwrap_or(1000)).map(|_| vxlan::fuzz(&mut rng, a.vni, &a.inner)).collect())
        }
        Mode::SecureForge => {
            let mut rng = Rng::new(seed(a));
            let body = a.len.unwrap_or(98) + TAG_LEN;
            Run::secure((0..count).map(|_| (Secure::Forged, forged(&mut rng, a.key_id, a.peer_id, body))).collect())
        }
        Mode::SecureFuzz => {
            let seed = seed(a);
            println!("# xtun-udp secure-fuzz seed {seed} (replay with --seed {seed})");
            let mut rng = Rng::new(seed);
            Run::secure((0..a.count.unwrap_or(1000)).map(|_| secure_fuzz(&mut rng, a.peer_id, a.key_id)).collect())
        }
    }
}

// Secure mode's wire format (driver/secure.rs).
const SECURE_HEADER_LEN: usize = 16;
const TAG_LEN: usize = 16;
const TYPE_DATA: u8 = 0x01;

/// The kinds of secure datagram, as a secure receiver with peer `peer_id`
/// holding key `key_id` counts them (driver/tunnel.rs, receive_secure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Secure {
    /// Under 16 bytes, no whole header: rx_bad.
    Short,
    /// A whole header that does not parse: a type other than 0x01 or
    /// non-zero reserved bytes: rx_bad.
    BadType,
    /// A header naming another peer id: rx_unknown_src.
    UnknownPeer,
    /// A header naming `peer_id` (any key id) over bytes that cannot
    /// authenticate, or over fewer than a tag's: rx_auth_fail.
    Forged,
}

/// The names of [`Secure`]'s kinds in the last line, in its order.
const SECURE_KINDS: [&str; 4] = ["short", "bad_type", "unknown_peer", "forged"];

/// The header: type 0x01, `key_id`, two zero bytes, `peer_id` and
/// `counter` in network order.
fn secure_header(key_id: u8, peer_id: u32, counter: u64) -> [u8; SECURE_HEADER_LEN] {
    let mut h = [0; SECURE_HEADER_LEN];
    h[0] = TYPE_DATA;
    h[1] = key_id;
    h[4..8].copy_from_slice(&peer_id.to_be_bytes());
    h[8..].copy_from_slice(&counter.to_be_bytes());
    h
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

/// What an attacker without the key can send: the header (`key_id`,
/// `peer_id`, a random counter other than 0) and `body` random bytes
/// standing for the ciphertext and the tag.
fn forged(rng: &mut Rng, key_id: u8, peer_id: u32, body: usize) -> Vec<u8> {
    let counter = rng.next_u64().max(1);
    let mut d = secure_header(key_id, peer_id, counter).to_vec();
    d.extend(random_bytes(rng, body));
    d
}

/// One secure-fuzz datagram for a receiver with peer `peer_id` holding key
/// `key_id`, and its kind; whole headers come over 0..1500 random bytes.
fn secure_fuzz(rng: &mut Rng, peer_id: u32, key_id: u8) -> (Secure, Vec<u8>) {
    let body = rng.below(1501) as usize;
    match rng.below(10) {
        // Cut anywhere in the header or before a whole tag: a whole header
        // with no room for the tag fails authentication.
        0 | 1 => {
            let mut d = forged(rng, key_id, peer_id, 40 - SECURE_HEADER_LEN);
            d.truncate(rng.below(41) as usize);
            (if d.len() < SECURE_HEADER_LEN { Secure::Short } else { Secure::Forged }, d)
        }
        2 => {
            let mut d = forged(rng, key_id, peer_id, body);
            d[0] = TYPE_DATA.wrapping_add(1 + rng.below(255) as u8);
            (Secure::BadType, d)
        }
        3 => {
            let mut d = forged(rng, key_id, peer_id, body);
            d[2..4].copy_from_slice(&(1 + rng.below(0xffff) as u16).to_be_bytes());
            (Secure::BadType, d)
        }
        4 | 5 => {
            let other = peer_id.wrapping_add(1 + rng.below(u32::MAX as u64) as u32);
            let key = rng.next_u64() as u8;
            (Secure::UnknownPeer, forged(rng, key, other, body))
        }
        6 => {
            let key = rng.next_u64() as u8;
            (Secure::Forged, forged(rng, key, peer_id, body))
        }
        _ => (Secure::Forged, forged(rng, key_id, peer_id, body)),
    }
}

fn main() {
    let a = parse_args();
    let socket = UdpSocket::bind(&a.from).unwrap_or_else(|e| {
        eprintln!("xtun-udp: cannot bind {}: {e}", a.from);
        std::process::exit(1);
    });
    let run = datagrams(&a);
    let mut sent = vec![0u64; run.kinds.len()];
    for (kind, d) in &run.datagrams {
        if let Err(e) = socket.send_to(d, &a.to) {
            eprintln!("xtun-udp: sending {} bytes to {}: {e}", d.len(), a.to);
            std::process::exit(1);
        }
        sent[*kind] += 1;
    }
    println!("{}", run.last_line(&sent));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How driver/tunnel.rs's receive_secure counts `d` (the UDP payload)
    /// when it knows peer 7 holding key 1, taking any bytes after the
    /// header as a failed authentication (nobody here holds the key).
    fn receiver_counts(d: &[u8]) -> &'static str {
        if d.len() < SECURE_HEADER_LEN {
            return "rx_bad";
        }
        if d[0] != TYPE_DATA || d[2..4] != [0, 0] {
            return "rx_bad";
        }
        if d[4..8] != 7u32.to_be_bytes() {
            return "rx_unknown_src";
        }
        "rx_auth_fail"
    }

    #[test]
    fn secure_header_is_driver_secure_rs() {
        assert_eq!(secure_header(1, 7, 0x0102_0304_0506_0708), [0x01, 1, 0, 0, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            secure_header(0xff, 0xdead_beef, 1),
            [1, 0xff, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 1]
        );
    }

    #[test]
    fn forged_datagrams_name_the_peer_with_fresh_counters() {
        let mut rng = Rng::new(3);
        let mut counters = Vec::new();
        for _ in 0..100 {
            let d = forged(&mut rng, 1, 7, 98 + TAG_LEN);
            assert_eq!(d.len(), SECURE_HEADER_LEN + 98 + TAG_LEN);
            assert_eq!(d[..8], [0x01, 1, 0, 0, 0, 0, 0, 7]);
            let counter = u64::from_be_bytes(d[8..16].try_into().unwrap());
            assert_ne!(counter, 0);
            assert!(!counters.contains(&counter));
            counters.push(counter);
            assert_eq!(receiver_counts(&d), "rx_auth_fail");
        }
    }

    #[test]
    fn secure_fuzz_kinds_are_what_the_receiver_counts() {
        let mut rng = Rng::new(7);
        let (mut seen, mut cut_tags, mut other_keys) = (Vec::new(), 0, 0);
        for _ in 0..5000 {
            let (kind, d) = secure_fuzz(&mut rng, 7, 1);
            let counter = match kind {
                Secure::Short => {
                    assert!(d.len() < SECURE_HEADER_LEN);
                    "rx_bad"
                }
                Secure::BadType => "rx_bad",
                Secure::UnknownPeer => "rx_unknown_src",
                Secure::Forged => "rx_auth_fail",
            };
            assert_eq!(receiver_counts(&d), counter, "{kind:?} {d:02x?}");
            assert!(d.len() <= SECURE_HEADER_LEN + 1500);
            if kind == Secure::Forged && d.len() < SECURE_HEADER_LEN + TAG_LEN {
                cut_tags += 1;
            }
            if kind == Secure::Forged && d[1] != 1 {
                other_keys += 1;
            }
            if !seen.contains(&kind) {
                seen.push(kind);
            }
        }
        assert_eq!(seen.len(), SECURE_KINDS.len());
        assert!(cut_tags > 0 && other_keys > 0, "{cut_tags} with no room for a tag, {other_keys} under other keys");
    }

    #[test]
    fn secure_fuzz_runs_replay_by_seed_and_count_every_datagram() {
        let args = || Args { mode: Mode::SecureFuzz, count: Some(300), seed: Some(1), ..Args::default() };
        let (run, again) = (datagrams(&args()), datagrams(&args()));
        assert_eq!(run.kinds, SECURE_KINDS);
        assert_eq!(run.datagrams.len(), 300);
        assert_eq!(run.datagrams, again.datagrams);
        for (kind, d) in &run.datagrams {
            let counter = ["rx_bad", "rx_bad", "rx_unknown_src", "rx_auth_fail"][*kind];
            assert_eq!(receiver_counts(d), counter, "{} {d:02x?}", SECURE_KINDS[*kind]);
        }
        let other = datagrams(&Args { seed: Some(2), ..args() });
        assert_ne!(run.datagrams, other.datagrams);
    }

    #[test]
    fn secure_forge_sends_count_forgeries_of_len() {
        let args =
            Args { mode: Mode::SecureForge, count: Some(3), len: Some(10), peer_id: 9, key_id: 4, ..Args::default() };
        let run = datagrams(&args);
        assert_eq!(run.datagrams.len(), 3);
        for (kind, d) in &run.datagrams {
            assert_eq!(SECURE_KINDS[*kind], "forged");
            assert_eq!(d.len(), SECURE_HEADER_LEN + 10 + TAG_LEN);
            assert_eq!(d[..8], [0x01, 4, 0, 0, 0, 0, 0, 9]);
        }
    }

    #[test]
    fn last_lines_name_every_kind() {
        let vxlan = Run::vxlan(vec![(Kind::Short, vec![]), (Kind::Keepalive, vxlan::keepalive(42))]);
        assert_eq!(vxlan.datagrams.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(
            vxlan.last_line(&[5, 4, 3, 2, 1]),
            "sent total=15 valid=5 short=4 bad_flags=3 wrong_vni=2 keepalive=1"
        );
        let secure = Run::secure(vec![(Secure::Forged, vec![]), (Secure::Short, vec![])]);
        assert_eq!(secure.datagrams.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [3, 0]);
        assert_eq!(secure.last_line(&[1, 2, 3, 4]), "sent total=10 short=1 bad_type=2 unknown_peer=3 forged=4");
    }
}
