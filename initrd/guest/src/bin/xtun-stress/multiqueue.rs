//! The multiqueue phase: two taps of 4 queues each, made with TUNSETIFF
//! IFF_TAP | IFF_MULTI_QUEUE | IFF_NAPI on `--path` (/dev/xtun, or the
//! kernel's /dev/net/tun, whose behaviour is what this phase expects):
//! `xstmq0` with IFF_NO_PI, `xstmq1` with packet information (a struct
//! tun_pi before each frame).
//!
//! While the kernel floods both devices, threads read with random buffer
//! sizes, write random and valid frames (and 0..5 bytes), detach and attach
//! queues (TUNSETQUEUE), ask TUNGETIFF, replace a queue (close, then open +
//! TUNSETIFF) and flap the links. Each call may fail only with an errno tun
//! gives for it. Then the counters must be consistent (never lower than
//! before; no more frames read than tx_packets, no more rx_packets than
//! writes that succeeded), and the devices are deleted (`ip link del`)
//! under load with their queues open: every queue's fd must then give
//! EBADFD to read, write and TUNGETIFF.

use std::{
    io,
    net::{Ipv4Addr, UdpSocket},
    sync::{
        atomic::{
            AtomicBool, AtomicU64,
            Ordering::{Relaxed, SeqCst},
        },
        Arc, Mutex, RwLock,
    },
    thread,
    time::Duration,
};

use libc::{c_int, EAGAIN, EBADFD, EBUSY, EINVAL, EIO, EMSGSIZE, IFF_ATTACH_QUEUE, IFF_DETACH_QUEUE, IFF_MULTI_QUEUE, IFF_NAPI, IFF_NO_PI, IFF_TAP};
use xtun_guest::{format_mac, ip, mac_of, packet::PacketSocket, stat_of, tun_get_iff, tun_set_queue, udp_frame, Xtun};

use crate::{errno, Rng};

const QUEUES: usize = 4;
const FLAGS: c_int = IFF_TAP | IFF_MULTI_QUEUE | IFF_NAPI;
/// `sizeof(struct tun_pi)`: u16 flags, __be16 proto.
const PI_LEN: usize = 4;
/// `TUN_PKT_STRIP`: the reader's buffer was too short for the frame.
const TUN_PKT_STRIP: u16 = 0x0001;
const ETH_HLEN: usize = 14;
/// The longest frame xtun takes at MTU 1500: MTU + Ethernet header + a
/// VLAN tag. Longer writes may be EMSGSIZE (tun takes them up to ~64 KiB).
const MAX_FRAME: usize = 1500 + ETH_HLEN + 4;
const COUNTERS: [&str; 4] = ["rx_packets", "rx_dropped", "tx_packets", "tx_dropped"];

/// One queue: its fd, and whether it is detached now. Only the ioctl
/// thread changes that (holding the slot shared), and reopen (holding it
/// exclusively) replaces the queue, so the flag is exact.
struct Queue {
    fd: Xtun,
    detached: AtomicBool,
}

impl Queue {
    /// A new queue of `dev`: open + TUNSETIFF, non-blocking (a reader
    /// waits in poll, never in read, so that stopping needs no wake-up).
    fn open(path: &str, dev: &str, flags: c_int) -> io::Result<Queue> {
        let fd = Xtun::open_iff(path, dev, flags, true)?;
        Ok(Queue { fd, detached: AtomicBool::new(false) })
    }
}

/// One multiqueue tap, its addresses, and what the threads did with it.
struct Device {
    name: &'static str,
    flags: c_int,
    /// Bytes of packet information before each frame (0 with IFF_NO_PI).
    pi_len: usize,
    local: Ipv4Addr,
    peer: Ipv4Addr,
    peer_mac: [u8; 6],
    mac: [u8; 6],
    /// A slot is None only while reopen replaces its queue (or if that failed).
    queues: Vec<RwLock<Option<Queue>>>,
    /// The kernel transmits on the device through it (flood).
    packet: PacketSocket,
    frames_read: AtomicU64,
    writes_done: AtomicU64,
    writes_in_flight: AtomicU64,
}

