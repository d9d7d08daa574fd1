//! ICMP echo, one request at a time on a raw socket: the round-trip times
//! the benchmarks report (xtun-bench, xtun-tbench).

use std::{
    io,
    time::{Duration, Instant},
};

/// `count` echo requests to `dest`, each sent once the reply to the last
/// came back; on `ifname` if given (SO_BINDTODEVICE), else where the route
/// says. RTTs in microseconds, from send to the reply's arrival in
/// userspace; no reply within 1 s is an error.
pub fn ping(dest: [u8; 4], ifname: Option<&str>, count: usize) -> Result<Vec<f64>, String> {
    ping_within(dest, ifname, count, count, Duration::MAX)
}

/// As [`ping`], but stops before `count` once `within` has passed and at
/// least `min` replies came: a slow path gets fewer echoes, not more time.
pub fn ping_within(dest: [u8; 4], ifname: Option<&str>, min: usize, count: usize, within: Duration) -> Result<Vec<f64>, String> {
    let start = Instant::now();
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    if fd < 0 {
        return Err(format!("raw socket: {}", io::Error::last_os_error()));
    }
    let close = CloseFd(fd);
    if let Some(ifname) = ifname {
        // SAFETY: the name is a valid buffer of its length.
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, ifname.as_ptr().cast(), ifname.len() as u32) };
    }
    // SAFETY: sockaddr_in is plain data.
    let mut to: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    to.sin_family = libc::AF_INET as u16;
    to.sin_addr.s_addr = u32::from_ne_bytes(dest);
    let id = std::process::id() as u16;
    let mut rtts = Vec::with_capacity(count);
    let mut buf = [0u8; 256];
    for seq in 0..count as u16 {
        if rtts.len() >= min && start.elapsed() >= within {
            break;
        }
        let header = etherparse::Icmpv4Header::with_checksum(
            etherparse::Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader { id, seq }),
            &[0u8; 56],
        );
        let mut packet = header.to_bytes().to_vec();
        packet.extend_from_slice(&[0u8; 56]);
        let sent = Instant::now();
        // SAFETY: valid buffer and address.
        let n = unsafe {
            libc::sendto(fd, packet.as_ptr().cast(), packet.len(), 0, (&raw const to).cast(), std::mem::size_of_val(&to) as u32)
        };
        if n < 0 {
            return Err(format!("sendto: {}", io::Error::last_os_error()));
        }
        loop {
            let mut fds = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut fds, 1, 1000) } <= 0 {
                return Err(format!("no echo reply for seq {seq} within 1 s"));
            }
            // SAFETY: valid buffer.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 28 {
                continue;
            }
            // IPv4 header (20 bytes: neither responder sends options), then ICMP.
            let icmp = &buf[20..n as usize];
            if icmp[0] == 0 && u16::from_be_bytes([icmp[4], icmp[5]]) == id && u16::from_be_bytes([icmp[6], icmp[7]]) == seq {
                rtts.push(sent.elapsed().as_secs_f64() * 1e6);
                break;
            }
        }
    }
    drop(close);
    Ok(rtts)
}

/// (avg, min, p99) of `rtts`, which must not be empty; sorts them.
pub fn summary(rtts: &mut [f64]) -> (f64, f64, f64) {
    rtts.sort_by(f64::total_cmp);
    let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
    let p99 = rtts[(rtts.len() * 99 / 100).min(rtts.len() - 1)];
    (avg, rtts[0], p99)
}

struct CloseFd(i32);
impl Drop for CloseFd {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_avg_min_p99() {
        let mut rtts: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(summary(&mut rtts), (50.5, 1.0, 100.0));
        assert_eq!(summary(&mut [7.0]), (7.0, 7.0, 7.0));
    }
}
