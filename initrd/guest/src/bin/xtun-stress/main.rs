//! Concurrency stress of /dev/xtun, deterministic by seed, in two phases.
//!
//! Single queue (the device `xtun`, two thirds of `--duration`): threads at
//! once: writes of random lengths 0..70000 (random bytes and valid
//! Ethernet/IPv4/UDP), reads with random buffer sizes (0 and 1 included),
//! bad pointers, O_NONBLOCK toggling, poll waits, a second open (must be
//! EBUSY), close/reopen cycles, link up/down, MTU changes, and the kernel
//! flooding the device (AF_PACKET and UDP). Every errno must be one the
//! driver documents. Afterwards the counters must add up: every write is
//! either delivered or counted in rx_dropped, and tx_packets grew by exactly
//! the frames read.
//!
//! Multiqueue (the last third): see multiqueue.rs; `--path /dev/net/tun`
//! runs it on the kernel's tun, whose behaviour it expects.
//!
//! The seed is printed first; pass it back with --seed to replay a run.

mod multiqueue;

use std::{
    net::UdpSocket,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
        Arc, Mutex, RwLock,
    },
    thread,
    time::Duration,
};

use xtun_guest::{cli, cli::*, ip, mac_of, packet::PacketSocket, stat, udp_frame, Xtun, DEVICE, IFNAME};

const USAGE: &str = "\
usage: xtun-stress [--duration SECS] [--seed N] [--phase all|single|multi] [--path PATH]

Stresses /dev/xtun from many threads for SECS seconds (default 60), then
checks that every errno was a documented one and that the counters add
up. The seed (default: from the clock) is printed first; pass it back
with --seed to replay a run.

  --phase PHASE   single: the device xtun; multi: two multiqueue IFF_NAPI
                  taps made with TUNSETIFF; all (default): both, the
                  single-queue phase taking two thirds of SECS
  --path PATH     the character device of the multiqueue phase (default
                  /dev/xtun; the kernel's tun is /dev/net/tun)
";

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    All,
    Single,
    Multi,
}

/// xorshift64*: small, fast, and the same sequence for the same seed.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Counts {
    writes: AtomicU64,
    reads_with_frame: AtomicU64,
    unexpected: Mutex<Vec<String>>,
}

struct Shared {
    dev: RwLock<Option<Xtun>>,
    stop: AtomicBool,
    counts: Counts,
}

impl Shared {
    fn unexpected(&self, what: String) {
        let mut list = self.counts.unexpected.lock().unwrap();
        if list.len() < 20 {
            eprintln!("xtun-stress: UNEXPECTED {what}");
            list.push(what);
        }
    }
}

fn main() {
    let (duration, seed, phase, path) = cli::parse(USAGE, |p| {
        let (mut secs, mut seed, mut phase, mut path) = (60, None, Phase::All, DEVICE.to_string());
        while let Some(arg) = p.next()? {
            match arg {
                Long("duration") => secs = p.value()?.parse()?,
                Long("seed") => seed = Some(p.value()?.parse()?),
                Long("phase") => {
                    phase = match p.value()?.string()?.as_str() {
                        "all" => Phase::All,
                        "single" => Phase::Single,
                        "multi" => Phase::Multi,
                        other => return Err(format!("--phase {other}: want all, single or multi").into()),
                    }
                }
                Long("path") => path = p.value()?.string()?,
                Short('h') | Long("help") => cli::help(USAGE),
                _ => return Err(arg.unexpected()),
            }
        }
        Ok((Duration::from_secs(secs), seed, phase, path))
    });
    let seed: u64 = seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    println!("xtun-stress: seed {seed}, duration {}s (replay: xtun-stress --seed {seed})", duration.as_secs());
    // One time budget for both phases, so that the test takes no longer.
    let (single, multi) = match phase {
        Phase::All => (duration - duration / 3, duration / 3),
        Phase::Single => (duration, Duration::ZERO),
        Phase::Multi => (Duration::ZERO, duration),
    };
    let mut failures = Vec::new();
    if phase != Phase::Multi {
        failures.extend(single_queue(single, seed));
    }
    if phase != Phase::Single {
        failures.extend(multiqueue::run(&path, multi, seed));
    }
    if failures.is_empty() {
        println!("xtun-stress: ok (seed {seed})");
    } else {
        println!("xtun-stress: FAILED (seed {seed}): {}", failures.join("; "));
        std::process::exit(1);
    }
}