impl Device {
    /// Makes `name` with QUEUES queues, addresses and brings it up, with a
    /// permanent neighbour `peer` so the stack's frames need no ARP.
    fn create(path: &str, name: &'static str, flags: c_int, subnet: u8) -> Result<Device, String> {
        let _ = ip(&["link", "del", name]); // a leftover of an earlier run
        let mut queues = Vec::new();
        for i in 0..QUEUES {
            let queue = Queue::open(path, name, flags).map_err(|e| format!("{name}: queue {i}: TUNSETIFF: {e}"))?;
            queues.push(RwLock::new(Some(queue)));
        }
        let (local, peer) = (Ipv4Addr::new(10, subnet, 0, 1), Ipv4Addr::new(10, subnet, 0, 2));
        let peer_mac = [2, 0, 0, subnet, 0, 2];
        ip(&["addr", "add", &format!("{local}/24"), "dev", name])?;
        ip(&["link", "set", name, "up"])?;
        add_neighbour(name, peer, peer_mac)?;
        let mac = mac_of(name).map_err(|e| format!("{name}: address: {e}"))?;
        let packet = PacketSocket::bind(name).map_err(|e| format!("{name}: AF_PACKET socket: {e}"))?;
        let pi_len = if flags & IFF_NO_PI != 0 { 0 } else { PI_LEN };
        let zero = || AtomicU64::new(0);
        let (frames_read, writes_done, writes_in_flight) = (zero(), zero(), zero());
        Ok(Device { name, flags, pi_len, local, peer, peer_mac, mac, queues, packet, frames_read, writes_done, writes_in_flight })
    }

    fn counters(&self) -> [u64; 4] {
        COUNTERS.map(|c| stat_of(self.name, c))
    }

    /// TUNGETIFF's flags for a queue: those asked for, IFF_NOFILTER (no
    /// socket filter; IFF_NO_PI's bit) and IFF_DETACH_QUEUE if detached.
    fn getiff_flags(&self, detached: bool) -> c_int {
        self.flags | IFF_NO_PI | if detached { IFF_DETACH_QUEUE } else { 0 }
    }
}

/// A permanent neighbour entry; a link down flushes it, so the link
/// thread adds it again.
fn add_neighbour(name: &str, peer: Ipv4Addr, mac: [u8; 6]) -> Result<(), String> {
    ip(&["neigh", "replace", &peer.to_string(), "lladdr", &format_mac(&mac), "dev", name, "nud", "permanent"])
}

struct Mq {
    path: String,
    devices: Vec<Device>,
    /// The kernel's UDP flood, routed to either device by address.
    udp: UdpSocket,
    /// Stops the threads that change the queues and links.
    stop_control: AtomicBool,
    /// Stops the readers, writers and the flood.
    stop_data: AtomicBool,
    /// Set before the devices are deleted: EBADFD is expected from then on.
    deleted: AtomicBool,
    /// The first 20 failures, and how many there were.
    unexpected: Mutex<(Vec<String>, usize)>,
}

impl Mq {
    fn unexpected(&self, what: String) {
        let mut failures = self.unexpected.lock().unwrap();
        failures.1 += 1;
        if failures.0.len() < 20 {
            eprintln!("xtun-stress: UNEXPECTED {what}");
            failures.0.push(what);
        }
    }

    /// A random device and queue index.
    fn pick(&self, rng: &mut Rng) -> (&Device, usize) {
        (&self.devices[rng.below(self.devices.len() as u64) as usize], rng.below(QUEUES as u64) as usize)
    }
}

/// Runs `f` on queue `q` of `dev` if it is open right now.
fn with_queue(dev: &Device, q: usize, f: impl FnOnce(&Queue)) {
    match dev.queues[q].read().unwrap().as_ref() {
        Some(queue) => f(queue),
        None => thread::sleep(Duration::from_millis(1)),
    }
}

