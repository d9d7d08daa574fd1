//! Behaviour checks of /dev/xtun that need system calls a shell cannot
//! make. Each subcommand checks one behaviour, prints what it saw, and
//! exits non-zero with the reason if the driver got it wrong.
//!
//! The interface must be up; checks leave it as they found it.

use std::{
    io,
    sync::{
        atomic::{AtomicI32, Ordering::SeqCst},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use xtun_guest::{checks::{self, ensure, Check}, cli, cli::*, gettid, ip, mac_of, packet::PacketSocket, stat, udp_frame, wait_sleeping_in, Xtun, IFNAME};

const USAGE: &str = "\
usage: xtun-check CHECK        run one behaviour check (xtun-check list names them)
       xtun-check list
       xtun-check hold [idle|read|poll]
                               keep /dev/xtun open until killed: idle, blocked
                               in read(), or waiting in poll()
";

const CHECKS: &[(&str, Check, &str)] = &[
    ("bad-writes", bad_writes, "each bad write gets its errno and counts rx_dropped"),
    ("short-writes", short_writes, "every frame shorter than an Ethernet header is EINVAL and one rx drop"),
    ("nonblock", nonblock, "O_NONBLOCK read on an empty queue is EAGAIN, without sleeping"),
    ("poll", poll_wakes, "poll reports POLLOUT, and a frame wakes a sleeping poll with POLLIN"),
    ("capture", capture, "a written frame reaches an AF_PACKET capture unchanged"),
    ("counters", counters, "sysfs counters match frames written and read"),
    ("truncate", truncate, "a short read gets the frame's head and its full length"),
    ("second-open", second_open, "a second open is EBUSY while the first is open"),
    ("carrier", carrier, "carrier is on exactly while /dev/xtun is open"),
    ("blocked-reader", blocked_reader, "a reader blocked in read() sleeps through link down, reads after up"),
    ("mtu", mtu_limit, "the write limit follows the MTU"),
    ("flood", flood, "with no reader the queue stays bounded, drops are counted and ENOBUFS to the sender, traffic recovers"),
];

fn main() {
    let (name, how) = cli::parse(USAGE, |p| {
        let mut words = Vec::new();
        while let Some(arg) = p.next()? {
            match arg {
                Value(word) if words.len() < 2 => words.push(word.string()?),
                Short('h') | Long("help") => cli::help(USAGE),
                _ => return Err(arg.unexpected()),
            }
        }
        let mut words = words.into_iter();
        let name = words.next().unwrap_or_else(|| "list".into());
        let how = words.next();
        match (name.as_str(), how.as_deref()) {
            ("hold", None | Some("idle" | "read" | "poll")) | (_, None) => {}
            ("hold", Some(how)) => return Err(format!("hold {how:?}: want idle, read or poll").into()),
            (_, Some(extra)) => return Err(format!("unexpected argument {extra:?} after {name:?}").into()),
        }
        Ok((name, how.unwrap_or_else(|| "idle".into())))
    });
    if name == "hold" {
        // Keeps /dev/xtun open until killed (for rmmod and carrier tests):
        // idle, blocked in read(), or waiting in poll().
        let mut dev = Xtun::open().expect("cannot open /dev/xtun");
        println!("holding /dev/xtun open ({how})");
        let mut buf = [0u8; 2048];
        loop {
            match how.as_str() {
                "read" => drop(dev.read_frame(&mut buf)),
                "poll" => drop(dev.poll(libc::POLLIN, Duration::from_secs(3600))),
                _ => thread::sleep(Duration::from_secs(3600)),
            }
        }
    }
    checks::run("xtun-check", CHECKS, &name)
}


fn errno_of<T: std::fmt::Debug>(r: io::Result<T>) -> Result<i32, String> {
    match r {
        Ok(v) => Err(format!("succeeded ({v:?}) but should have failed")),
        Err(e) => e.raw_os_error().ok_or_else(|| format!("not an OS error: {e}")),
    }
}

fn expect_errno<T: std::fmt::Debug>(what: &str, r: io::Result<T>, want: i32, name: &str) -> Result<(), String> {
    let got = errno_of(r).map_err(|e| format!("{what}: {e}"))?;
    ensure(got == want, || format!("{what}: errno {got}, want {want} ({name})"))?;
    println!("# {what}: {name} as expected");
    Ok(())
}

fn open() -> Result<Xtun, String> {
    Xtun::open().map_err(|e| format!("open /dev/xtun: {e}"))
}

/// A frame the stack accepts: UDP to a port nobody listens on, for us.
fn valid_frame(len: usize) -> Result<Vec<u8>, String> {
    let mac = mac_of(IFNAME).map_err(|e| e.to_string())?;
    let payload = vec![0x5a; len.saturating_sub(14 + 20 + 8)];
    Ok(udp_frame([2, 0, 0, 0x99, 0, 2], mac, [10, 99, 0, 2], [10, 99, 0, 1], 9, &payload))
}

/// A frame for the kernel to transmit on xtun (sent through AF_PACKET).
fn outgoing_frame(tag: u8) -> Vec<u8> {
    udp_frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0x99, 0, 2], [10, 99, 0, 1], [10, 99, 0, 2], 9, &[tag; 32])
}

