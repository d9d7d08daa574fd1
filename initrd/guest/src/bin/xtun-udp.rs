//! Sends crafted VXLAN datagrams from a chosen UDP source to a tunnel's
//! port: valid ones and each kind a receiver must count and drop, for the
//! tunnel tests (tests/5x-tunnel-*.sh). The last line says what was sent
//! of each kind, for the test to compare with the device's counters.

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
Options:
  --vni N           the VNI (default 42)
  --count N         datagrams (frame, wrong-vni, oversized, keepalive; default 1)
                    or the fuzz total (default 1000)
  --inner arp|icmp  frame's inner frame: an ARP request for --inner-dst
                    (default), or an ICMP echo request to it
  --inner-src IP    inner sender (default 10.100.0.9)
  --inner-dst IP    inner target (default 10.100.0.2)
  --src-mac MAC     inner source MAC (default 02:00:00:00:00:09)
  --dst-mac MAC     inner destination MAC of ICMP (default broadcast)
  --len N           oversized's inner frame length (default 1600)
  --seed N          fuzz's seed (default from the clock); printed first
The last line: `sent total=N valid=N short=N bad_flags=N wrong_vni=N keepalive=N`.
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
}

struct Args {
    mode: Mode,
    to: String,
    from: String,
    vni: u32,
    count: Option<u64>,
    icmp: bool,
    inner: Inner,
    len: usize,
    seed: Option<u64>,
}

fn parse_args() -> Args {
    cli::parse(USAGE, |p| {
        let mut a = Args {
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
            len: 1600,
            seed: None,
        };
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
                Long("len") => a.len = p.value()?.parse()?,
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
        if a.mode == Mode::Oversized && a.len < 42 {
            return Err("--len must hold the 42 bytes of Ethernet, IPv4 and ICMP headers".into());
        }
        Ok(a)
    })
}

/// Every datagram of the run with its kind, in sending order.
fn datagrams(a: &Args) -> Vec<(Kind, Vec<u8>)> {
    let frame = || if a.icmp { a.inner.icmp_echo(1, 98) } else { a.inner.arp_request() };
    let count = a.count.unwrap_or(1);
    let repeat = |kind, d: Vec<u8>| (0..count).map(|_| (kind, d.clone())).collect();
    match a.mode {
        Mode::Frame => repeat(Kind::Valid, vxlan::datagram(FLAG_VNI, a.vni, &frame())),
        Mode::WrongVni => repeat(Kind::WrongVni, vxlan::datagram(FLAG_VNI, a.vni, &frame())),
        Mode::Oversized => repeat(Kind::Valid, vxlan::datagram(FLAG_VNI, a.vni, &a.inner.icmp_echo(1, a.len))),
        Mode::Keepalive => repeat(Kind::Keepalive, vxlan::keepalive(a.vni)),
        Mode::Short => {
            let whole = vxlan::datagram(FLAG_VNI, a.vni, &frame());
            (0..HEADER_LEN + ETH_HLEN).map(|n| (Kind::Short, whole[..n].to_vec())).collect()
        }
        Mode::BadFlags => BAD_FLAGS.iter().map(|&f| (Kind::BadFlags, vxlan::datagram(f, a.vni, &frame()))).collect(),
        Mode::Fuzz => {
            let seed = a.seed.unwrap_or_else(|| {
                SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
            });
            println!("# xtun-udp fuzz seed {seed} (replay with --seed {seed})");
            let mut rng = Rng::new(seed);
            (0..a.count.unwrap_or(1000)).map(|_| vxlan::fuzz(&mut rng, a.vni, &a.inner)).collect()
        }
    }
}

fn main() {
    let a = parse_args();
    let socket = UdpSocket::bind(&a.from).unwrap_or_else(|e| {
        eprintln!("xtun-udp: cannot bind {}: {e}", a.from);
        std::process::exit(1);
    });
    let mut sent = [0u64; KINDS.len()];
    for (kind, d) in datagrams(&a) {
        if let Err(e) = socket.send_to(&d, &a.to) {
            eprintln!("xtun-udp: sending {} bytes to {}: {e}", d.len(), a.to);
            std::process::exit(1);
        }
        sent[KINDS.iter().position(|k| *k == kind).expect("every kind is in KINDS")] += 1;
    }
    let [valid, short, bad_flags, wrong_vni, keepalive] = sent;
    println!(
        "sent total={} valid={valid} short={short} bad_flags={bad_flags} wrong_vni={wrong_vni} keepalive={keepalive}",
        sent.iter().sum::<u64>()
    );
}
