//! `cargo xtask test`: host unit tests, then the guest suite.
//!
//! The guest writes KTAP to a virtio-serial port that QEMU stores in
//! `target/xtun-results-<profile>.txt` (the console cannot fake a result); the
//! console goes to `target/xtun-console-<profile>.log`, shown live with `-v`, or its last
//! 40 lines on failure. A missing result, a kernel splat or the timeout fail
//! the run. The host adds its own checks: the lab pings the guest's eth0.

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::{
    pipeline::{build, Artifacts},
    flags::Flags,
    ktap::{self, Outcome},
    lab::{self, Lab},
    qemu::{Accel, Boot, Mode, Net},
    pipeline::stage, vm, workspace::Workspace,
};

/// Console lines that mean the kernel hit a bug.
const SPLATS: &[&str] = &["WARNING:", "BUG:", "Oops", "Kernel panic", "Call Trace:", "general protection fault", "suspected memory leak"];

pub fn run(sh: &Shell, ws: &Workspace, flags: &Flags) -> Result<i32> {
    stage("host unit tests (cargo test)", || {
        let _dir = sh.push_dir(&ws.root);
        cmd!(sh, "cargo test --quiet --workspace").run().context("host unit tests failed")
    })?;
    let artifacts = build(sh, ws, flags)?;
    let accel = choose_accel(flags, ws, &artifacts)?;
    let lab = root_or_user_net(sh)?;
    // Per profile, so a normal and a debug run can go on side by side.
    let profile = artifacts.kernel.profile;
    let results_path = ws.target.join(format!("xtun-results-{profile}.txt"));
    let console_path = ws.target.join(format!("xtun-console-{profile}.log"));
    let net = lab.as_ref().map_or(Net::User, |_| Net::Tap(lab::TAP.to_string()));
    let mut boot = artifacts.boot(Mode::Test, accel, net);
    boot.results = Some(results_path.clone());
    // The guest takes the first `key=` it finds: the user's flags go before
    // the profile's.
    let mut user = Vec::new();
    if let Some(secs) = flags.stress_secs {
        user.push(format!("xtunstress={secs}"));
    }
    if let Some(seed) = &flags.seed {
        user.push(format!("xtunseed={seed}"));
    }
    boot.extra.splice(0..0, user);
    if let Some(filter) = &flags.filter {
        boot.extra.push(format!("xtunfilter={filter}"));
    }
    eprintln!("==> guest tests ({}, timeout {}s)", accel.name(), flags.timeout_secs);
    let start = Instant::now();
    let pinger = lab.as_ref().map(|l| LabPinger::start(l.exec_prefix()));
    let run = run_guest(&vm::prefix(&lab), &boot, &console_path, Some(&results_path), flags.verbose, flags.timeout_secs)?;
    let pings = pinger.map(LabPinger::stop);
    drop(lab);
    eprintln!("    guest ran for {:.1}s", start.elapsed().as_secs_f64());

    let report = ktap::parse(&std::fs::read_to_string(&results_path).unwrap_or_default());
    let mut failed = 0;
    let mut passed = 0;
    let mut skipped = 0;
    for test in &report.tests {
        match &test.outcome {
            Outcome::Pass => passed += 1,
            Outcome::Fail => failed += 1,
            Outcome::Skip(_) => skipped += 1,
        }
    }
    // Guest lines were printed live; host checks are numbered after them.
    let mut line = |ok: bool, name: &str| {
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
        println!("{} {} {name}", if ok { "ok" } else { "not ok" }, passed + failed + skipped);
    };
    let complete = report.plan.is_some_and(|plan| plan == report.tests.len() && plan > 0);
    line(complete, "host: guest reported every planned test");
    let splat = run.console.lines().find(|l| SPLATS.iter().any(|s| l.contains(s)));
    line(splat.is_none() && !run.timed_out, "host: guest kernel log clean, no timeout");
    if let Some(ok) = pings {
        line(ok, "host: lab namespace pings the guest's eth0 over the bridge");
    }
    if failed > 0 || !complete {
        if let Some(s) = splat {
            eprintln!("kernel splat: {s}");
        }
        if run.timed_out {
            eprintln!("the guest did not finish within {}s (--timeout)", flags.timeout_secs);
        }
        if !flags.verbose {
            eprintln!("--- last 40 console lines ({}) ---", console_path.display());
            let lines: Vec<&str> = run.console.lines().collect();
            for l in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{l}");
            }
        }
    }
    let skip = if skipped > 0 { format!(", {skipped} skipped") } else { String::new() };
    println!("{passed} passed, {failed} failed{skip}");
    Ok(if failed == 0 { 0 } else { 1 })
}