fn bad_writes() -> Result<(), String> {
    let mut dev = open()?;
    let mtu = std::fs::read_to_string("/sys/class/net/xtun/mtu").map_err(|e| e.to_string())?;
    let mtu: usize = mtu.trim().parse().map_err(|_| "bad mtu".to_string())?;
    let dropped = stat("rx_dropped");
    let received = stat("rx_packets");
    expect_errno("13-byte write", dev.write_frame(&[0u8; 13]), libc::EINVAL, "EINVAL")?;
    expect_errno("0-byte write", dev.write_frame(&[]), libc::EINVAL, "EINVAL")?;
    let big = vec![0u8; mtu + 14 + 4 + 1];
    expect_errno("MTU+19-byte write", dev.write_frame(&big), libc::EMSGSIZE, "EMSGSIZE")?;
    expect_errno("70000-byte write", dev.write_frame(&vec![0u8; 70000]), libc::EMSGSIZE, "EMSGSIZE")?;
    expect_errno("bad pointer write", dev.write_raw(8 as *const u8, 64), libc::EFAULT, "EFAULT")?;
    ip(&["link", "set", IFNAME, "down"])?;
    let down = dev.write_frame(&valid_frame(60)?);
    ip(&["link", "set", IFNAME, "up"])?;
    expect_errno("write while down", down, libc::EIO, "EIO")?;
    let counted = stat("rx_dropped") - dropped;
    ensure(counted == 6, || format!("rx_dropped grew by {counted}, want 6"))?;
    ensure(stat("rx_packets") == received, || "a rejected write counted as received".into())?;
    // The largest legal frame (MTU + header + VLAN tag) is accepted.
    let max = dev.write_frame(&valid_frame(mtu + 18)?).map_err(|e| format!("MTU+18 write: {e}"))?;
    ensure(max == mtu + 18, || format!("MTU+18 write returned {max}"))
}

fn short_writes() -> Result<(), String> {
    let mut dev = open()?;
    let dropped = stat("rx_dropped");
    let received = stat("rx_packets");
    // Real header bytes (our MAC first), so only the length is wrong.
    let frame = valid_frame(60)?;
    for len in 0..14 {
        expect_errno(&format!("{len}-byte write"), dev.write_frame(&frame[..len]), libc::EINVAL, "EINVAL")?;
    }
    let counted = stat("rx_dropped") - dropped;
    ensure(counted == 14, || format!("rx_dropped grew by {counted}, want 14"))?;
    ensure(stat("rx_packets") == received, || "a short write counted as received".into())
}

fn nonblock() -> Result<(), String> {
    let mut dev = Xtun::open_nonblocking().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    // Drain whatever the stack sent (IPv6 router solicitations and such).
    dev.drain();
    // A read that sleeps counts a voluntary context switch; one that does
    // not counts none (preemption is involuntary). No clock, so TCG's pace
    // does not matter. The status file stays open so that only the read
    // itself lies between the two samples.
    let mut status = std::fs::File::open("/proc/thread-self/status").map_err(|e| e.to_string())?;
    let before = voluntary_switches(&mut status)?;
    let result = dev.read_frame(&mut buf);
    let after = voluntary_switches(&mut status)?;
    expect_errno("read on empty queue", result, libc::EAGAIN, "EAGAIN")?;
    ensure(after == before, || format!("the non-blocking read slept: {} voluntary context switches", after - before))?;
    println!("# no voluntary context switch during the read");
    Ok(())
}