type Worker = fn(&Mq, &mut Rng);

/// Runs the multiqueue phase for `duration` on `path`; returns what went wrong.
pub fn run(path: &str, duration: Duration, seed: u64) -> Vec<String> {
    println!("xtun-stress: multiqueue: {path}, xstmq0 (IFF_NO_PI) and xstmq1 (packet information), {QUEUES} queues each, {}s", duration.as_secs());
    let mq = match setup(path) {
        Ok(mq) => Arc::new(mq),
        Err(e) => return vec![format!("multiqueue setup: {e}")],
    };
    let before: Vec<_> = mq.devices.iter().map(Device::counters).collect();
    let control: &[(&str, Worker)] = &[("mq-ioctl", ioctl), ("mq-reopen", reopen), ("mq-link", link_flapper)];
    let data: &[(&str, Worker)] = &[("mq-reader", reader), ("mq-reader", reader), ("mq-writer", writer), ("mq-writer", writer), ("mq-flood", flood)];
    let control = spawn(&mq, seed, 100, control, |mq| &mq.stop_control);
    let data = spawn(&mq, seed, 200, data, |mq| &mq.stop_data);
    thread::sleep(duration);

    // Queues and links stay as they are from here: the counters can be compared.
    mq.stop_control.store(true, Relaxed);
    join(control);
    check_counters(&mq, &before);

    // Delete the devices under load, their queues still open.
    mq.deleted.store(true, Relaxed);
    for dev in &mq.devices {
        if let Err(e) = ip(&["link", "del", dev.name]) {
            mq.unexpected(e);
        }
    }
    thread::sleep(Duration::from_millis(300));
    mq.stop_data.store(true, Relaxed);
    join(data);
    check_deleted(&mq);

    let mq = Arc::into_inner(mq).expect("every thread has ended");
    let (mut failures, count) = mq.unexpected.into_inner().unwrap();
    if count > failures.len() {
        failures.push(format!("and {} more", count - failures.len()));
    }
    // Closing the queues must not bring a device back.
    for dev in mq.devices {
        let name = dev.name;
        drop(dev);
        if std::path::Path::new(&format!("/sys/class/net/{name}")).exists() {
            failures.push(format!("{name} exists after ip link del and closing its queues"));
        }
    }
    failures
}

fn setup(path: &str) -> Result<Mq, String> {
    let devices = vec![Device::create(path, "xstmq0", FLAGS | IFF_NO_PI, 96)?, Device::create(path, "xstmq1", FLAGS, 95)?];
    let udp = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("UDP socket: {e}"))?;
    // A send that would block fails instead.
    udp.set_nonblocking(true).map_err(|e| format!("UDP socket O_NONBLOCK: {e}"))?;
    Ok(Mq {
        path: path.to_string(),
        devices,
        udp,
        stop_control: AtomicBool::new(false),
        stop_data: AtomicBool::new(false),
        deleted: AtomicBool::new(false),
        unexpected: Mutex::new((Vec::new(), 0)),
    })
}

/// One thread per worker, each with its own seeded Rng, until `stop` is set.
fn spawn(mq: &Arc<Mq>, seed: u64, first: u64, workers: &[(&str, Worker)], stop: fn(&Mq) -> &AtomicBool) -> Vec<thread::JoinHandle<()>> {
    let spawn_one = |(i, (name, work)): (usize, &(&str, Worker))| {
        let (mq, work) = (mq.clone(), *work);
        let mut rng = Rng::new(seed ^ (first + i as u64) << 32);
        thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                while !stop(&mq).load(Relaxed) {
                    work(&mq, &mut rng);
                }
            })
            .expect("spawn")
    };
    workers.iter().enumerate().map(spawn_one).collect()
}

fn join(threads: Vec<thread::JoinHandle<()>>) {
    for t in threads {
        t.join().expect("a stress thread panicked");
    }
}

