//! tun's ioctl ABI (include/uapi/linux/if_tun.h) for Ethernet frames
//! (IFF_TAP, most scenarios with IFF_NO_PI), as scenarios that check
//! themselves. The expectations are what the kernel's own tun driver does
//! (drivers/net/tun.c), verified in the guest with `--path /dev/net/tun`,
//! so that the same scenarios hold /dev/xtun to it.
//!
//! Each scenario prints what it checked (`# ...` lines) and exits non-zero
//! with the reason at the first mismatch. Devices it makes are named
//! `tct...` and are deleted at the end, also when it fails.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs::{File, OpenOptions},
    io::{self, Read, Write},
    net::{Ipv4Addr, UdpSocket},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::OnceLock,
    time::{Duration, Instant},
};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use libc::{c_int, c_ulong, EADDRNOTAVAIL, EAGAIN, EBADFD, EBUSY, EEXIST, EINVAL, ENODEV, EPERM, E2BIG};
use libc::{IFF_ATTACH_QUEUE, IFF_DETACH_QUEUE, IFF_MULTI_QUEUE, IFF_NAPI, IFF_NAPI_FRAGS, IFF_NO_PI, IFF_PERSIST, IFF_TAP, IFF_TUN, IFF_TUN_EXCL, IFF_VNET_HDR};
use xtun_guest::{checks::{self, ensure, Check}, cli, cli::*, format_mac, ifreq, ip, mac_of, tun_get_iff, tun_set_iff, tun_set_queue, udp_frame};

const USAGE: &str = "\
usage: xtun-tunctl [OPTIONS] SCENARIO   run one scenario of tun's ioctl ABI
       xtun-tunctl list                 name the scenarios

options:
  --path PATH             the character device (default /dev/xtun; the
                          kernel's tun is /dev/net/tun)
  --template-prefix PFX   the name TUNSETIFF gives for an empty name, without
                          its number (default: tap for /dev/net/tun, else xtun)
  --expect-unsupported    errors: IFF_TUN, IFF_VNET_HDR and IFF_NAPI_FRAGS
                          must be EINVAL (xtun) instead of accepted (tun)
  --count N               many: devices to create and delete (default 1000)
";

const SCENARIOS: &[(&str, Check, &str)] = &[
    ("setiff-name", setiff_name, "TUNSETIFF makes the named tap, TUNGETIFF reports it, close deletes it"),
    ("setiff-template", setiff_template, "a %d name and an empty name get the lowest free number"),
    ("getfeatures", getfeatures, "TUNGETFEATURES offers IFF_TAP, IFF_NO_PI and IFF_MULTI_QUEUE"),
    ("persist", persist, "a persistent device outlives its fd, is attached again, and goes once not persistent"),
    ("owner", owner, "TUNSETOWNER/TUNSETGROUP decide who may attach without CAP_NET_ADMIN"),
    ("hwaddr", hwaddr, "SIOCGIFHWADDR/SIOCSIFHWADDR on the fd read and set the MAC"),
    ("multiqueue", multiqueue, "IFF_MULTI_QUEUE: many fds, TUNSETQUEUE detach/attach, at most 256 queues"),
    ("mq-flows", mq_flows, "4 queues: the stack's flows spread over every queue, each flow on one queue, none lost"),
    ("mq-detach", mq_detach, "a detached queue gets no frames, the others get them all; attached again, it gets its share"),
    ("mq-detach-all", mq_detach_all, "every queue detached: frames are dropped into tx_dropped; one attached again: they flow"),
    ("mq-write", mq_write, "a frame written on any queue's fd reaches the stack"),
    ("napi-write", napi_write, "IFF_NAPI: written frames reach the stack through NAPI; a detached queue's write is EBUSY"),
    ("packet-info", packet_info, "without IFF_NO_PI, every frame read and written starts with a struct tun_pi"),
    ("errors", errors, "bad names, a second TUNSETIFF, flags, other devices, unattached and deleted fds"),
    ("many", many, "devices (--count, 1000) created and deleted one after another, none left"),
];

/// The flags most scenarios ask for: an Ethernet device, no packet info.
const TAP: c_int = IFF_TAP | IFF_NO_PI;

/// `_IO('T', 250)`: a tun ioctl number nobody defines.
const UNKNOWN_IOCTL: libc::Ioctl = 0x54fa;
/// `_IOW('T', 200, int)` and `_IOW('T', 201, int)`: tun accepts both and does nothing.
const TUNSETNOCSUM: libc::Ioctl = 0x400454c8;
const TUNSETDEBUG: libc::Ioctl = 0x400454c9;

struct Opts {
    path: String,
    template_prefix: String,
    expect_unsupported: bool,
    count: usize,
}

static OPTS: OnceLock<Opts> = OnceLock::new();

fn opts() -> &'static Opts {
    OPTS.get().expect("main sets the options first")
}

fn main() {
    let (opts, name) = cli::parse(USAGE, |p| {
        let mut path = "/dev/xtun".to_string();
        let mut template_prefix = None;
        let mut expect_unsupported = false;
        let mut count = 1000;
        let mut name = None;
        while let Some(arg) = p.next()? {
            match arg {
                Long("path") => path = p.value()?.string()?,
                Long("template-prefix") => template_prefix = Some(p.value()?.string()?),
                Long("expect-unsupported") => expect_unsupported = true,
                Long("count") => count = p.value()?.parse()?,
                Value(word) if name.is_none() => name = Some(word.string()?),
                Short('h') | Long("help") => cli::help(USAGE),
                _ => return Err(arg.unexpected()),
            }
        }
        // tun names an unnamed tap "tap%d"; xtun will say "xtun%d".
        let template_prefix =
            template_prefix.unwrap_or_else(|| if path == "/dev/net/tun" { "tap" } else { "xtun" }.to_string());
        Ok((Opts { path, template_prefix, expect_unsupported, count }, name.unwrap_or_else(|| "list".into())))
    });
    if name != "list" {
        println!("# device {}", opts.path);
    }
    OPTS.set(opts).ok().expect("options are set once");
    checks::run("xtun-tunctl", SCENARIOS, &name)
}

// ---------------------------------------------------------------------------
// The device and its ioctls

/// An open tun-like character device.
struct TunFd(File);

impl TunFd {
    fn open() -> Result<TunFd, String> {
        let path = &opts().path;
        OpenOptions::new().read(true).write(true).open(path).map(TunFd).map_err(|e| format!("open {path}: {e}"))
    }

    /// An ioctl whose argument is an `ifreq` (SIOC[GS]IFHWADDR).
    fn ioctl_ifreq(&self, request: libc::Ioctl, ifr: &mut libc::ifreq) -> io::Result<()> {
        // SAFETY: `ifr` is a valid ifreq, the largest argument these requests read or write.
        match unsafe { libc::ioctl(self.0.as_raw_fd(), request, ifr as *mut libc::ifreq) } {
            ret if ret < 0 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    }

    /// An ioctl whose argument is the value itself (TUNSETPERSIST,
    /// TUNSETOWNER, TUNSETGROUP).
    fn ioctl_value(&self, request: libc::Ioctl, value: c_ulong) -> io::Result<()> {
        // SAFETY: the value is not a pointer; a request that took one would get EFAULT.
        match unsafe { libc::ioctl(self.0.as_raw_fd(), request, value) } {
            ret if ret < 0 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    }

    /// TUNSETIFF; returns the name the device got.
    fn set_iff(&self, name: &[u8], flags: c_int) -> io::Result<String> {
        tun_set_iff(&self.0, name, flags)
    }

    /// TUNGETIFF: the device's name and flags.
    fn get_iff(&self) -> io::Result<(String, c_int)> {
        tun_get_iff(&self.0)
    }

    fn set_queue(&self, flags: c_int) -> io::Result<()> {
        tun_set_queue(&self.0, flags)
    }

    fn features(&self) -> io::Result<c_int> {
        let mut mask: libc::c_uint = 0;
        // SAFETY: TUNGETFEATURES writes one unsigned int.
        match unsafe { libc::ioctl(self.0.as_raw_fd(), libc::TUNGETFEATURES, &mut mask as *mut libc::c_uint) } {
            ret if ret < 0 => Err(io::Error::last_os_error()),
            _ => Ok(mask as c_int),
        }
    }

    /// SIOCGIFHWADDR: the address family (ARPHRD_*) and the MAC.
    fn hwaddr(&self) -> io::Result<(u16, [u8; 6])> {
        let mut ifr = ifreq(b"");
        self.ioctl_ifreq(libc::SIOCGIFHWADDR, &mut ifr)?;
        // SAFETY: SIOCGIFHWADDR filled in the hwaddr member.
        let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
        Ok((sa.sa_family, std::array::from_fn(|i| sa.sa_data[i] as u8)))
    }

    fn set_hwaddr(&self, family: u16, mac: [u8; 6]) -> io::Result<()> {
        let mut ifr = ifreq(b"");
        // SAFETY: writing the hwaddr member of a zeroed ifreq.
        unsafe {
            ifr.ifr_ifru.ifru_hwaddr.sa_family = family;
            for (dst, src) in ifr.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac) {
                *dst = src as libc::c_char;
            }
        }
        self.ioctl_ifreq(libc::SIOCSIFHWADDR, &mut ifr)
    }

    /// poll(2) with no wait: the events reported now.
    fn revents(&self) -> io::Result<i16> {
        let mut fds = libc::pollfd { fd: self.0.as_raw_fd(), events: libc::POLLIN | libc::POLLOUT, revents: 0 };
        // SAFETY: `fds` is a valid array of one pollfd.
        match unsafe { libc::poll(&mut fds, 1, 0) } {
            ret if ret < 0 => Err(io::Error::last_os_error()),
            _ => Ok(fds.revents),
        }
    }

    /// O_NONBLOCK: a read with nothing queued is EAGAIN.
    fn set_nonblocking(&self) -> Result<(), String> {
        let fd = self.0.as_raw_fd();
        // SAFETY: F_GETFL and F_SETFL on an fd we own take and return plain flags.
        let ok = unsafe { libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK) } == 0;
        ensure(ok, || format!("fcntl O_NONBLOCK: {}", io::Error::last_os_error()))
    }

