//! smoltcp's `phy::Device` over /dev/xtun: one read is one received frame,
//! one write one transmitted frame. The fd is non-blocking; the caller
//! sleeps in poll(2) on it between `Interface::poll` calls.

use std::io;

use smoltcp::{
    phy::{self, DeviceCapabilities, Medium},
    time::Instant,
};

use crate::Xtun;

pub struct XtunPhy {
    dev: Xtun,
    rx: Vec<u8>,
    /// The first unexpected error the device returned.
    pub error: Option<io::Error>,
    /// xtun fails write with EIO while the interface is down (read just
    /// finds nothing); the stack keeps going (TCP retransmits) until it
    /// comes back up.
    pub link_down: bool,
}

impl XtunPhy {
    /// `spec` is `xtun` or `tap:NAME` (see [`Xtun::open_spec`]).
    pub fn open(spec: &str) -> io::Result<XtunPhy> {
        Ok(XtunPhy { dev: Xtun::open_spec(spec)?, rx: vec![0; 65536], error: None, link_down: false })
    }

    pub fn raw_fd(&self) -> i32 {
        self.dev.raw_fd()
    }
}

pub struct RxToken(Vec<u8>);
pub struct TxToken<'a>(&'a mut XtunPhy);

impl phy::Device for XtunPhy {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        self.link_down = false;
        match self.dev.read_frame(&mut self.rx) {
            Ok(n) => Some((RxToken(self.rx[..n].to_vec()), TxToken(self))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                self.link_down = true;
                None
            }
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(self))
    }
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let result = f(&mut frame);
        match self.0.dev.write_frame(&frame) {
            Err(e) if e.raw_os_error() == Some(libc::EIO) => self.0.link_down = true,
            Err(e) => drop(self.0.error.get_or_insert(e)),
            Ok(_) => {}
        }
        result
    }
}