/// Counters never go down; a frame read was transmitted (tx_packets), and a
/// frame received (rx_packets) was written. Readers and writers still run:
/// our count of frames read is taken before tx_packets, which counted each
/// of them before its read returned; rx_packets may count a write that has
/// not returned yet, so writes in flight count too (taken before the writes
/// done, which a write adds to before it leaves the flight).
fn check_counters(mq: &Mq, before: &[[u64; 4]]) {
    for (dev, before) in mq.devices.iter().zip(before) {
        let read = dev.frames_read.load(SeqCst);
        let after = dev.counters();
        let in_flight = dev.writes_in_flight.load(SeqCst);
        let written = dev.writes_done.load(SeqCst);
        let delta: Vec<i128> = after.iter().zip(before).map(|(a, b)| *a as i128 - *b as i128).collect();
        println!(
            "xtun-stress: {}: {written} writes -> rx_packets {:+}, rx_dropped {:+}; {read} frames read -> tx_packets {:+}, tx_dropped {:+}",
            dev.name, delta[0], delta[1], delta[2], delta[3]
        );
        for (name, d) in COUNTERS.iter().zip(&delta) {
            if *d < 0 {
                mq.unexpected(format!("{}: {name} went down by {}", dev.name, -d));
            }
        }
        if read as i128 > delta[2] {
            mq.unexpected(format!("{}: {read} frames read, tx_packets only {:+}", dev.name, delta[2]));
        }
        if delta[0] > (written + in_flight) as i128 {
            mq.unexpected(format!("{}: rx_packets {:+}, only {written} writes succeeded ({in_flight} in flight)", dev.name, delta[0]));
        }
    }
}

/// Every queue of a deleted device is dead: read, write and TUNGETIFF
/// are EBADFD (tun: the fd has no device any more).
fn check_deleted(mq: &Mq) {
    for dev in &mq.devices {
        for (q, slot) in dev.queues.iter().enumerate() {
            let Some(queue) = &*slot.read().unwrap() else { continue };
            let what = |call: &str| format!("{} queue {q} after ip link del: {call}", dev.name);
            let mut buf = [0u8; 2048];
            let frame = valid_frame(dev, 9);
            let calls = [
                ("read", errno(queue.fd.read_raw(buf.as_mut_ptr(), buf.len())).map(|_| ())),
                ("write", errno(queue.fd.write_raw(frame.as_ptr(), frame.len())).map(|_| ())),
                ("TUNGETIFF", tun_get_iff(&queue.fd).map(|_| ()).map_err(|e| e.raw_os_error().unwrap_or(-1))),
            ];
            for (call, result) in calls {
                if result != Err(EBADFD) {
                    mq.unexpected(format!("{}: {result:?}, want EBADFD", what(call)));
                }
            }
        }
    }
}

/// A UDP datagram from the peer to the device's address (port `port`),
/// after packet information if the device has it.
fn valid_frame(dev: &Device, port: u16) -> Vec<u8> {
    let frame = udp_frame(dev.peer_mac, dev.mac, dev.peer.octets(), dev.local.octets(), port, b"xtun-stress mq");
    with_pi(dev, frame)
}

/// `frame` after a struct tun_pi {0, ETH_P_IP} on a device with packet
/// information (a tap ignores what it says).
fn with_pi(dev: &Device, frame: Vec<u8>) -> Vec<u8> {
    if dev.pi_len == 0 {
        return frame;
    }
    [&0u16.to_ne_bytes()[..], &0x0800u16.to_be_bytes()[..], &frame].concat()
}

