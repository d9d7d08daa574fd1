//! Side-by-side benchmark of xtun and the kernel's own tap (IFF_TAP |
//! IFF_NO_PI): the same code measures both, the device is a parameter.
//!
//! `all` runs every metric as interleaved pairs (xtun, tap, tap, xtun, ...:
//! the order alternates so that neither device always goes first) and prints
//! one JSON object per measurement, for `cargo xtask bench`. Each metric
//! starts with one unrecorded warm-up run per device.
//! Each device gets the same setup: 10.99.0.1/24 on its interface, the peer
//! 10.99.0.2 at 02:00:00:99:00:02, IPv6 off.

use std::{
    io::{self, BufRead},
    net::{Ipv4Addr, UdpSocket},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use xtun_guest::{cli, cli::*, ip, mac_of, ping, ping::ping, reply::answer, stat_of, udp_frame, Xtun, DEVICE, TUN_DEVICE};

const USAGE: &str = "\
usage: xtun-bench all [--pairs N] [--seconds S] [--boot B]
       xtun-bench read-pps|mq-read-pps|write-pps|napi-write-pps|ping-rtt|tcp --dev xtun|tap [--seconds S]

all: every metric on both devices in N interleaved pairs (default 5), one
JSON object per measurement, tagged with boot number B (default 0).
One metric: one run on one device, printed as text. Each run lasts S
seconds (default 1).
";

const PEER_MAC: [u8; 6] = [2, 0, 0, 0x99, 0, 2];
const PEER: [u8; 4] = [10, 99, 0, 2];
const LOCAL: [u8; 4] = [10, 99, 0, 1];
const TAP_NAME: &str = "xtap0";
/// mq_read_pps: queues (one file and one reader each), sender threads, and
/// the destination ports each sender cycles over (many flows, so the flow
/// hash spreads them over the queues).
const MQ_QUEUES: usize = 2;
const MQ_SENDERS: usize = 2;
const MQ_PORTS: std::ops::Range<u16> = 9000..9064;
/// mq_read_pps's JSON fields for the frames each queue read.
const MQ_QUEUE_KEYS: [&str; MQ_QUEUES] = ["queue0", "queue1"];

#[derive(Clone, Copy, PartialEq)]
enum Dev {
    Xtun,
    Tap,
}

impl Dev {
    fn name(self) -> &'static str {
        match self {
            Dev::Xtun => "xtun",
            Dev::Tap => "tap",
        }
    }
    fn ifname(self) -> &'static str {
        match self {
            Dev::Xtun => "xtun",
            Dev::Tap => TAP_NAME,
        }
    }
    /// The multiqueue device mq_read_pps makes: character device, interface.
    fn mq(self) -> (&'static str, &'static str) {
        match self {
            Dev::Xtun => (DEVICE, "xbmq0"),
            Dev::Tap => (TUN_DEVICE, "xtapmq0"),
        }
    }
    /// The IFF_NAPI device napi_write_pps makes: character device, interface.
    fn napi(self) -> (&'static str, &'static str) {
        match self {
            Dev::Xtun => (DEVICE, "xbnapi0"),
            Dev::Tap => (TUN_DEVICE, "xtapnapi0"),
        }
    }
    fn spec(self) -> String {
        match self {
            Dev::Xtun => "xtun".into(),
            Dev::Tap => format!("tap:{TAP_NAME}"),
        }
    }
    fn parse(spec: &str) -> Option<Dev> {
        match spec {
            "xtun" => Some(Dev::Xtun),
            s if s.starts_with("tap") => Some(Dev::Tap),
            _ => None,
        }
    }
}

