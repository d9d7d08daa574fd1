//! The two-guest stage of `cargo xtask test`, after the single-guest suite:
//! two guests on the lab bridge (see lab.rs) both run tests/run.sh over
//! tests/two-guest/NN-*.sh, side by side. Each script runs in both guests
//! and branches on `$GUEST` (1 or 2); `$PEER_IP` is the other's eth0. A
//! test passes when it passes in both; then the host checks both kernel
//! logs. Reported as `ok N two-guest-<name>`, numbered after the suite.
//!
//! Each guest writes KTAP to its own results port,
//! `target/xtun-two-guest<N>-results-<profile>.txt`; the consoles go to
//! `target/xtun-two-guest<N>-console-<profile>.log` (`-v` shows them live,
//! prefixed `[1] ` and `[2] `).

use std::time::{Duration, Instant};

use anyhow::Result;
use xshell::Shell;

use crate::{
    boot::{self, RunFiles},
    flags::Flags,
    ktap::{self, Outcome},
    pipeline::Artifacts,
    qemu::{Accel, Mode},
    test::{self, Tally},
    workspace::Workspace,
};

/// The directory under tests/, and the prefix of the tests' names.
pub const SUITE: &str = "two-guest";

/// Runs the two-guest tests `names` (those the filter selected).
pub fn run(sh: &Shell, ws: &Workspace, flags: &Flags, artifacts: &Artifacts, accel: Accel, names: &[String], tally: &mut Tally) -> Result<()> {
    eprintln!("==> two-guest tests ({}, timeout {}s)", accel.name(), flags.timeout_secs);
    let lab = match boot::lab(sh, 2) {
        Ok(lab) => lab,
        Err(e) => {
            for name in names {
                tally.report(name, Outcome::Skip(format!("no lab bridge for two guests ({e:#})")));
            }
            return Ok(());
        }
    };
    let profile = artifacts.kernel.profile;
    let file = |n: u8, what: &str| format!("xtun-{SUITE}{n}-{what}-{profile}.{}", if what == "console" { "log" } else { "txt" });
    let files = RunFiles::new(&ws.target)?;
    let guests = [1u8, 2];
    let boots = guests.map(|n| {
        let mut boot = boot::pair_boot(artifacts, Mode::Test, accel, n);
        boot.results = Some(files.path(&file(n, "results")));
        boot.extra.push(format!("xtunsuite={SUITE}"));
        if let Some(filter) = &flags.filter {
            boot.extra.push(format!("xtunfilter={filter}"));
        }
        boot
    });
    let consoles = guests.map(|n| files.path(&file(n, "console")));
    let (timeout, boot_limit) = (Duration::from_secs(flags.timeout_secs), Duration::from_secs(boot_limit(flags)));
    let start = Instant::now();
    let mut runs = Vec::new();
    for attempt in 1..=2 {
        let echoes = guests.iter().map(|n| Box::new(boot::echo(flags.verbose, &format!("[{n}] "))) as boot::OnLine).collect();
        runs = boot::run_guests(&lab.exec_prefix(), &boots, &consoles, timeout, Some(boot_limit), echoes)?;
        let stuck: Vec<String> = guests.iter().zip(&runs).filter(|(_, r)| r.timed_out && !r.booted).map(|(n, _)| n.to_string()).collect();
        if stuck.is_empty() || attempt == 2 {
            break;
        }
        // Seen once under heavy load: a TCG guest that spins forever while
        // switching clocksources. Not the tunnel's doing: boot both again.
        eprintln!("    guest {} did not start /init within {}s; booting both again", stuck.join(" and "), boot_limit.as_secs());
    }
    drop(lab);
    drop(files); // moves the results and the consoles to target/
    eprintln!("    guests ran for {:.1}s", start.elapsed().as_secs_f64());

    let results: Vec<String> = guests.iter().map(|&n| std::fs::read_to_string(ws.target.join(file(n, "results"))).unwrap_or_default()).collect();
    let reports: Vec<ktap::Report> = results.iter().map(|r| ktap::parse(r)).collect();
    let failed_before = tally.failed();
    for name in names {
        let outcomes: Vec<Option<&Outcome>> =
            reports.iter().map(|r| r.tests.iter().find(|t| &t.name == name).map(|t| &t.outcome)).collect();
        tally.report(name, combine(&outcomes));
    }
    let splats: Vec<Option<&str>> = runs.iter().map(|r| test::splat(&r.console)).collect();
    let clean = splats.iter().all(Option::is_none) && runs.iter().all(|r| !r.timed_out);
    tally.check(clean, &format!("{SUITE}-host: both guests' kernel logs clean, no timeout"));
    if tally.failed() > failed_before {
        for (i, n) in guests.iter().enumerate() {
            eprintln!("--- guest {n}: results ({}) ---", ws.target.join(file(*n, "results")).display());
            eprint!("{}", results[i]);
            if let Some(s) = splats[i] {
                eprintln!("kernel splat: {s}");
            }
            if runs[i].timed_out && !runs[i].booted {
                eprintln!("guest {n} did not start /init within {}s", boot_limit.as_secs());
            } else if runs[i].timed_out {
                eprintln!("guest {n} did not finish within {}s (--timeout)", flags.timeout_secs);
            }
            if !flags.verbose {
                eprintln!("--- guest {n}: last 20 console lines ({}) ---", ws.target.join(file(*n, "console")).display());
                test::print_tail(&runs[i].console, 20);
            }
        }
    }
    Ok(())
}

/// How long a guest of the pair may take to start /init: a normal boot
/// takes 5 to 15 s under TCG (two at once, on a loaded machine), the debug
/// kernel's about 60 s alone.
fn boot_limit(flags: &Flags) -> u64 {
    if flags.debug_kernel {
        600
    } else {
        120
    }
}

/// One test's result from what each guest reported for it: failed if one
/// failed or reported nothing, else skipped if one skipped, else passed.
fn combine(outcomes: &[Option<&Outcome>]) -> Outcome {
    if outcomes.iter().any(|o| matches!(o, None | Some(Outcome::Fail))) {
        return Outcome::Fail;
    }
    let skip = outcomes.iter().flatten().find_map(|o| match o {
        Outcome::Skip(why) => Some(Outcome::Skip(why.clone())),
        _ => None,
    });
    skip.unwrap_or(Outcome::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_passes_only_if_it_passes_in_both_guests() {
        let (pass, fail, skip) = (Outcome::Pass, Outcome::Fail, Outcome::Skip("no xtun".into()));
        assert_eq!(combine(&[Some(&pass), Some(&pass)]), Outcome::Pass);
        assert_eq!(combine(&[Some(&pass), Some(&fail)]), Outcome::Fail);
        assert_eq!(combine(&[Some(&pass), None]), Outcome::Fail, "a guest that reported nothing fails it");
        assert_eq!(combine(&[Some(&skip), Some(&fail)]), Outcome::Fail);
        assert_eq!(combine(&[Some(&pass), Some(&skip)]), skip);
    }
}
