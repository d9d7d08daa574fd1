//! The lab network: a namespace that xtask creates and removes, holding a
//! bridge with an address and the tap QEMU attaches to. The host's own
//! interfaces and routes are never touched.
//!
//! ```text
//!   netns xtun-lab-<pid>                         guest
//!   +-------------------------------+           +------------------+
//!   | xtbr0 10.98.0.1/24            |           |                  |
//!   |   \__ xttap0 ===== QEMU ======+== virtio ==+ eth0 10.98.0.2/24 |
//!   +-------------------------------+           +------------------+
//! ```

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

pub const HOST_ADDR: &str = "10.98.0.1";
pub const GUEST_ADDR: &str = "10.98.0.2";
pub const TAP: &str = "xttap0";

pub struct Lab<'a> {
    sh: &'a Shell,
    pub netns: String,
}

impl<'a> Lab<'a> {
    pub fn create(sh: &'a Shell) -> Result<Lab<'a>> {
        remove_stale(sh);
        let netns = format!("xtun-lab-{}", std::process::id());
        cmd!(sh, "ip netns add {netns}").quiet().run().context("cannot create the lab network namespace")?;
        let lab = Lab { sh, netns };
        let ns = &lab.netns;
        let host = format!("{HOST_ADDR}/24");
        let steps = [
            cmd!(sh, "ip -n {ns} link set lo up"),
            cmd!(sh, "ip -n {ns} link add xtbr0 type bridge"),
            cmd!(sh, "ip -n {ns} addr add {host} dev xtbr0"),
            cmd!(sh, "ip -n {ns} link set xtbr0 up"),
            cmd!(sh, "ip -n {ns} tuntap add dev {TAP} mode tap"),
            cmd!(sh, "ip -n {ns} link set {TAP} master xtbr0 up"),
        ];
        for step in steps {
            step.quiet().run().context("cannot set up the lab bridge and tap")?;
        }
        Ok(lab)
    }

    /// `ip netns exec <lab>`: the prefix that runs a command in the lab.
    pub fn exec_prefix(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.netns].map(String::from).to_vec()
    }
}

impl Drop for Lab<'_> {
    fn drop(&mut self) {
        let ns = &self.netns;
        let _ = cmd!(self.sh, "ip netns del {ns}").quiet().run();
    }
}

/// Removes labs left by runs that were killed (their pid is gone).
fn remove_stale(sh: &Shell) {
    let Ok(list) = cmd!(sh, "ip netns list").quiet().read() else { return };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        if let Some(pid) = name.strip_prefix("xtun-lab-") {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = cmd!(sh, "ip netns del {name}").quiet().run();
            }
        }
    }
}
