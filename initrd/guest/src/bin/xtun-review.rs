//! Checks for the defects of the driver review (issue 12): lost poll
//! wake-ups, stale frames across close/open, what a queued frame keeps
//! (zerocopy pages, TX timestamps), poll on a down link, IOCB_NOWAIT, big
//! frames.
//! Each subcommand checks one behaviour, prints what it saw, and exits
//! non-zero with the reason if the driver got it wrong.
//!
//! usage: xtun-review <check>   (xtun-review list shows them)
//! The interface must be up; checks leave it as they found it.

use std::{
    io,
    net::UdpSocket,
    os::fd::AsRawFd,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering::SeqCst},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use xtun_guest::{checks::{self, ensure, Check}, cli, cli::*, ip, mac_of, packet::PacketSocket, udp_frame, Xtun, IFNAME};

const CHECKS: &[(&str, Check, &str)] = &[
    ("poll-race", poll_race, "poll and epoll never miss a frame that arrives while they register"),
    ("reopen-stale", reopen_stale, "no frame queued before close is read after the next open"),
    ("zerocopy", zerocopy, "a MSG_ZEROCOPY send completes while its frame waits in the queue"),
    ("tx-timestamp", tx_timestamp, "SO_TIMESTAMPING software TX stamps are generated"),
    ("down-poll", down_poll, "poll and epoll while down: no EPOLLERR, no busy loop; EPOLLOUT again once up"),
    ("nowait", nowait, "preadv2(RWF_NOWAIT) on an empty queue is EAGAIN, not EOPNOTSUPP"),
    ("big-frame", big_frame, "a frame of the largest MTU is written and read back whole"),
];

/// The responder's address and MAC on the far side of xtun.
const PEER_IP: &str = "10.99.0.2";
const PEER_MAC: [u8; 6] = [2, 0, 0, 0x99, 0, 2];

const USAGE: &str = "\
usage: xtun-review CHECK       run one check of the driver review (issue 12)
       xtun-review list        name the checks
";

fn main() {
    let name = cli::parse(USAGE, |p| {
        let mut name = None;
        while let Some(arg) = p.next()? {
            match arg {
                Value(word) if name.is_none() => name = Some(word.string()?),
                Short('h') | Long("help") => cli::help(USAGE),
                _ => return Err(arg.unexpected()),
            }
        }
        Ok(name.unwrap_or_else(|| "list".into()))
    });
    checks::run("xtun-review", CHECKS, &name)
}