/// voluntary_ctxt_switches of this thread, read from its open status file.
fn voluntary_switches(status: &mut std::fs::File) -> Result<u64, String> {
    use std::io::{Read, Seek};
    let mut text = String::with_capacity(4096);
    status.rewind().and_then(|_| status.read_to_string(&mut text)).map_err(|e| format!("/proc/thread-self/status: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no voluntary_ctxt_switches in /proc/thread-self/status".into())
}

fn poll_wakes() -> Result<(), String> {
    let mut dev = Xtun::open_nonblocking().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    dev.drain();
    let ev = dev.poll(libc::POLLIN | libc::POLLOUT, Duration::ZERO).map_err(|e| e.to_string())?;
    ensure(ev & libc::POLLOUT != 0, || format!("no POLLOUT on an idle device: {ev:#x}"))?;
    ensure(ev & libc::POLLIN == 0, || format!("POLLIN with an empty queue: {ev:#x}"))?;
    let sock = PacketSocket::bind(IFNAME).map_err(|e| e.to_string())?;
    // The frame goes out only once this thread sleeps in poll(2), so the
    // frame is what has to wake it.
    let poller = gettid();
    let sender = thread::spawn(move || {
        wait_sleeping_in(poller, &[libc::SYS_poll, libc::SYS_ppoll], Duration::from_secs(60))?;
        sock.send(&outgoing_frame(1)).map_err(|e| format!("AF_PACKET send: {e}"))
    });
    // Without a wakeup, poll would sleep out its timeout and only then see
    // POLLIN; returning before it proves the wakeup, however slow TCG is.
    const TIMEOUT: Duration = Duration::from_secs(60);
    let start = Instant::now();
    let ev = dev.poll(libc::POLLIN, TIMEOUT).map_err(|e| e.to_string())?;
    let waited = start.elapsed();
    sender.join().unwrap()?;
    ensure(ev & libc::POLLIN != 0, || format!("poll returned {ev:#x} without POLLIN"))?;
    ensure(waited < TIMEOUT, || format!("poll returned only at its {TIMEOUT:?} timeout: the frame did not wake it"))?;
    println!("# poll slept {} ms until the frame woke it", waited.as_millis());
    let n = dev.read_frame(&mut buf).map_err(|e| format!("read after POLLIN: {e}"))?;
    ensure(buf[..n] == outgoing_frame(1)[..], || "the frame read differs from the one sent".into())
}

fn capture() -> Result<(), String> {
    let mut dev = open()?;
    let sock = PacketSocket::bind(IFNAME).map_err(|e| e.to_string())?;
    let frame = valid_frame(100)?;
    dev.write_frame(&frame).map_err(|e| format!("write: {e}"))?;
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let Some((n, outgoing)) = sock.recv(&mut buf, Duration::from_secs(1)).map_err(|e| e.to_string())? else {
            continue;
        };
        if !outgoing && buf[..n] == frame[..] {
            println!("# captured the {n}-byte frame with its Ethernet header on ifindex {}", sock.ifindex());
            return Ok(());
        }
    }
    Err("the written frame never reached the packet socket".into())
}