/// Reads one frame from a random queue (after waiting for one in poll)
/// into a buffer of 0..2000 bytes, a quarter of them 0..3 bytes: shorter
/// than a struct tun_pi, which is EINVAL with packet information.
fn reader(mq: &Mq, rng: &mut Rng) {
    let (dev, q) = mq.pick(rng);
    let size = if rng.below(4) == 0 { rng.below(4) } else { rng.below(2001) } as usize;
    let wait = Duration::from_millis(rng.below(20));
    let mut buf = vec![0u8; size];
    with_queue(dev, q, |queue| {
        let _ = queue.fd.poll(libc::POLLIN, wait);
        let what = || format!("{} queue {q}: read into {size} bytes", dev.name);
        match errno(queue.fd.read_raw(buf.as_mut_ptr(), size)) {
            Ok(0) if size == 0 => {}
            // At most the buffer's length; a whole frame has at least a header.
            Ok(n) if n > size || n < size.min(dev.pi_len + ETH_HLEN) => mq.unexpected(format!("{}: returned {n}", what())),
            Ok(n) => {
                dev.frames_read.fetch_add(1, SeqCst);
                if dev.pi_len > 0 {
                    check_pi(mq, &buf[..n], n < size, &what);
                }
            }
            Err(EAGAIN) => {}
            Err(EINVAL) if dev.pi_len > 0 && size < PI_LEN => {}
            Err(EBADFD) if mq.deleted.load(Relaxed) => thread::sleep(Duration::from_millis(1)),
            Err(e) => mq.unexpected(format!("{}: errno {e}", what())),
        }
    });
}

/// The packet information before a frame read: no flag but TUN_PKT_STRIP,
/// and that one only if the frame did not fit.
fn check_pi(mq: &Mq, read: &[u8], whole: bool, what: &dyn Fn() -> String) {
    let flags = u16::from_ne_bytes([read[0], read[1]]);
    if flags & !TUN_PKT_STRIP != 0 || (whole && flags != 0) {
        mq.unexpected(format!("{}: {} bytes read, tun_pi flags {flags:#x}", what(), read.len()));
    }
}

/// Writes to a random queue: 0..5 bytes (too short: EINVAL), a valid
/// datagram, random bytes up to a full frame, or a frame too long for the
/// MTU (xtun: EMSGSIZE; tun takes it).
fn writer(mq: &Mq, rng: &mut Rng) {
    let (dev, q) = mq.pick(rng);
    let frame = match rng.below(8) {
        0 | 1 => {
            let len = rng.below(6) as usize;
            random_bytes(rng, len)
        }
        2 => {
            let len = MAX_FRAME + 1 + rng.below(70_000 - MAX_FRAME as u64) as usize;
            with_pi(dev, random_bytes(rng, len))
        }
        3 | 4 => {
            let len = ETH_HLEN + rng.below(1500) as usize;
            with_pi(dev, random_bytes(rng, len))
        }
        _ => valid_frame(dev, 9 + rng.below(1000) as u16),
    };
    let len = frame.len();
    let short = len < dev.pi_len + ETH_HLEN;
    with_queue(dev, q, |queue| {
        let what = || format!("{} queue {q}: write of {len} bytes", dev.name);
        dev.writes_in_flight.fetch_add(1, SeqCst); // see check_counters
        match errno(queue.fd.write_raw(frame.as_ptr(), len)) {
            Ok(n) if n == len && !short => {
                dev.writes_done.fetch_add(1, SeqCst);
            }
            Ok(n) => mq.unexpected(format!("{}: returned {n}", what())),
            Err(EINVAL) if short => {}
            Err(EMSGSIZE) if len > dev.pi_len + MAX_FRAME => {}
            // Link down; a detached queue of an IFF_NAPI device. Both check
            // the length first.
            Err(EIO | EBUSY) if !short => {}
            Err(EBADFD) if mq.deleted.load(Relaxed) => thread::sleep(Duration::from_millis(1)),
            Err(e) => mq.unexpected(format!("{}: errno {e}", what())),
        }
        dev.writes_in_flight.fetch_sub(1, SeqCst);
    });
}

