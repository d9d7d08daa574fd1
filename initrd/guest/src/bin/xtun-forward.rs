//! A tunnel in userspace, the design xtun's tunnel mode replaced: a tap
//! device on /dev/xtun (TUNSETIFF IFF_TAP|IFF_NO_PI) whose every frame
//! goes to one peer as a UDP datagram behind an 8-byte VXLAN header
//! (RFC 7348), and whose every valid datagram from the peer's address
//! comes back in as a frame. Two threads, one per direction, each blocking.
//! `cargo xtask bench --tunnel` compares it with the tunnel in the kernel.

use std::{
    net::{SocketAddrV4, UdpSocket},
    thread,
};

use xtun_guest::{cli, cli::*, Xtun, DEVICE};

const USAGE: &str = "\
usage: xtun-forward --dev NAME --listen-port PORT --peer IP:PORT [--vni N]

Makes (or attaches to) the tap device NAME on /dev/xtun and forwards its
frames to PEER as VXLAN-format UDP from PORT, and datagrams that reach
PORT from PEER's address with VNI N (default 1) back into NAME. Runs until
the device or the socket fails (the device deleted, say).
";

/// The VXLAN header's length and its I flag (a valid VNI follows).
const HLEN: usize = 8;
const FLAG_VNI: u8 = 0x08;
/// Room for any frame of a device with a 1500-byte MTU, and more.
const BUF: usize = 65536;

struct Opts {
    dev: String,
    port: u16,
    peer: SocketAddrV4,
    vni: u32,
}

fn main() {
    let opts = cli::parse(USAGE, |p| {
        let (mut dev, mut port, mut peer, mut vni) = (None, None, None, 1);
        while let Some(arg) = p.next()? {
            match arg {
                Long("dev") => dev = Some(p.value()?.string()?),
                Long("listen-port") => port = Some(p.value()?.parse()?),
                Long("peer") => peer = Some(p.value()?.parse()?),
                Long("vni") => vni = p.value()?.parse_with(|v| v.parse::<u32>().ok().filter(|&v| v < 1 << 24).ok_or("want 0..16777215"))?,
                Short('h') | Long("help") => cli::help(USAGE),
                _ => return Err(arg.unexpected()),
            }
        }
        Ok(Opts {
            dev: dev.ok_or("--dev NAME is required")?,
            port: port.ok_or("--listen-port PORT is required")?,
            peer: peer.ok_or("--peer IP:PORT is required")?,
            vni,
        })
    });
    if let Err(e) = run(&opts) {
        eprintln!("xtun-forward: {e}");
        std::process::exit(1);
    }
}

fn run(opts: &Opts) -> Result<(), String> {
    let mut dev = Xtun::open_iff(DEVICE, &opts.dev, libc::IFF_TAP | libc::IFF_NO_PI, false)
        .map_err(|e| format!("TUNSETIFF {} on {DEVICE}: {e}", opts.dev))?;
    let sock = UdpSocket::bind(("0.0.0.0", opts.port)).map_err(|e| format!("bind port {}: {e}", opts.port))?;
    eprintln!("xtun-forward: {} <-> {} (VNI {}) from port {}", opts.dev, opts.peer, opts.vni, opts.port);
    let mut dev_in = dev.try_clone().map_err(|e| format!("dup {DEVICE}: {e}"))?;
    let sock_out = sock.try_clone().map_err(|e| format!("dup socket: {e}"))?;
    let (peer, vni) = (opts.peer, opts.vni);
    thread::spawn(move || {
        let mut buf = vec![0u8; BUF];
        buf[..HLEN].copy_from_slice(&header(vni));
        loop {
            match dev_in.read_frame(&mut buf[HLEN..]) {
                // A full socket buffer loses the frame, as a wire would.
                Ok(n) => drop(sock_out.send_to(&buf[..HLEN + n], peer)),
                Err(e) => {
                    eprintln!("xtun-forward: read {DEVICE}: {e}");
                    std::process::exit(1);
                }
            }
        }
    });
    let mut buf = vec![0u8; BUF];
    loop {
        let (n, from) = sock.recv_from(&mut buf).map_err(|e| format!("recv: {e}"))?;
        if from.ip() != std::net::IpAddr::V4(*peer.ip()) {
            continue;
        }
        let Some(frame) = inner_frame(&buf[..n], vni) else { continue };
        // A frame the device refuses (link down, too long) is counted
        // there and lost; a device that is gone ends the program.
        if let Err(e) = dev.write_frame(frame) {
            if e.raw_os_error() == Some(libc::EBADFD) {
                return Err(format!("write {DEVICE}: {e}"));
            }
        }
    }
}

/// The VXLAN header for `vni`: the I flag, reserved bytes 0.
fn header(vni: u32) -> [u8; HLEN] {
    let v = vni.to_be_bytes();
    [FLAG_VNI, 0, 0, 0, v[1], v[2], v[3], 0]
}

/// The Ethernet frame a datagram carries, if its header has the I flag and
/// `vni` and a frame's worth of bytes follow.
fn inner_frame(datagram: &[u8], vni: u32) -> Option<&[u8]> {
    let (hdr, frame) = (datagram.get(..HLEN)?, &datagram[HLEN..]);
    let ok = hdr[0] & FLAG_VNI != 0 && hdr[4..7] == vni.to_be_bytes()[1..] && frame.len() >= 14;
    ok.then_some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_vxlans() {
        assert_eq!(header(1), [0x08, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(header(0xabcdef), [0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
    }

    #[test]
    fn inner_frame_checks_flag_vni_and_length() {
        let mut d = header(42).to_vec();
        d.extend_from_slice(&[0xee; 14]);
        assert_eq!(inner_frame(&d, 42), Some(&[0xee; 14][..]));
        assert_eq!(inner_frame(&d, 43), None, "another VNI");
        assert_eq!(inner_frame(&d[..HLEN + 13], 42), None, "shorter than an Ethernet header");
        assert_eq!(inner_frame(&d[..5], 42), None);
        d[0] = 0;
        assert_eq!(inner_frame(&d, 42), None, "no I flag (xtun's keepalive)");
    }
}
