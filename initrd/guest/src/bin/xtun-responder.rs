//! Answers ARP requests and ICMP echo requests for one IPv4 address on the
//! far side of xtun, so `ping -I xtun <ip>` gets replies and the kernel's
//! neighbour table learns `<ip>` at `--mac`.
//!
//! usage: xtun-responder --ip 10.99.0.2 [--mac 02:00:00:99:00:02] [--verbose]

use xtun_guest::{format_mac, parse_ipv4, parse_mac, reply::answer, Args, Xtun};

fn main() -> std::io::Result<()> {
    let args = Args::from_env();
    let ip = args.value("ip").and_then(parse_ipv4).expect("usage: xtun-responder --ip A.B.C.D [--mac M]");
    let mac = args.value("mac").map(|m| parse_mac(m).expect("bad --mac")).unwrap_or([2, 0, 0, 0x99, 0, 2]);
    let verbose = args.value("verbose").is_some() || std::env::args().any(|a| a == "--verbose");
    let mut dev = Xtun::open()?;
    eprintln!("xtun-responder: answering for {} at {}", std::net::Ipv4Addr::from(ip), format_mac(&mac));
    let mut buf = vec![0u8; 65536];
    loop {
        let n = dev.read_frame(&mut buf)?;
        let Some(reply) = answer(&buf[..n], ip, mac) else { continue };
        if verbose {
            eprintln!("xtun-responder: {n} byte frame -> {} byte reply", reply.len());
        }
        dev.write_frame(&reply)?;
    }
}