/// One figure: `value` in the metric's unit, plus extra numbers.
struct Figure {
    value: f64,
    extra: Vec<(&'static str, f64)>,
}

type Metric = fn(Dev, Duration) -> Result<Figure, String>;
const METRICS: &[(&str, Metric, &str)] = &[
    ("read_pps", read_pps, "frames/s"),
    ("mq_read_pps", mq_read_pps, "frames/s"),
    ("write_pps", write_pps, "frames/s"),
    ("napi_write_pps", napi_write_pps, "frames/s"),
    ("ping_rtt_us", ping_rtt, "us"),
    ("tcp_mbps", tcp, "MB/s"),
];

enum Cmd {
    All { pairs: usize, boot: u32 },
    One(&'static str, Metric, &'static str, Dev),
}

fn main() {
    let (cmd, duration) = cli::parse(USAGE, parse_args);
    let result = match cmd {
        Cmd::All { pairs, boot } => run_all(pairs, duration, boot),
        Cmd::One(metric, f, unit, dev) => f(dev, duration).map(|fig| {
            let extra: Vec<String> = fig.extra.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("{metric} {}: {:.1} {unit} ({})", dev.name(), fig.value, extra.join(", "))
        }),
    };
    if let Err(e) = result {
        eprintln!("xtun-bench: {e}");
        std::process::exit(1);
    }
}

fn parse_args(p: &mut Parser) -> Result<(Cmd, Duration), Error> {
    let (mut seconds, mut pairs, mut boot, mut dev, mut words) = (1.0, 5, 0, None, Vec::new());
    while let Some(arg) = p.next()? {
        match arg {
            Long("seconds") => seconds = p.value()?.parse()?,
            Long("pairs") => pairs = p.value()?.parse()?,
            Long("boot") => boot = p.value()?.parse()?,
            Long("dev") => dev = Some(p.value()?.parse_with(|d| Dev::parse(d).ok_or("want xtun or tap"))?),
            Value(word) if words.is_empty() => words.push(word.string()?),
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    if !(seconds > 0.0 && seconds < 1e6) {
        return Err(format!("--seconds {seconds}: want a positive number").into());
    }
    let cmd = match words.first().map(String::as_str) {
        Some("all") => Cmd::All { pairs, boot },
        Some(name) => {
            let &(metric, f, unit) = METRICS
                .iter()
                .find(|m| m.0.starts_with(&name.replace('-', "_")))
                .ok_or_else(|| format!("unknown metric {name:?}: want read-pps, mq-read-pps, write-pps, napi-write-pps, ping-rtt or tcp"))?;
            Cmd::One(metric, f, unit, dev.ok_or("--dev xtun|tap is required with one metric")?)
        }
        None => return Err("missing command: all, or one metric".into()),
    };
    Ok((cmd, Duration::from_secs_f64(seconds)))
}

fn run_all(pairs: usize, duration: Duration, boot: u32) -> Result<(), String> {
    for (metric, f, unit) in METRICS {
        // One unrecorded run per device first: the first run of a metric in
        // a boot pays for cold caches (measured: TCP 10-16 MB/s against
        // 18-23 after), whichever device it is.
        for dev in [Dev::Xtun, Dev::Tap] {
            f(dev, duration).map_err(|e| format!("{metric} warm-up on {}: {e}", dev.name()))?;
        }
        for pair in 0..pairs {
            // A B B A ...: neither device always runs first (or last).
            let order = if pair % 2 == 0 { [Dev::Xtun, Dev::Tap] } else { [Dev::Tap, Dev::Xtun] };
            for dev in order {
                let fig = f(dev, duration).map_err(|e| format!("{metric} on {}: {e}", dev.name()))?;
                let extra: String = fig.extra.iter().map(|(k, v)| format!(",\"{k}\":{v:.3}")).collect();
                println!(
                    "{{\"boot\":{boot},\"pair\":{pair},\"metric\":\"{metric}\",\"unit\":\"{unit}\",\"device\":\"{}\",\"value\":{:.3}{extra}}}",
                    dev.name(),
                    fig.value
                );
            }
        }
    }
    Ok(())
}

/// Opens `dev` and gives its interface the common test setup.
fn open(dev: Dev, nonblock: bool) -> Result<Xtun, String> {
    let file = match dev {
        Dev::Xtun if nonblock => Xtun::open_nonblocking(),
        Dev::Xtun => Xtun::open(),
        Dev::Tap => Xtun::open_tap(TAP_NAME, nonblock),
    }
    .map_err(|e| format!("open {}: {e}", dev.name()))?;
    configure(dev.ifname())?;
    Ok(file)
}

fn configure(ifname: &str) -> Result<(), String> {
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"), "1");
    ip(&["addr", "flush", "dev", ifname])?;
    ip(&["addr", "add", "10.99.0.1/24", "dev", ifname])?;
    ip(&["link", "set", ifname, "up"])?;
    ip(&["neigh", "replace", "10.99.0.2", "lladdr", "02:00:00:99:00:02", "dev", ifname, "nud", "permanent"])
}

/// Undoes `configure` for xtun (a tap vanishes when its fd closes).
fn release(dev: Dev) {
    if dev == Dev::Xtun {
        let _ = ip(&["addr", "flush", "dev", "xtun"]);
        let _ = ip(&["link", "set", "xtun", "down"]);
    }
}

/// The kernel sends small UDP datagrams out of the device as fast as it
/// can; a reader drains the character device. Frames read per second.
fn read_pps(dev: Dev, duration: Duration) -> Result<Figure, String> {
    let mut file = open(dev, true)?;
    let dropped = stat_of(dev.ifname(), "tx_dropped");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let (stop, sent) = (stop.clone(), sent.clone());
        thread::spawn(move || {
            let sock = UdpSocket::bind("10.99.0.1:0").expect("bind sender");
            sock.connect("10.99.0.2:9").expect("connect sender");
            let payload = [0x42u8; 18];
            while !stop.load(Ordering::Relaxed) {
                if sock.send(&payload).is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let mut buf = [0u8; 2048];
    let (mut frames, start) = (0u64, Instant::now());
    while start.elapsed() < duration {
        match file.read_frame(&mut buf) {
            Ok(_) => frames += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let _ = file.poll(libc::POLLIN, Duration::from_millis(10));
            }
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sender.join().map_err(|_| "sender panicked")?;
    let dropped = stat_of(dev.ifname(), "tx_dropped") - dropped;
    drop(file);
    release(dev);
    Ok(Figure {
        value: frames as f64 / secs,
        extra: vec![("dropped", dropped as f64), ("sent", sent.load(Ordering::Relaxed) as f64)],
    })
}

/// read_pps on one device with two queues (IFF_MULTI_QUEUE, one file
/// each) and a reader per queue; two senders each cycle over 64 destination
/// ports so that the stack's flow hash gives both queues frames. Frames
/// read per second over both readers; the JSON has each queue's count.
fn mq_read_pps(dev: Dev, duration: Duration) -> Result<Figure, String> {
    let (path, ifname) = dev.mq();
    let queues: Vec<Xtun> = (0..MQ_QUEUES)
        .map(|q| {
            Xtun::open_queue(path, ifname, true).map_err(|e| match e.raw_os_error() {
                Some(libc::EINVAL) if dev == Dev::Xtun => {
                    format!("TUNSETIFF IFF_MULTI_QUEUE on {path}: {e} (this xtun has no multiqueue support)")
                }
                _ => format!("open {} queue {q}: {e}", dev.name()),
            })
        })
        .collect::<Result<_, _>>()?;
    configure(ifname)?;
    let dropped = stat_of(ifname, "tx_dropped");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let readers: Vec<_> = queues
        .into_iter()
        .map(|mut file| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 2048];
                let mut frames = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    match file.read_frame(&mut buf) {
                        Ok(_) => frames += 1,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            let _ = file.poll(libc::POLLIN, Duration::from_millis(10));
                        }
                        Err(e) => return Err(format!("read: {e}")),
                    }
                }
                Ok((frames, file))
            })
        })
        .collect();
    let senders: Vec<_> = (0..MQ_SENDERS)
        .map(|_| {
            let (stop, sent) = (stop.clone(), sent.clone());
            thread::spawn(move || {
                // Unconnected, so that each datagram may name another port.
                let sock = UdpSocket::bind("10.99.0.1:0").expect("bind sender");
                let payload = [0x42u8; 18];
                for port in MQ_PORTS.cycle() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if sock.send_to(&payload, (Ipv4Addr::from(PEER), port)).is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    for sender in senders {
        sender.join().map_err(|_| "sender panicked")?;
    }
    let mut extra = Vec::new();
    let mut files = Vec::new();
    for (reader, key) in readers.into_iter().zip(MQ_QUEUE_KEYS) {
        let (frames, file) = reader.join().map_err(|_| "reader panicked")??;
        extra.push((key, frames as f64));
        files.push(file);
    }
    let dropped = stat_of(ifname, "tx_dropped") - dropped;
    drop(files); // the device goes with its last queue
    let total: f64 = extra.iter().map(|(_, n)| n).sum();
    extra.extend([("dropped", dropped as f64), ("sent", sent.load(Ordering::Relaxed) as f64)]);
    Ok(Figure { value: total / secs, extra })
}

/// A writer injects valid UDP frames for a local socket. Datagrams the
/// socket receives per second.
fn write_pps(dev: Dev, duration: Duration) -> Result<Figure, String> {
    let file = open(dev, false)?;
    let figure = write_flood(file, dev.ifname(), duration);
    release(dev);
    figure
}

/// write_pps on a device made with IFF_NAPI (its own, `Dev::napi`): the
/// written frames go to GRO through the device's NAPI context.
fn napi_write_pps(dev: Dev, duration: Duration) -> Result<Figure, String> {
    let (path, ifname) = dev.napi();
    let file = Xtun::open_napi(path, ifname, false).map_err(|e| match e.raw_os_error() {
        Some(libc::EINVAL) if dev == Dev::Xtun => format!("TUNSETIFF IFF_NAPI on {path}: {e} (this xtun has no IFF_NAPI support)"),
        _ => format!("open {} with IFF_NAPI: {e}", dev.name()),
    })?;
    configure(ifname)?;
    write_flood(file, ifname, duration) // the device goes with its file
}

/// write_pps's measurement on `file`, attached to the configured `ifname`;
/// consumes the file so the device is closed before this returns.
fn write_flood(mut file: Xtun, ifname: &str, duration: Duration) -> Result<Figure, String> {
    let sock = UdpSocket::bind("10.99.0.1:5555").map_err(|e| format!("bind: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_millis(200))).map_err(|e| e.to_string())?;
    let mac = mac_of(ifname).map_err(|e| e.to_string())?;
    let dropped = stat_of(ifname, "rx_dropped");
    let frame = udp_frame(PEER_MAC, mac, PEER, LOCAL, 5555, &[0x17; 18]);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut written = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if file.write_frame(&frame).is_ok() {
                    written += 1;
                }
            }
            (written, file)
        })
    };
    let mut buf = [0u8; 64];
    let (mut delivered, start) = (0u64, Instant::now());
    while start.elapsed() < duration {
        if sock.recv(&mut buf).is_ok() {
            delivered += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (written, file) = writer.join().map_err(|_| "writer panicked")?;
    // Frames the device dropped (xtun's NAPI backlog holds at most 1000).
    let dropped = stat_of(ifname, "rx_dropped") - dropped;
    drop(file);
    Ok(Figure { value: delivered as f64 / secs, extra: vec![("written", written as f64), ("dropped", dropped as f64)] })
}

/// ICMP echo through a responder on the device: RTT min/avg/p99 in us
/// (value = avg).
fn ping_rtt(dev: Dev, duration: Duration) -> Result<Figure, String> {
    let file = open(dev, true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let responder = {
        let stop = stop.clone();
        let mut file = file;
        thread::spawn(move || {
            let mut buf = vec![0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                match file.read_frame(&mut buf) {
                    Ok(n) => {
                        if let Some(reply) = answer(&buf[..n], PEER, PEER_MAC) {
                            let _ = file.write_frame(&reply);
                        }
                    }
                    Err(_) => {
                        let _ = file.poll(libc::POLLIN, Duration::from_millis(10));
                    }
                }
            }
            file
        })
    };
    let count = ((duration.as_secs_f64() / 0.002) as usize).clamp(20, 1000);
    let rtts = ping(PEER, Some(dev.ifname()), count);
    stop.store(true, Ordering::Relaxed);
    let file = responder.join().map_err(|_| "responder panicked")?;
    drop(file);
    release(dev);
    let mut rtts = rtts?;
    let (avg, min, p99) = ping::summary(&mut rtts);
    Ok(Figure { value: avg, extra: vec![("min", min), ("p99", p99), ("count", rtts.len() as f64)] })
}

/// TCP through the userspace stack (xtun-stack serve) on the device: the
/// guest kernel's wget fetches 4 MiB. MB/s.
fn tcp(dev: Dev, duration: Duration) -> Result<Figure, String> {
    let size: usize = if duration < Duration::from_millis(500) { 256 * 1024 } else { 4 * 1024 * 1024 };
    if dev == Dev::Xtun {
        configure(dev.ifname())?; // the tap, below, exists only once it is opened
    }
    let mut server = Server(
        Command::new("/usr/bin/xtun-stack")
            .args(["serve", "8080", "--dev", &dev.spec()])
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("xtun-stack: {e}"))?,
    );
    // It has the device open (the tap exists from then on) and accepts
    // connections once it says so; the rest of its stderr is drained.
    let mut stderr = io::BufReader::new(server.0.stderr.take().expect("stderr is piped"));
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        if stderr.read_line(&mut line).map_err(|e| format!("xtun-stack stderr: {e}"))? == 0 {
            return Err("xtun-stack exited before it was listening".into());
        }
    }
    thread::spawn(move || io::copy(&mut stderr, &mut io::sink()));
    if dev == Dev::Tap {
        configure(dev.ifname())?;
    }
    // The stack answers ARP itself.
    let _ = ip(&["neigh", "del", "10.99.0.2", "dev", dev.ifname()]);
    let url = format!("http://10.99.0.2:8080/{size}");
    let start = Instant::now();
    let out = Command::new("/bin/busybox")
        .args(["wget", "-q", "-O", "/dev/null", &url])
        .output()
        .map_err(|e| format!("wget: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    server.stop();
    release(dev);
    if !out.status.success() {
        return Err(format!("wget failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(Figure { value: size as f64 / secs / 1e6, extra: vec![("bytes", size as f64)] })
}

struct Server(Child);
impl Server {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