fn os(what: &str) -> impl FnOnce(io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// A frame for the kernel to transmit on xtun, carrying `seq`.
fn tagged_frame(seq: u64) -> Vec<u8> {
    udp_frame([2, 0, 0, 0, 0, 1], PEER_MAC, [10, 99, 0, 1], [10, 99, 0, 2], 9, &seq.to_be_bytes())
}

fn tag_of(frame: &[u8]) -> Option<u64> {
    let payload = frame.get(frame.len().checked_sub(8)?..)?;
    (frame.len() == tagged_frame(0).len()).then(|| u64::from_be_bytes(payload.try_into().unwrap()))
}

/// Raises `errno` as an io::Error if `ret` is negative.
fn check_ret(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// How a poller registers with the device in each round.
#[derive(Clone, Copy, Debug)]
enum Waiter {
    Poll,
    /// A fresh epoll registration per round (EPOLL_CTL_ADD polls the device).
    EpollAdd,
}

/// One frame per round: the reader announces the round and goes to sleep in
/// poll; the sender, spinning on the announcement, queues the frame at once,
/// so it lands while the reader registers. A lost wake-up leaves the reader
/// asleep with the frame queued: it is caught when a round sleeps for more
/// than `LOST` after the frame was queued.
fn poll_race() -> Result<(), String> {
    const ROUNDS: u64 = 3000;
    const LOST: Duration = Duration::from_secs(5);
    let mut dev = Xtun::open_nonblocking().map_err(os("open"))?;
    dev.drain();
    let sock = PacketSocket::bind(IFNAME).map_err(os("AF_PACKET"))?;
    // `turn` = the round whose frame may be sent; `sent` = the last round
    // whose send returned (the frame is queued by then: xmit is synchronous).
    let turn = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let sent_at = Arc::new(std::sync::Mutex::new(Instant::now()));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (turn, sent, sent_at, stop) = (turn.clone(), sent.clone(), sent_at.clone(), stop.clone());
        thread::spawn(move || -> Result<(), String> {
            let mut next = 1;
            while !stop.load(SeqCst) {
                if turn.load(SeqCst) < next {
                    std::hint::spin_loop();
                    continue;
                }
                sock.send(&tagged_frame(next)).map_err(os("send"))?;
                *sent_at.lock().unwrap() = Instant::now();
                sent.store(next, SeqCst);
                next += 1;
            }
            Ok(())
        })
    };
    let result = (|| -> Result<(), String> {
        let mut buf = [0u8; 2048];
        for waiter in [Waiter::Poll, Waiter::EpollAdd] {
            // SAFETY: plain syscall.
            let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            check_ret(ep as isize).map_err(os("epoll_create1"))?;
            let base = turn.load(SeqCst);
            for round in base + 1..=base + ROUNDS {
                turn.store(round, SeqCst);
                let ready = match waiter {
                    Waiter::Poll => dev.poll(libc::POLLIN, 2 * LOST).map_err(os("poll"))? & libc::POLLIN != 0,
                    Waiter::EpollAdd => epoll_once(ep, dev.raw_fd(), 2 * LOST)?,
                };
                if !ready {
                    let queued_for = sent_at.lock().unwrap().elapsed();
                    if sent.load(SeqCst) == round && queued_for >= LOST {
                        return Err(format!(
                            "{waiter:?} round {round}: lost wake-up, slept {queued_for:?} with the frame queued"
                        ));
                    }
                    return Err(format!("{waiter:?} round {round}: the sender did not send within {:?}", 2 * LOST));
                }
                let n = dev.read_frame(&mut buf).map_err(os("read after POLLIN"))?;
                ensure(tag_of(&buf[..n]) == Some(round), || format!("round {round}: read an unexpected frame"))?;
            }
            // SAFETY: we own `ep`.
            unsafe { libc::close(ep) };
            println!("# {waiter:?}: {ROUNDS} rounds, every frame woke its waiter");
        }
        Ok(())
    })();
    stop.store(true, SeqCst);
    turn.store(u64::MAX, SeqCst);
    sender.join().unwrap()?;
    result
}

/// Adds `fd` to `ep`, waits for EPOLLIN, removes it again.
fn epoll_once(ep: i32, fd: i32, timeout: Duration) -> Result<bool, String> {
    let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 0 };
    // SAFETY: valid epoll fd, fd and event.
    check_ret(unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } as isize).map_err(os("EPOLL_CTL_ADD"))?;
    let mut out = [libc::epoll_event { events: 0, u64: 0 }];
    // SAFETY: `out` has room for one event.
    let n = unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 1, timeout.as_millis() as i32) };
    check_ret(n as isize).map_err(os("epoll_wait"))?;
    // SAFETY: as above; the event argument is ignored for DEL.
    check_ret(unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_DEL, fd, &mut ev) } as isize).map_err(os("EPOLL_CTL_DEL"))?;
    Ok(n == 1 && out[0].events & libc::EPOLLIN as u32 != 0)
}

/// A sender floods tagged frames while the device is closed and, after a
/// short gap, reopened. A frame whose send returned before `open` began was
/// xmitted while the previous file was attached (then its release must
/// purge it) or while none was (then it was dropped): reading it after the
/// open means it was queued after the previous release's purge.
fn reopen_stale() -> Result<(), String> {
    const CYCLES: u32 = 300;
    let sock = PacketSocket::bind(IFNAME).map_err(os("AF_PACKET"))?;
    // Straight to ndo_start_xmit while the carrier is on, as pktgen does.
    setsockopt_int(sock.raw_fd(), libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, 1)?;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (done, stop) = (done.clone(), stop.clone());
        thread::spawn(move || {
            let mut seq = 0;
            while !stop.load(SeqCst) {
                seq += 1;
                let _ = sock.send(&tagged_frame(seq));
                done.store(seq, SeqCst);
            }
        })
    };
    let result = (|| -> Result<(), String> {
        let mut buf = [0u8; 2048];
        let mut read = 0u64;
        for cycle in 0..CYCLES {
            let before_open = done.load(SeqCst);
            let mut dev = Xtun::open_nonblocking().map_err(os("open"))?;
            // Let a few frames in, then read what the queue holds.
            thread::sleep(Duration::from_millis(2));
            while let Ok(n) = dev.read_frame(&mut buf) {
                read += 1;
                if let Some(seq) = tag_of(&buf[..n]) {
                    ensure(seq > before_open, || {
                        format!("cycle {cycle}: read frame {seq}, sent before this open began (frames up to {before_open})")
                    })?;
                }
            }
            drop(dev);
            // Xmits that were running during the close finish in the gap.
            thread::sleep(Duration::from_millis(5));
        }
        println!("# {CYCLES} close/open cycles under a flood: {read} frames read, none from before its open");
        ensure(read > 0, || "no frame was read at all: is the sender running?".into())
    })();
    stop.store(true, SeqCst);
    sender.join().unwrap();
    result
}