/// The single-queue phase on the device `xtun`; returns what went wrong.
fn single_queue(duration: Duration, seed: u64) -> Vec<String> {
    println!("xtun-stress: single queue: {IFNAME}, {}s", duration.as_secs());
    let _ = ip(&["link", "set", IFNAME, "up"]);
    let _ = ip(&["neigh", "replace", "10.99.0.2", "lladdr", "02:00:00:99:00:02", "dev", IFNAME, "nud", "permanent"]);
    // A tap on xtun for the whole run: frames of unknown protocol reach it
    // instead of being counted as core rx_dropped on top of rx_packets.
    let _tap = PacketSocket::bind(IFNAME).expect("AF_PACKET socket on xtun");
    let before = ["rx_packets", "rx_dropped", "tx_packets"].map(stat);
    let shared = Arc::new(Shared {
        dev: RwLock::new(Some(Xtun::open().expect("open /dev/xtun"))),
        stop: AtomicBool::new(false),
        counts: Counts::default(),
    });
    type Worker = fn(&Shared, &mut Rng);
    let workers: &[(&str, Worker)] = &[
        ("writer", writer),
        ("writer", writer),
        ("reader", reader),
        ("reader", reader),
        ("poller", poller),
        ("second-open", second_open),
        ("reopen", reopen),
        ("link", link_flapper),
        ("flood", flood),
    ];
    let threads: Vec<_> = workers
        .iter()
        .enumerate()
        .map(|(i, (name, work))| {
            let (shared, work) = (shared.clone(), *work);
            let mut rng = Rng::new(seed ^ (i as u64 + 1) << 32);
            thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    while !shared.stop.load(Relaxed) {
                        work(&shared, &mut rng);
                    }
                })
                .expect("spawn")
        })
        .collect();
    thread::sleep(duration);
    shared.stop.store(true, Relaxed);
    // A reader blocked in read() sleeps through link down (as tun): send
    // frames until every thread has seen the stop.
    let _ = ip(&["link", "set", IFNAME, "mtu", "1500"]);
    let _ = ip(&["link", "set", IFNAME, "up"]);
    let wake = udp_frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0x99, 0, 2], [10, 99, 0, 1], [10, 99, 0, 2], 9, &[8; 16]);
    while threads.iter().any(|t| !t.is_finished()) {
        let _ = _tap.send(&wake);
        thread::sleep(Duration::from_millis(10));
    }
    for t in threads {
        t.join().expect("a stress thread panicked");
    }
    // Frames still queued are dropped (and counted) when the file closes.
    drop(shared.dev.write().unwrap().take());
    let after = ["rx_packets", "rx_dropped", "tx_packets"].map(stat);
    let writes = shared.counts.writes.load(Relaxed);
    let reads = shared.counts.reads_with_frame.load(Relaxed);
    let (rx, rx_dropped, tx) = (after[0] - before[0], after[1] - before[1], after[2] - before[2]);
    println!("xtun-stress: {writes} writes -> rx_packets +{rx}, rx_dropped +{rx_dropped}; {reads} frames read -> tx_packets +{tx}");
    let mut failures = shared.counts.unexpected.lock().unwrap().clone();
    if rx + rx_dropped != writes {
        failures.push(format!("writes {writes} != rx_packets +{rx} + rx_dropped +{rx_dropped}"));
    }
    if tx != reads {
        failures.push(format!("frames read {reads} != tx_packets +{tx}"));
    }
    failures
}

/// Runs `f` on the shared device, if it is open right now.
fn with_dev(shared: &Shared, f: impl FnOnce(&Xtun)) {
    let guard = shared.dev.read().unwrap();
    if let Some(dev) = guard.as_ref() {
        f(dev);
    } else {
        drop(guard);
        thread::sleep(Duration::from_millis(1));
    }
}

fn errno(r: std::io::Result<usize>) -> Result<usize, i32> {
    r.map_err(|e| e.raw_os_error().unwrap_or(-1))
}

fn writer(shared: &Shared, rng: &mut Rng) {
    let len = match rng.below(4) {
        0 => rng.below(70_000) as usize,
        1 => rng.below(20) as usize,
        _ => 14 + rng.below(1600) as usize,
    };
    // Valid IPv4 frames stop at the 65535-byte IP limit; random ones go on.
    let frame: Vec<u8> = if rng.below(2) == 0 && len < 65_000 {
        let mac = mac_of(IFNAME).unwrap_or([2, 0, 0, 0, 0, 1]);
        udp_frame([2, 0, 0, 0x99, 0, 2], mac, [10, 99, 0, 2], [10, 99, 0, 1], 9 + rng.below(100) as u16, &vec![0x33; len.saturating_sub(42)])
    } else {
        let mut random: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // The IPv4 ethertype: a frame we accepted (rx_packets) must not also
        // be counted as a core rx_dropped for want of a protocol handler,
        // which happens to unknown ethertypes while a link flap has
        // unhooked the packet tap.
        if len >= 14 {
            random[12..14].copy_from_slice(&[0x08, 0x00]);
        }
        random
    };
    let bad_pointer = rng.below(16) == 0;
    with_dev(shared, |dev| {
        let result = if bad_pointer { dev.write_raw(8 as *const u8, frame.len().max(14)) } else { dev.write_raw(frame.as_ptr(), frame.len()) };
        shared.counts.writes.fetch_add(1, Relaxed);
        match errno(result) {
            Ok(_) => {}
            Err(libc::EINVAL | libc::EMSGSIZE | libc::EIO | libc::EFAULT | libc::ENOMEM) => {}
            Err(e) => shared.unexpected(format!("write of {} bytes: errno {e}", frame.len())),
        }
    });
}

