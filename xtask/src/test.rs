//! `cargo xtask test`: host unit tests, then the guest suite, then the
//! two-guest tests (two_guest.rs); with `--filter`, only the parts that
//! hold a matching test.
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

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{
    boot::{self, RunFiles},
    flags::Flags,
    ktap::{self, Outcome},
    lab,
    pipeline::{build, stage, Artifacts},
    qemu::{Accel, Mode},
    two_guest,
    workspace::Workspace,
};

/// Console lines that mean the kernel hit a bug.
const SPLATS: &[&str] = &["WARNING:", "BUG:", "Oops", "Kernel panic", "Call Trace:", "general protection fault", "suspected memory leak"];

pub fn run(sh: &Shell, ws: &Workspace, flags: &Flags) -> Result<i32> {
    stage("host unit tests (cargo test)", || {
        let _dir = sh.push_dir(&ws.root);
        cmd!(sh, "cargo test --quiet --workspace").run().context("host unit tests failed")
    })?;
    // What the guests will run, as tests/run.sh picks it.
    let filter = flags.filter.as_deref();
    let one = selected(&ws.root.join("tests"), "", filter)?;
    let two = selected(&ws.root.join("tests").join(two_guest::SUITE), &format!("{}-", two_guest::SUITE), filter)?;
    if one.is_empty() && two.is_empty() {
        bail!("no guest test's name contains --filter {}", filter.unwrap_or(""));
    }
    let artifacts = build(sh, ws, flags)?;
    let accel = boot::choose_accel(flags, ws, &artifacts)?;
    let mut tally = Tally::default();
    if !one.is_empty() {
        one_guest(sh, ws, flags, &artifacts, accel, &mut tally)?;
    }
    if !two.is_empty() {
        two_guest::run(sh, ws, flags, &artifacts, accel, &two, &mut tally)?;
    }
    let skip = if tally.skipped > 0 { format!(", {} skipped", tally.skipped) } else { String::new() };
    println!("{} passed, {} failed{skip}", tally.passed, tally.failed);
    Ok(if tally.failed == 0 { 0 } else { 1 })
}

/// The results so far; host-side lines are numbered after them.
#[derive(Default)]
pub struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Tally {
    /// Counts a result that was printed already (the guest's, live).
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail => self.failed += 1,
            Outcome::Skip(_) => self.skipped += 1,
        }
    }

    /// Counts and prints a result as a KTAP line.
    pub fn report(&mut self, name: &str, outcome: Outcome) {
        self.count(&outcome);
        let n = self.passed + self.failed + self.skipped;
        match outcome {
            Outcome::Pass => println!("ok {n} {name}"),
            Outcome::Fail => println!("not ok {n} {name}"),
            Outcome::Skip(why) => println!("ok {n} {name} # SKIP {why}"),
        }
    }

    /// A host check: pass or fail.
    pub fn check(&mut self, ok: bool, name: &str) {
        self.report(name, if ok { Outcome::Pass } else { Outcome::Fail });
    }

    pub fn failed(&self) -> usize {
        self.failed
    }
}

/// Names of the tests in `dir` that run under `filter`, as tests/run.sh
/// names and picks them: `NN-name.sh` is `<prefix>name`, and with a filter
/// it runs if its name contains one of the comma-separated parts.
pub fn selected(dir: &Path, prefix: &str, filter: Option<&str>) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let file = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = file.strip_suffix(".sh").filter(|s| s.starts_with(|c: char| c.is_ascii_digit())) {
            names.push((file.clone(), format!("{prefix}{}", test_name(stem))));
        }
    }
    names.sort();
    Ok(names.into_iter().map(|(_, name)| name).filter(|name| wanted(name, filter)).collect())
}

/// `sed 's/^[0-9]*-//'`: the file name without its order number.
fn test_name(stem: &str) -> &str {
    stem.trim_start_matches(|c: char| c.is_ascii_digit()).strip_prefix('-').unwrap_or(stem)
}

/// run.sh's `wanted`: no filter (or an empty one) runs everything.
fn wanted(name: &str, filter: Option<&str>) -> bool {
    match filter {
        None | Some("") => true,
        Some(f) => f.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()).any(|p| name.contains(p)),
    }
}

/// The single-guest suite (tests/NN-*.sh), its KTAP printed live, then the
/// host's checks.
fn one_guest(sh: &Shell, ws: &Workspace, flags: &Flags, artifacts: &Artifacts, accel: Accel, tally: &mut Tally) -> Result<()> {
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
        let mut echo = boot::echo(flags.verbose, "");
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
    // Guest lines were printed live; host checks are numbered after them.
    for test in &report.tests {
        tally.count(&test.outcome);
    }
    let complete = report.plan.is_some_and(|plan| plan == report.tests.len() && plan > 0);
    tally.check(complete, "host: guest reported every planned test");
    let splat = splat(&run.console);
    tally.check(splat.is_none() && !run.timed_out, "host: guest kernel log clean, no timeout");
    if let Some(ok) = pings {
        tally.check(ok, "host: lab namespace pings the guest's eth0 over the bridge");
    }
    if tally.failed() > 0 || !complete {
        if let Some(s) = splat {
            eprintln!("kernel splat: {s}");
        }
        if run.timed_out {
            eprintln!("the guest did not finish within {}s (--timeout)", flags.timeout_secs);
        }
        if !flags.verbose {
            eprintln!("--- last 40 console lines ({}) ---", console_path.display());
            print_tail(&run.console, 40);
        }
    }
    Ok(())
}

/// The first console line that says the kernel hit a bug.
pub fn splat(console: &str) -> Option<&str> {
    console.lines().find(|l| SPLATS.iter().any(|s| l.contains(s)))
}

/// The last `n` lines of `text`, on stderr.
pub fn print_tail(text: &str, n: usize) {
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines[lines.len().saturating_sub(n)..] {
        eprintln!("{l}");
    }
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
                    argv.extend(["ping", "-c", "1", "-W", "1"].map(String::from));
                    argv.push(lab::guest_addr(1));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_filter_match_run_sh() {
        assert_eq!(test_name("03-lab-ping"), "lab-ping");
        assert_eq!(test_name("99kmemleak"), "99kmemleak");
        assert!(wanted("two-guest-tunnel", None));
        assert!(wanted("two-guest-tunnel", Some("")));
        assert!(wanted("two-guest-tunnel", Some("ping,two-guest")));
        assert!(!wanted("two-guest-tunnel", Some("ping")));
        assert!(!wanted("lab-ping", Some("two-guest")));
    }

    #[test]
    fn selects_numbered_scripts_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["02-b.sh", "01-a.sh", "lib.sh", "run.sh", "10-c.txt"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("two-guest")).unwrap();
        assert_eq!(selected(dir.path(), "x-", None).unwrap(), ["x-a", "x-b"]);
        assert_eq!(selected(dir.path(), "", Some("b")).unwrap(), ["b"]);
    }
}
