//! Helpers shared by the guest programs: the `/dev/xtun` device, the
//! interface's sysfs counters, and small frame builders.

pub mod checks;
pub mod cli;
pub mod key;
pub mod packet;
pub mod phy;
pub mod ping;
pub mod reply;
pub mod vxlan;

use std::{
    fs::{File, OpenOptions},
    io::{self, Read, Write},
    os::{fd::AsRawFd, unix::fs::OpenOptionsExt},
    time::Duration,
};

pub const DEVICE: &str = "/dev/xtun";
/// The kernel's tun/tap character device.
pub const TUN_DEVICE: &str = "/dev/net/tun";
pub const IFNAME: &str = "xtun";

/// An open `/dev/xtun`: one `read` is one frame, one `write` is one frame.
#[derive(Debug)]
pub struct Xtun {
    file: File,
}

impl Xtun {
    pub fn open() -> io::Result<Xtun> {
        Self::open_with(0)
    }

    pub fn open_nonblocking() -> io::Result<Xtun> {
        Self::open_with(libc::O_NONBLOCK)
    }

    /// Opens /dev/xtun and attaches to the device made at module load (a
    /// file attaches on first use: a zero-length read does that and
    /// nothing else), so the carrier is on when this returns; `EBUSY` if
    /// another file holds that device.
    fn open_with(flags: i32) -> io::Result<Xtun> {
        let xtun = Self::open_unattached(flags)?;
        // SAFETY: a zero-length read(2) writes nothing.
        if unsafe { libc::read(xtun.file.as_raw_fd(), std::ptr::null_mut(), 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(xtun)
    }

    /// Opens /dev/xtun without attaching (for TUNSETIFF, or to test the
    /// attach on first use).
    pub fn open_unattached(flags: i32) -> io::Result<Xtun> {
        let file = OpenOptions::new().read(true).write(true).custom_flags(flags).open(DEVICE)?;
        Ok(Xtun { file })
    }

    /// The kernel's own tap device `name` (IFF_TAP | IFF_NO_PI), for
    /// side-by-side comparisons: the same frame-per-read/write interface.
    pub fn open_tap(name: &str, nonblock: bool) -> io::Result<Xtun> {
        Self::open_iff(TUN_DEVICE, name, libc::IFF_TAP | libc::IFF_NO_PI, nonblock)
    }

    /// One queue of the multiqueue tap device `name` (IFF_TAP | IFF_NO_PI |
    /// IFF_MULTI_QUEUE) on the tun-like character device `path` (/dev/xtun
    /// or /dev/net/tun): each call attaches one more file as one more queue.
    pub fn open_queue(path: &str, name: &str, nonblock: bool) -> io::Result<Xtun> {
        Self::open_iff(path, name, libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_MULTI_QUEUE, nonblock)
    }

    /// The tap device `name` (IFF_TAP | IFF_NO_PI | IFF_NAPI) on the tun-like
    /// character device `path`: written frames reach the stack through a
    /// NAPI context and GRO rather than straight from the writer.
    pub fn open_napi(path: &str, name: &str, nonblock: bool) -> io::Result<Xtun> {
        Self::open_iff(path, name, libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_NAPI, nonblock)
    }

    /// Opens `path` and attaches the file with TUNSETIFF `name`, `flags`.
    pub fn open_iff(path: &str, name: &str, flags: libc::c_int, nonblock: bool) -> io::Result<Xtun> {
        let open_flags = if nonblock { libc::O_NONBLOCK } else { 0 };
        let file = OpenOptions::new().read(true).write(true).custom_flags(open_flags).open(path)?;
        tun_set_iff(&file, name.as_bytes(), flags)?;
        Ok(Xtun { file })
    }

    /// `xtun` (this driver) or `tap:NAME` (the kernel's tap), non-blocking.
    pub fn open_spec(spec: &str) -> io::Result<Xtun> {
        match spec.strip_prefix("tap:") {
            Some(name) => Self::open_tap(name, true),
            None => Self::open_nonblocking(),
        }
    }

    pub fn read_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }

    pub fn write_frame(&mut self, frame: &[u8]) -> io::Result<usize> {
        self.file.write(frame)
    }

    /// Reads and drops every queued frame (what the stack sent before a
    /// check began). The file must be non-blocking.
    pub fn drain(&mut self) {
        let mut buf = [0u8; 2048];
        while self.read_frame(&mut buf).is_ok() {}
    }

    /// Raw write(2), for tests that pass pointers Rust would not make.
    pub fn write_raw(&self, ptr: *const u8, len: usize) -> io::Result<usize> {
        // SAFETY: the kernel validates the user pointer; a bad one is EFAULT.
        let n = unsafe { libc::write(self.file.as_raw_fd(), ptr.cast(), len) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Raw read(2), for tests that pass pointers Rust would not make.
    pub fn read_raw(&self, ptr: *mut u8, len: usize) -> io::Result<usize> {
        // SAFETY: the kernel validates the user pointer; a bad one is EFAULT.
        let n = unsafe { libc::read(self.file.as_raw_fd(), ptr.cast(), len) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// poll(2) for `events`; returns the revents, 0 on timeout.
    pub fn poll(&self, events: i16, timeout: Duration) -> io::Result<i16> {
        let mut fds = libc::pollfd { fd: self.file.as_raw_fd(), events, revents: 0 };
        // SAFETY: `fds` is a valid pollfd array of length 1.
        let n = unsafe { libc::poll(&mut fds, 1, timeout.as_millis() as i32) };
        match n {
            n if n < 0 => Err(io::Error::last_os_error()),
            0 => Ok(0),
            _ => Ok(fds.revents),
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    /// A second descriptor for the same open file (dup(2)): same device,
    /// same queue, so one thread may read while another writes.
    pub fn try_clone(&self) -> io::Result<Xtun> {
        Ok(Xtun { file: self.file.try_clone()? })
    }
}

impl AsRawFd for Xtun {
    fn as_raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }
}

/// An `ifreq` naming `name` (up to IFNAMSIZ bytes; a 16-byte name has no NUL).
pub fn ifreq(name: &[u8]) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    ifr
}

/// The interface name in `ifr`, up to its NUL.
pub fn ifreq_name(ifr: &libc::ifreq) -> String {
    let bytes: Vec<u8> = ifr.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// TUNSETIFF on `fd`, a tun-like character device: attaches it to the
/// device `name` (made if missing) with `flags`; returns the name the device
/// got (a `%d` template or an empty name gets a number).
pub fn tun_set_iff(fd: &impl AsRawFd, name: &[u8], flags: libc::c_int) -> io::Result<String> {
    let mut ifr = ifreq(name);
    ifr.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes a valid ifreq.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ifreq_name(&ifr))
}

/// TUNGETIFF on `fd`: the device's name and flags (tun adds
/// IFF_DETACH_QUEUE for a detached queue and IFF_NOFILTER, IFF_NO_PI's bit,
/// when no socket filter is attached).
pub fn tun_get_iff(fd: &impl AsRawFd) -> io::Result<(String, libc::c_int)> {
    let mut ifr = ifreq(b"");
    // SAFETY: TUNGETIFF writes a valid ifreq.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNGETIFF, &mut ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: TUNGETIFF filled in the flags member.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags } as u16 as libc::c_int;
    Ok((ifreq_name(&ifr), flags))
}

/// TUNSETQUEUE on `fd`, a queue of a multiqueue device: IFF_DETACH_QUEUE
/// or IFF_ATTACH_QUEUE (EINVAL if it already is so).
pub fn tun_set_queue(fd: &impl AsRawFd, flags: libc::c_int) -> io::Result<()> {
    let mut ifr = ifreq(b"");
    ifr.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETQUEUE reads a valid ifreq.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETQUEUE, &mut ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs iproute2's `ip` (by full path: busybox would shadow it); the error
/// carries ip's own message.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("/usr/sbin/ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Moves the calling thread into the network namespace `name` (made by
/// `ip netns add`, which Debian's iproute2 mounts in /run/netns); sockets
/// it opens from then on, and threads and processes it starts, live there.
pub fn enter_netns(name: &str) -> Result<(), String> {
    let path = format!("/run/netns/{name}");
    let ns = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    // SAFETY: setns(2) on a namespace file we hold open.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(format!("setns {name}: {}", io::Error::last_os_error()));
    }
    Ok(())
}

/// A counter of `xtun` from /sys/class/net/xtun/statistics.
pub fn stat(name: &str) -> u64 {
    stat_of(IFNAME, name)
}

/// A counter of interface `ifname` from sysfs.
pub fn stat_of(ifname: &str, name: &str) -> u64 {
    let path = format!("/sys/class/net/{ifname}/statistics/{name}");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("bad number in {path}: {e}"))
}

/// This thread's id, for [`sleeping_in`] from another thread.
pub fn gettid() -> i32 {
    // SAFETY: gettid(2) has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// The system call number another thread `tid` of this process sleeps in,
/// or None while it runs or is runnable: /proc shows the call only of a
/// thread that is off the CPU and not runnable.
pub fn sleeping_in(tid: i32) -> Option<i64> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
    text.split_whitespace().next()?.parse().ok().filter(|&nr| nr >= 0)
}

/// Waits until thread `tid` sleeps in one of the system calls `nrs`, so a
/// test can act only once another thread is really waiting; the limit only
/// stops a hang and is far beyond any TCG delay.
pub fn wait_sleeping_in(tid: i32, nrs: &[i64], limit: Duration) -> Result<(), String> {
    let start = std::time::Instant::now();
    while !sleeping_in(tid).is_some_and(|nr| nrs.contains(&nr)) {
        if start.elapsed() > limit {
            return Err(format!("thread {tid} never slept in syscall {nrs:?} within {limit:?} (last: {:?})", sleeping_in(tid)));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// MAC address of an interface, from sysfs.
pub fn mac_of(ifname: &str) -> io::Result<[u8; 6]> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{ifname}/address"))?;
    parse_mac(text.trim()).ok_or_else(|| io::Error::other(format!("bad MAC {text}")))
}

pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

pub fn parse_ipv4(text: &str) -> Option<[u8; 4]> {
    text.parse::<std::net::Ipv4Addr>().ok().map(|a| a.octets())
}

/// An address with its prefix length, `A.B.C.D/N`.
pub fn parse_cidr(text: &str) -> Option<([u8; 4], u8)> {
    let (ip, prefix) = text.split_once('/')?;
    let prefix = prefix.parse().ok().filter(|&n| n <= 32)?;
    Some((parse_ipv4(ip)?, prefix))
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// A valid Ethernet + IPv4 + UDP frame, built with etherparse.
pub fn udp_frame(src_mac: [u8; 6], dst_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], port: u16, payload: &[u8]) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2(src_mac, dst_mac).ipv4(src, dst, 64).udp(port, port);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).expect("writing to a Vec cannot fail");
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trip() {
        let mac = parse_mac("02:aB:00:10:ff:7e").unwrap();
        assert_eq!(mac, [2, 0xab, 0, 0x10, 0xff, 0x7e]);
        assert_eq!(format_mac(&mac), "02:ab:00:10:ff:7e");
        assert_eq!(parse_mac("02:ab:00:10:ff"), None);
        assert_eq!(parse_mac("02:ab:00:10:ff:7e:01"), None);
    }

    #[test]
    fn cidr() {
        assert_eq!(parse_cidr("10.99.0.2/24"), Some(([10, 99, 0, 2], 24)));
        assert_eq!(parse_cidr("0.0.0.0/0"), Some(([0; 4], 0)));
        assert_eq!(parse_cidr("1.2.3.4/32"), Some(([1, 2, 3, 4], 32)));
        for bad in ["1.2.3.4/33", "1.2.3.4", "1.2.3/8", "1.2.3.4/", "/8", "1.2.3.4/-1", "1.2.3.4/8/8"] {
            assert_eq!(parse_cidr(bad), None, "{bad}");
        }
    }

    #[test]
    fn ifreq_holds_at_most_ifnamsiz_bytes() {
        assert_eq!(ifreq_name(&ifreq(b"tct%d")), "tct%d");
        assert_eq!(ifreq_name(&ifreq(b"")), "");
        assert_eq!(ifreq_name(&ifreq(b"0123456789abcdefXYZ")), "0123456789abcdef");
    }

    #[test]
    fn sees_another_thread_sleep_in_poll() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut pipe = [0; 2];
        // SAFETY: pipe(2) fills the two-int array.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        let sleeper = std::thread::spawn(move || {
            tx.send(gettid()).unwrap();
            let mut fds = libc::pollfd { fd: pipe[0], events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd; no timeout: the write below ends it.
            unsafe { libc::poll(&mut fds, 1, -1) };
        });
        let tid = rx.recv().unwrap();
        wait_sleeping_in(tid, &[libc::SYS_poll, libc::SYS_ppoll], Duration::from_secs(60)).unwrap();
        assert!(wait_sleeping_in(tid, &[libc::SYS_read], Duration::ZERO).is_err());
        // SAFETY: one byte from a valid buffer into our pipe.
        assert_eq!(unsafe { libc::write(pipe[1], b"x".as_ptr().cast(), 1) }, 1);
        sleeper.join().unwrap();
    }

    #[test]
    fn udp_frame_is_valid_ethernet_ipv4_udp() {
        let f = udp_frame([2; 6], [4; 6], [10, 0, 0, 1], [10, 0, 0, 2], 9, b"hi");
        assert_eq!(f.len(), 14 + 20 + 8 + 2);
        let p = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
        assert!(matches!(p.transport, Some(etherparse::TransportSlice::Udp(_))));
    }
}
