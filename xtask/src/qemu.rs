//! The QEMU command line, and a quick KVM probe.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Tcg,
    Kvm,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "TCG (software emulation)",
            Accel::Kvm => "KVM",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Net {
    /// virtio-net on the lab's tap (see lab.rs).
    Tap(String),
    /// QEMU's user networking: no root needed, no lab ping.
    User,
}

/// What the guest's /init does, passed on the kernel command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shell,
    /// `vm -- CMD`: run one command, its status on the results port.
    Run,
    Test,
    Bench,
    Perf,
    Probe,
}

/// A console on a pseudo-terminal instead of stdio, for a guest that does
/// not have the terminal (the second of `vm --guests 2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pty {
    /// A symlink to the pty, which QEMU makes and removes.
    pub link: PathBuf,
    /// Everything the console prints, whether or not anyone is attached.
    pub log: PathBuf,
}

pub struct Boot<'a> {
    pub kernel: &'a Path,
    pub memory_mb: u32,
    pub initrd: &'a Path,
    pub mode: Mode,
    pub accel: Accel,
    pub net: Net,
    /// File that receives the guest's results port.
    pub results: Option<PathBuf>,
    /// Extra `key=value` words for /init.
    pub extra: Vec<String>,
    /// Which of two guests this is (1 or 2; `xtunguest=` for /init, which
    /// gives it its address); None for the only guest.
    pub guest: Option<u8>,
    /// With `Mode::Shell`: the console on a pty rather than the terminal.
    pub pty: Option<Pty>,
}

impl Boot<'_> {
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |words: &[&str]| a.extend(words.iter().map(|w| w.to_string()));
        let memory = self.memory_mb.to_string();
        push(&["-nodefaults", "-no-reboot", "-m", &memory, "-smp", "2", "-display", "none"]);
        match self.accel {
            Accel::Tcg => push(&["-accel", "tcg"]),
            Accel::Kvm => push(&["-accel", "kvm", "-cpu", "host"]),
        }
        match (self.mode, &self.pty) {
            (Mode::Shell, Some(pty)) => {
                let chardev = format!("pty,id=console,path={},logfile={}", pty.link.display(), pty.log.display());
                push(&["-chardev", &chardev, "-serial", "chardev:console", "-monitor", "none"]);
            }
            // The console and the monitor share stdio (Ctrl-A X quits, Ctrl-A
            // C reaches the monitor); signal=off sends Ctrl-C to the guest
            // (a `ping` there) instead of killing QEMU. The same as the
            // compat `-serial mon:stdio`, which implies signal=off; spelled
            // out so the choice shows.
            (Mode::Shell, None) => push(&[
                "-chardev",
                "stdio,id=console,mux=on,signal=off",
                "-serial",
                "chardev:console",
                "-mon",
                "chardev=console,mode=readline",
            ]),
            (Mode::Run | Mode::Test | Mode::Bench | Mode::Perf | Mode::Probe, _) => push(&["-serial", "stdio", "-monitor", "none"]),
        }
        let (kernel, initrd) = (self.kernel.display().to_string(), self.initrd.display().to_string());
        push(&["-kernel", &kernel, "-initrd", &initrd]);
        let netdev = match &self.net {
            Net::Tap(ifname) => format!("tap,id=net0,ifname={ifname},script=no,downscript=no"),
            Net::User => "user,id=net0".to_string(),
        };
        // Each guest its own MAC: the two share the lab bridge.
        let device = format!("virtio-net-pci,netdev=net0,mac=52:54:00:12:34:{:02x}", 0x55 + self.guest.unwrap_or(1));
        push(&["-netdev", &netdev, "-device", &device]);
        if let Some(results) = &self.results {
            let chardev = format!("file,id=results,path={}", results.display());
            push(&["-device", "virtio-serial-pci", "-chardev", &chardev]);
            push(&["-device", "virtserialport,chardev=results,name=xtun.results"]);
        }
        let mode = match self.mode {
            Mode::Shell => "shell",
            Mode::Run => "run",
            Mode::Test => "test",
            Mode::Bench => "bench",
            Mode::Perf => "perf",
            Mode::Probe => "probe",
        };
        let net = match self.net {
            Net::Tap(_) => "tap",
            Net::User => "user",
        };
        let mut cmdline = format!("console=ttyS0 panic=-1 oops=panic xtunlab={mode} xtunnet={net}");
        if let Some(n) = self.guest {
            cmdline.push_str(&format!(" xtunguest={n}"));
        }
        for word in &self.extra {
            cmdline.push(' ');
            cmdline.push_str(word);
        }
        push(&["-append", &cmdline]);
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_boot_has_results_port_and_tap() {
        let boot = Boot {
            kernel: Path::new("/k"),
            memory_mb: 1024,
            initrd: Path::new("/i"),
            mode: Mode::Test,
            accel: Accel::Tcg,
            net: Net::Tap("xttap0".into()),
            results: Some(PathBuf::from("/r")),
            extra: vec!["xtunfilter=ping".into()],
            guest: None,
            pty: None,
        };
        let args = boot.args().join(" ");
        assert!(args.contains("-accel tcg"), "{args}");
        assert!(args.contains("-smp 2"), "{args}");
        assert!(args.contains("ifname=xttap0"), "{args}");
        assert!(args.contains("path=/r"), "{args}");
        assert!(args.contains("xtunlab=test xtunnet=tap xtunfilter=ping"), "{args}");
        assert!(args.contains("-serial stdio"), "{args}");
        assert!(args.contains("mac=52:54:00:12:34:56"), "{args}");
        assert!(!args.contains("xtunguest"), "{args}");
    }

    #[test]
    fn shell_boot_multiplexes_the_monitor() {
        let boot = Boot {
            kernel: Path::new("/k"),
            memory_mb: 1024,
            initrd: Path::new("/i"),
            mode: Mode::Shell,
            accel: Accel::Kvm,
            net: Net::User,
            results: None,
            extra: vec![],
            guest: None,
            pty: None,
        };
        let args = boot.args().join(" ");
        assert!(args.contains("-chardev stdio,id=console,mux=on,signal=off -serial chardev:console"), "{args}");
        assert!(args.contains("-mon chardev=console,mode=readline"), "{args}");
        assert!(args.contains("-accel kvm -cpu host"), "{args}");
        assert!(args.contains("user,id=net0"), "{args}");
        assert!(!args.contains("virtserialport"), "{args}");
    }

    #[test]
    fn second_guest_has_its_own_mac_and_a_pty_console() {
        let boot = Boot {
            kernel: Path::new("/k"),
            memory_mb: 1024,
            initrd: Path::new("/i"),
            mode: Mode::Shell,
            accel: Accel::Tcg,
            net: Net::Tap("xttap1".into()),
            results: None,
            extra: vec![],
            guest: Some(2),
            pty: Some(Pty { link: PathBuf::from("/t/g2.pty"), log: PathBuf::from("/t/g2.log") }),
        };
        let args = boot.args().join(" ");
        assert!(args.contains("mac=52:54:00:12:34:57"), "{args}");
        assert!(args.contains("xtunnet=tap xtunguest=2"), "{args}");
        assert!(args.contains("-chardev pty,id=console,path=/t/g2.pty,logfile=/t/g2.log -serial chardev:console -monitor none"), "{args}");
        assert!(!args.contains("stdio"), "{args}");
    }
}