    fn try_clone(&self) -> Result<TunFd, String> {
        self.0.try_clone().map(TunFd).map_err(|e| format!("dup: {e}"))
    }
}

/// The ifindex of `name` (SIOCGIFINDEX on a socket); ENODEV if none.
fn ifindex(name: &str) -> io::Result<c_int> {
    // SAFETY: plain socket(2); the fd is owned below.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut ifr = ifreq(name.as_bytes());
    // SAFETY: SIOCGIFINDEX reads the name and writes the index of a valid ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX, &mut ifr as *mut libc::ifreq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFINDEX filled in the index member.
    Ok(unsafe { ifr.ifr_ifru.ifru_ifindex })
}

fn sysfs(name: &str, attr: &str) -> Result<String, String> {
    let path = format!("/sys/class/net/{name}/{attr}");
    std::fs::read_to_string(&path).map(|s| s.trim().to_string()).map_err(|e| format!("{path}: {e}"))
}

/// The number of transmit queues `name` has now (real_num_tx_queues).
fn tx_queues(name: &str) -> Result<usize, String> {
    let dir = format!("/sys/class/net/{name}/queues");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))?;
    Ok(entries.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("tx-")).count())
}

/// Devices whose names start with "tct" (this program's).
fn our_devices() -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir("/sys/class/net").map_err(|e| format!("/sys/class/net: {e}"))?;
    Ok(entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with("tct")).collect())
}

/// Deletes the named devices now (leftovers of an earlier run) and again
/// when dropped, so that a failed scenario leaves no persistent device or
/// bridge behind for the next one.
struct Cleanup(Vec<String>);

impl Cleanup {
    fn new(names: &[&str]) -> Cleanup {
        let cleanup = Cleanup(names.iter().map(|n| n.to_string()).collect());
        cleanup.delete(true);
        cleanup
    }

    fn add(&mut self, name: &str) {
        self.0.push(name.to_string());
    }

    fn delete(&self, say: bool) {
        for name in self.0.iter().filter(|n| ifindex(n).is_ok()) {
            if say {
                println!("# deleting {name}, left by an earlier run");
            }
            let _ = ip(&["link", "del", name]);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.delete(false);
    }
}

// ---------------------------------------------------------------------------
// Expectations

fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::EAGAIN => "EAGAIN",
        libc::ENOENT => "ENOENT",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::E2BIG => "E2BIG",
        libc::EBADFD => "EBADFD",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => format!("{} ({e})", errno_name(errno)),
        None => e.to_string(),
    }
}

/// `result` must succeed.
fn expect_ok<T>(what: &str, result: io::Result<T>) -> Result<T, String> {
    let value = result.map_err(|e| format!("{what}: {}, want success", describe(&e)))?;
    println!("# {what}: ok");
    Ok(value)
}

/// `result` must fail with `want`.
fn expect_errno<T: std::fmt::Debug>(what: &str, result: io::Result<T>, want: i32) -> Result<(), String> {
    match result {
        Ok(v) => Err(format!("{what}: succeeded ({v:?}), want {}", errno_name(want))),
        Err(e) if e.raw_os_error() == Some(want) => {
            println!("# {what}: {}", errno_name(want));
            Ok(())
        }
        Err(e) => Err(format!("{what}: {}, want {}", describe(&e), errno_name(want))),
    }
}

const FLAG_NAMES: &[(c_int, &str)] = &[
    (IFF_TUN, "IFF_TUN"),
    (IFF_TAP, "IFF_TAP"),
    (IFF_NAPI, "IFF_NAPI"),
    (IFF_NAPI_FRAGS, "IFF_NAPI_FRAGS"),
    (libc::IFF_NO_CARRIER, "IFF_NO_CARRIER"),
    (IFF_MULTI_QUEUE, "IFF_MULTI_QUEUE"),
    (IFF_ATTACH_QUEUE, "IFF_ATTACH_QUEUE"),
    (IFF_DETACH_QUEUE, "IFF_DETACH_QUEUE"),
    (IFF_PERSIST, "IFF_PERSIST"),
    // The same bit: IFF_NO_PI in TUNSETIFF, IFF_NOFILTER in TUNGETIFF too.
    (IFF_NO_PI, "IFF_NO_PI/IFF_NOFILTER"),
    (libc::IFF_ONE_QUEUE, "IFF_ONE_QUEUE"),
    (IFF_VNET_HDR, "IFF_VNET_HDR"),
    (IFF_TUN_EXCL, "IFF_TUN_EXCL"),
];

fn flags_text(flags: c_int) -> String {
    let names: Vec<&str> = FLAG_NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, n)| *n).collect();
    let known = FLAG_NAMES.iter().fold(0, |all, (bit, _)| all | bit);
    let rest = if flags & !known != 0 { format!("|{:#x}", flags & !known) } else { String::new() };
    format!("{flags:#06x} ({}{rest})", names.join("|"))
}

/// TUNGETIFF on `fd` must report `name` and exactly `flags`.
fn expect_iff(fd: &TunFd, name: &str, flags: c_int) -> Result<(), String> {
    let (got, got_flags) = fd.get_iff().map_err(|e| format!("TUNGETIFF: {}", describe(&e)))?;
    println!("# TUNGETIFF: {got} flags {}", flags_text(got_flags));
    ensure(got == name, || format!("TUNGETIFF name {got:?}, want {name:?}"))?;
    ensure(got_flags == flags, || format!("TUNGETIFF flags {}, want {}", flags_text(got_flags), flags_text(flags)))
}

/// TUNSETIFF on a new fd; the name must come back unchanged.
fn attach(name: &str, flags: c_int) -> Result<TunFd, String> {
    let fd = TunFd::open()?;
    let got = expect_ok(&format!("TUNSETIFF {name} {}", flags_text(flags)), fd.set_iff(name.as_bytes(), flags))?;
    ensure(got == name, || format!("TUNSETIFF returned the name {got:?}, want {name:?}"))?;
    Ok(fd)
}

fn expect_exists(name: &str) -> Result<(), String> {
    let index = ifindex(name).map_err(|e| format!("{name} should exist: SIOCGIFINDEX {}", describe(&e)))?;
    println!("# {name} exists (ifindex {index})");
    Ok(())
}

fn expect_gone(name: &str) -> Result<(), String> {
    match ifindex(name) {
        Err(e) if e.raw_os_error() == Some(ENODEV) => {
            println!("# {name} is gone");
            Ok(())
        }
        Ok(index) => Err(format!("{name} still exists (ifindex {index})")),
        Err(e) => Err(format!("SIOCGIFINDEX {name}: {}", describe(&e))),
    }
}

fn expect_sysfs(name: &str, attr: &str, want: &str) -> Result<(), String> {
    let got = sysfs(name, attr)?;
    println!("# {name} {attr}: {got}");
    ensure(got == want, || format!("{name} {attr} is {got}, want {want}"))
}

// ---------------------------------------------------------------------------
// Other users

/// Who a child process becomes.
struct User {
    uid: u32,
    gid: u32,
    groups: &'static [u32],
}

impl std::fmt::Display for User {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "uid {} gid {}", self.uid, self.gid)?;
        if !self.groups.is_empty() {
            write!(f, " groups {:?}", self.groups)?;
        }
        Ok(())
    }
}

