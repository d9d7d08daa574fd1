//! The tunnel benchmark (`cargo xtask bench --tunnel`): xtun's tunnel mode
//! against the underlay alone, the kernel's vxlan and a userspace
//! forwarder (xtun-forward), and xtun's secure mode against the kernel's
//! WireGuard, in two namespaces of one guest:
//!
//! ```text
//!   netns xtb1                                         netns xtb2
//!   veth1 10.0.0.1/24 ================================ veth2 10.0.0.2/24     underlay
//!   xt0   10.100.0.1 ---- xtun, UDP 4789, VNI 1 ------ xt0   10.100.0.2    xtun
//!   vx0   10.101.0.1 ---- vxlan, UDP 4790, VNI 42 ---- vx0   10.101.0.2    vxlan
//!   fw0   10.102.0.1 ---- xtun-forward, UDP 4791 ----- fw0   10.102.0.2    forwarder
//!   xs0   10.103.0.1 ---- xtun, UDP 4792, 10 peers --- xs0   10.103.0.2    xtun10
//!   xs1   10.104.0.1 ---- xtun, UDP 4793, N peers ---- xs1   10.104.0.2    xtun10k
//!   xc0   10.105.0.1 ---- xtun secure, UDP 4794 ------ xc0   10.105.0.2    xtun-chacha
//!   xa0   10.106.0.1 ---- xtun secure, UDP 4795 ------ xa0   10.106.0.2    xtun-aes
//!   wg0   10.107.0.1 ---- WireGuard, UDP 4796 -------- wg0   10.107.0.2    wireguard
//! ```
//!
//! Every overlay device has IPv6 off, fixed MACs and permanent neighbour
//! entries, so no ARP or flood runs during a measurement (wg0 carries IP
//! packets: no MACs); xtun's real peer carries the far side's MAC. Each
//! variant runs at its own device's MTU: 1450 (1500 - 50) for the
//! VXLAN-format ones, 1426 for secure mode (1500 - 74, the device sets it
//! itself) and 1420 for WireGuard (its default).
//!
//! fw0 are xtun's own tap devices, so forwarder against xtun is the same
//! driver with the tunnel in userspace or in the kernel. The extra peers
//! of xs0 and xs1 (in both namespaces) are static peers at addresses
//! nothing routes to; no frame goes to them. xs0 and xs1 are down but
//! during their own runs, so that what a table of 10,000 peers costs in
//! the background (xtun ages it every second) falls on xtun10k's figures
//! alone. xtun-chacha and xtun-aes are xtun's secure mode (ChaCha20-Poly1305,
//! AES-256-GCM), one peer and a key per direction from `xtunctl genkey`;
//! wireguard has a key pair per side from `wg genkey` and the far side as
//! its one peer.
//!
//! `all` measures every metric as interleaved rounds: each round runs the
//! variants one after the other, in an order that is reversed every other
//! round and rotated every two, so that no variant always goes first or
//! follows the same one; each metric starts with one unrecorded warm-up
//! run per variant. One JSON object per measurement.

