//! `cargo xtask vm`: an interactive guest shell on the serial console, or
//! with `-- CMD [ARGS...]` one command in that same guest (xtun loaded,
//! lab up), as virtme-ng's `vng -- cmd`: its output on stdout, xtask's
//! exit status is the command's.
//!
//! The command goes to the guest hex-encoded on the kernel command line
//! (`xtuncmd=`; no quoting to survive, nothing to mount); /init runs it
//! with `sh -c` between two console markers and writes `exit N` to the
//! results port, a channel the command's output cannot fake.

use std::{
    io::Write,
    process::Command,
    time::Duration,
};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::{
    boot::{self, RunFiles},
    children,
    flags::Flags,
    lab::{self, Lab},
    pipeline::Artifacts,
    qemu::{Accel, Mode},
    workspace::Workspace,
};

/// Console lines /init prints around the command's output.
const BEGIN: &[u8] = b"XTUN-RUN-BEGIN";
const END: &[u8] = b"XTUN-RUN-END";
/// The kernel command line holds 2048 bytes (x86); leave room for the rest.
const MAX_COMMAND: usize = 700;
/// What xtask exits with when the guest reported no status (as ssh does).
const NO_STATUS: i32 = 255;

/// Returns the exit status for xtask.
pub fn run(sh: &Shell, ws: &Workspace, flags: &Flags, artifacts: &Artifacts) -> Result<i32> {
    let accel = boot::choose_accel(flags, ws, artifacts)?;
    let lab = boot::lab_or_user_net(sh);
    if flags.run.is_empty() {
        shell(artifacts, accel, &lab).map(|()| 0)
    } else {
        command(ws, flags, artifacts, accel, &lab)
    }
}

fn shell(artifacts: &Artifacts, accel: Accel, lab: &Option<Lab>) -> Result<()> {
    let boot = artifacts.boot(Mode::Shell, accel, boot::net(lab));
    eprintln!("==> booting a guest shell ({}); Ctrl-A X quits", accel.name());
    if let Some(lab) = lab {
        eprintln!("    guest eth0 is {}; from the host: ip netns exec {} ping {}", lab::GUEST_ADDR, lab.netns, lab::GUEST_ADDR);
    }
    let mut argv = boot::prefix(lab);
    argv.push("qemu-system-x86_64".to_string());
    argv.extend(boot.args());
    let mut qemu = children::spawn(Command::new(&argv[0]).args(&argv[1..])).context("cannot start qemu-system-x86_64")?;
    let status = qemu.0.wait()?;
    if children::interrupted() {
        bail!("interrupted");
    }
    anyhow::ensure!(status.success(), "QEMU exited with {status}");
    Ok(())
}

fn command(ws: &Workspace, flags: &Flags, artifacts: &Artifacts, accel: Accel, lab: &Option<Lab>) -> Result<i32> {
    let command = flags.run.join(" ");
    let files = RunFiles::new(&ws.target)?;
    let (status_name, console_name) = ("xtun-vm-status.txt", "xtun-vm-console.log");
    let mut boot = artifacts.boot(Mode::Run, accel, boot::net(lab));
    boot.results = Some(files.path(status_name));
    boot.extra.push(format!("xtuncmd={}", encode(&command)?));
    if !flags.verbose {
        boot.extra.push("loglevel=5".into()); // kernel warnings and worse only
    }
    eprintln!("==> running `{command}` in the guest ({}, timeout {}s)", accel.name(), flags.timeout_secs);
    let mut output = Output::default();
    let mut echo = boot::echo(flags.verbose);
    let mut on_line = |line: &[u8]| {
        echo(line);
        output.line(line, &mut std::io::stdout().lock());
    };
    let timeout = Duration::from_secs(flags.timeout_secs);
    let run = boot::run_guest(&boot::prefix(lab), &boot, &files.path(console_name), timeout, &mut on_line)?;
    let status = std::fs::read_to_string(files.path(status_name)).unwrap_or_default();
    drop(files);
    match parse_status(&status) {
        Some(code) => Ok(code),
        None => {
            let why = if run.timed_out { format!("did not finish within {}s (--timeout)", flags.timeout_secs) } else { "reported no exit status".into() };
            eprintln!("error: the guest {why}; its console is in {}", ws.target.join(console_name).display());
            Ok(NO_STATUS)
        }
    }
}

/// The command as /init reads it from the kernel command line: hex, so
/// no space, quote or `=` of the command reaches the kernel's parser.
fn encode(command: &str) -> Result<String> {
    if command.len() > MAX_COMMAND {
        bail!("the command is {} bytes; the kernel command line carries at most {MAX_COMMAND}", command.len());
    }
    Ok(command.bytes().map(|b| format!("{b:02x}")).collect())
}

/// `exit N` from the results port.
fn parse_status(port: &str) -> Option<i32> {
    port.lines().find_map(|l| l.strip_prefix("exit ")?.trim().parse().ok())
}

/// Passes on the console lines between the markers: the command's output.
#[derive(Default)]
struct Output {
    state: State,
}

#[derive(Default, PartialEq)]
enum State {
    #[default]
    Boot,
    Command,
    Done,
}

impl Output {
    fn line(&mut self, line: &[u8], out: &mut impl Write) {
        match self.state {
            State::Boot if line.ends_with(BEGIN) => self.state = State::Command,
            State::Command if line.ends_with(END) => self.state = State::Done,
            State::Command => {
                let _ = out.write_all(line).and_then(|()| out.write_all(b"\n"));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_any_command_as_hex() {
        assert_eq!(encode("exit 3").unwrap(), "657869742033");
        assert_eq!(encode("echo 'a=b' \"c\"").unwrap(), "6563686f2027613d622720226322");
        assert!(encode(&"x".repeat(MAX_COMMAND + 1)).unwrap_err().to_string().contains("at most"));
    }

    #[test]
    fn status_comes_from_the_port() {
        assert_eq!(parse_status("exit 3\n"), Some(3));
        assert_eq!(parse_status("exit 0\n"), Some(0));
        assert_eq!(parse_status(""), None);
        assert_eq!(parse_status("exit \n"), None);
    }

    #[test]
    fn output_is_what_lies_between_the_markers() {
        let mut out = Vec::new();
        let mut o = Output::default();
        for line in [&b"[ 0.1] Linux version"[..], b"XTUN-RUN-BEGIN", b"1: lo UP", b"\xff", b"XTUN-RUN-END", b"reboot: Power down"] {
            o.line(line, &mut out);
        }
        assert_eq!(out, b"1: lo UP\n\xff\n");
    }
}
