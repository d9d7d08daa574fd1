//! `cargo xtask test`: host unit tests, then the guest suite.
//!
//! The guest writes KTAP to a virtio-serial port that QEMU stores in
//! `target/xtun-results-<profile>.txt` (the console cannot fake a result); the
//! console goes to `target/xtun-console-<profile>.log`, shown live with `-v`, or its last
//! 40 lines on failure (both are written in `target/xtun-run/<pid>/` while the
//! run lasts, see `boot::RunFiles`). A missing result, a kernel splat or the timeout fail
//! the run. The host adds its own checks: the lab pings the guest's eth0.

use std::{
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
    boot::{self, RunFiles},
    flags::Flags,
    ktap::{self, Outcome},
    lab,
    pipeline::{build, stage},
    qemu::Mode,
    workspace::Workspace,
};

/// Console lines that mean the kernel hit a bug.
const SPLATS: &[&str] = &["WARNING:", "BUG:", "Oops", "Kernel panic", "Call Trace:", "general protection fault", "suspected memory leak"];

pub fn run(sh: &Shell, ws: &Workspace, flags: &Flags) -> Result<i32> {
    stage("host unit tests (cargo test)", || {
        let _dir = sh.push_dir(&ws.root);
        cmd!(sh, "cargo test --quiet --workspace").run().context("host unit tests failed")
    })?;
    let artifacts = build(sh, ws, flags)?;
    let accel = boot::choose_accel(flags, ws, &artifacts)?;
    let lab = boot::lab_or_user_net(sh);
    // Per profile, so a normal and a debug run can go on side by side.
    let profile = artifacts.kernel.profile;
    let (results_name, console_name) = (format!("xtun-results-{profile}.txt"), format!("xtun-console-{profile}.log"));
    let files = RunFiles::new(&ws.target)?;
    let mut boot = artifacts.boot(Mode::Test, accel, boot::net(&lab));
    boot.results = Some(files.path(&results_name));
    // The guest takes the first `key=` it finds: the user's flags go before
    // the profile's.
    let mut user = Vec::new();
    if let Some(secs) = flags.stress_secs {
        user.push(format!("xtunstress={secs}"));
    }
    if let Some(cycles) = flags.cycles {
        user.push(format!("xtuncycles={cycles}"));
    }
    if let Some(seed) = flags.seed {
        user.push(format!("xtunseed={seed}"));
    }
    boot.extra.splice(0..0, user);
    if let Some(filter) = &flags.filter {
        boot.extra.push(format!("xtunfilter={filter}"));
    }
    eprintln!("==> guest tests ({}, timeout {}s)", accel.name(), flags.timeout_secs);
    let start = Instant::now();
    let pinger = lab.as_ref().map(|l| LabPinger::start(l.exec_prefix()));
    let done = AtomicBool::new(false);
    let run = thread::scope(|s| {
        s.spawn(|| tail_results(&files.path(&results_name), &done));
        let mut echo = boot::echo(flags.verbose);
        let timeout = Duration::from_secs(flags.timeout_secs);
        let run = boot::run_guest(&boot::prefix(&lab), &boot, &files.path(&console_name), timeout, &mut echo);
        done.store(true, Ordering::SeqCst);
        run
    })?;
    let pings = pinger.map(LabPinger::stop);
    drop(lab);
    drop(files); // moves the results and the console to target/
    let (results_path, console_path) = (ws.target.join(&results_name), ws.target.join(&console_name));
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