/// Runs `f` in a child process that has become `user`, without
/// capabilities (a change of every uid away from 0 clears them); returns
/// what `f` returned (its errno travels as the exit status). The parent
/// closes its copies of whatever `f` owns at the fork, so an fd moved into
/// `f` is the child's alone.
fn as_user(user: &User, f: impl FnOnce() -> io::Result<()>) -> Result<io::Result<()>, String> {
    // SAFETY: this program is single-threaded; the child ends with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        let status = match become_user(user) {
            Err(why) => {
                eprintln!("child as {user}: {why}");
                255
            }
            Ok(()) => match f() {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().filter(|&n| n > 0 && n < 250).unwrap_or(254),
            },
        };
        // SAFETY: ends the child without running the parent's destructors twice.
        unsafe { libc::_exit(status) }
    }
    drop(f);
    let mut status = 0;
    // SAFETY: waits for our own child.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        return Err(format!("waitpid: {}", io::Error::last_os_error()));
    }
    match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
        (true, 0) => Ok(Ok(())),
        (true, 255) => Err(format!("the child could not become {user}")),
        (true, 254) => Err(format!("the child as {user} failed with something that is not an errno")),
        (true, errno) => Ok(Err(io::Error::from_raw_os_error(errno))),
        _ => Err(format!("the child as {user} died: wait status {status:#x}")),
    }
}

fn become_user(user: &User) -> Result<(), String> {
    // SAFETY: plain credential system calls with valid arguments.
    unsafe {
        if libc::setgroups(user.groups.len(), user.groups.as_ptr()) < 0
            || libc::setresgid(user.gid, user.gid, user.gid) < 0
            || libc::setresuid(user.uid, user.uid, user.uid) < 0
        {
            return Err(format!("cannot change credentials: {}", io::Error::last_os_error()));
        }
    }
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let caps = status.lines().find_map(|l| l.strip_prefix("CapEff:")).map(str::trim).unwrap_or("?");
    ensure(caps.bytes().all(|b| b == b'0'), || format!("still has capabilities {caps}"))
}

/// TUNSETIFF `name` as `user`: create the device, or attach to it. The fd
/// is opened as root first (device nodes are root's, mode 0600, as a
/// daemon hands a user an fd); tun checks the caller's credentials at
/// TUNSETIFF.
fn attach_as(user: &User, name: &str) -> Result<io::Result<()>, String> {
    let fd = TunFd::open()?;
    let name = name.to_string();
    as_user(user, move || fd.set_iff(name.as_bytes(), TAP).map(drop))
}

// ---------------------------------------------------------------------------
// Scenarios

fn setiff_name() -> Result<(), String> {
    let name = "tct-name";
    let _cleanup = Cleanup::new(&[name]);
    let fd = attach(name, TAP)?;
    expect_exists(name)?;
    expect_sysfs(name, "type", "1")?; // ARPHRD_ETHER
    // tun reports its flags (IFF_TAP | IFF_NO_PI) and IFF_NOFILTER, the
    // same bit as IFF_NO_PI: no socket filter is attached.
    expect_iff(&fd, name, TAP)?;
    drop(fd);
    expect_gone(name)
}

fn setiff_template() -> Result<(), String> {
    let mut cleanup = Cleanup::new(&[]);
    let (a, got_a) = setiff_numbered(&mut cleanup, "TUNSETIFF tct%d", "tct%d", "tct")?;
    let (b, got_b) = setiff_numbered(&mut cleanup, "TUNSETIFF tct%d again", "tct%d", "tct")?;
    expect_exists(&got_a)?;
    expect_exists(&got_b)?;
    expect_iff(&a, &got_a, TAP)?;
    drop((a, b));
    expect_gone(&got_a)?;
    expect_gone(&got_b)?;

    let (fd, got) = setiff_numbered(&mut cleanup, "TUNSETIFF with an empty name", "", &opts().template_prefix)?;
    expect_exists(&got)?;
    drop(fd);
    expect_gone(&got)
}

/// TUNSETIFF `name` (a `%d` template, or empty) on a new fd: the device
/// must get `prefix` and the lowest number no device of that prefix has.
fn setiff_numbered(cleanup: &mut Cleanup, what: &str, name: &str, prefix: &str) -> Result<(TunFd, String), String> {
    let want = (0..).map(|n| format!("{prefix}{n}")).find(|n| ifindex(n).is_err()).unwrap();
    let fd = TunFd::open()?;
    let got = expect_ok(what, fd.set_iff(name.as_bytes(), TAP))?;
    cleanup.add(&got);
    let shown = if name.is_empty() { "the empty name" } else { name };
    println!("# {shown} became {got}");
    ensure(got == want, || format!("{shown} became {got}, want {want} (template {prefix}%d)"))?;
    Ok((fd, got))
}

fn getfeatures() -> Result<(), String> {
    // Asked before TUNSETIFF: it says which flags TUNSETIFF takes.
    let fd = TunFd::open()?;
    let mask = expect_ok("TUNGETFEATURES on an unattached fd", fd.features())?;
    println!("# TUNGETFEATURES: {}", flags_text(mask));
    for (bit, name) in [(IFF_TAP, "IFF_TAP"), (IFF_NO_PI, "IFF_NO_PI")] {
        ensure(mask & bit != 0, || format!("TUNGETFEATURES {} lacks {name}", flags_text(mask)))?;
    }
    let _cleanup = Cleanup::new(&["tct-feat"]);
    let fd = attach("tct-feat", TAP)?;
    expect_ok("TUNSETNOCSUM 1 (accepted, no effect)", fd.ioctl_value(TUNSETNOCSUM, 1))?;
    expect_ok("the debug ioctl (T, 201) with 1: accepted, no effect", fd.ioctl_value(TUNSETDEBUG, 1))?;
    let attached = expect_ok("TUNGETFEATURES on an attached fd", fd.features())?;
    ensure(attached == mask, || format!("TUNGETFEATURES attached {}, unattached {}", flags_text(attached), flags_text(mask)))
}

fn persist() -> Result<(), String> {
    let name = "tct-pers";
    let _cleanup = Cleanup::new(&[name]);
    let fd = attach(name, TAP)?;
    expect_ok("TUNSETPERSIST 1", fd.ioctl_value(libc::TUNSETPERSIST, 1))?;
    expect_iff(&fd, name, TAP | IFF_PERSIST)?;
    ip(&["link", "set", name, "up"])?;
    expect_sysfs(name, "carrier", "1")?;
    drop(fd);
    expect_exists(name)?;
    // Nothing attached: no carrier.
    expect_sysfs(name, "carrier", "0")?;

    let fd = attach(name, TAP)?;
    expect_iff(&fd, name, TAP | IFF_PERSIST)?;
    expect_sysfs(name, "carrier", "1")?;
    expect_ok("TUNSETPERSIST 0", fd.ioctl_value(libc::TUNSETPERSIST, 0))?;
    expect_iff(&fd, name, TAP)?;
    drop(fd);
    expect_gone(name)
}

fn owner() -> Result<(), String> {
    const OWNER: User = User { uid: 1000, gid: 1000, groups: &[] };
    const OTHER: User = User { uid: 1001, gid: 1001, groups: &[] };
    let (own, grp, new) = ("tct-own", "tct-grp", "tct-own-new");
    let _cleanup = Cleanup::new(&[own, grp, new]);

    // Owner 1000, persistent, closed: nobody attached.
    let fd = attach(own, TAP)?;
    expect_ok("TUNSETOWNER 1000", fd.ioctl_value(libc::TUNSETOWNER, 1000))?;
    expect_errno("TUNSETOWNER -1 (no such uid)", fd.ioctl_value(libc::TUNSETOWNER, u32::MAX as c_ulong), EINVAL)?;
    expect_ok("TUNSETPERSIST 1", fd.ioctl_value(libc::TUNSETPERSIST, 1))?;
    drop(fd);
    expect_ok(&format!("{OWNER} attaches to {own} (owner 1000)"), attach_as(&OWNER, own)?)?;
    expect_errno(&format!("{OTHER} attaches to {own} (owner 1000)"), attach_as(&OTHER, own)?, EPERM)?;
    // Creating needs CAP_NET_ADMIN, whoever owns other devices.
    expect_errno(&format!("{OWNER} creates {new}"), attach_as(&OWNER, new)?, EPERM)?;
    expect_gone(new)?;

    // Owner and group set: both must match.
    let fd = attach(own, TAP)?;
    expect_ok("TUNSETGROUP 1001", fd.ioctl_value(libc::TUNSETGROUP, 1001))?;
    drop(fd);
    expect_errno(&format!("{OWNER} attaches to {own} (owner 1000, group 1001)"), attach_as(&OWNER, own)?, EPERM)?;
    let in_group = User { uid: 1000, gid: 1001, groups: &[] };
    expect_ok(&format!("{in_group} attaches to {own} (owner 1000, group 1001)"), attach_as(&in_group, own)?)?;
    let supplementary = User { uid: 1000, gid: 1000, groups: &[1001] };
    expect_ok(&format!("{supplementary} attaches to {own} (owner 1000, group 1001)"), attach_as(&supplementary, own)?)?;

    // Group 1000 only.
    let fd = attach(grp, TAP)?;
    expect_ok("TUNSETGROUP 1000", fd.ioctl_value(libc::TUNSETGROUP, 1000))?;
    expect_errno("TUNSETGROUP -1 (no such gid)", fd.ioctl_value(libc::TUNSETGROUP, u32::MAX as c_ulong), EINVAL)?;
    expect_ok("TUNSETPERSIST 1", fd.ioctl_value(libc::TUNSETPERSIST, 1))?;
    drop(fd);
    let member = User { uid: 1001, gid: 1000, groups: &[] };
    expect_ok(&format!("{member} attaches to {grp} (group 1000)"), attach_as(&member, grp)?)?;
    expect_errno(&format!("{OTHER} attaches to {grp} (group 1000)"), attach_as(&OTHER, grp)?, EPERM)?;
    let supplementary = User { uid: 1001, gid: 1001, groups: &[1000] };
    expect_ok(&format!("{supplementary} attaches to {grp} (group 1000)"), attach_as(&supplementary, grp)?)?;

    // Root (CAP_NET_ADMIN) attaches whoever owns the device.
    for name in [own, grp] {
        let fd = attach(name, TAP)?;
        expect_ok("TUNSETPERSIST 0", fd.ioctl_value(libc::TUNSETPERSIST, 0))?;
        drop(fd);
        expect_gone(name)?;
    }
    Ok(())
}

