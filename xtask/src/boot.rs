//! What every guest boot shares (test, vm, bench): the accelerator, the
//! network (the lab or QEMU's user networking), the run's own files, and
//! QEMU run with its console streamed line by line and a time limit.

use std::{
    fs::{self, File},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use wait_timeout::ChildExt;
use xshell::Shell;

use crate::{
    children,
    flags::Flags,
    lab::{self, Lab},
    qemu::{Accel, Boot, Mode, Net},
    pipeline::Artifacts,
    workspace::Workspace,
};

/// TCG unless `--kvm` and a probe boot under KVM reaches /init.
pub fn choose_accel(flags: &Flags, ws: &Workspace, artifacts: &Artifacts) -> Result<Accel> {
    if !flags.kvm {
        return Ok(Accel::Tcg);
    }
    if !Path::new("/dev/kvm").exists() {
        eprintln!("    --kvm: no /dev/kvm; using TCG");
        return Ok(Accel::Tcg);
    }
    let boot = artifacts.boot(Mode::Probe, Accel::Kvm, Net::User);
    let run = run_guest(&[], &boot, &ws.target.join("kvm-probe.log"), Duration::from_secs(30), &mut |_| {})?;
    if run.console.contains("XTUN-PROBE-OK") {
        Ok(Accel::Kvm)
    } else {
        eprintln!("    --kvm: a probe boot under KVM failed (see target/kvm-probe.log); using TCG");
        Ok(Accel::Tcg)
    }
}

/// The lab with a tap for each of `guests` guests, or why there is none.
pub fn lab(sh: &Shell, guests: u8) -> Result<Lab> {
    if !nix::unistd::geteuid().is_root() {
        bail!("not root");
    }
    Lab::create(sh, guests)
}

/// The lab where it can be built, else QEMU user networking, saying why.
pub fn lab_or_user_net(sh: &Shell) -> Option<Lab> {
    let fallback = "using QEMU user networking; the lab ping check is skipped";
    match lab(sh, 1) {
        Ok(lab) => Some(lab),
        Err(e) => {
            eprintln!("    no lab network here ({e:#}): {fallback}");
            None
        }
    }
}

/// QEMU's network for the only guest: the lab's first tap, or user networking.
pub fn net(lab: &Option<Lab>) -> Net {
    lab.as_ref().map_or(Net::User, |_| Net::Tap(lab::tap(1)))
}

/// The command prefix that runs QEMU inside the lab, if there is one.
pub fn prefix(lab: &Option<Lab>) -> Vec<String> {
    lab.as_ref().map(|l| l.exec_prefix()).unwrap_or_default()
}

/// A boot of guest `n` (1 or 2) of a pair on the lab's bridge.
pub fn pair_boot<'a>(artifacts: &'a Artifacts, mode: Mode, accel: Accel, n: u8) -> Boot<'a> {
    let mut boot = artifacts.boot(mode, accel, Net::Tap(lab::tap(n)));
    boot.guest = Some(n);
    boot
}

/// The console line that says the kernel is starting /init.
pub const INIT_STARTED: &str = "Run /init as init process";

pub struct GuestRun {
    pub console: String,
    pub timed_out: bool,
    /// The console showed `INIT_STARTED` (a `loglevel=5` boot hides it).
    pub booted: bool,
}

