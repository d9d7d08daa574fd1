//! `cargo xtask vm`: an interactive guest shell on the serial console, or
//! with `-- CMD [ARGS...]` one command in that same guest (xtun loaded,
//! lab up), as virtme-ng's `vng -- cmd`: its output on stdout, xtask's
//! exit status is the command's.
//!
//! `--guests 2` boots two guests on the lab bridge. The shell of guest 1
//! has the terminal; guest 2's console is a pty (attach with busybox's
//! microcom), logged to a file. With `-- CMD` both run CMD (`$GUEST` says
//! which they are), their output prefixed `[1] ` and `[2] `.
//!
//! The command goes to the guest hex-encoded on the kernel command line
//! (`xtuncmd=`; no quoting to survive, nothing to mount); /init runs it
//! with `sh -c` between two console markers and writes `exit N` to the
//! results port, a channel the command's output cannot fake.

use std::{
    fs::File,
    io::Write,
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::{
    boot::{self, RunFiles},
    children,
    flags::Flags,
    lab::{self, Lab},
    pipeline::Artifacts,
    qemu::{Accel, Boot, Mode, Pty},
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
    let lab = if flags.guests > 1 {
        Some(boot::lab(sh, flags.guests).context("two guests need the lab bridge (root and /dev/net/tun)")?)
    } else {
        boot::lab_or_user_net(sh)
    };
    match (flags.run.is_empty(), &lab) {
        (true, Some(lab)) if flags.guests > 1 => pair_shell(ws, artifacts, accel, lab).map(|()| 0),
        (true, _) => shell(artifacts, accel, &lab).map(|()| 0),
        (false, _) => command(ws, flags, artifacts, accel, &lab),
    }
}

fn shell(artifacts: &Artifacts, accel: Accel, lab: &Option<Lab>) -> Result<()> {
    let boot = artifacts.boot(Mode::Shell, accel, boot::net(lab));
    eprintln!("==> booting a guest shell ({}); Ctrl-A X quits", accel.name());
    if let Some(lab) = lab {
        let addr = lab::guest_addr(1);
        eprintln!("    guest eth0 is {addr}; from the host: ip netns exec {} ping {addr}", lab.netns);
    }
    on_terminal(&boot::prefix(lab), &boot)
}

/// Two guests: guest 2 on a pty, started first; then guest 1 on the
/// terminal. Guest 2 is stopped when guest 1 ends.
fn pair_shell(ws: &Workspace, artifacts: &Artifacts, accel: Accel, lab: &Lab) -> Result<()> {
    let files = RunFiles::new(&ws.target)?;
    let (link, log) = (files.path("xtun-vm-guest2.pty"), files.path("xtun-vm-console-guest2.log"));
    let mut second = boot::pair_boot(artifacts, Mode::Shell, accel, 2);
    second.pty = Some(Pty { link: link.clone(), log: log.clone() });
    let qemu_log = files.path("xtun-vm-qemu-guest2.log");
    let mut guest2 = spawn_on_pty(&lab.exec_prefix(), &second, &qemu_log)?;
    // QEMU makes the link before the guest runs, or exits at once on an error.
    let start = Instant::now();
    while !link.exists() && guest2.0.try_wait()?.is_none() && start.elapsed() < Duration::from_secs(30) {
        thread::sleep(Duration::from_millis(50));
    }
    if !link.exists() {
        let _ = guest2.0.kill();
        bail!("guest 2's QEMU made no pty: {}", std::fs::read_to_string(&qemu_log).unwrap_or_default().trim());
    }
    let first = boot::pair_boot(artifacts, Mode::Shell, accel, 1);
    eprintln!("==> booting two guests ({}) on the lab bridge; Ctrl-A X quits guest 1, then guest 2 is stopped", accel.name());
    eprintln!("    guest 1: eth0 {}, its shell on this terminal", lab::guest_addr(1));
    eprintln!("    guest 2: eth0 {}, its shell from another terminal (Ctrl-X leaves):", lab::guest_addr(2));
    eprintln!("        busybox microcom {}", link.display());
    eprintln!("      everything it prints also goes to {}", log.display());
    eprintln!("    from the host: ip netns exec {} ping {}", lab.netns, lab::guest_addr(2));
    let result = on_terminal(&lab.exec_prefix(), &first);
    let _ = guest2.0.kill();
    let _ = guest2.0.wait();
    // Killed, QEMU could not remove its link to the pty.
    let _ = std::fs::remove_file(&link);
    result
}

/// Runs `boot` with the console and QEMU's monitor on this terminal.
fn on_terminal(prefix: &[String], boot: &Boot<'_>) -> Result<()> {
    let mut argv = prefix.to_vec();
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

/// Starts `boot` (its console on a pty) in the background, QEMU's own
/// messages into `qemu_log`.
fn spawn_on_pty(prefix: &[String], boot: &Boot<'_>, qemu_log: &Path) -> Result<children::Guarded> {
    let mut argv = prefix.to_vec();
    argv.push("qemu-system-x86_64".to_string());
    argv.extend(boot.args());
    let log = File::create(qemu_log).with_context(|| format!("cannot create {}", qemu_log.display()))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    children::spawn(&mut cmd).context("cannot start qemu-system-x86_64")
}

/// `vm -- CMD` in the only guest, or in both of a pair.
fn command(ws: &Workspace, flags: &Flags, artifacts: &Artifacts, accel: Accel, lab: &Option<Lab>) -> Result<i32> {
    let command = flags.run.join(" ");
    let encoded = encode(&command)?;
    let files = RunFiles::new(&ws.target)?;
    let guests: Vec<Option<u8>> = if flags.guests > 1 { (1..=flags.guests).map(Some).collect() } else { vec![None] };
    // The only guest's files keep their names; a pair's say which guest.
    let suffix = |g: Option<u8>| g.map_or(String::new(), |n| format!("-guest{n}"));
    let console_names: Vec<String> = guests.iter().map(|&g| format!("xtun-vm-console{}.log", suffix(g))).collect();
    let status_paths: Vec<_> = guests.iter().map(|&g| files.path(&format!("xtun-vm-status{}.txt", suffix(g)))).collect();
    let boots: Vec<Boot<'_>> = guests
        .iter()
        .zip(&status_paths)
        .map(|(&g, status)| {
            let mut boot = match g {
                Some(n) => boot::pair_boot(artifacts, Mode::Run, accel, n),
                None => artifacts.boot(Mode::Run, accel, boot::net(lab)),
            };
            boot.results = Some(status.clone());
            boot.extra.push(format!("xtuncmd={encoded}"));
            if !flags.verbose {
                boot.extra.push("loglevel=5".into()); // kernel warnings and worse only
            }
            boot
        })
        .collect();
    let whom = if guests.len() > 1 { "both guests" } else { "the guest" };
    eprintln!("==> running `{command}` in {whom} ({}, timeout {}s)", accel.name(), flags.timeout_secs);
    let handlers = guests
        .iter()
        .map(|g| {
            let prefix = g.map_or(String::new(), |n| format!("[{n}] "));
            let mut echo = boot::echo(flags.verbose, &prefix);
            let mut output = Output { prefix, ..Output::default() };
            Box::new(move |line: &[u8]| {
                echo(line);
                output.line(line, &mut std::io::stdout().lock());
            }) as boot::OnLine
        })
        .collect();
    let consoles: Vec<_> = console_names.iter().map(|n| files.path(n)).collect();
    let timeout = Duration::from_secs(flags.timeout_secs);
    let runs = boot::run_guests(&boot::prefix(lab), &boots, &consoles, timeout, None, handlers)?;
    let codes: Vec<Option<i32>> =
        status_paths.iter().map(|p| parse_status(&std::fs::read_to_string(p).unwrap_or_default())).collect();
    drop(files);
    for (i, (code, run)) in codes.iter().zip(&runs).enumerate() {
        let name = guests[i].map_or("the guest".to_string(), |n| format!("guest {n}"));
        match code {
            Some(code) if guests.len() > 1 => eprintln!("    {name}: exit {code}"),
            Some(_) => {}
            None => {
                let why = if run.timed_out { format!("did not finish within {}s (--timeout)", flags.timeout_secs) } else { "reported no exit status".into() };
                eprintln!("error: {name} {why}; its console is in {}", ws.target.join(&console_names[i]).display());
            }
        }
    }
    Ok(exit_status(&codes))
}

/// xtask's status for the guests' statuses: 255 if one reported none, else
/// the first that is not 0 (guest 1's before guest 2's), else 0.
fn exit_status(codes: &[Option<i32>]) -> i32 {
    if codes.iter().any(Option::is_none) {
        return NO_STATUS;
    }
    codes.iter().flatten().copied().find(|&c| c != 0).unwrap_or(0)
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

/// Passes on the console lines between the markers: the command's output,
/// each line after `prefix`.
#[derive(Default)]
struct Output {
    state: State,
    prefix: String,
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
                let _ = out.write_all(self.prefix.as_bytes()).and_then(|()| out.write_all(line)).and_then(|()| out.write_all(b"\n"));
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
        let mut out = Vec::new();
        let mut o = Output { prefix: "[2] ".into(), ..Output::default() };
        for line in [&b"XTUN-RUN-BEGIN"[..], b"hello", b"XTUN-RUN-END"] {
            o.line(line, &mut out);
        }
        assert_eq!(out, b"[2] hello\n");
    }

    #[test]
    fn a_pair_fails_if_either_guest_fails() {
        assert_eq!(exit_status(&[Some(0)]), 0);
        assert_eq!(exit_status(&[Some(0), Some(0)]), 0);
        assert_eq!(exit_status(&[Some(0), Some(4)]), 4);
        assert_eq!(exit_status(&[Some(3), Some(4)]), 3);
        assert_eq!(exit_status(&[Some(0), None]), NO_STATUS);
    }
}