/// A UDP socket on xtun towards the peer (static neighbour entry, so no ARP).
fn udp_to_peer() -> Result<UdpSocket, String> {
    ip(&["neigh", "replace", PEER_IP, "lladdr", "02:00:00:99:00:02", "dev", IFNAME, "nud", "permanent"])?;
    let udp = UdpSocket::bind("10.99.0.1:0").map_err(os("bind"))?;
    udp.connect((PEER_IP, 9)).map_err(os("connect"))?;
    Ok(udp)
}

fn setsockopt_int(fd: i32, level: i32, name: i32, value: i32) -> Result<(), String> {
    // SAFETY: `value` is a valid int of the given size.
    let r = unsafe { libc::setsockopt(fd, level, name, (&raw const value).cast(), 4) };
    check_ret(r as isize).map(drop).map_err(os("setsockopt"))
}

/// One message from the socket's error queue: (sock_extended_err, any
/// SCM_TIMESTAMPING timespecs), or None if the queue stays empty for `wait`.
fn error_queue(fd: i32, wait: Duration) -> Result<Option<(libc::sock_extended_err, Option<[libc::timespec; 3]>)>, String> {
    let mut pfd = libc::pollfd { fd, events: 0, revents: 0 };
    // SAFETY: one valid pollfd; POLLERR is always reported.
    let n = unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as i32) };
    check_ret(n as isize).map_err(os("poll"))?;
    if n == 0 {
        return Ok(None);
    }
    let mut data = [0u8; 256];
    let mut control = [0u64; 64];
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
    // SAFETY: msghdr is plain data; zero is a valid start.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: `msg` points at valid buffers.
    check_ret(unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE) }).map_err(os("recvmsg(MSG_ERRQUEUE)"))?;
    let (mut err, mut stamps) = (None, None);
    // SAFETY: walking the control messages the kernel just wrote into `msg`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let (level, kind) = ((*cmsg).cmsg_level, (*cmsg).cmsg_type);
            if level == libc::SOL_IP && kind == libc::IP_RECVERR {
                err = Some(std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::sock_extended_err>()));
            } else if level == libc::SOL_SOCKET && kind == libc::SCM_TIMESTAMPING {
                stamps = Some(std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<[libc::timespec; 3]>()));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    err.map(|e| Some((e, stamps))).ok_or_else(|| "error-queue message without sock_extended_err".into())
}

/// linux/errqueue.h; the libc crate has no name for it.
const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;

/// With /dev/xtun open and nobody reading, a MSG_ZEROCOPY datagram waits in
/// the queue. Its completion must not wait for a reader: xmit copies the
/// user pages (skb_orphan_frags_rx) so the sender may reuse its buffer.
fn zerocopy() -> Result<(), String> {
    let mut dev = Xtun::open_nonblocking().map_err(os("open"))?;
    dev.drain();
    let udp = udp_to_peer()?;
    let fd = udp.as_raw_fd();
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ZEROCOPY, 1)?;
    let payload = [0x5au8; 1000];
    // SAFETY: valid buffer; the socket is connected.
    check_ret(unsafe { libc::send(fd, payload.as_ptr().cast(), payload.len(), libc::MSG_ZEROCOPY) })
        .map_err(os("send(MSG_ZEROCOPY)"))?;
    let queued = dev.poll(libc::POLLIN, Duration::ZERO).map_err(os("poll"))? & libc::POLLIN != 0;
    let done = error_queue(fd, Duration::from_secs(2))?;
    let mut buf = [0u8; 2048];
    let n = dev.read_frame(&mut buf);
    let _ = ip(&["neigh", "del", PEER_IP, "dev", IFNAME]);
    ensure(queued, || "the datagram never reached the xtun queue".into())?;
    let Some((ee, _)) = done else {
        return Err("no zerocopy completion within 2 s while the frame sat in the queue".into());
    };
    ensure(ee.ee_origin == SO_EE_ORIGIN_ZEROCOPY, || format!("error queue origin {}, want zerocopy", ee.ee_origin))?;
    println!("# completion for sends {}..={} (code {}) before the frame was read", ee.ee_info, ee.ee_data, ee.ee_code);
    let n = n.map_err(os("read the queued frame"))?;
    ensure(buf[n - payload.len()..n] == payload, || "the queued frame's payload changed".into())
}