/// Boots `boot` (inside `prefix`), writing the console to `console_path`
/// and handing each line to `on_line` as it comes (bytes without the line
/// end; the console may carry anything). Kills QEMU after `timeout`.
pub fn run_guest(
    prefix: &[String],
    boot: &Boot<'_>,
    console_path: &Path,
    timeout: Duration,
    on_line: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<GuestRun> {
    run_guest_limited(prefix, boot, console_path, timeout, None, on_line)
}

/// `run_guest`, and with `boot_limit` QEMU is killed too if the kernel has
/// not started /init by then (a boot that hangs under TCG).
fn run_guest_limited(
    prefix: &[String],
    boot: &Boot<'_>,
    console_path: &Path,
    timeout: Duration,
    boot_limit: Option<Duration>,
    on_line: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<GuestRun> {
    let mut argv: Vec<String> = prefix.to_vec();
    argv.push("qemu-system-x86_64".into());
    argv.extend(boot.args());
    // One pipe for QEMU's stdout and stderr, read here.
    let (reader, writer) = std::io::pipe()?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).stdin(Stdio::null()).stdout(writer.try_clone()?).stderr(writer);
    let mut qemu = children::spawn(&mut cmd).context("cannot start qemu-system-x86_64")?;
    drop(cmd); // our copies of the write end: reading ends when QEMU exits
    let log = File::create(console_path).with_context(|| format!("cannot create {}", console_path.display()))?;
    let booted = AtomicBool::new(false);
    let started = Instant::now();
    let (console, timed_out) = thread::scope(|s| {
        let reading = s.spawn(|| {
            read_console(reader, log, &mut |line| {
                if line.windows(INIT_STARTED.len()).any(|w| w == INIT_STARTED.as_bytes()) {
                    booted.store(true, Ordering::SeqCst);
                }
                on_line(line)
            })
        });
        let timed_out = loop {
            // The boot limit until /init starts, then the whole run's.
            let deadline = match boot_limit {
                Some(limit) if limit < timeout && !booted.load(Ordering::SeqCst) => limit,
                _ => timeout,
            };
            let left = deadline.saturating_sub(started.elapsed());
            match qemu.0.wait_timeout(left) {
                Ok(Some(_)) => break false,
                Ok(None) if !left.is_zero() => {} // a deadline passed: look again
                _ => {
                    let _ = qemu.0.kill();
                    let _ = qemu.0.wait();
                    break true;
                }
            }
        };
        (reading.join().expect("console reader panicked"), timed_out)
    });
    if children::interrupted() {
        bail!("interrupted");
    }
    Ok(GuestRun { console: console?, timed_out, booted: booted.into_inner() })
}

/// What a boot does with each console line: with `-v`, show it on stderr,
/// after `prefix` (which guest of two said it).
pub fn echo(verbose: bool, prefix: &str) -> impl FnMut(&[u8]) + Send {
    let prefix = prefix.to_string();
    move |line| {
        if verbose {
            eprintln!("{prefix}{}", String::from_utf8_lossy(line));
        }
    }
}

/// What a guest of several does with each console line.
pub type OnLine<'a> = Box<dyn FnMut(&[u8]) + Send + 'a>;

/// Runs the guests of `boots` side by side, as `run_guest` runs one: each
/// with its console file and line handler; returns when all have ended.
/// With `boot_limit`, a guest whose kernel has not started /init by then is
/// killed (see `run_guest_limited`).
pub fn run_guests(
    prefix: &[String],
    boots: &[Boot<'_>],
    consoles: &[PathBuf],
    timeout: Duration,
    boot_limit: Option<Duration>,
    on_line: Vec<OnLine<'_>>,
) -> Result<Vec<GuestRun>> {
    thread::scope(|s| {
        let runs: Vec<_> = boots
            .iter()
            .zip(consoles)
            .zip(on_line)
            // Each QEMU is spawned by the thread that waits for it (see children::spawn).
            .map(|((boot, console), mut on_line)| s.spawn(move || run_guest_limited(prefix, boot, console, timeout, boot_limit, &mut *on_line)))
            .collect();
        runs.into_iter().map(|r| r.join().expect("guest thread panicked")).collect()
    })
}

/// Copies the console to `log` line by line; a line that is not UTF-8 is
/// decoded lossily for the returned text, never the end of reading.
fn read_console(reader: impl std::io::Read, mut log: File, on_line: &mut (dyn FnMut(&[u8]) + Send)) -> Result<String> {
    let mut reader = BufReader::new(reader);
    let mut console = String::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(console);
        }
        log.write_all(&line)?;
        // The serial console ends lines with \r\n.
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        on_line(text);
        console.push_str(&String::from_utf8_lossy(text));
        console.push('\n');
    }
}