pub struct GuestRun {
    pub console: String,
    pub timed_out: bool,
}

/// Boots `boot`, streaming the console to `console_path`, and live-printing
/// result lines from `results` as they appear. Kills QEMU at the timeout.
pub fn run_guest(
    prefix: &[String],
    boot: &Boot<'_>,
    console_path: &Path,
    results: Option<&Path>,
    verbose: bool,
    timeout_secs: u64,
) -> Result<GuestRun> {
    if let Some(r) = results {
        std::fs::write(r, "")?;
    }
    let mut argv: Vec<String> = prefix.to_vec();
    argv.push("qemu-system-x86_64".into());
    argv.extend(boot.args());
    let handle = Arc::new(
        duct::cmd(&argv[0], &argv[1..])
            .stdin_null()
            .stderr_to_stdout()
            .unchecked()
            .reader()
            .context("cannot start qemu-system-x86_64")?,
    );
    let done = Arc::new(AtomicBool::new(false));
    let timed_out = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (handle, done, timed_out) = (handle.clone(), done.clone(), timed_out.clone());
        let deadline = Instant::now() + Duration::from_secs(timeout_secs);
        thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if Instant::now() > deadline {
                    timed_out.store(true, Ordering::SeqCst);
                    let _ = handle.kill();
                    return;
                }
                thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let tail = results.map(|r| {
        let (r, done) = (r.to_path_buf(), done.clone());
        thread::spawn(move || tail_results(&r, &done))
    });
    let mut log = std::fs::File::create(console_path)?;
    let mut console = String::new();
    for line in BufReader::new(&*handle).lines() {
        let line = match line {
            Ok(l) => l,
            Err(_) => break,
        };
        writeln!(log, "{line}")?;
        if verbose {
            eprintln!("{line}");
        }
        console.push_str(&line);
        console.push('\n');
    }
    done.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    if let Some(t) = tail {
        let _ = t.join();
    }
    Ok(GuestRun { console, timed_out: timed_out.load(Ordering::SeqCst) })
}

/// Prints each KTAP result line as the guest writes it.
fn tail_results(path: &Path, done: &AtomicBool) {
    let mut shown = 0;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let complete: Vec<&str> = text.split_inclusive('\n').filter(|l| l.ends_with('\n')).collect();
        for l in &complete[shown.min(complete.len())..] {
            if ktap::parse_line(l).is_some() || l.starts_with("# ") {
                print!("{l}");
            }
        }
        shown = complete.len();
        if finished {
            return;
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Pings the guest from the lab namespace until three replies or stop.
struct LabPinger {
    stop: Arc<AtomicBool>,
    replies: Arc<AtomicUsize>,
    thread: thread::JoinHandle<()>,
}

impl LabPinger {
    fn start(prefix: Vec<String>) -> LabPinger {
        let stop = Arc::new(AtomicBool::new(false));
        let replies = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, replies) = (stop.clone(), replies.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) && replies.load(Ordering::SeqCst) < 3 {
                    let mut argv = prefix.clone();
                    argv.extend(["ping", "-c", "1", "-W", "1", lab::GUEST_ADDR].map(String::from));
                    let ok = duct::cmd(&argv[0], &argv[1..])
                        .stdout_null()
                        .stderr_null()
                        .unchecked()
                        .run()
                        .map(|o| o.status.success())
                        .unwrap_or(false);
                    if ok {
                        replies.fetch_add(1, Ordering::SeqCst);
                    } else {
                        thread::sleep(Duration::from_millis(500));
                    }
                }
            })
        };
        LabPinger { stop, replies, thread }
    }

    fn stop(self) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
        self.replies.load(Ordering::SeqCst) >= 3
    }
}

/// The lab (root) or QEMU user networking (not root), saying which.
pub fn root_or_user_net(sh: &Shell) -> Result<Option<Lab<'_>>> {
    let root = cmd!(sh, "id -u").read().map(|s| s.trim() == "0").unwrap_or(false);
    if !root {
        eprintln!("    not root: using QEMU user networking; the lab ping check is skipped");
        return Ok(None);
    }
    Ok(Some(Lab::create(sh)?))
}

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
    let run = run_guest(&[], &boot, &ws.target.join("kvm-probe.log"), None, false, 30)?;
    if run.console.contains("XTUN-PROBE-OK") {
        Ok(Accel::Kvm)
    } else {
        eprintln!("    --kvm: a probe boot under KVM failed (see target/kvm-probe.log); using TCG");
        Ok(Accel::Tcg)
    }
}
