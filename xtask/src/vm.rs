//! `cargo xtask vm`: an interactive guest shell on the serial console.

use anyhow::{Context, Result};
use xshell::Shell;

use crate::{
    flags::Flags,
    lab::{self, Lab},
    qemu::{Mode, Net},
    test::{choose_accel, root_or_user_net},
    pipeline::Artifacts,
    workspace::Workspace,
};

pub fn run(sh: &Shell, ws: &Workspace, flags: &Flags, artifacts: &Artifacts) -> Result<()> {
    let accel = choose_accel(flags, ws, artifacts)?;
    let lab = root_or_user_net(sh)?;
    let net = lab.as_ref().map_or(Net::User, |_| Net::Tap(lab::TAP.to_string()));
    let boot = artifacts.boot(Mode::Shell, accel, net);
    eprintln!("==> booting a guest shell ({}); Ctrl-A X quits", accel.name());
    if let Some(lab) = &lab {
        eprintln!(
            "    guest eth0 is {}; from the host: ip netns exec {} ping {}",
            lab::GUEST_ADDR,
            lab.netns,
            lab::GUEST_ADDR
        );
    }
    let mut argv = prefix(&lab);
    argv.push("qemu-system-x86_64".to_string());
    argv.extend(boot.args());
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .context("cannot start qemu-system-x86_64")?;
    drop(lab);
    anyhow::ensure!(status.success(), "QEMU exited with {status}");
    Ok(())
}

/// The command prefix that runs QEMU inside the lab, if there is one.
pub fn prefix(lab: &Option<Lab<'_>>) -> Vec<String> {
    lab.as_ref().map(|l| l.exec_prefix()).unwrap_or_default()
}