fn hwaddr() -> Result<(), String> {
    let name = "tct-hw";
    let _cleanup = Cleanup::new(&[name]);
    let ether = libc::ARPHRD_ETHER;
    let fd = attach(name, TAP)?;

    // A random, locally administered unicast address to start with.
    let (family, mac) = expect_ok("SIOCGIFHWADDR", fd.hwaddr())?;
    println!("# SIOCGIFHWADDR: family {family}, {}", format_mac(&mac));
    ensure(family == ether, || format!("SIOCGIFHWADDR family {family}, want ARPHRD_ETHER ({ether})"))?;
    ensure(mac[0] & 1 == 0 && mac[0] & 2 != 0, || format!("{} is not a locally administered unicast address", format_mac(&mac)))?;
    expect_sysfs(name, "address", &format_mac(&mac))?;
    expect_sysfs(name, "addr_assign_type", "1")?; // NET_ADDR_RANDOM

    let a = [0x02, 0, 0, 0x42, 0, 1];
    expect_ok(&format!("SIOCSIFHWADDR {}", format_mac(&a)), fd.set_hwaddr(ether, a))?;
    mac_is_on(&fd, name, a)?;
    expect_sysfs(name, "addr_assign_type", "3")?; // NET_ADDR_SET

    // Also while up (tun: IFF_LIVE_ADDR_CHANGE).
    ip(&["link", "set", name, "up"])?;
    let b = [0x02, 0, 0, 0x42, 0, 2];
    expect_ok(&format!("SIOCSIFHWADDR {} while up", format_mac(&b)), fd.set_hwaddr(ether, b))?;
    mac_is_on(&fd, name, b)?;

    let multicast = [0x01, 0, 0x5e, 0, 0, 1];
    expect_errno("SIOCSIFHWADDR multicast 01:00:5e:00:00:01", fd.set_hwaddr(ether, multicast), EADDRNOTAVAIL)?;
    expect_errno("SIOCSIFHWADDR 00:00:00:00:00:00", fd.set_hwaddr(ether, [0; 6]), EADDRNOTAVAIL)?;
    expect_errno("SIOCSIFHWADDR with family 0, not ARPHRD_ETHER", fd.set_hwaddr(0, a), EINVAL)?;
    mac_is_on(&fd, name, b)?;

    // The fd is the capability: an unprivileged holder sets the address.
    let c = [0x02, 0, 0, 0x42, 0, 3];
    let dup = fd.try_clone()?;
    let result = as_user(&User { uid: 1000, gid: 1000, groups: &[] }, move || dup.set_hwaddr(ether, c))?;
    expect_ok(&format!("uid 1000 without capabilities: SIOCSIFHWADDR {} on the attached fd", format_mac(&c)), result)?;
    mac_is_on(&fd, name, c)?;

    let unattached = TunFd::open()?;
    expect_errno("SIOCGIFHWADDR on an unattached fd", unattached.hwaddr(), EBADFD)?;
    expect_errno("SIOCSIFHWADDR on an unattached fd", unattached.set_hwaddr(ether, a), EBADFD)?;
    drop(fd);
    expect_gone(name)
}

/// SIOCGIFHWADDR on `fd` and sysfs both say `want`.
fn mac_is_on(fd: &TunFd, name: &str, want: [u8; 6]) -> Result<(), String> {
    let (family, mac) = fd.hwaddr().map_err(|e| format!("SIOCGIFHWADDR: {}", describe(&e)))?;
    println!("# SIOCGIFHWADDR: family {family}, {}", format_mac(&mac));
    ensure(family == libc::ARPHRD_ETHER && mac == want, || {
        format!("SIOCGIFHWADDR: family {family} {}, want {} {}", format_mac(&mac), libc::ARPHRD_ETHER, format_mac(&want))
    })?;
    expect_sysfs(name, "address", &format_mac(&want))
}

fn raise_nofile(want: u64) -> Result<(), String> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) < 0 {
            return Err(format!("getrlimit: {}", io::Error::last_os_error()));
        }
        if limit.rlim_cur < want {
            let raised = libc::rlimit { rlim_cur: want, rlim_max: want.max(limit.rlim_max) };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) < 0 {
                return Err(format!("setrlimit NOFILE {want}: {}", io::Error::last_os_error()));
            }
        }
    }
    println!("# RLIMIT_NOFILE was {}, at least {want} now", limit.rlim_cur);
    Ok(())
}

fn expect_queues(name: &str, want: usize) -> Result<(), String> {
    let got = tx_queues(name)?;
    println!("# {name} has {got} tx queues");
    ensure(got == want, || format!("{name} has {got} tx queues, want {want}"))
}

fn multiqueue() -> Result<(), String> {
    let (name, single) = ("tct-mq", "tct-sq");
    let _cleanup = Cleanup::new(&[name, single]);
    let mq = TAP | IFF_MULTI_QUEUE;

    let mut queues = Vec::new();
    for _ in 0..4 {
        queues.push(attach(name, mq)?);
    }
    expect_queues(name, 4)?;
    expect_iff(&queues[0], name, mq)?;
    expect_errno("TUNSETIFF without IFF_MULTI_QUEUE on a multiqueue device", TunFd::open()?.set_iff(name.as_bytes(), TAP), EINVAL)?;

    // Detach queue 1 and attach it again.
    expect_ok("queue 1: TUNSETQUEUE IFF_DETACH_QUEUE", queues[1].set_queue(IFF_DETACH_QUEUE))?;
    expect_queues(name, 3)?;
    // A detached fd still names its device, with IFF_DETACH_QUEUE.
    expect_iff(&queues[1], name, mq | IFF_DETACH_QUEUE)?;
    expect_errno("queue 1: IFF_DETACH_QUEUE again", queues[1].set_queue(IFF_DETACH_QUEUE), EINVAL)?;
    expect_errno("queue 1: TUNSETIFF while detached", queues[1].set_iff(name.as_bytes(), mq), EEXIST)?;
    expect_errno("queue 2: IFF_ATTACH_QUEUE while attached", queues[2].set_queue(IFF_ATTACH_QUEUE), EINVAL)?;
    expect_errno("queue 2: TUNSETQUEUE with neither flag", queues[2].set_queue(0), EINVAL)?;
    expect_ok("queue 1: IFF_ATTACH_QUEUE", queues[1].set_queue(IFF_ATTACH_QUEUE))?;
    expect_queues(name, 4)?;
    expect_iff(&queues[1], name, mq)?;

    // The only queue may detach; the device stays until its fd closes.
    queues.truncate(1);
    expect_queues(name, 1)?;
    expect_ok("only queue: IFF_DETACH_QUEUE", queues[0].set_queue(IFF_DETACH_QUEUE))?;
    expect_exists(name)?;
    // The kernel keeps real_num_tx_queues at least 1.
    expect_queues(name, 1)?;
    expect_ok("only queue: IFF_ATTACH_QUEUE", queues[0].set_queue(IFF_ATTACH_QUEUE))?;
    expect_ok("only queue: IFF_DETACH_QUEUE again", queues[0].set_queue(IFF_DETACH_QUEUE))?;
    drop(queues);
    expect_gone(name)?;

    // TUNSETQUEUE needs a multiqueue device and an attached fd.
    let fd = attach(single, TAP)?;
    expect_errno("single queue: IFF_DETACH_QUEUE", fd.set_queue(IFF_DETACH_QUEUE), EINVAL)?;
    expect_errno("single queue: IFF_ATTACH_QUEUE", fd.set_queue(IFF_ATTACH_QUEUE), EINVAL)?;
    expect_errno("a second fd on a single-queue device", TunFd::open()?.set_iff(single.as_bytes(), TAP), EBUSY)?;
    drop(fd);
    let unattached = TunFd::open()?;
    expect_errno("unattached fd: IFF_DETACH_QUEUE", unattached.set_queue(IFF_DETACH_QUEUE), EINVAL)?;
    expect_errno("unattached fd: IFF_ATTACH_QUEUE", unattached.set_queue(IFF_ATTACH_QUEUE), EINVAL)?;
    drop(unattached);

    // At most 256 queues (tun's MAX_TAP_QUEUES), detached ones included.
    raise_nofile(1024)?;
    let start = Instant::now();
    let mut queues = Vec::new();
    for i in 0..256 {
        let fd = TunFd::open()?;
        fd.set_iff(name.as_bytes(), mq).map_err(|e| format!("queue {i}: TUNSETIFF: {}", describe(&e)))?;
        queues.push(fd);
    }
    println!("# 256 queues attached in {:.2} s", start.elapsed().as_secs_f64());
    expect_queues(name, 256)?;
    expect_errno("queue 257: TUNSETIFF", TunFd::open()?.set_iff(name.as_bytes(), mq), E2BIG)?;
    expect_ok("queue 256: IFF_DETACH_QUEUE", queues[255].set_queue(IFF_DETACH_QUEUE))?;
    expect_errno("queue 257 while queue 256 is detached", TunFd::open()?.set_iff(name.as_bytes(), mq), E2BIG)?;
    expect_ok("queue 256: IFF_ATTACH_QUEUE", queues[255].set_queue(IFF_ATTACH_QUEUE))?;
    let start = Instant::now();
    drop(queues);
    println!("# 256 queues closed in {:.2} s", start.elapsed().as_secs_f64());
    expect_gone(name)
}