/// Random bytes with the IPv4 ethertype, when long enough for one: not
/// an unknown protocol for the stack.
fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    if len >= ETH_HLEN {
        bytes[12..14].copy_from_slice(&[0x08, 0x00]);
    }
    bytes
}

/// On a random queue: TUNSETQUEUE IFF_DETACH_QUEUE or IFF_ATTACH_QUEUE
/// (EINVAL exactly when it already is so), or TUNGETIFF (the device's name
/// and flags, IFF_DETACH_QUEUE exactly when detached).
fn ioctl(mq: &Mq, rng: &mut Rng) {
    thread::sleep(Duration::from_millis(rng.below(20)));
    let (dev, q) = mq.pick(rng);
    let action = rng.below(3);
    with_queue(dev, q, |queue| {
        let detached = queue.detached.load(Relaxed);
        if action == 2 {
            let want = (dev.name.to_string(), dev.getiff_flags(detached));
            match tun_get_iff(&queue.fd) {
                Ok(got) if got == want => {}
                other => mq.unexpected(format!("{} queue {q} (detached: {detached}): TUNGETIFF {other:?}, want {want:?}", dev.name)),
            }
            return;
        }
        let detach = action == 0;
        let (flag, call) = if detach { (IFF_DETACH_QUEUE, "IFF_DETACH_QUEUE") } else { (IFF_ATTACH_QUEUE, "IFF_ATTACH_QUEUE") };
        match tun_set_queue(&queue.fd, flag).map_err(|e| e.raw_os_error().unwrap_or(-1)) {
            Ok(()) if detach != detached => queue.detached.store(detach, Relaxed),
            Err(EINVAL) if detach == detached => {}
            other => mq.unexpected(format!("{} queue {q} (detached: {detached}): TUNSETQUEUE {call}: {other:?}", dev.name)),
        }
    });
}

/// Closes a random queue and opens a new one in its place (open +
/// TUNSETIFF, same name and flags). The other queues keep the device, and
/// 4 queues are far from tun's 256 (E2BIG), so this must succeed.
fn reopen(mq: &Mq, rng: &mut Rng) {
    thread::sleep(Duration::from_millis(50 + rng.below(200)));
    let (dev, q) = mq.pick(rng);
    let mut slot = dev.queues[q].write().unwrap();
    drop(slot.take());
    match Queue::open(&mq.path, dev.name, dev.flags) {
        Ok(queue) => *slot = Some(queue),
        Err(e) => mq.unexpected(format!("{} queue {q}: reopen: TUNSETIFF: {e}", dev.name)),
    }
}

/// Now and then takes a random device down and up again: writes meet EIO
/// meanwhile, and the stack's frames stop.
fn link_flapper(mq: &Mq, rng: &mut Rng) {
    thread::sleep(Duration::from_millis(200 + rng.below(800)));
    let (dev, _) = mq.pick(rng);
    let flap = ip(&["link", "set", dev.name, "down"]).and_then(|()| {
        thread::sleep(Duration::from_millis(rng.below(50)));
        ip(&["link", "set", dev.name, "up"])
    });
    if let Err(e) = flap.and_then(|()| add_neighbour(dev.name, dev.peer, dev.peer_mac)) {
        mq.unexpected(e);
    }
}

/// The kernel's traffic to the devices: UDP datagrams to the peer and
/// frames through AF_PACKET, to random ports so that the flow hash spreads
/// them over the queues. Errors (link down, device deleted) do not matter.
fn flood(mq: &Mq, rng: &mut Rng) {
    for _ in 0..64 {
        let (dev, _) = mq.pick(rng);
        let port = 9 + rng.below(1000) as u16;
        if rng.below(2) == 0 {
            let frame = udp_frame(dev.mac, dev.peer_mac, dev.local.octets(), dev.peer.octets(), port, &[7; 64]);
            let _ = dev.packet.send(&frame);
        } else {
            let _ = mq.udp.send_to(&[9; 32], (dev.peer, port));
        }
    }
    thread::sleep(Duration::from_millis(1));
}