/// A run's own files, in `target/xtun-run/<pid>/`, moved up to `target/`
/// when the run ends: a QEMU left over from a killed run can only write
/// into its own directory, never into the next run's files.
pub struct RunFiles {
    dir: PathBuf,
    target: PathBuf,
}

impl RunFiles {
    pub fn new(target: &Path) -> Result<RunFiles> {
        let runs = target.join("xtun-run");
        // Directories of runs that were killed (their pid is gone).
        for entry in fs::read_dir(&runs).into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !Path::new("/proc").join(&pid).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        let dir = runs.join(std::process::id().to_string());
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(RunFiles { dir, target: target.to_path_buf() })
    }

    /// Where the run writes `name`, which ends up as `target/<name>`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for RunFiles {
    fn drop(&mut self) {
        for entry in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let _ = fs::rename(entry.path(), self.target.join(entry.file_name()));
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_survives_bytes_that_are_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let log = File::create(dir.path().join("log")).unwrap();
        let input: &[u8] = b"one\r\n\xff\xfe bad\r\nthree\n";
        let mut lines = Vec::new();
        let console = read_console(input, log, &mut |l| lines.push(l.to_vec())).unwrap();
        assert_eq!(console, "one\n\u{fffd}\u{fffd} bad\nthree\n");
        assert_eq!(lines, [&b"one"[..], b"\xff\xfe bad", b"three"]);
        assert_eq!(fs::read(dir.path().join("log")).unwrap(), input, "the log keeps the bytes");
    }

    /// `prefix` stands in for QEMU: `sh -c SCRIPT` ignores the QEMU words
    /// appended to it. What sleeps is `exec`ed, so killing it ends the output
    /// (as `ip netns exec` execs QEMU).
    fn fake_guest(script: &str, timeout: u64, boot_limit: Option<u64>) -> GuestRun {
        let dir = tempfile::tempdir().unwrap();
        let boot = Boot {
            kernel: Path::new("/k"),
            memory_mb: 64,
            initrd: Path::new("/i"),
            mode: Mode::Test,
            accel: Accel::Tcg,
            net: Net::User,
            results: None,
            extra: vec![],
            guest: None,
            pty: None,
        };
        let prefix = ["sh", "-c", script].map(String::from);
        let (timeout, boot_limit) = (Duration::from_secs(timeout), boot_limit.map(Duration::from_secs));
        run_guest_limited(&prefix, &boot, &dir.path().join("console"), timeout, boot_limit, &mut |_| {}).unwrap()
    }

    #[test]
    fn a_guest_that_never_starts_init_is_killed_at_the_boot_limit() {
        let start = Instant::now();
        let run = fake_guest("echo booting; exec sleep 30", 60, Some(1));
        assert!(run.timed_out && !run.booted);
        assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
    }

    #[test]
    fn the_boot_limit_ends_when_init_starts() {
        let run = fake_guest("echo '[ 1.0] Run /init as init process'; sleep 2; echo done", 60, Some(1));
        assert!(run.booted && !run.timed_out, "{}", run.console);
        assert!(run.console.ends_with("done\n"));
        let run = fake_guest("echo '[ 1.0] Run /init as init process'; exec sleep 30", 1, Some(20));
        assert!(run.booted && run.timed_out, "the whole run's limit still holds");
    }

    #[test]
    fn run_files_move_to_target_when_the_run_ends() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path();
        // A dead run's directory (pid 0 never names a process dir in /proc).
        fs::create_dir_all(target.join("xtun-run/0")).unwrap();
        let files = RunFiles::new(target).unwrap();
        assert!(!target.join("xtun-run/0").exists(), "a dead run's files are removed");
        fs::write(files.path("results.txt"), "ok 1 x\n").unwrap();
        assert!(!target.join("results.txt").exists());
        drop(files);
        assert_eq!(fs::read_to_string(target.join("results.txt")).unwrap(), "ok 1 x\n");
    }
}
