//! Command line of `cargo xtask`.

use anyhow::{bail, Result};
use std::path::PathBuf;

pub const HELP: &str = "\
cargo xtask: build and boot the xtun test guest

USAGE:
    cargo xtask <COMMAND> [OPTIONS]

COMMANDS:
    vm       install what is missing, build, boot a guest shell with xtun loaded
             (serial console; Ctrl-A X quits)
    test     build, boot, run every guest test; prints `ok N name` / `not ok N name`
             and `N passed, N failed`; exits non-zero on any failure
    bench    xtun against the kernel's tap in one guest: paired ratios, a table and
             target/xtun-bench.json (--quick: one short pass, seconds)
    build    only build the kernel, the module and the initrd
    deps     only check for and install the build tools
    help     print this text

OPTIONS:
    -v, --verbose        show the guest console live (test)
    --kvm                use KVM after a quick probe (default: TCG, see README)
    --kdir <DIR>         use your own built kernel tree (also KDIR=<DIR> in the environment)
    --timeout <SECS>     whole guest run limit (default 900; 2700 with --debug-kernel)
    --filter <TEXT>      run only guest tests whose name contains TEXT; TEXT,TEXT,... for
                         several (test)
    --debug-kernel       use the debug kernel profile (KASAN, kmemleak, lockdep, panic_on_warn;
                         built with clang, cached separately) (test, vm, bench)
    --stress-secs <SECS> how long the xtun-stress guest test runs (default 15)
    --seed <N>           replay xtun-stress with this seed (it prints its seed)
    --quick              one boot, one pair, short runs (bench)
    --perf               profile instead: perf in the guest records every metric on each
                         device; top kernel symbols on stdout and in target/xtun-perf.txt (bench)
";

#[derive(Debug, PartialEq)]
pub enum Command {
    Vm,
    Test,
    Bench,
    Build,
    Deps,
    Help,
}

#[derive(Debug)]
pub struct Flags {
    pub command: Command,
    pub verbose: bool,
    pub kvm: bool,
    pub kdir: Option<PathBuf>,
    pub timeout_secs: u64,
    pub filter: Option<String>,
    pub quick: bool,
    pub perf: bool,
    pub debug_kernel: bool,
    pub stress_secs: Option<u64>,
    pub seed: Option<String>,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Flags> {
    let mut args = args.into_iter();
    let command = match args.next().as_deref() {
        None | Some("help" | "-h" | "--help") => Command::Help,
        Some("vm") => Command::Vm,
        Some("test") => Command::Test,
        Some("bench") => Command::Bench,
        Some("build") => Command::Build,
        Some("deps") => Command::Deps,
        Some(other) => bail!("unknown command `{other}`: run `cargo xtask help` for the list"),
    };
    let mut flags = Flags {
        command,
        verbose: false,
        kvm: false,
        kdir: std::env::var_os("KDIR").map(PathBuf::from),
        timeout_secs: 900,
        filter: None,
        quick: false,
        perf: false,
        debug_kernel: false,
        stress_secs: None,
        seed: None,
    };
    let mut timeout_given = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| match args.next() {
            Some(v) => Ok(v),
            None => bail!("{name} needs a value: see `cargo xtask help`"),
        };
        match arg.as_str() {
            "-v" | "--verbose" => flags.verbose = true,
            "--kvm" => flags.kvm = true,
            "--quick" => flags.quick = true,
            "--perf" => flags.perf = true,
            "--debug-kernel" => flags.debug_kernel = true,
            "--kdir" => flags.kdir = Some(PathBuf::from(value("--kdir")?)),
            "--timeout" => {
                timeout_given = true;
                let v = value("--timeout")?;
                flags.timeout_secs = v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--timeout takes whole seconds, not `{v}`"))?;
            }
            "--filter" => flags.filter = Some(value("--filter")?),
            "--seed" => {
                let v = value("--seed")?;
                v.parse::<u64>().map_err(|_| anyhow::anyhow!("--seed takes a number, not `{v}`"))?;
                flags.seed = Some(v);
            }
            "--stress-secs" => {
                let v = value("--stress-secs")?;
                flags.stress_secs = Some(v.parse().map_err(|_| anyhow::anyhow!("--stress-secs takes whole seconds, not `{v}`"))?);
            }
            "-h" | "--help" => flags.command = Command::Help,
            other => bail!("unknown option `{other}`: run `cargo xtask help`"),
        }
    }
    if flags.debug_kernel && !timeout_given {
        flags.timeout_secs = 2700; // KASAN and lockdep slow TCG down a lot
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Flags> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_commands_and_options() {
        let f = p(&["test", "-v", "--timeout", "30", "--filter", "ping"]).unwrap();
        assert_eq!(f.command, Command::Test);
        assert!(f.verbose);
        assert_eq!(f.timeout_secs, 30);
        assert_eq!(f.filter.as_deref(), Some("ping"));
        assert_eq!(p(&[]).unwrap().command, Command::Help);
    }

    #[test]
    fn rejects_bad_input_with_a_hint() {
        let e = p(&["frobnicate"]).unwrap_err().to_string();
        assert!(e.contains("cargo xtask help"), "{e}");
        assert!(p(&["test", "--timeout", "soon"]).is_err());
        assert!(p(&["test", "--kdir"]).is_err());
        assert!(p(&["vm", "--bogus"]).is_err());
    }
}