/// SOF_TIMESTAMPING_TX_SOFTWARE: the driver stamps each frame it takes
/// (skb_tx_timestamp); the stamp comes back on the sender's error queue.
fn tx_timestamp() -> Result<(), String> {
    let mut dev = Xtun::open_nonblocking().map_err(os("open"))?;
    dev.drain();
    let udp = udp_to_peer()?;
    let fd = udp.as_raw_fd();
    let flags = libc::SOF_TIMESTAMPING_TX_SOFTWARE
        | libc::SOF_TIMESTAMPING_SOFTWARE
        | libc::SOF_TIMESTAMPING_OPT_ID
        | libc::SOF_TIMESTAMPING_OPT_TSONLY;
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, flags as i32)?;
    let sent = udp.send(b"stamp me").map_err(os("send"));
    let stamp = error_queue(fd, Duration::from_secs(2));
    dev.drain();
    let _ = ip(&["neigh", "del", PEER_IP, "dev", IFNAME]);
    sent?;
    let Some((ee, stamps)) = stamp? else {
        return Err("no software TX timestamp within 2 s".into());
    };
    ensure(ee.ee_origin == libc::SO_EE_ORIGIN_TIMESTAMPING, || format!("error queue origin {}", ee.ee_origin))?;
    let ts = stamps.ok_or("timestamping message without SCM_TIMESTAMPING")?[0];
    ensure(ts.tv_sec != 0 || ts.tv_nsec != 0, || "software stamp is zero".into())?;
    println!("# SCM_TSTAMP_SND (info {}) for datagram {}: {}.{:09}", ee.ee_info, ee.ee_data, ts.tv_sec, ts.tv_nsec);
    Ok(())
}

/// Poll while down reports neither EPOLLERR (which cannot be masked: a
/// level-triggered loop would spin) nor EPOLLOUT (a write would fail with
/// EIO), as tun; once up, EPOLLOUT is back.
fn down_poll() -> Result<(), String> {
    let mut dev = Xtun::open_nonblocking().map_err(os("open"))?;
    dev.drain();
    ip(&["link", "set", IFNAME, "down"])?;
    let result = (|| -> Result<(), String> {
        let revents = dev.poll(libc::POLLIN | libc::POLLOUT, Duration::ZERO).map_err(os("poll"))?;
        ensure(revents & (libc::POLLERR | libc::POLLOUT | libc::POLLIN) == 0, || format!("poll while down: {revents:#x}"))?;
        // A level-triggered epoll loop while down: each wait must sleep.
        // SAFETY: plain syscall.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        check_ret(ep as isize).map_err(os("epoll_create1"))?;
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 0 };
        // SAFETY: valid fds and event.
        check_ret(unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, dev.raw_fd(), &mut ev) } as isize)
            .map_err(os("EPOLL_CTL_ADD"))?;
        let mut out = [libc::epoll_event { events: 0, u64: 0 }];
        let mut woke = 0;
        for _ in 0..5 {
            // SAFETY: `out` has room for one event.
            let n = unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 1, 100) };
            if n != 0 {
                woke += 1;
            }
        }
        // SAFETY: we own `ep`.
        unsafe { libc::close(ep) };
        ensure(woke == 0, || format!("epoll_wait(EPOLLIN) returned at once {woke} of 5 times while down"))?;
        println!("# while down: poll revents {revents:#x}, epoll_wait(EPOLLIN) slept 5 times");
        Ok(())
    })();
    if let Err(e) = result {
        ip(&["link", "set", IFNAME, "up"])?;
        return Err(e);
    }
    // A poller waiting to write while down is woken when the link comes up.
    let fd = dev.raw_fd();
    let poller = thread::spawn(move || {
        let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
        // SAFETY: one valid pollfd; `dev` outlives the thread (joined below).
        let n = unsafe { libc::poll(&mut pfd, 1, 30_000) };
        (n, pfd.revents, Instant::now())
    });
    thread::sleep(Duration::from_millis(300));
    let up = Instant::now();
    ip(&["link", "set", IFNAME, "up"])?;
    let (n, ev, woke) = poller.join().unwrap();
    ensure(n == 1 && ev & libc::POLLOUT != 0 && ev & libc::POLLERR == 0, || format!("poll(POLLOUT) across link up: {n} {ev:#x}"))?;
    println!("# a POLLOUT waiter woke {} ms after link up", woke.saturating_duration_since(up).as_millis());
    Ok(())
}