// ---------------------------------------------------------------------------
// Multiqueue traffic: frames through the queues, not only the ioctls

/// The device of the mq-* scenarios, its address, and a peer that a
/// permanent neighbour entry makes reachable without ARP.
const MQT: &str = "tct-mqt";
const MQT_LOCAL: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 1);
const MQT_PEER: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 2);
const MQT_PEER_MAC: [u8; 6] = [0x02, 0, 0, 0x97, 0, 2];
/// The stack sends from SRC_PORT to FLOWS destination ports from
/// FIRST_PORT: one flow per destination port.
const SRC_PORT: u16 = 19999;
const FIRST_PORT: u16 = 20000;
const FLOWS: u16 = 256;
/// Datagrams per flow. A round sends one per flow and reads them all back
/// before the next, so a queue never holds more than FLOWS frames, fewer
/// than tx_queue_len (500): no frame may be dropped for room.
const ROUNDS: usize = 3;
/// Only stops a hang: far beyond what a slow TCG run needs.
const LIMIT: Duration = Duration::from_secs(30);

/// A multiqueue tap `tct-mqt` with one non-blocking fd per queue, up, with
/// 10.97.0.1/24 and the peer 10.97.0.2 in its neighbour table; `sender`
/// sends the flows.
struct MqDevice {
    queues: Vec<TunFd>,
    sender: UdpSocket,
    /// The device's MAC, the destination of the frames written to it.
    mac: [u8; 6],
    // Dropped last: deletes the device if closing the queues did not.
    _cleanup: Cleanup,
}

impl MqDevice {
    fn new(count: usize) -> Result<MqDevice, String> {
        MqDevice::with_flags(count, TAP | IFF_MULTI_QUEUE)
    }

    /// As [`MqDevice::new`], each queue attached with TUNSETIFF `flags`
    /// (one queue without IFF_MULTI_QUEUE).
    fn with_flags(count: usize, flags: c_int) -> Result<MqDevice, String> {
        let cleanup = Cleanup::new(&[MQT]);
        let mut queues = Vec::new();
        for _ in 0..count {
            let fd = attach(MQT, flags)?;
            fd.set_nonblocking()?;
            queues.push(fd);
        }
        expect_queues(MQT, count)?;
        // No IPv6: its router solicitations and MLD reports would be frames
        // the exact counts (tx_dropped) do not expect.
        let path = format!("/proc/sys/net/ipv6/conf/{MQT}/disable_ipv6");
        std::fs::write(&path, "1").map_err(|e| format!("{path}: {e}"))?;
        ip(&["addr", "add", &format!("{MQT_LOCAL}/24"), "dev", MQT])?;
        ip(&["link", "set", MQT, "up"])?;
        let peer_mac = format_mac(&MQT_PEER_MAC);
        ip(&["neigh", "add", &MQT_PEER.to_string(), "lladdr", &peer_mac, "dev", MQT, "nud", "permanent"])?;
        let sender = UdpSocket::bind((MQT_LOCAL, SRC_PORT)).map_err(|e| format!("bind {MQT_LOCAL}:{SRC_PORT}: {e}"))?;
        // A send that would block fails instead of hanging.
        sender.set_nonblocking(true).map_err(|e| format!("UDP socket O_NONBLOCK: {e}"))?;
        let mac = mac_of(MQT).map_err(|e| format!("{MQT} address: {e}"))?;
        println!("# {MQT}: {count} queues, {MQT_LOCAL}/24, up, neighbour {MQT_PEER} {peer_mac} permanent");
        Ok(MqDevice { queues, sender, mac, _cleanup: cleanup })
    }

    /// A UDP frame from the peer to `MQT_LOCAL:port` whose payload says
    /// which queue's fd wrote it (see [`expect_received`]).
    fn written_frame(&self, queue: usize, i: usize, port: u16) -> Vec<u8> {
        let payload = format!("queue {queue} frame {i}");
        udp_frame(MQT_PEER_MAC, self.mac, MQT_PEER.octets(), MQT_LOCAL.octets(), port, payload.as_bytes())
    }

    /// Writes frame `i` of queue `queue` on that queue's fd.
    fn write_one(&self, queue: usize, i: usize, port: u16) -> io::Result<usize> {
        (&self.queues[queue].0).write(&self.written_frame(queue, i, port))
    }

    /// Writes `count` frames on queue `queue`'s fd, back to back; each
    /// write must take the whole frame.
    fn write_frames(&self, queue: usize, port: u16, count: usize) -> Result<(), String> {
        for i in 0..count {
            let len = self.written_frame(queue, i, port).len();
            let n = self.write_one(queue, i, port).map_err(|e| format!("queue {queue}: write {i}: {}", describe(&e)))?;
            ensure(n == len, || format!("queue {queue}: write returned {n}, want {len}"))?;
        }
        println!("# wrote {count} UDP frames for {MQT_LOCAL}:{port} on queue {queue}'s fd");
        Ok(())
    }

    /// One datagram to each flow.
    fn send_round(&self) -> Result<(), String> {
        for port in FIRST_PORT..FIRST_PORT + FLOWS {
            self.sender.send_to(b"xtun-tunctl mq", (MQT_PEER, port)).map_err(|e| format!("sendto {MQT_PEER}:{port}: {e}"))?;
        }
        Ok(())
    }

    /// One read on queue `queue`'s fd.
    fn read_one(&self, queue: usize) -> io::Result<usize> {
        (&self.queues[queue].0).read(&mut [0u8; 2048])
    }

    /// Reads every queue's fd until it is empty (EAGAIN).
    fn read_all(&self, rx: &mut Received) -> Result<(), String> {
        let mut buf = [0u8; 2048];
        for (queue, fd) in self.queues.iter().enumerate() {
            loop {
                match (&fd.0).read(&mut buf) {
                    Ok(n) => rx.add(queue, &buf[..n.min(buf.len())]),
                    Err(e) if e.raw_os_error() == Some(EAGAIN) => break,
                    Err(e) => return Err(format!("queue {queue}: read: {}", describe(&e))),
                }
            }
        }
        Ok(())
    }

    /// `rounds` rounds of one datagram per flow, each read back before the
    /// next: every datagram must arrive exactly once, and all of a flow's
    /// on one queue (the stack picks the queue by the flow's hash).
    fn traffic(&self, what: &str, rounds: usize) -> Result<Received, String> {
        let mut rx = Received { per_queue: vec![0; self.queues.len()], ..Received::default() };
        for round in 1..=rounds {
            let want = round * FLOWS as usize;
            self.send_round()?;
            let waited = wait_until(|| {
                self.read_all(&mut rx)?;
                Ok(rx.total() >= want)
            });
            waited.map_err(|e| format!("{what}: round {round}: {e}: read {} of {want} datagrams, per queue {:?}", rx.total(), rx.per_queue))?;
        }
        // One more pass: a frame still arriving now would be one too many.
        self.read_all(&mut rx)?;
        println!("# {what}: datagrams per queue {:?} (and {} other frames)", rx.per_queue, rx.other);
        let sent = rounds * FLOWS as usize;
        ensure(rx.total() == sent, || format!("{what}: read {} datagrams, sent {sent}", rx.total()))?;
        ensure(rx.flows.len() == FLOWS as usize, || format!("{what}: {} of {FLOWS} flows arrived", rx.flows.len()))?;
        let split: Vec<_> = rx.flows.iter().filter(|(_, queues)| queues.len() > 1).collect();
        ensure(split.is_empty(), || {
            let (port, queues) = split[0];
            format!("{what}: {} flows arrived on more than one queue, e.g. port {port} on queues {queues:?}", split.len())
        })?;
        println!("# {what}: all {sent} datagrams of {FLOWS} flows read once, each flow from one queue");
        Ok(rx)
    }
}