use std::{
    io,
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use xtun_guest::{cli, cli::*, enter_netns, ip, ping};

// xtunctl's netlink code, to add thousands of peers over one socket: one
// xtunctl process per peer costs about 80 ms under TCG (10,000 peers on
// each side: half an hour).
#[allow(dead_code)]
#[path = "xtunctl/genl.rs"]
mod genl;

const USAGE: &str = "\
usage: xtun-tbench all [--rounds N] [--seconds S] [--tcp-seconds T] [--peers N] [--boot B]
       xtun-tbench setup [--peers N]
       xtun-tbench ping|tcp|udp --variant V [--seconds S] [--tcp-seconds T]

all: set up the namespaces, measure every metric on every variant in N
interleaved rounds (default 5), print one JSON object per measurement,
tagged with boot number B (default 0), tear down.
setup: set up the namespaces and leave them (with the forwarders and the
iperf3 server running), for single runs.
ping|tcp|udp: one run on variant V (underlay, xtun, vxlan, forwarder,
xtun10, xtun10k, xtun-chacha, xtun-aes, wireguard) of a set-up guest,
printed as text.

ping: echo requests one after the other for S seconds (20..1000), median RTT.
tcp: iperf3 for T whole seconds (default 3), the receiver's Mbit/s.
udp: 18-byte datagrams as fast as one socket sends them for S seconds
(default 1), frames per second out of the far side's device.
--peers N: the table size of xtun10k (default 10000).
xtun's variants need /usr/bin/xtunctl, wireguard /usr/bin/wg; without
them they are skipped.
";

const VARIANT_NAMES: &str = "want underlay, xtun, vxlan, forwarder, xtun10, xtun10k, xtun-chacha, xtun-aes or wireguard";
const NS: [&str; 2] = ["xtb1", "xtb2"];
const XTUNCTL: &str = "/usr/bin/xtunctl";
const WG: &str = "/usr/bin/wg";
/// The key files of the secure and WireGuard variants.
const KEYS: &str = "/tmp/xtb-keys";
/// The peer id of the secure variants' one peer (the same at both ends).
const SECURE_ID: &str = "7";
/// The MTU of the VXLAN-format overlays (1500 - 50); the secure and
/// WireGuard devices keep their own (see [`Variant::own_mtu`]).
const MTU: &str = "1450";
const IPERF_PORT: u16 = 5201;
const UDP_PORT: u16 = 9000;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Variant {
    Underlay,
    Xtun,
    Vxlan,
    Forwarder,
    Xtun10,
    Xtun10k,
    XtunChacha,
    XtunAes,
    Wireguard,
}

const VARIANTS: [Variant; 9] = [
    Variant::Underlay,
    Variant::Xtun,
    Variant::Vxlan,
    Variant::Forwarder,
    Variant::Xtun10,
    Variant::Xtun10k,
    Variant::XtunChacha,
    Variant::XtunAes,
    Variant::Wireguard,
];
/// RTT and TCP run on issue 14's four and on issue 15's secure mode and
/// WireGuard.
const COMPARED: [Variant; 7] = [
    Variant::Underlay,
    Variant::Xtun,
    Variant::Vxlan,
    Variant::Forwarder,
    Variant::XtunChacha,
    Variant::XtunAes,
    Variant::Wireguard,
];
/// UDP runs on issue 14's four and on the table-size pair.
const UDP: [Variant; 6] = [Variant::Underlay, Variant::Xtun, Variant::Vxlan, Variant::Forwarder, Variant::Xtun10, Variant::Xtun10k];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Underlay => "underlay",
            Variant::Xtun => "xtun",
            Variant::Vxlan => "vxlan",
            Variant::Forwarder => "forwarder",
            Variant::Xtun10 => "xtun10",
            Variant::Xtun10k => "xtun10k",
            Variant::XtunChacha => "xtun-chacha",
            Variant::XtunAes => "xtun-aes",
            Variant::Wireguard => "wireguard",
        }
    }

    /// The interface on `side` (0: xtb1, 1: xtb2).
    fn ifname(self, side: usize) -> &'static str {
        match self {
            Variant::Underlay => ["veth1", "veth2"][side],
            Variant::Xtun => "xt0",
            Variant::Vxlan => "vx0",
            Variant::Forwarder => "fw0",
            Variant::Xtun10 => "xs0",
            Variant::Xtun10k => "xs1",
            Variant::XtunChacha => "xc0",
            Variant::XtunAes => "xa0",
            Variant::Wireguard => "wg0",
        }
    }

    /// The second octet of its subnet 10.N.0.0/24.
    fn subnet(self) -> u8 {
        match self {
            Variant::Underlay => 0,
            Variant::Xtun => 100,
            Variant::Vxlan => 101,
            Variant::Forwarder => 102,
            Variant::Xtun10 => 103,
            Variant::Xtun10k => 104,
            Variant::XtunChacha => 105,
            Variant::XtunAes => 106,
            Variant::Wireguard => 107,
        }
    }

    /// Its UDP port on the underlay (the underlay has none).
    fn port(self) -> u16 {
        match self {
            Variant::Underlay => 0,
            Variant::Xtun => 4789,
            Variant::Vxlan => 4790,
            Variant::Forwarder => 4791,
            Variant::Xtun10 => 4792,
            Variant::Xtun10k => 4793,
            Variant::XtunChacha => 4794,
            Variant::XtunAes => 4795,
            Variant::Wireguard => 4796,
        }
    }

    fn addr(self, side: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet(), 0, side as u8 + 1)
    }

    fn mac(self, side: usize) -> String {
        format!("02:00:00:{:02x}:00:{:02x}", self.subnet(), side + 1)
    }

    /// Down but while measured (see [`measure`]).
    fn parked(self) -> bool {
        matches!(self, Variant::Xtun10 | Variant::Xtun10k)
    }

    fn is_xtun(self) -> bool {
        matches!(self, Variant::Xtun | Variant::Xtun10 | Variant::Xtun10k | Variant::XtunChacha | Variant::XtunAes)
    }

    /// Secure mode's cipher (`xtunctl key add ... cipher`).
    fn cipher(self) -> Option<&'static str> {
        match self {
            Variant::XtunChacha => Some("chacha20-poly1305"),
            Variant::XtunAes => Some("aes-256-gcm"),
            _ => None,
        }
    }

    /// Whether the device keeps the MTU it sets itself rather than
    /// [`MTU`]: the veth's 1500, secure mode's 1426 and WireGuard's 1420.
    /// Each tunnel runs at what its own overhead leaves, as a user would.
    fn own_mtu(self) -> bool {
        matches!(self, Variant::Underlay | Variant::Wireguard) || self.cipher().is_some()
    }

    fn parse(name: &str) -> Option<Variant> {
        VARIANTS.into_iter().find(|v| v.name() == name)
    }
}