fn reader(shared: &Shared, rng: &mut Rng) {
    let size = match rng.below(4) {
        0 => 0,
        1 => 1,
        _ => rng.below(2048) as usize,
    };
    let mut buf = vec![0u8; size];
    let bad_pointer = rng.below(16) == 0;
    let toggle = rng.below(8) == 0;
    with_dev(shared, |dev| {
        let fd = dev.raw_fd();
        if toggle {
            // SAFETY: fcntl on an fd we hold open.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, flags ^ libc::O_NONBLOCK);
            }
        }
        // Never sleep in read with the lock held for long: wait in poll first.
        let _ = dev.poll(libc::POLLIN, Duration::from_millis(20));
        // SAFETY: fcntl on an fd we hold open.
        let blocking = unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK == 0;
        if blocking && dev.poll(libc::POLLIN, Duration::ZERO).unwrap_or(0) & libc::POLLIN == 0 {
            return; // a blocking read now could wait until the link flaps
        }
        let result = if bad_pointer { dev.read_raw(8 as *mut u8, 100) } else { dev.read_raw(buf.as_mut_ptr(), buf.len()) };
        match errno(result) {
            Ok(n) if n > 0 => {
                shared.counts.reads_with_frame.fetch_add(1, Relaxed);
            }
            Ok(_) => {}
            Err(libc::EAGAIN | libc::EIO | libc::EFAULT | libc::EINTR) => {}
            Err(e) => shared.unexpected(format!("read into {} bytes: errno {e}", buf.len())),
        }
    });
}

fn poller(shared: &Shared, rng: &mut Rng) {
    let wait = Duration::from_millis(rng.below(50));
    with_dev(shared, |dev| {
        if let Err(e) = dev.poll(libc::POLLIN | libc::POLLOUT, wait) {
            shared.unexpected(format!("poll: {e}"));
        }
    });
}

fn second_open(shared: &Shared, _rng: &mut Rng) {
    let held = shared.dev.read().unwrap();
    match Xtun::open() {
        Err(e) if held.is_some() && e.raw_os_error() == Some(libc::EBUSY) => {}
        Ok(_) if held.is_none() => {}
        // A child forked by the link thread may still share the old file
        // for a moment (until it execs): that is a holder too.
        Err(e) if held.is_none() && e.raw_os_error() == Some(libc::EBUSY) => {}
        Err(e) if held.is_none() => shared.unexpected(format!("open while nobody holds the device: {e}")),
        other => shared.unexpected(format!("second open while held: {:?}", other.map(|_| ()))),
    }
    drop(held);
    thread::sleep(Duration::from_millis(5));
}

fn reopen(shared: &Shared, rng: &mut Rng) {
    thread::sleep(Duration::from_millis(100 + rng.below(400)));
    let mut dev = shared.dev.write().unwrap();
    drop(dev.take()); // carrier off, queue dropped
    thread::sleep(Duration::from_millis(rng.below(20)));
    match open_retrying() {
        Ok(d) => *dev = Some(d),
        Err(e) => shared.unexpected(format!("reopen: {e}")),
    }
}

/// Opens /dev/xtun, waiting out EBUSY while a just-forked child (an `ip`
/// the link thread runs) still shares the file we closed.
fn open_retrying() -> std::io::Result<Xtun> {
    let mut tries = 0;
    loop {
        match Xtun::open() {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 200 => {
                tries += 1;
                thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

fn link_flapper(_shared: &Shared, rng: &mut Rng) {
    thread::sleep(Duration::from_millis(200 + rng.below(800)));
    match rng.below(3) {
        0 => {
            let _ = ip(&["link", "set", IFNAME, "down"]);
            let _ = ip(&["link", "set", IFNAME, "up"]);
        }
        1 => drop(ip(&["link", "set", IFNAME, "mtu", &(68 + rng.below(9000)).to_string()])),
        _ => drop(ip(&["link", "set", IFNAME, "mtu", "1500"])),
    }
}

fn flood(_shared: &Shared, rng: &mut Rng) {
    thread_local! {
        static SOCKETS: (Option<PacketSocket>, Option<UdpSocket>) = (
            PacketSocket::bind(IFNAME).ok(),
            UdpSocket::bind("0.0.0.0:0").ok(),
        );
    }
    SOCKETS.with(|(packet, udp)| {
        for _ in 0..64 {
            if rng.below(2) == 0 {
                if let Some(p) = packet {
                    let frame = udp_frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0x99, 0, 2], [10, 99, 0, 1], [10, 99, 0, 2], 9, &[7; 64]);
                    let _ = p.send(&frame);
                }
            } else if let Some(u) = udp {
                let _ = u.send_to(&[9; 32], "10.99.0.2:9");
            }
        }
    });
    thread::sleep(Duration::from_millis(1));
}