fn counters() -> Result<(), String> {
    let mut dev = Xtun::open_nonblocking().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    dev.drain();
    let sock = PacketSocket::bind(IFNAME).map_err(|e| e.to_string())?;
    // A listener, so the written datagrams draw no ICMP port unreachable.
    let udp = std::net::UdpSocket::bind("10.99.0.1:9").map_err(|e| format!("bind 10.99.0.1:9: {e}"))?;
    udp.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    let before = ["rx_packets", "rx_bytes", "tx_packets", "tx_bytes"].map(stat);
    let frame = valid_frame(200)?;
    for _ in 0..7 {
        dev.write_frame(&frame).map_err(|e| format!("write: {e}"))?;
    }
    let out = outgoing_frame(2);
    for _ in 0..5 {
        sock.send(&out).map_err(|e| format!("send: {e}"))?;
    }
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while read < 5 && Instant::now() < deadline {
        match dev.read_frame(&mut buf) {
            Ok(n) if buf[..n] == out[..] => read += 1,
            Ok(_) => return Err("read a frame we did not send; is something else on xtun?".into()),
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
    let after = ["rx_packets", "rx_bytes", "tx_packets", "tx_bytes"].map(stat);
    let mut datagram = [0u8; 2048];
    for i in 0..7 {
        udp.recv(&mut datagram).map_err(|e| format!("written datagram {i} never reached the socket: {e}"))?;
    }
    let delta: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let want = [7, 7 * frame.len() as u64, 5, 5 * out.len() as u64];
    println!("# rx_packets rx_bytes tx_packets tx_bytes grew by {delta:?}, want {want:?}");
    ensure(delta == want, || format!("counters grew by {delta:?}, want {want:?}"))
}

fn truncate() -> Result<(), String> {
    let mut dev = Xtun::open_nonblocking().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    dev.drain();
    let sock = PacketSocket::bind(IFNAME).map_err(|e| e.to_string())?;
    let (first, second) = (outgoing_frame(3), outgoing_frame(4));
    sock.send(&first).map_err(|e| e.to_string())?;
    sock.send(&second).map_err(|e| e.to_string())?;
    dev.poll(libc::POLLIN, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    let zero = dev.read_frame(&mut []).map_err(|e| format!("zero-length read: {e}"))?;
    ensure(zero == 0, || format!("zero-length read returned {zero}"))?;
    let mut small = [0u8; 10];
    let n = dev.read_frame(&mut small).map_err(|e| format!("short read: {e}"))?;
    ensure(n == small.len(), || format!("short read returned {n}, want the buffer length {} (as tun)", small.len()))?;
    ensure(small[..] == first[..10], || "short read did not get the frame's first bytes".into())?;
    let n = dev.read_frame(&mut buf).map_err(|e| format!("next read: {e}"))?;
    ensure(buf[..n] == second[..], || "the truncated frame was not consumed".into())?;
    let bad = dev.read_raw(8 as *mut u8, 100);
    // Nothing queued now: EAGAIN. Queue one and the bad pointer gives EFAULT.
    expect_errno("read on empty queue", bad, libc::EAGAIN, "EAGAIN")?;
    sock.send(&first).map_err(|e| e.to_string())?;
    dev.poll(libc::POLLIN, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    expect_errno("read into a bad pointer", dev.read_raw(8 as *mut u8, 100), libc::EFAULT, "EFAULT")
}

fn second_open() -> Result<(), String> {
    let _first = open()?;
    expect_errno("second open", Xtun::open(), libc::EBUSY, "EBUSY")?;
    drop(_first);
    let _again = Xtun::open().map_err(|e| format!("open after close: {e}"))?;
    Ok(())
}

fn carrier_now() -> Result<String, String> {
    std::fs::read_to_string("/sys/class/net/xtun/carrier").map(|s| s.trim().to_string()).map_err(|e| e.to_string())
}

fn carrier() -> Result<(), String> {
    ensure(carrier_now()? == "0", || "carrier on with /dev/xtun closed".into())?;
    let dev = open()?;
    ensure(carrier_now()? == "1", || "carrier off with /dev/xtun open".into())?;
    drop(dev);
    ensure(carrier_now()? == "0", || "carrier still on after close".into())?;
    println!("# carrier: 0 closed, 1 open, 0 closed again");
    Ok(())
}

/// State letter of thread `tid` of this process (R, S, ...).
fn thread_state(tid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// As tun: the link going down does not fail a blocked reader; it sleeps on
/// and reads the next frame once the link is up again.
fn blocked_reader() -> Result<(), String> {
    let mut dev = open()?;
    let tid = Arc::new(AtomicI32::new(0));
    let reader = {
        let tid = tid.clone();
        thread::spawn(move || {
            tid.store(gettid(), SeqCst);
            let mut buf = [0u8; 2048];
            loop {
                match dev.read_frame(&mut buf) {
                    Ok(n) if buf[..n] == outgoing_frame(7)[..] => return Ok(()),
                    Ok(_) => continue, // whatever the stack sent before
                    Err(e) => return Err(e),
                }
            }
        })
    };
    // Asleep (state S) means blocked in read(): the thread does nothing else.
    let asleep = |when: &str| -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = tid.load(SeqCst);
            if t != 0 && thread_state(t) == Some('S') {
                return Ok(());
            }
            ensure(!reader.is_finished(), || format!("the reader returned {when}"))?;
            ensure(Instant::now() < deadline, || format!("the reader never went to sleep {when}"))?;
            thread::sleep(Duration::from_millis(10));
        }
    };
    asleep("before link down")?;
    ip(&["link", "set", IFNAME, "down"])?;
    // Give a wrong wake-up (EIO, a spurious return) time to show.
    thread::sleep(Duration::from_millis(500));
    let still = asleep("while the link was down");
    ip(&["link", "set", IFNAME, "up"])?;
    still?;
    println!("# the reader slept on through link down");
    let sock = PacketSocket::bind(IFNAME).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reader.is_finished() && Instant::now() < deadline {
        let _ = sock.send(&outgoing_frame(7));
        thread::sleep(Duration::from_millis(100));
    }
    ensure(reader.is_finished(), || "the reader got no frame sent after link up".into())?;
    reader.join().unwrap().map_err(|e| format!("the reader failed: {e}"))?;
    println!("# after link up it read the next frame");
    Ok(())
}

fn mtu_limit() -> Result<(), String> {
    let mut dev = open()?;
    ip(&["link", "set", IFNAME, "mtu", "1000"])?;
    let fits = dev.write_frame(&valid_frame(1000 + 18)?);
    let over = dev.write_frame(&valid_frame(1000 + 19)?);
    ip(&["link", "set", IFNAME, "mtu", "1500"])?;
    ensure(fits.is_ok(), || format!("MTU 1000: 1018-byte write failed: {fits:?}"))?;
    expect_errno("MTU 1000: 1019-byte write", over, libc::EMSGSIZE, "EMSGSIZE")?;
    let back = dev.write_frame(&valid_frame(1500 + 18)?);
    ensure(back.is_ok(), || format!("MTU back to 1500: 1518-byte write failed: {back:?}"))
}

fn mem_available_kb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn flood() -> Result<(), String> {
    let mut dev = Xtun::open_nonblocking().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    dev.drain();
    let sock = PacketSocket::bind(IFNAME).map_err(|e| e.to_string())?;
    let qlen: u64 = std::fs::read_to_string("/sys/class/net/xtun/tx_queue_len")
        .map_err(|e| e.to_string())?
        .trim()
        .parse()
        .map_err(|_| "bad tx_queue_len".to_string())?;
    let frame = outgoing_frame(5);
    let (dropped, mem) = (stat("tx_dropped"), mem_available_kb());
    const SENT: u64 = 20_000;
    // As tun without a qdisc: a frame the full queue drops is NET_XMIT_DROP,
    // which the sender gets as ENOBUFS.
    let mut nobufs = 0;
    for _ in 0..SENT {
        match sock.send(&frame) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => nobufs += 1,
            Err(e) => return Err(format!("send while nobody reads: {e}")),
        }
    }
    let grew = stat("tx_dropped") - dropped;
    let mem_after = mem_available_kb();
    println!("# sent {SENT} frames with no reader: tx_dropped +{grew}, ENOBUFS {nobufs}, MemAvailable {mem} -> {mem_after} kB");
    ensure(grew == SENT - qlen, || format!("tx_dropped grew by {grew}, want {}", SENT - qlen))?;
    ensure(nobufs == SENT - qlen, || format!("{nobufs} sends got ENOBUFS, want one per drop ({})", SENT - qlen))?;
    ensure(mem_after + 8 * 1024 > mem, || "memory fell by more than 8 MiB".into())?;
    let mut queued = 0;
    while dev.read_frame(&mut buf).is_ok() {
        queued += 1;
    }
    ensure(queued == qlen, || format!("read {queued} queued frames, want tx_queue_len {qlen}"))?;
    sock.send(&outgoing_frame(6)).map_err(|e| e.to_string())?;
    dev.poll(libc::POLLIN, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    let n = dev.read_frame(&mut buf).map_err(|e| format!("read after the flood: {e}"))?;
    ensure(buf[..n] == outgoing_frame(6)[..], || "traffic did not recover after the flood".into())?;
    println!("# {queued} frames were queued; a new frame flows once a reader drains them");
    Ok(())
}