/// What the queues' fds read: the test's datagrams by queue and by flow.
#[derive(Default)]
struct Received {
    per_queue: Vec<usize>,
    /// A flow's destination port -> the queues its datagrams came from.
    flows: BTreeMap<u16, BTreeSet<usize>>,
    /// Frames that are not the test's datagrams.
    other: usize,
}

impl Received {
    fn add(&mut self, queue: usize, frame: &[u8]) {
        match test_flow(frame) {
            Some(port) => {
                self.per_queue[queue] += 1;
                self.flows.entry(port).or_default().insert(queue);
            }
            None => self.other += 1,
        }
    }

    fn total(&self) -> usize {
        self.per_queue.iter().sum()
    }
}

/// The flow (destination port) of one of the datagrams `send_round` sends.
fn test_flow(frame: &[u8]) -> Option<u16> {
    let packet = SlicedPacket::from_ethernet(frame).ok()?;
    let (Some(NetSlice::Ipv4(ipv4)), Some(TransportSlice::Udp(udp))) = (&packet.net, &packet.transport) else {
        return None;
    };
    let header = ipv4.header();
    let port = udp.destination_port();
    let ours = header.source() == MQT_LOCAL.octets() && header.destination() == MQT_PEER.octets() && udp.source_port() == SRC_PORT;
    (ours && (FIRST_PORT..FIRST_PORT + FLOWS).contains(&port)).then_some(port)
}