/// io_uring and preadv2 ask for a non-blocking read per call with
/// RWF_NOWAIT (IOCB_NOWAIT): it must be honoured, not refused.
fn nowait() -> Result<(), String> {
    let mut dev = Xtun::open().map_err(os("open"))?;
    // Blocking fd: drain through poll so nothing sleeps.
    let mut buf = [0u8; 2048];
    while dev.poll(libc::POLLIN, Duration::ZERO).map_err(os("poll"))? & libc::POLLIN != 0 {
        dev.read_frame(&mut buf).map_err(os("read"))?;
    }
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let start = Instant::now();
    // SAFETY: one valid iovec; offset -1: the file position is not used.
    let r = check_ret(unsafe { libc::preadv2(dev.raw_fd(), &mut iov, 1, -1, libc::RWF_NOWAIT) });
    let errno = r.as_ref().err().and_then(io::Error::raw_os_error);
    ensure(errno == Some(libc::EAGAIN), || format!("preadv2(RWF_NOWAIT) on an empty queue: {r:?}, want EAGAIN"))?;
    println!("# preadv2(RWF_NOWAIT): EAGAIN after {:?}", start.elapsed());
    // And it reads a queued frame.
    let sock = PacketSocket::bind(IFNAME).map_err(os("AF_PACKET"))?;
    sock.send(&tagged_frame(7)).map_err(os("send"))?;
    dev.poll(libc::POLLIN, Duration::from_secs(5)).map_err(os("poll"))?;
    // SAFETY: as above.
    let n = check_ret(unsafe { libc::preadv2(dev.raw_fd(), &mut iov, 1, -1, libc::RWF_NOWAIT) })
        .map_err(os("preadv2(RWF_NOWAIT) with a frame queued"))?;
    ensure(tag_of(&buf[..n]) == Some(7), || "preadv2 read the wrong frame".into())
}

/// The largest frame xtun accepts (MTU 65521 + header + VLAN tag) is
/// written whole and reaches the stack unchanged (an AF_PACKET capture sees
/// it); the largest the kernel sends is read back whole.
fn big_frame() -> Result<(), String> {
    const MTU: usize = 65535 - 14;
    ip(&["link", "set", IFNAME, "mtu", &MTU.to_string()])?;
    let result = (|| -> Result<(), String> {
        let mut dev = Xtun::open_nonblocking().map_err(os("open"))?;
        dev.drain();
        let sock = PacketSocket::bind(IFNAME).map_err(os("AF_PACKET"))?;
        let mac = mac_of(IFNAME).map_err(os("MAC"))?;
        let pattern = |len: usize| (0..len).map(|i| (i * 7 + i / 251) as u8).collect::<Vec<u8>>();
        let frame = udp_frame(PEER_MAC, mac, [10, 99, 0, 2], [10, 99, 0, 1], 9, &pattern(MTU + 18 - 42));
        let n = dev.write_frame(&frame).map_err(os("write of the largest frame"))?;
        ensure(n == frame.len(), || format!("write returned {n}, want {}", frame.len()))?;
        let mut buf = vec![0u8; 70000];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            ensure(Instant::now() < deadline, || "the big frame never reached the packet socket".into())?;
            if let Some((n, false)) = sock.recv(&mut buf, Duration::from_secs(1)).map_err(os("recv"))? {
                if buf[..n] == frame[..] {
                    break;
                }
            }
        }
        println!("# wrote a {}-byte frame; a capture saw it unchanged", frame.len());
        // AF_PACKET sends at most MTU + header without a VLAN tag.
        let out = udp_frame(mac, PEER_MAC, [10, 99, 0, 1], [10, 99, 0, 2], 9, &pattern(MTU + 14 - 42));
        sock.send(&out).map_err(os("send of the largest frame"))?;
        // Skip what the stack sends meanwhile (ARP for the peer, which the
        // written datagram's ICMP port-unreachable reply needs).
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut skipped = Vec::new();
        while Instant::now() < deadline {
            dev.poll(libc::POLLIN, Duration::from_secs(1)).map_err(os("poll"))?;
            match dev.read_frame(&mut buf) {
                Ok(n) if n == out.len() => {
                    ensure(buf[..n] == out[..], || format!("the {n}-byte frame read differs from the one sent"))?;
                    println!("# read back a {n}-byte frame the kernel sent (skipped frames of {skipped:?} bytes)");
                    return Ok(());
                }
                Ok(n) => skipped.push(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("read of the largest frame: {e}")),
            }
        }
        Err(format!("the {}-byte frame never came (skipped frames of {skipped:?} bytes)", out.len()))
    })();
    ip(&["link", "set", IFNAME, "mtu", "1500"])?;
    result
}