/// One figure: `value` in the metric's unit, plus extra numbers.
struct Figure {
    value: f64,
    extra: Vec<(&'static str, f64)>,
}

#[derive(Clone, Copy)]
struct Durations {
    /// ping (its count) and udp.
    seconds: f64,
    /// iperf3 -t: whole seconds.
    tcp_seconds: u32,
}

type Metric = fn(Variant, Durations) -> Result<Figure, String>;
/// (name, run, unit, the variants `all` measures).
const METRICS: &[(&str, Metric, &str, &[Variant])] = &[
    ("ping_rtt_us", ping_rtt, "us", &COMPARED),
    ("tcp_mbit_s", tcp, "Mbit/s", &COMPARED),
    ("udp_pps", udp_pps, "frames/s", &UDP),
];

enum Cmd {
    All { rounds: usize, boot: u32, peers: u32 },
    Setup { peers: u32 },
    One(&'static str, Metric, &'static str, Variant),
}

fn main() {
    let (cmd, durations) = cli::parse(USAGE, parse_args);
    let result = match cmd {
        Cmd::All { rounds, boot, peers } => run_all(rounds, durations, boot, peers),
        Cmd::Setup { peers } => Topology::setup(peers).map(std::mem::forget), // left up, on purpose
        Cmd::One(metric, f, unit, variant) => measure(f, variant, durations).map(|fig| {
            let extra: Vec<String> = fig.extra.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("{metric} {}: {:.1} {unit} ({})", variant.name(), fig.value, extra.join(", "))
        }),
    };
    if let Err(e) = result {
        eprintln!("xtun-tbench: {e}");
        std::process::exit(1);
    }
}

fn parse_args(p: &mut Parser) -> Result<(Cmd, Durations), Error> {
    let (mut seconds, mut tcp_seconds, mut rounds, mut boot, mut peers) = (1.0, 3, 5, 0, 10_000);
    let (mut variant, mut words) = (None, Vec::new());
    while let Some(arg) = p.next()? {
        match arg {
            Long("seconds") => seconds = p.value()?.parse()?,
            Long("tcp-seconds") => tcp_seconds = p.value()?.parse()?,
            Long("rounds") => rounds = p.value()?.parse()?,
            Long("boot") => boot = p.value()?.parse()?,
            Long("peers") => peers = p.value()?.parse()?,
            Long("variant") => variant = Some(p.value()?.parse_with(|v| Variant::parse(v).ok_or(VARIANT_NAMES))?),
            Value(word) if words.is_empty() => words.push(word.string()?),
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    if !(seconds > 0.0 && seconds < 1e6) || tcp_seconds == 0 || peers == 0 {
        return Err("--seconds, --tcp-seconds and --peers must be positive".into());
    }
    let cmd = match words.first().map(String::as_str) {
        Some("all") => Cmd::All { rounds, boot, peers },
        Some("setup") => Cmd::Setup { peers },
        Some(name) => {
            let &(metric, f, unit, _) = METRICS
                .iter()
                .find(|m| m.0.starts_with(name))
                .ok_or_else(|| format!("unknown command {name:?}: want all, setup, ping, tcp or udp"))?;
            Cmd::One(metric, f, unit, variant.ok_or("--variant V is required with one metric")?)
        }
        None => return Err("missing command: all, setup, or one metric".into()),
    };
    Ok((cmd, Durations { seconds, tcp_seconds }))
}

fn run_all(rounds: usize, durations: Durations, boot: u32, peers: u32) -> Result<(), String> {
    let topology = Topology::setup(peers)?;
    for &(metric, f, unit, variants) in METRICS {
        let variants: Vec<Variant> = variants.iter().copied().filter(|v| topology.has(*v)).collect();
        // One unrecorded run each first: the first run of a metric in a
        // boot pays for cold caches, whichever variant it is.
        for &v in &variants {
            measure(f, v, durations).map_err(|e| format!("{metric} warm-up on {}: {e}", v.name()))?;
        }
        for round in 0..rounds {
            for v in order(&variants, round) {
                let fig = measure(f, v, durations).map_err(|e| format!("{metric} on {}: {e}", v.name()))?;
                let extra: String = fig.extra.iter().map(|(k, v)| format!(",\"{k}\":{v:.3}")).collect();
                println!(
                    "{{\"boot\":{boot},\"round\":{round},\"metric\":\"{metric}\",\"unit\":\"{unit}\",\"device\":\"{}\",\"value\":{:.3}{extra}}}",
                    v.name(),
                    fig.value
                );
            }
        }
    }
    drop(topology);
    Ok(())
}

/// The order of round `round`: odd rounds reverse the even round before
/// them (so each two variants meet once in each order), and every two
/// rounds the list rotates by one (so the positions change too).
fn order(variants: &[Variant], round: usize) -> Vec<Variant> {
    let mut v = variants.to_vec();
    if !v.is_empty() {
        let by = (round / 2) % v.len();
        v.rotate_left(by);
    }
    if round % 2 == 1 {
        v.reverse();
    }
    v
}

/// The two namespaces with every variant's devices, the forwarders and the
/// iperf3 server; dropping it stops them and deletes the namespaces and
/// the key files.
struct Topology {
    children: Vec<Child>,
    xtun: bool,
    wireguard: bool,
}

impl Topology {
    fn setup(peers: u32) -> Result<Topology, String> {
        for ns in NS {
            let _ = ip(&["netns", "del", ns]); // a run before this one's
        }
        let xtun = Path::new(XTUNCTL).exists();
        if !xtun {
            // On stdout, which reaches the results port.
            println!("# xtunctl missing ({XTUNCTL}): xtun, xtun10, xtun10k, xtun-chacha and xtun-aes skipped");
        }
        let wireguard = Path::new(WG).exists();
        if !wireguard {
            println!("# wg missing ({WG}): wireguard skipped");
        }
        let mut topology = Topology { children: Vec::new(), xtun, wireguard };
        std::fs::create_dir_all(KEYS).map_err(|e| format!("{KEYS}: {e}"))?;
        if xtun {
            for v in [Variant::XtunChacha, Variant::XtunAes] {
                for (from, to) in [(0, 1), (1, 0)] {
                    let key = run(Command::new(XTUNCTL).arg("genkey"))?.stdout;
                    write_key(&key_file(v, from, to), &key)?;
                }
            }
        }
        let wg_public = if wireguard { [wg_keypair(0)?, wg_keypair(1)?] } else { Default::default() };
        for ns in NS {
            ip(&["netns", "add", ns])?;
            in_netns(ns, || {
                for conf in ["all", "default"] {
                    std::fs::write(format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"), "1").map_err(|e| format!("disable IPv6: {e}"))?;
                }
                Ok(())
            })?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        let u = Variant::Underlay;
        ip(&["link", "add", u.ifname(0), "netns", NS[0], "type", "veth", "peer", "name", u.ifname(1), "netns", NS[1]])?;
        for (side, ns) in NS.into_iter().enumerate() {
            ip(&["-n", ns, "link", "set", u.ifname(side), "address", &u.mac(side)])?;
            address(u, side)?;
        }
        for (side, ns) in NS.into_iter().enumerate() {
            let (local, remote) = (Variant::Underlay.addr(side).to_string(), Variant::Underlay.addr(1 - side).to_string());
            let vx = Variant::Vxlan;
            let port = vx.port().to_string();
            #[rustfmt::skip]
            ip(&["-n", ns, "link", "add", vx.ifname(side), "address", &vx.mac(side), "type", "vxlan", "id", "42",
                "dstport", &port, "local", &local, "remote", &remote, "dev", Variant::Underlay.ifname(side), "nolearning"])?;
            address(vx, side)?;

            let fw = Variant::Forwarder;
            let peer = format!("{remote}:{}", fw.port());
            let args = ["--dev", fw.ifname(side), "--listen-port", &fw.port().to_string(), "--peer", &peer];
            let forwarder = spawn_in(ns, Command::new("/usr/bin/xtun-forward").args(args).stdout(Stdio::null()))?;
            topology.children.push(forwarder);
            wait_for(&format!("{} in {ns}", fw.ifname(side)), || ip(&["-n", ns, "link", "show", fw.ifname(side)]).is_ok())?;
            ip(&["-n", ns, "link", "set", fw.ifname(side), "address", &fw.mac(side)])?;
            address(fw, side)?;

            if xtun {
                for (v, count) in [(Variant::Xtun, 1), (Variant::Xtun10, 10), (Variant::Xtun10k, peers)] {
                    topology.xtun_device(v, side, count)?;
                }
                for v in [Variant::XtunChacha, Variant::XtunAes] {
                    secure_device(v, side)?;
                }
            }
            if wireguard {
                wireguard_device(side, &wg_public[1 - side])?;
            }
        }
        let server = spawn_in(NS[1], Command::new("/usr/bin/iperf3").args(["-s", "-p", &IPERF_PORT.to_string()]).stdout(Stdio::null()))?;
        topology.children.push(server);
        in_netns(NS[1], || wait_for("the iperf3 server", || listening(IPERF_PORT)))?;
        // A broken variant fails here, by name, not in the middle of a run.
        for v in VARIANTS.into_iter().filter(|v| topology.has(*v)) {
            if v == Variant::Wireguard {
                // The first packet waits for the handshake, which under TCG
                // may take longer than an echo's 1 s: one echo to start
                // it, allowed to go unanswered.
                let _ = in_netns(NS[0], || ping::ping(v.addr(1).octets(), None, 1));
            }
            in_netns(NS[0], || ping::ping(v.addr(1).octets(), None, 3)).map_err(|e| format!("{}: ping {}: {e}", v.name(), v.addr(1)))?;
            if v.parked() {
                (0..2).try_for_each(|side| park(v, side))?;
            }
        }
        // Which implementations the secure variants' AEADs got (instantiated
        // by `key add`), for the report's closing note; the host shows it.
        println!("{}", crypto_drivers(&std::fs::read_to_string("/proc/crypto").unwrap_or_default()));
        Ok(topology)
    }

    fn has(&self, v: Variant) -> bool {
        (self.xtun || !v.is_xtun()) && (self.wireguard || v != Variant::Wireguard)
    }

    /// An xtun tunnel device for `v` on `side` with its real peer (the far
    /// side, its MAC behind it) and `peers - 1` more static peers.
    fn xtun_device(&self, v: Variant, side: usize, peers: u32) -> Result<(), String> {
        let (ns, dev) = (NS[side], v.ifname(side));
        let far = format!("{}:{}", Variant::Underlay.addr(1 - side), v.port());
        ip(&["-n", ns, "link", "add", dev, "address", &v.mac(side), "type", "xtun"])?;
        xtunctl(ns, &["set", dev, "listen-port", &v.port().to_string()])?;
        xtunctl(ns, &["peer", "add", dev, "endpoint", &far, "mac", &v.mac(1 - side)])?;
        let start = Instant::now();
        in_netns(ns, || add_dummy_peers(dev, v.port(), peers - 1).map_err(|e| format!("{dev} in {ns}: {e}")))?;
        if peers > 1 {
            eprintln!("xtun-tbench: {} more peers on {dev} in {ns} in {:.1} s", peers - 1, start.elapsed().as_secs_f64());
        }
        address(v, side)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in NS {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = std::fs::remove_dir_all(KEYS);
    }
}

/// The key file of secure variant `v` for the direction from side `from`
/// to side `to`.
fn key_file(v: Variant, from: usize, to: usize) -> String {
    format!("{KEYS}/{}-{from}{to}", v.name())
}

/// Writes a key file readable by its owner only (as `wg` wants them).
fn write_key(path: &str, key: &[u8]) -> Result<(), String> {
    use std::{fs::OpenOptions, io::Write, os::unix::fs::OpenOptionsExt};
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(key))
        .map_err(|e| format!("{path}: {e}"))
}

/// A secure-mode xtun device for `v` (xtun-chacha, xtun-aes) on `side`: as
/// the xtun variant's, in secure mode, its one peer with id [`SECURE_ID`]
/// and a key that seals with this side's direction and opens with the
/// other's. `secure on` sets the MTU (1426).
fn secure_device(v: Variant, side: usize) -> Result<(), String> {
    let (ns, dev) = (NS[side], v.ifname(side));
    let far = format!("{}:{}", Variant::Underlay.addr(1 - side), v.port());
    let cipher = v.cipher().ok_or("not a secure variant")?;
    ip(&["-n", ns, "link", "add", dev, "address", &v.mac(side), "type", "xtun"])?;
    xtunctl(ns, &["set", dev, "listen-port", &v.port().to_string(), "secure", "on"])?;
    xtunctl(ns, &["peer", "add", dev, "endpoint", &far, "id", SECURE_ID, "mac", &v.mac(1 - side)])?;
    let (send, recv) = (key_file(v, side, 1 - side), key_file(v, 1 - side, side));
    #[rustfmt::skip]
    xtunctl(ns, &["key", "add", dev, "peer", SECURE_ID, "key-id", "1", "cipher", cipher, "send-key", &send, "recv-key", &recv])?;
    address(v, side)
}

/// The private key file of WireGuard's side `side`.
fn wg_key_file(side: usize) -> String {
    format!("{KEYS}/wireguard-{side}")
}

/// A private key for side `side` from `wg genkey`, into its file: its
/// public key (`wg pubkey < file`).
fn wg_keypair(side: usize) -> Result<String, String> {
    let (path, private) = (wg_key_file(side), run(Command::new(WG).arg("genkey"))?.stdout);
    write_key(&path, &private)?;
    let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let out = Command::new(WG).arg("pubkey").stdin(file).output().map_err(|e| format!("wg pubkey: {e}"))?;
    if !out.status.success() {
        return Err(format!("wg pubkey: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// WireGuard's wg0 on `side`: the far side (public key `far_public`) its
/// one peer, at the far underlay address, allowed the far overlay address
/// alone. MTU: WireGuard's own 1420.
fn wireguard_device(side: usize, far_public: &str) -> Result<(), String> {
    let v = Variant::Wireguard;
    let (ns, dev, port) = (NS[side], v.ifname(side), v.port().to_string());
    let (far, allowed) = (format!("{}:{port}", Variant::Underlay.addr(1 - side)), format!("{}/32", v.addr(1 - side)));
    ip(&["-n", ns, "link", "add", dev, "type", "wireguard"])?;
    #[rustfmt::skip]
    let args = ["set", dev, "listen-port", &port, "private-key", &wg_key_file(side),
        "peer", far_public, "allowed-ips", &allowed, "endpoint", &far];
    in_netns(ns, || run(Command::new(WG).args(args)).map(drop))?;
    address(v, side)
}

/// One comment line: the drivers /proc/crypto lists for secure mode's two
/// AEADs, highest priority (the one the kernel hands out) first.
fn crypto_drivers(proc_crypto: &str) -> String {
    let entries: Vec<Vec<(&str, &str)>> = proc_crypto
        .split("\n\n")
        .map(|block| block.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim(), v.trim())).collect())
        .collect();
    let field = |e: &[(&str, &str)], key: &str| e.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string()).unwrap_or_default();
    let algs: Vec<String> = ["gcm(aes)", "rfc7539(chacha20,poly1305)"]
        .iter()
        .map(|name| {
            let mut drivers: Vec<(i64, String)> = entries
                .iter()
                .filter(|e| field(e, "name") == *name)
                .map(|e| (field(e, "priority").parse().unwrap_or(0), field(e, "driver")))
                .collect();
            drivers.sort_by_key(|d| std::cmp::Reverse(d.0));
            let list: Vec<String> = drivers.iter().map(|(prio, driver)| format!("{driver} (priority {prio})")).collect();
            format!("{name} {}", if list.is_empty() { "not instantiated".into() } else { list.join(", ") })
        })
        .collect();
    format!("# crypto: {}", algs.join("; "))
}

/// The address and MTU (but where the device's own is kept) of `v` on
/// `side`, then [`up`].
fn address(v: Variant, side: usize) -> Result<(), String> {
    let (ns, dev) = (NS[side], v.ifname(side));
    if !v.own_mtu() {
        ip(&["-n", ns, "link", "set", dev, "mtu", MTU])?;
    }
    ip(&["-n", ns, "addr", "add", &format!("{}/24", v.addr(side)), "dev", dev])?;
    up(v, side)
}

/// Link up, and the far side's permanent neighbour entry (a link going
/// down takes it away; WireGuard has no link layer).
fn up(v: Variant, side: usize) -> Result<(), String> {
    let (ns, dev) = (NS[side], v.ifname(side));
    ip(&["-n", ns, "link", "set", dev, "up"])?;
    if v == Variant::Wireguard {
        return Ok(());
    }
    ip(&["-n", ns, "neigh", "replace", &v.addr(1 - side).to_string(), "lladdr", &v.mac(1 - side), "dev", dev, "nud", "permanent"])
}

/// Runs metric `f` on `v`. The scale variants' devices are up only for
/// their own runs: an xtun device ages its whole table every second while
/// it is up, and that work for 10,000 peers would weigh on the other
/// variants' runs rather than on its own.
fn measure(f: Metric, v: Variant, d: Durations) -> Result<Figure, String> {
    if !v.parked() {
        return f(v, d);
    }
    (0..2).try_for_each(|side| up(v, side))?;
    let figure = f(v, d);
    (0..2).try_for_each(|side| park(v, side))?;
    figure
}

fn park(v: Variant, side: usize) -> Result<(), String> {
    ip(&["-n", NS[side], "link", "set", v.ifname(side), "down"])
}

/// The address of extra peer `i` (1..): in 10.200.0.0/16 and up, which no
/// route reaches.
fn dummy_peer(i: u32) -> Ipv4Addr {
    let k = i - 1;
    Ipv4Addr::new(10, 200 + (k / 62_500) as u8, (k / 250 % 250) as u8, (k % 250 + 1) as u8)
}

/// Adds static peers 1..=`count` ([`dummy_peer`]:`port`) to `dev` in
/// this thread's namespace, as `xtunctl peer add` does, over one socket.
fn add_dummy_peers(dev: &str, port: u16, count: u32) -> Result<(), String> {
    use genl::{dev_message, endpoint_attrs, nest, Cmd, Dev, Genl};
    let name = std::ffi::CString::new(dev).map_err(|e| e.to_string())?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let ifindex = match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => return Err(format!("no such device: {}", io::Error::last_os_error())),
        index => index,
    };
    let genl = Genl::connect().map_err(|e| e.to_string())?;
    for i in 1..=count {
        let endpoint = SocketAddrV4::new(dummy_peer(i), port);
        let attrs = vec![nest(Dev::Peer, &endpoint_attrs(endpoint))];
        genl.call(dev_message(Cmd::PeerNew, ifindex, attrs)).map_err(|e| format!("peer add {endpoint}: {e}"))?;
    }
    Ok(())
}

fn xtunctl(ns: &str, args: &[&str]) -> Result<(), String> {
    in_netns(ns, || run(Command::new(XTUNCTL).args(args)).map(drop))
}

/// Runs `cmd` to its end; its stderr in the error if it fails.
fn run(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(out)
}

/// Runs `f` on a thread of its own inside namespace `ns`: its sockets and
/// the processes it starts live there.
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> Result<T, String> + Send) -> Result<T, String> {
    thread::scope(|s| s.spawn(|| enter_netns(ns).and_then(|()| f())).join().map_err(|_| "a thread panicked".to_string())?)
}

/// Starts `cmd` in namespace `ns`, its stdin closed.
fn spawn_in(ns: &str, cmd: &mut Command) -> Result<Child, String> {
    in_netns(ns, || cmd.stdin(Stdio::null()).spawn().map_err(|e| format!("{cmd:?}: {e}")))
}

/// Waits up to 30 s (TCG is slow) for `ready`.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!("{what}: not ready after 30 s"));
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Whether a TCP socket of this thread's namespace listens on `port`.
fn listening(port: u16) -> bool {
    let port = format!(":{port:04X}");
    ["tcp", "tcp6"].iter().any(|file| {
        let text = std::fs::read_to_string(format!("/proc/thread-self/net/{file}")).unwrap_or_default();
        text.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[1].ends_with(&port) && fields[3] == "0A"
        })
    })
}

/// Echo requests from xtb1 to the far side of `v`, one after the other,
/// for S seconds (at least 20, at most 1000): the median RTT in us
/// (average, min and p99 too). The median, not the average: on a busy TCG
/// host one stall of 50 ms among 500 echoes moves the average by 100 us.
fn ping_rtt(v: Variant, d: Durations) -> Result<Figure, String> {
    let within = Duration::from_secs_f64(d.seconds);
    let mut rtts = in_netns(NS[0], || ping::ping_within(v.addr(1).octets(), None, 20, 1000, within))?;
    let (avg, min, p99) = ping::summary(&mut rtts); // sorts
    let median = rtts[rtts.len() / 2];
    Ok(Figure { value: median, extra: vec![("avg", avg), ("min", min), ("p99", p99), ("count", rtts.len() as f64)] })
}

/// iperf3 from xtb1 to the server in xtb2 through `v`: the receiver's
/// Mbit/s; the sender's retransmissions too.
fn tcp(v: Variant, d: Durations) -> Result<Figure, String> {
    let (addr, secs, port) = (v.addr(1).to_string(), d.tcp_seconds.to_string(), IPERF_PORT.to_string());
    let out = in_netns(NS[0], || run(Command::new("/usr/bin/iperf3").args(["-c", &addr, "-p", &port, "-t", &secs, "-f", "m"])))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (mbit, retr) = parse_iperf(&text).ok_or_else(|| format!("no receiver bitrate in iperf3's output:\n{text}"))?;
    Ok(Figure { value: mbit, extra: retr.map(|r| ("retransmits", r)).into_iter().collect() })
}

/// (the receiver's Mbit/s, the sender's retransmissions) from the summary
/// of `iperf3 -c ... -f m`.
fn parse_iperf(text: &str) -> Option<(f64, Option<f64>)> {
    let after_rate = |role: &str, offset: isize| {
        let line = text.lines().rev().find(|l| l.trim_end().ends_with(role))?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "Mbits/sec")? as isize + offset;
        words.get(usize::try_from(at).ok()?)?.parse::<f64>().ok()
    };
    Some((after_rate("receiver", -1)?, after_rate("sender", 1)))
}

/// One socket in xtb1 sends 18-byte datagrams through `v` as fast as it
/// can, to a socket in xtb2. Frames per second that come out of the far
/// side's device (its rx_packets: for a tunnel, frames decapsulated),
/// whether or not the receiving socket keeps up with them; the datagrams
/// sent and those the socket received too.
fn udp_pps(v: Variant, d: Durations) -> Result<Figure, String> {
    let duration = Duration::from_secs_f64(d.seconds);
    let (to, dev) = (SocketAddrV4::new(v.addr(1), UDP_PORT), v.ifname(1));
    let receiver = in_netns(NS[1], || UdpSocket::bind(to).map_err(|e| format!("bind {to}: {e}")))?;
    receiver.set_read_timeout(Some(Duration::from_millis(200))).map_err(|e| e.to_string())?;
    let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let rx_before = in_netns(NS[1], || rx_packets(dev))?;
    let start = Instant::now();
    let sender = {
        let (stop, sent) = (stop.clone(), sent.clone());
        thread::spawn(move || -> Result<(), String> {
            enter_netns(NS[0])?;
            let sock = UdpSocket::bind(SocketAddrV4::new(v.addr(0), 0)).map_err(|e| format!("bind sender: {e}"))?;
            sock.connect(to).map_err(|e| format!("connect sender: {e}"))?;
            let payload = [0x42u8; 18];
            while !stop.load(Ordering::Relaxed) {
                if sock.send(&payload).is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(())
        })
    };
    let mut buf = [0u8; 64];
    let mut received = 0u64;
    while start.elapsed() < duration {
        if receiver.recv(&mut buf).is_ok() {
            received += 1;
        }
    }
    let rx = in_netns(NS[1], || rx_packets(dev))? - rx_before;
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sender.join().map_err(|_| "sender panicked")??;
    let extra = vec![("sent", sent.load(Ordering::Relaxed) as f64), ("received", received as f64)];
    Ok(Figure { value: rx as f64 / secs, extra })
}

/// The rx_packets counter of `dev` in this thread's namespace, from
/// /proc/thread-self/net/dev (the guest's /sys shows the initial
/// namespace only).
fn rx_packets(dev: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/thread-self/net/dev").map_err(|e| format!("/proc/thread-self/net/dev: {e}"))?;
    rx_packets_in(&text, dev).ok_or_else(|| format!("no {dev} in /proc/net/dev"))
}

fn rx_packets_in(text: &str, dev: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, counters) = line.split_once(':')?;
        // Receive: bytes, packets, ...
        (name.trim() == dev).then(|| counters.split_whitespace().nth(1)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_meet_each_pair_in_both_orders() {
        let v = &COMPARED;
        assert_eq!(order(v, 0), v);
        let mut reversed = v.to_vec();
        reversed.reverse();
        assert_eq!(order(v, 1), reversed);
        assert_eq!(order(v, 2)[0], Variant::Xtun, "rotated by one after two rounds");
        let before = |o: &[Variant], a, b| o.iter().position(|x| *x == a) < o.iter().position(|x| *x == b);
        for round in (0..8).step_by(2) {
            let (even, odd) = (order(v, round), order(v, round + 1));
            assert_ne!(before(&even, Variant::Xtun, Variant::Vxlan), before(&odd, Variant::Xtun, Variant::Vxlan));
        }
        assert!(order(&[], 3).is_empty());
    }

    #[test]
    fn iperf_summary_gives_receiver_rate_and_retransmits() {
        let text = "\
[ ID] Interval           Transfer     Bitrate         Retr
[  5]   0.00-3.00   sec   102 MBytes   285 Mbits/sec   17             sender
[  5]   0.00-3.04   sec   101 MBytes   279.5 Mbits/sec                  receiver

iperf Done.
";
        assert_eq!(parse_iperf(text), Some((279.5, Some(17.0))));
        assert_eq!(parse_iperf("iperf3: error - unable to connect to server"), None);
    }

    #[test]
    fn rx_packets_come_from_proc_net_dev() {
        let text = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
   xs1: 1234567   89012    0    3    0     0          0         0     5000      60    0    0    0     0       0          0
";
        assert_eq!(rx_packets_in(text, "xs1"), Some(89012));
        assert_eq!(rx_packets_in(text, "lo"), Some(0));
        assert_eq!(rx_packets_in(text, "xs"), None);
    }

    #[test]
    fn dummy_peers_are_distinct_and_unrouted() {
        let all: std::collections::HashSet<Ipv4Addr> = (1..20_000).map(dummy_peer).collect();
        assert_eq!(all.len(), 19_999);
        assert!(all.iter().all(|a| a.octets()[0] == 10 && a.octets()[1] >= 200 && a.octets()[3] != 0));
    }

    #[test]
    fn variants_have_distinct_subnets_ports_and_names() {
        for (i, a) in VARIANTS.iter().enumerate() {
            assert_eq!(Variant::parse(a.name()), Some(*a));
            for b in &VARIANTS[i + 1..] {
                assert!(a.subnet() != b.subnet() && a.port() != b.port() && a.ifname(0) != b.ifname(0));
            }
        }
        assert_eq!(Variant::Xtun.mac(1), "02:00:00:64:00:02");
        assert_eq!(Variant::Vxlan.addr(0), Ipv4Addr::new(10, 101, 0, 1));
        assert_eq!(Variant::parse("xtun-chacha"), Some(Variant::XtunChacha));
        assert_eq!(Variant::XtunAes.cipher(), Some("aes-256-gcm"));
        assert!(Variant::XtunChacha.is_xtun() && !Variant::Wireguard.is_xtun());
    }

    #[test]
    fn secure_and_wireguard_keep_their_own_mtu() {
        let own: Vec<&str> = VARIANTS.iter().filter(|v| v.own_mtu()).map(|v| v.name()).collect();
        assert_eq!(own, ["underlay", "xtun-chacha", "xtun-aes", "wireguard"]);
    }

    #[test]
    fn each_direction_has_its_own_key_file() {
        let v = Variant::XtunChacha;
        assert_eq!(key_file(v, 0, 1), "/tmp/xtb-keys/xtun-chacha-01");
        assert_ne!(key_file(v, 0, 1), key_file(v, 1, 0));
        assert_ne!(key_file(v, 0, 1), key_file(Variant::XtunAes, 0, 1));
    }

    #[test]
    fn crypto_line_names_the_drivers_best_first() {
        let text = "\
name         : gcm(aes)
driver       : gcm_base(ctr(aes-generic),ghash-generic)
module       : kernel
priority     : 100
type         : aead

name         : gcm(aes)
driver       : generic-gcm-aesni
priority     : 400
type         : aead

name         : chacha20
driver       : chacha20-generic
priority     : 100
";
        assert_eq!(
            crypto_drivers(text),
            "# crypto: gcm(aes) generic-gcm-aesni (priority 400), gcm_base(ctr(aes-generic),ghash-generic) (priority 100); \
             rfc7539(chacha20,poly1305) not instantiated"
        );
    }
}
