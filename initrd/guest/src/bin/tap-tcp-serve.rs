//! An unmodified tap program: a TCP server on smoltcp's own
//! `phy::TunTapInterface`, which opens /dev/net/tun and asks for a tap device
//! with TUNSETIFF. None of xtun's code is in its data path, so bound over
//! /dev/net/tun, /dev/xtun must speak tun's ABI to run it.

use smoltcp::{
    iface::{Config, Interface, SocketSet},
    phy::{wait, Device, Medium, TunTapInterface},
    socket::tcp,
    time::Instant,
    wire::{EthernetAddress, IpAddress, IpCidr},
};
use std::os::fd::AsRawFd;
use xtun_guest::{cli, cli::*, parse_cidr, parse_mac};

const USAGE: &str = "\
usage: tap-tcp-serve [options] PORT
  --dev NAME          the tap device to create or attach to (st0)
  --ip A.B.C.D/N      the stack's address (10.77.0.2/24)
  --mac MAC           its MAC (02:00:00:77:00:02)
Per connection: reads a line and answers \"hello from smoltcp: LINE\", then
closes. Prints \"tap-tcp-serve: listening on IP:PORT (NAME, mtu N)\" to stderr
once it accepts connections.
";

struct Args {
    port: u16,
    dev: String,
    ip: [u8; 4],
    prefix: u8,
    mac: [u8; 6],
}

fn main() {
    let args = cli::parse(USAGE, parse_args);
    if let Err(e) = serve(&args) {
        eprintln!("tap-tcp-serve: {e}");
        std::process::exit(1);
    }
}

fn parse_args(p: &mut Parser) -> Result<Args, Error> {
    let mut args = Args { port: 0, dev: "st0".into(), ip: [10, 77, 0, 2], prefix: 24, mac: [2, 0, 0, 0x77, 0, 2] };
    let mut port = None;
    while let Some(arg) = p.next()? {
        match arg {
            Long("dev") => args.dev = p.value()?.string()?,
            Long("mac") => args.mac = p.value()?.parse_with(|m| parse_mac(m).ok_or("want six hex bytes like 02:00:00:77:00:02"))?,
            Long("ip") => (args.ip, args.prefix) = p.value()?.parse_with(|c| parse_cidr(c).ok_or("want A.B.C.D/N"))?,
            Value(v) if port.is_none() => port = Some(v.parse()?),
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    args.port = port.ok_or("missing PORT")?;
    Ok(args)
}

fn serve(args: &Args) -> Result<(), String> {
    let mut device = TunTapInterface::new(&args.dev, Medium::Ethernet).map_err(|e| format!("tap {}: {e}", args.dev))?;
    let mut config = Config::new(EthernetAddress(args.mac).into());
    config.random_seed = u64::from(std::process::id());
    let mut iface = Interface::new(config, &mut device, Instant::now());
    let [a, b, c, d] = args.ip;
    iface.update_ip_addrs(|addrs| addrs.push(IpCidr::new(IpAddress::v4(a, b, c, d), args.prefix)).expect("one address fits"));
    let mut sockets = SocketSet::new(vec![]);
    let socket = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 4096]), tcp::SocketBuffer::new(vec![0; 4096]));
    let handle = sockets.add(socket);
    let mut line = Vec::new();
    let mtu = device.capabilities().max_transmission_unit;
    eprintln!("tap-tcp-serve: listening on {a}.{b}.{c}.{d}:{} ({}, mtu {mtu})", args.port, args.dev);
    loop {
        iface.poll(Instant::now(), &mut device, &mut sockets);
        let socket = sockets.get_mut::<tcp::Socket>(handle);
        // We close first and so hold TIME_WAIT: free the socket for the next
        // connection instead.
        if socket.state() == tcp::State::TimeWait {
            socket.abort();
        }
        if !socket.is_open() {
            line.clear();
            socket.listen(args.port).map_err(|e| format!("listen: {e}"))?;
        }
        if socket.can_recv() {
            socket.recv(|data| (data.len(), line.extend_from_slice(data))).map_err(|e| format!("recv: {e}"))?;
        }
        // A whole line, or all the peer will send: answer and close.
        let peer_done = socket.state() == tcp::State::CloseWait;
        if socket.may_send() && (line.ends_with(b"\n") || peer_done) {
            let answer = format!("hello from smoltcp: {}\n", String::from_utf8_lossy(&line).trim_end());
            socket.send_slice(answer.as_bytes()).map_err(|e| format!("send: {e}"))?;
            socket.close();
            line.clear();
        }
        wait(device.as_raw_fd(), iface.poll_delay(Instant::now(), &sockets)).map_err(|e| format!("select: {e}"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        let args = |words: &[&str]| parse_args(&mut Parser::from_args(words));
        assert!(matches!(args(&["7777"]), Ok(Args { port: 7777, ref dev, ip: [10, 77, 0, 2], prefix: 24, .. }) if dev == "st0"));
        assert!(matches!(args(&["--dev", "tap9", "--ip=10.1.0.9/16", "80"]), Ok(Args { port: 80, ref dev, ip: [10, 1, 0, 9], prefix: 16, .. }) if dev == "tap9"));
        for bad in [&[][..], &["80", "81"], &["x"], &["80", "--ip", "1.2.3.4/33"], &["80", "--mac", "02:00"], &["80", "--bogus"]] {
            assert!(args(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