/// Calls `done` every millisecond until it holds; an error after LIMIT.
fn wait_until(mut done: impl FnMut() -> Result<bool, String>) -> Result<(), String> {
    let start = Instant::now();
    while !done()? {
        if start.elapsed() > LIMIT {
            return Err(format!("not after {} s", LIMIT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn counter(name: &str, stat: &str) -> Result<u64, String> {
    let text = sysfs(name, &format!("statistics/{stat}"))?;
    text.parse().map_err(|e| format!("{name} {stat} {text:?}: {e}"))
}

fn expect_counter(name: &str, stat: &str, want: u64) -> Result<(), String> {
    let got = counter(name, stat)?;
    println!("# {name} {stat}: {got}");
    ensure(got == want, || format!("{name} {stat} is {got}, want {want}"))
}

/// Every queue read some of the datagrams, except those `detached`, which
/// read none.
fn expect_spread(what: &str, rx: &Received, detached: &[usize]) -> Result<(), String> {
    for (queue, &n) in rx.per_queue.iter().enumerate() {
        if detached.contains(&queue) {
            ensure(n == 0, || format!("{what}: detached queue {queue} read {n} datagrams"))?;
        } else {
            ensure(n > 0, || format!("{what}: queue {queue} read none of the datagrams ({:?})", rx.per_queue))?;
        }
    }
    Ok(())
}

fn mq_flows() -> Result<(), String> {
    let dev = MqDevice::new(4)?;
    let rx = dev.traffic("4 queues", ROUNDS)?;
    expect_spread("4 queues", &rx, &[])?;
    expect_counter(MQT, "tx_dropped", 0)
}

fn mq_detach() -> Result<(), String> {
    let dev = MqDevice::new(4)?;
    expect_ok("queue 1: TUNSETQUEUE IFF_DETACH_QUEUE", dev.queues[1].set_queue(IFF_DETACH_QUEUE))?;
    expect_queues(MQT, 3)?;
    let rx = dev.traffic("queue 1 detached", ROUNDS)?;
    expect_spread("queue 1 detached", &rx, &[1])?;
    expect_errno("queue 1 (detached): read", dev.read_one(1), EAGAIN)?;
    expect_counter(MQT, "tx_dropped", 0)?;

    expect_ok("queue 1: IFF_ATTACH_QUEUE", dev.queues[1].set_queue(IFF_ATTACH_QUEUE))?;
    expect_queues(MQT, 4)?;
    let rx = dev.traffic("queue 1 attached again", ROUNDS)?;
    expect_spread("queue 1 attached again", &rx, &[])?;
    expect_counter(MQT, "tx_dropped", 0)
}

fn mq_detach_all() -> Result<(), String> {
    let dev = MqDevice::new(4)?;
    for (queue, fd) in dev.queues.iter().enumerate() {
        expect_ok(&format!("queue {queue}: IFF_DETACH_QUEUE"), fd.set_queue(IFF_DETACH_QUEUE))?;
    }
    // tun: the carrier stays on, so the stack still hands every frame to
    // the driver, which drops it for want of a queue.
    expect_sysfs(MQT, "carrier", "1")?;
    let want = counter(MQT, "tx_dropped")? + u64::from(FLOWS);
    dev.send_round()?;
    println!("# sent {FLOWS} datagrams with every queue detached");
    let waited = wait_until(|| Ok(counter(MQT, "tx_dropped")? >= want));
    waited.map_err(|e| format!("tx_dropped {want}: {e}: it is {}", counter(MQT, "tx_dropped").unwrap_or_default()))?;
    expect_counter(MQT, "tx_dropped", want)?;
    for queue in 0..dev.queues.len() {
        expect_errno(&format!("queue {queue} (detached): read"), dev.read_one(queue), EAGAIN)?;
    }

    expect_ok("queue 2: IFF_ATTACH_QUEUE", dev.queues[2].set_queue(IFF_ATTACH_QUEUE))?;
    expect_queues(MQT, 1)?;
    let rx = dev.traffic("only queue 2 attached", ROUNDS)?;
    expect_spread("only queue 2 attached", &rx, &[0, 1, 3])?;
    expect_counter(MQT, "tx_dropped", want)
}

fn mq_write() -> Result<(), String> {
    const PORT: u16 = 19998;
    const WRITES: usize = 4;
    let dev = MqDevice::new(4)?;
    let listener = listen(PORT)?;
    let before = counter(MQT, "rx_packets")?;
    for queue in 0..dev.queues.len() {
        dev.write_frames(queue, PORT, WRITES)?;
    }
    expect_received(&listener, &[WRITES; 4])?;
    expect_counter(MQT, "rx_packets", before + 4 * WRITES as u64)
}

/// A UDP socket on `MQT_LOCAL:port` for the frames written to the device,
/// with room for every datagram a scenario writes before it reads any.
fn listen(port: u16) -> Result<UdpSocket, String> {
    let listener = UdpSocket::bind((MQT_LOCAL, port)).map_err(|e| format!("bind {MQT_LOCAL}:{port}: {e}"))?;
    listener.set_read_timeout(Some(LIMIT)).map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    // The default receive buffer (rmem_default) holds fewer small
    // datagrams than napi-write's 200; root may pass rmem_max.
    let size: c_int = 4 << 20;
    // SAFETY: SO_RCVBUFFORCE reads one int from a valid pointer.
    let ret = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const c_int).cast(),
            std::mem::size_of::<c_int>() as libc::socklen_t,
        )
    };
    ensure(ret == 0, || format!("SO_RCVBUFFORCE {size}: {}", io::Error::last_os_error()))?;
    Ok(listener)
}

/// Receives the datagrams of [`MqDevice::write_frames`] on `listener`: as
/// many from each queue as `want` says, and then no more.
fn expect_received(listener: &UdpSocket, want: &[usize]) -> Result<(), String> {
    let port = listener.local_addr().map_err(|e| format!("getsockname: {e}"))?.port();
    let mut from = vec![0; want.len()];
    let mut buf = [0u8; 64];
    for _ in 0..want.iter().sum() {
        let n = listener.recv(&mut buf).map_err(|e| format!("recv on {MQT_LOCAL}:{port}: {e}; got {from:?} per queue, want {want:?}"))?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let queue = text.strip_prefix("queue ").and_then(|t| t.split(' ').next()?.parse::<usize>().ok());
        match queue {
            Some(q) if q < from.len() => from[q] += 1,
            _ => return Err(format!("{MQT_LOCAL}:{port} received {text:?}")),
        }
    }
    let set_nonblocking = |on| listener.set_nonblocking(on).map_err(|e| format!("O_NONBLOCK: {e}"));
    set_nonblocking(true)?;
    let more = listener.recv(&mut buf);
    set_nonblocking(false)?;
    expect_errno(&format!("{MQT_LOCAL}:{port}: recv after the {} datagrams", from.iter().sum::<usize>()), more, EAGAIN)?;
    println!("# the socket received per queue {from:?}");
    ensure(from == want, || format!("datagrams per queue {from:?}, want {want:?}"))
}

// ---------------------------------------------------------------------------
// IFF_NAPI and packet information: written frames through NAPI, and tun_pi

fn napi_write() -> Result<(), String> {
    napi_write_multiqueue()?;
    napi_write_burst()
}

/// Two IFF_NAPI queues: writes on either reach the stack; a detached
/// queue's write fails, the other queue's still work.
fn napi_write_multiqueue() -> Result<(), String> {
    const PORT: u16 = 19997;
    const WRITES: usize = 4;
    let flags = TAP | IFF_MULTI_QUEUE | IFF_NAPI;
    let dev = MqDevice::with_flags(2, flags)?;
    expect_iff(&dev.queues[0], MQT, flags)?;
    let listener = listen(PORT)?;
    let rx = counter(MQT, "rx_packets")?;
    dev.write_frames(0, PORT, WRITES)?;
    dev.write_frames(1, PORT, WRITES)?;
    expect_received(&listener, &[WRITES, WRITES])?;
    let rx = rx + 2 * WRITES as u64;
    expect_counter(MQT, "rx_packets", rx)?;

    expect_ok("queue 1: TUNSETQUEUE IFF_DETACH_QUEUE", dev.queues[1].set_queue(IFF_DETACH_QUEUE))?;
    let dropped = counter(MQT, "rx_dropped")?;
    expect_errno("queue 1 (detached): write", dev.write_one(1, 0, PORT), EBUSY)?;
    // tun frees the frame without counting it anywhere (tun_get_user's
    // free_skb label, not drop): neither received nor dropped.
    expect_counter(MQT, "rx_packets", rx)?;
    expect_counter(MQT, "rx_dropped", dropped)?;
    dev.write_frames(0, PORT, WRITES)?;
    expect_received(&listener, &[WRITES, 0])?;
    let rx = rx + WRITES as u64;
    expect_counter(MQT, "rx_packets", rx)?;

    expect_ok("queue 1: IFF_ATTACH_QUEUE", dev.queues[1].set_queue(IFF_ATTACH_QUEUE))?;
    dev.write_frames(1, PORT, WRITES)?;
    expect_received(&listener, &[0, WRITES])?;
    expect_counter(MQT, "rx_packets", rx + WRITES as u64)?;
    expect_counter(MQT, "rx_dropped", dropped)
}

/// One IFF_NAPI queue: a burst of writes, none lost (xtun's NAPI backlog
/// holds 1000 frames).
fn napi_write_burst() -> Result<(), String> {
    const PORT: u16 = 19996;
    const WRITES: usize = 200;
    let flags = TAP | IFF_NAPI;
    let dev = MqDevice::with_flags(1, flags)?;
    expect_iff(&dev.queues[0], MQT, flags)?;
    let listener = listen(PORT)?;
    let (rx, dropped) = (counter(MQT, "rx_packets")?, counter(MQT, "rx_dropped")?);
    dev.write_frames(0, PORT, WRITES)?;
    expect_received(&listener, &[WRITES])?;
    expect_counter(MQT, "rx_packets", rx + WRITES as u64)?;
    expect_counter(MQT, "rx_dropped", dropped)
}

/// `sizeof(struct tun_pi)`: u16 flags (host order), __be16 proto.
const PI_LEN: usize = 4;
/// `TUN_PKT_STRIP`: the reader's buffer was too short for the frame.
const TUN_PKT_STRIP: u16 = 0x0001;
const ETH_P_IP: u16 = 0x0800;

fn pi_header(flags: u16, proto: u16) -> [u8; PI_LEN] {
    let ([f0, f1], [p0, p1]) = (flags.to_ne_bytes(), proto.to_be_bytes());
    [f0, f1, p0, p1]
}

fn pi_text(pi: &[u8]) -> String {
    let (flags, proto) = (u16::from_ne_bytes([pi[0], pi[1]]), u16::from_be_bytes([pi[2], pi[3]]));
    format!("{{flags {flags:#x}, proto {proto:#06x}}}")
}

fn packet_info() -> Result<(), String> {
    const PORT: u16 = 19995;
    let dev = MqDevice::with_flags(1, IFF_TAP)?;
    // tun reports IFF_NOFILTER (no socket filter), IFF_NO_PI's bit, so
    // the flags read back as those of a tap without packet information.
    expect_iff(&dev.queues[0], MQT, TAP)?;
    let unattached = expect_ok("TUNGETFEATURES on an unattached fd", TunFd::open()?.features())?;
    let attached = expect_ok("TUNGETFEATURES on the device's fd", dev.queues[0].features())?;
    ensure(attached == unattached, || format!("TUNGETFEATURES {}, unattached {}", flags_text(attached), flags_text(unattached)))?;

    // Read: the header, then the whole frame.
    let payload = b"xtun-tunctl pi";
    let frame_len = 14 + 20 + 8 + payload.len();
    let mut buf = [0u8; 2048];
    dev.sender.send_to(payload, (MQT_PEER, PORT)).map_err(|e| format!("sendto {MQT_PEER}:{PORT}: {e}"))?;
    let n = read_next(&dev.queues[0], &mut buf)?;
    println!("# read {n} bytes, header {}", pi_text(&buf[..PI_LEN]));
    ensure(n == PI_LEN + frame_len, || format!("read returned {n}, want {PI_LEN} + {frame_len}"))?;
    ensure(buf[..PI_LEN] == pi_header(0, ETH_P_IP), || format!("header {}, want {{flags 0, proto 0x0800}}", pi_text(&buf)))?;
    let datagram = SlicedPacket::from_ethernet(&buf[PI_LEN..n]).ok().and_then(|p| match p.transport {
        Some(TransportSlice::Udp(udp)) => Some((udp.destination_port(), udp.payload().to_vec())),
        _ => None,
    });
    ensure(datagram == Some((PORT, payload.to_vec())), || format!("after the header: {datagram:?}, want the datagram to port {PORT}"))?;
    println!("# after the header: the Ethernet frame of the datagram to {MQT_PEER}:{PORT}");

    // A short buffer: the header says the frame was cut.
    let short = PI_LEN + 14;
    dev.sender.send_to(payload, (MQT_PEER, PORT)).map_err(|e| format!("sendto {MQT_PEER}:{PORT}: {e}"))?;
    let n = read_next(&dev.queues[0], &mut buf[..short])?;
    println!("# read into {short} bytes: {n}, header {}", pi_text(&buf[..PI_LEN]));
    ensure(buf[..PI_LEN] == pi_header(TUN_PKT_STRIP, ETH_P_IP), || {
        format!("header {}, want {{flags TUN_PKT_STRIP, proto 0x0800}}", pi_text(&buf))
    })?;
    let head = [&MQT_PEER_MAC[..], &dev.mac[..], &ETH_P_IP.to_be_bytes()[..]].concat();
    ensure(buf[PI_LEN..short] == head[..], || format!("the frame's head {:02x?}, want {head:02x?}", &buf[PI_LEN..short]))?;
    // tun_chr_read_iter returns at most the buffer's length.
    ensure(n == short, || format!("read into {short} bytes returned {n}, want {short} (the frame is {PI_LEN} + {frame_len})"))?;

    // Write: the header, then the frame; a tap ignores what the header says.
    let listener = listen(PORT)?;
    let rx = counter(MQT, "rx_packets")?;
    for (i, pi) in [pi_header(0, ETH_P_IP), pi_header(0xffff, 0x86dd)].iter().enumerate() {
        let frame = [&pi[..], &dev.written_frame(0, i, PORT)].concat();
        let n = (&dev.queues[0].0).write(&frame).map_err(|e| format!("write with header {}: {}", pi_text(pi), describe(&e)))?;
        println!("# write of {} bytes with header {}: {n}", frame.len(), pi_text(pi));
        ensure(n == frame.len(), || format!("write returned {n}, want {}", frame.len()))?;
    }
    expect_received(&listener, &[2])?;
    expect_counter(MQT, "rx_packets", rx + 2)?;

    let dropped = counter(MQT, "rx_dropped")?;
    expect_errno("write of 3 bytes (shorter than the header)", (&dev.queues[0].0).write(&[0u8; 3]), EINVAL)?;
    // Not checked: tun counts nothing, xtun counts every rejected write.
    println!("# rx_dropped {dropped} before the 3-byte write, {} after", counter(MQT, "rx_dropped")?);
    expect_counter(MQT, "rx_packets", rx + 2)
}

/// The next frame on `fd` (non-blocking), waiting for it up to LIMIT.
fn read_next(fd: &TunFd, buf: &mut [u8]) -> Result<usize, String> {
    let mut got = None;
    let waited = wait_until(|| match (&fd.0).read(buf) {
        Ok(n) => {
            got = Some(n);
            Ok(true)
        }
        Err(e) if e.raw_os_error() == Some(EAGAIN) => Ok(false),
        Err(e) => Err(format!("read: {}", describe(&e))),
    });
    waited.map_err(|e| format!("read: no frame: {e}"))?;
    Ok(got.expect("wait_until returned once a read got a frame"))
}

fn errors() -> Result<(), String> {
    errors_names()?;
    errors_attach()?;
    errors_other_devices()?;
    errors_unattached()?;
    errors_flags()?;
    errors_deleted()
}

fn errors_names() -> Result<(), String> {
    let long = "tct-0123456789a"; // 15 bytes, the longest name
    let _cleanup = Cleanup::new(&[long]);
    // 16 bytes, no NUL: tun ends the name at IFNAMSIZ - 1.
    let fd = TunFd::open()?;
    let got = expect_ok("TUNSETIFF with a 16-byte name", fd.set_iff(b"tct-0123456789ab", TAP))?;
    println!("# tct-0123456789ab became {got}");
    ensure(got == long, || format!("a 16-byte name became {got:?}, want {long:?} (cut to 15 bytes)"))?;
    expect_exists(long)?;
    drop(fd);
    expect_gone(long)?;
    for bad in ["tct/a", "tct a", "tct\ta", "tct:a", ".", "..", "tct%d%d", "tct%s", "tct%"] {
        expect_errno(&format!("TUNSETIFF {bad:?}"), TunFd::open()?.set_iff(bad.as_bytes(), TAP), EINVAL)?;
        if !bad.contains('%') {
            expect_gone(bad)?;
        }
    }
    Ok(())
}

fn errors_attach() -> Result<(), String> {
    let (name, other) = ("tct-err", "tct-err2");
    let _cleanup = Cleanup::new(&[name, other]);
    let fd = attach(name, TAP)?;
    expect_errno("TUNSETIFF again, same name", fd.set_iff(name.as_bytes(), TAP), EEXIST)?;
    expect_errno("TUNSETIFF again, another name", fd.set_iff(other.as_bytes(), TAP), EEXIST)?;
    expect_gone(other)?;
    expect_errno("TUNSETIFF from a second fd (single queue, in use)", TunFd::open()?.set_iff(name.as_bytes(), TAP), EBUSY)?;
    expect_errno("TUNSETIFF IFF_TUN_EXCL on an existing name", TunFd::open()?.set_iff(name.as_bytes(), TAP | IFF_TUN_EXCL), EBUSY)?;
    drop(fd);
    expect_gone(name)?;
    expect_errno("TUNSETIFF with neither IFF_TUN nor IFF_TAP", TunFd::open()?.set_iff(name.as_bytes(), IFF_NO_PI), EINVAL)?;
    expect_gone(name)
}

fn errors_other_devices() -> Result<(), String> {
    let (bridge, tun) = ("tct-br", "tct-tun");
    let _cleanup = Cleanup::new(&[bridge, tun]);
    ip(&["link", "add", bridge, "type", "bridge"])?;
    // A tun (layer 3) device of the kernel's tun driver.
    ip(&["tuntap", "add", "dev", tun, "mode", "tun"])?;
    for name in ["lo", bridge, tun] {
        expect_errno(&format!("TUNSETIFF {name} (not this driver's tap)"), TunFd::open()?.set_iff(name.as_bytes(), TAP), EINVAL)?;
        expect_exists(name)?;
    }
    Ok(())
}

fn errors_unattached() -> Result<(), String> {
    let fd = TunFd::open()?;
    expect_errno("unattached: TUNGETIFF", fd.get_iff(), EBADFD)?;
    expect_errno("unattached: TUNSETPERSIST 1", fd.ioctl_value(libc::TUNSETPERSIST, 1), EBADFD)?;
    expect_errno("unattached: TUNSETOWNER 1000", fd.ioctl_value(libc::TUNSETOWNER, 1000), EBADFD)?;
    expect_errno("unattached: TUNSETGROUP 1000", fd.ioctl_value(libc::TUNSETGROUP, 1000), EBADFD)?;
    expect_errno("unattached: an unknown ioctl", fd.ioctl_value(UNKNOWN_IOCTL, 0), EBADFD)?;
    expect_errno("unattached: TUNSETNOCSUM", fd.ioctl_value(TUNSETNOCSUM, 1), EBADFD)?;
    expect_errno("unattached: the debug ioctl (T, 201)", fd.ioctl_value(TUNSETDEBUG, 1), EBADFD)?;
    if opts().expect_unsupported {
        // xtun differs by design: a file used without TUNSETIFF attaches
        // to the module's own device (README, behaviour table).
        println!("# unattached: read/write not checked (on /dev/xtun they attach to the module's device)");
        let revents = fd.revents().map_err(|e| format!("unattached: poll: {}", describe(&e)))?;
        ensure(revents == libc::POLLERR, || format!("unattached: poll revents {revents:#x}, want POLLERR only"))?;
    } else {
        expect_unusable("unattached", &fd)?;
    }

    let _cleanup = Cleanup::new(&["tct-err"]);
    let fd = attach("tct-err", TAP)?;
    expect_errno("attached: an unknown ioctl", fd.ioctl_value(UNKNOWN_IOCTL, 0), EINVAL)
}

/// read and write fail with EBADFD, poll says POLLERR: an fd with no device.
fn expect_unusable(what: &str, fd: &TunFd) -> Result<(), String> {
    let mut buf = [0u8; 64];
    expect_errno(&format!("{what}: read"), (&fd.0).read(&mut buf), EBADFD)?;
    expect_errno(&format!("{what}: write"), (&fd.0).write(&[0u8; 60]), EBADFD)?;
    let revents = fd.revents().map_err(|e| format!("{what}: poll: {}", describe(&e)))?;
    println!("# {what}: poll revents {revents:#x}");
    ensure(revents == libc::POLLERR, || format!("{what}: poll revents {revents:#x}, want POLLERR only"))
}

fn errors_flags() -> Result<(), String> {
    let names = ["tct-l3", "tct-vnet", "tct-frags", "tct-nofrag"];
    let _cleanup = Cleanup::new(&names);
    let unsupported = opts().expect_unsupported;
    // Flags tun takes but xtun (Ethernet frames only, no offloads) refuses.
    for (name, flags) in [(names[0], IFF_TUN | IFF_NO_PI), (names[1], TAP | IFF_VNET_HDR), (names[2], TAP | IFF_NAPI | IFF_NAPI_FRAGS)] {
        let fd = TunFd::open()?;
        let what = format!("TUNSETIFF {name} {}", flags_text(flags));
        if unsupported {
            expect_errno(&what, fd.set_iff(name.as_bytes(), flags), EINVAL)?;
        } else {
            expect_ok(&what, fd.set_iff(name.as_bytes(), flags))?;
            expect_iff(&fd, name, flags)?;
            if flags & IFF_TUN != 0 {
                expect_sysfs(name, "type", "65534")?; // ARPHRD_NONE
            }
        }
        drop(fd);
        expect_gone(name)?;
    }
    // IFF_NAPI_FRAGS needs IFF_NAPI.
    let flags = TAP | IFF_NAPI_FRAGS;
    expect_errno(&format!("TUNSETIFF {}", flags_text(flags)), TunFd::open()?.set_iff(names[3].as_bytes(), flags), EINVAL)?;
    expect_gone(names[3])
}

fn errors_deleted() -> Result<(), String> {
    let name = "tct-del";
    let _cleanup = Cleanup::new(&[name]);
    let fd = attach(name, TAP)?;
    ip(&["link", "del", name])?;
    expect_gone(name)?;
    expect_errno("deleted: TUNGETIFF", fd.get_iff(), EBADFD)?;
    expect_errno("deleted: TUNSETPERSIST 1", fd.ioctl_value(libc::TUNSETPERSIST, 1), EBADFD)?;
    expect_errno("deleted: SIOCGIFHWADDR", fd.hwaddr(), EBADFD)?;
    expect_unusable("deleted", &fd)?;
    if opts().expect_unsupported {
        // xtun differs: a file stays bound to its deleted device (README).
        return expect_errno("deleted: TUNSETIFF again", fd.set_iff(name.as_bytes(), TAP), libc::EEXIST);
    }
    // The fd is unattached again: TUNSETIFF makes a new device.
    let got = expect_ok("deleted: TUNSETIFF again", fd.set_iff(name.as_bytes(), TAP))?;
    ensure(got == name, || format!("TUNSETIFF returned {got:?}"))?;
    expect_iff(&fd, name, TAP)?;
    drop(fd);
    expect_gone(name)
}

fn many() -> Result<(), String> {
    let name = "tct-many";
    let _cleanup = Cleanup::new(&[name]);
    let count = opts().count;
    let start = Instant::now();
    for i in 0..count {
        let fd = TunFd::open()?;
        fd.set_iff(name.as_bytes(), TAP).map_err(|e| format!("device {i}: TUNSETIFF {name}: {}", describe(&e)))?;
        ensure(ifindex(name).is_ok(), || format!("device {i}: {name} does not exist after TUNSETIFF"))?;
        drop(fd);
        ensure(ifindex(name).is_err(), || format!("device {i}: {name} still exists after close"))?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("# {count} devices created and deleted in {secs:.2} s ({:.2} ms each)", secs * 1000.0 / count as f64);
    let left = our_devices()?;
    ensure(left.is_empty(), || format!("devices left: {left:?}"))?;
    println!("# no tct* device left");
    Ok(())
}
