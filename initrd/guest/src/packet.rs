//! AF_PACKET sockets bound to one interface: to make the kernel transmit a
//! frame on xtun (`send`), and to capture what the stack receives (`recv`).

use std::{ffi::CString, io, time::Duration};

pub struct PacketSocket {
    fd: i32,
    ifindex: i32,
}

impl PacketSocket {
    /// A raw packet socket on `ifname` seeing every protocol.
    pub fn bind(ifname: &str) -> io::Result<PacketSocket> {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2) call.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let name = CString::new(ifname).expect("interface name has no NUL");
        // SAFETY: `name` is a valid C string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
        let sock = PacketSocket { fd, ifindex };
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: sockaddr_ll is plain data; zero is a valid start.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto;
        addr.sll_ifindex = ifindex;
        // SAFETY: `addr` is a valid sockaddr_ll of the given size.
        let r = unsafe {
            libc::bind(fd, (&raw const addr).cast(), std::mem::size_of::<libc::sockaddr_ll>() as u32)
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sock)
    }

    /// Transmits `frame` (with its Ethernet header) on the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is a valid buffer of its length.
        let n = unsafe { libc::send(self.fd, frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Next frame seen on the interface (either direction), or None on timeout.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<(usize, bool)>> {
        let mut fds = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut fds, 1, timeout.as_millis() as i32) };
        if n <= 0 {
            return if n < 0 { Err(io::Error::last_os_error()) } else { Ok(None) };
        }
        // SAFETY: sockaddr_ll is plain data.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: valid buffer and address storage.
        let n = unsafe {
            libc::recvfrom(self.fd, buf.as_mut_ptr().cast(), buf.len(), 0, (&raw mut from).cast(), &mut len)
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let outgoing = from.sll_pkttype == libc::PACKET_OUTGOING as u8;
        Ok(Some((n as usize, outgoing)))
    }

    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.fd) };
    }
}
