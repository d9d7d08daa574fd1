//! Command line of `cargo xtask` (clap derive): each command takes only
//! the options that mean something to it, `--opt=val` and `--opt val` both
//! work, and anything else is an error that names the command's `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", arg_required_else_help = true)]
/// Build and boot the xtun test guest (QEMU, TCG by default; see README).
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

#[derive(Subcommand, Debug)]
enum CliCommand {
    /// Build, boot a guest shell with xtun loaded (Ctrl-A X quits); or, after
    /// `--`, run a command in that guest and exit with its status
    ///
    /// Installs what is missing and builds first. Without `--`: the guest's
    /// shell on the serial console (Ctrl-C goes to the guest; Ctrl-A X quits,
    /// Ctrl-A C is QEMU's monitor). With `-- CMD [ARGS...]`: the same guest
    /// (xtun loaded, lab up) runs `sh -c "CMD ARGS..."`, its output comes to
    /// stdout, the guest powers off and xtask exits with CMD's status (255
    /// if the guest reported none).
    ///
    /// `--guests 2`: two guests on the lab bridge (10.98.0.2 and 10.98.0.3;
    /// root). The shell of guest 1 has the terminal, guest 2's console is a
    /// pty (xtask prints how to attach). With `-- CMD`, both run CMD
    /// (`$GUEST` is 1 or 2, `$PEER_IP` the other's address), their output
    /// prefixed `[1] ` / `[2] `; the status is guest 1's if not 0, else
    /// guest 2's.
    Vm {
        #[command(flatten)]
        kernel: KernelOpts,
        #[command(flatten)]
        guest: GuestOpts,
        /// Boot this many guests on the lab bridge (1 or 2).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
        guests: u8,
        /// The guest command, after `--`; its words are joined with spaces
        /// and run by the guest's shell.
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Build, boot, run every guest test; `N passed, N failed`; non-zero on
    /// any failure
    ///
    /// Host unit tests first, then the guest suite: prints `ok N name` / `not
    /// ok N name` as the guest reports them.
    Test {
        #[command(flatten)]
        kernel: KernelOpts,
        #[command(flatten)]
        guest: GuestOpts,
        /// Run only guest tests whose name contains TEXT; TEXT,TEXT,... for several.
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// How long the xtun-stress guest test runs (default 15; 60 with --debug-kernel).
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
        stress_secs: Option<u64>,
        /// Load/unload cycles of the load-unload-cycle guest test (default 50; 200 with --debug-kernel).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        cycles: Option<u64>,
        /// Replay xtun-stress with this seed (it prints its seed).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
    },
    /// xtun against the kernel's tap in one guest: paired ratios, a table and
    /// target/xtun-bench.json (--tunnel: the tunnel mode against the
    /// underlay, vxlan and a userspace forwarder)
    Bench {
        #[command(flatten)]
        kernel: KernelOpts,
        #[command(flatten)]
        guest: GuestOpts,
        /// One boot, one pair, short runs (seconds).
        #[arg(long, conflicts_with = "perf")]
        quick: bool,
        /// Profile instead: perf in the guest records every metric on each
        /// device; top kernel symbols on stdout and in target/xtun-perf.txt.
        #[arg(long)]
        perf: bool,
        /// The tunnel bench instead: xtun's tunnel against the underlay, the
        /// kernel's vxlan and a userspace forwarder (RTT, TCP, UDP), and 10
        /// against 10,000 peers; target/xtun-bench-tunnel.json.
        #[arg(long)]
        tunnel: bool,
    },
    /// Only build the kernel, the module and the initrd
    Build {
        #[command(flatten)]
        kernel: KernelOpts,
    },
    /// Only check for and install the build tools
    Deps {
        #[command(flatten)]
        kernel: KernelOpts,
    },
    /// Regenerate driver/gen/ from the genetlink spec driver/netlink/xtun.yaml
    ///
    /// Runs the guest kernel's ynl-gen (tools/net/ynl/pyynl/ynl_gen_c.py) on
    /// the spec; commit the result. Builds fail while driver/gen differs
    /// from what the spec generates.
    GenNetlink {
        /// Take ynl-gen from your own kernel tree instead of the cached source.
        #[arg(long, env = "KDIR", value_name = "DIR")]
        kdir: Option<PathBuf>,
    },
}

/// Which kernel: every command takes these.
#[derive(Args, Debug)]
struct KernelOpts {
    /// Use your own built kernel tree instead of the cached one.
    #[arg(long, env = "KDIR", value_name = "DIR")]
    kdir: Option<PathBuf>,
    /// Use the debug kernel profile (KASAN, kmemleak, lockdep,
    /// panic_on_warn; built with clang, cached separately).
    #[arg(long)]
    debug_kernel: bool,
}

/// How to boot: the commands that boot a guest take these too.
#[derive(Args, Debug)]
struct GuestOpts {
    /// Show the guest console live (on stderr).
    #[arg(short, long)]
    verbose: bool,
    /// Use KVM after a quick probe boot (default: TCG, see README).
    #[arg(long)]
    kvm: bool,
    /// Whole guest run limit (default 1200; 5400 with --debug-kernel); the
    /// interactive vm has none.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Command {
    Vm,
    #[default]
    Test,
    Bench,
    Build,
    Deps,
    GenNetlink,
}

/// What the stages read: the parsed command line, flattened, with the
/// defaults that depend on other options filled in.
#[derive(Debug, Default)]
pub struct Flags {
    pub command: Command,
    pub verbose: bool,
    pub kvm: bool,
    pub kdir: Option<PathBuf>,
    pub timeout_secs: u64,
    pub filter: Option<String>,
    pub quick: bool,
    pub perf: bool,
    pub tunnel: bool,
    pub debug_kernel: bool,
    pub stress_secs: Option<u64>,
    pub cycles: Option<u64>,
    pub seed: Option<u64>,
    /// `vm -- CMD...`: the guest command's words; empty for the shell.
    pub run: Vec<String>,
    /// `vm --guests N`: how many guests (1 or 2).
    pub guests: u8,
}

/// Parses the words after `cargo xtask`. The error prints itself (help
/// and `--help` too, with exit status 0) through `clap::Error::exit`.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Flags, clap::Error> {
    let cli = Cli::try_parse_from(std::iter::once("cargo xtask".to_string()).chain(args))?;
    let mut flags = Flags { guests: 1, ..Flags::default() };
    let (command, kernel, guest) = match cli.command {
        CliCommand::Vm { kernel, guest, guests, command } => {
            (flags.run, flags.guests) = (command, guests);
            (Command::Vm, kernel, Some(guest))
        }
        CliCommand::Test { kernel, guest, filter, stress_secs, cycles, seed } => {
            (flags.filter, flags.stress_secs, flags.cycles, flags.seed) = (filter, stress_secs, cycles, seed);
            (Command::Test, kernel, Some(guest))
        }
        CliCommand::Bench { kernel, guest, quick, perf, tunnel } => {
            (flags.quick, flags.perf, flags.tunnel) = (quick, perf, tunnel);
            (Command::Bench, kernel, Some(guest))
        }
        CliCommand::Build { kernel } => (Command::Build, kernel, None),
        CliCommand::Deps { kernel } => (Command::Deps, kernel, None),
        CliCommand::GenNetlink { kdir } => (Command::GenNetlink, KernelOpts { kdir, debug_kernel: false }, None),
    };
    flags.command = command;
    let mut timeout = None;
    if let Some(g) = guest {
        (flags.verbose, flags.kvm, timeout) = (g.verbose, g.kvm, g.timeout);
    }
    (flags.kdir, flags.debug_kernel) = (kernel.kdir, kernel.debug_kernel);
    // KASAN and lockdep slow TCG down a lot.
    flags.timeout_secs = timeout.unwrap_or(if flags.debug_kernel { 5400 } else { 1200 });
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Flags, clap::Error> {
        parse(args.iter().map(|s| s.to_string()))
    }

    fn err(args: &[&str]) -> String {
        p(args).unwrap_err().to_string()
    }

    #[test]
    fn parses_commands_and_options() {
        let f = p(&["test", "-v", "--timeout", "30", "--filter", "ping"]).unwrap();
        assert_eq!(f.command, Command::Test);
        assert!(f.verbose);
        assert_eq!(f.timeout_secs, 30);
        assert_eq!(f.filter.as_deref(), Some("ping"));
        assert_eq!(p(&["deps"]).unwrap().command, Command::Deps);
        assert_eq!(p(&["build", "--debug-kernel"]).unwrap().command, Command::Build);
        assert_eq!(p(&["gen-netlink"]).unwrap().command, Command::GenNetlink);
        assert!(p(&["gen-netlink", "--debug-kernel"]).is_err());
    }

    #[test]
    fn takes_opt_equals_value() {
        let f = p(&["test", "--timeout=30", "--filter=a,b", "--seed=7", "--kdir=/k"]).unwrap();
        assert_eq!((f.timeout_secs, f.filter.as_deref(), f.seed), (30, Some("a,b"), Some(7)));
        assert_eq!(f.kdir, Some(PathBuf::from("/k")));
    }

    #[test]
    fn ci_debug_load_is_a_flag() {
        let f = p(&["test", "--debug-kernel", "--cycles", "50", "--stress-secs", "15"]).unwrap();
        assert!(f.debug_kernel);
        assert_eq!((f.cycles, f.stress_secs, f.timeout_secs), (Some(50), Some(15), 5400));
        assert_eq!(p(&["test"]).unwrap().timeout_secs, 1200);
        assert_eq!(p(&["test", "--debug-kernel", "--timeout", "60"]).unwrap().timeout_secs, 60);
    }

    #[test]
    fn vm_takes_a_command_after_double_dash() {
        let f = p(&["vm", "--", "ip", "-br", "link"]).unwrap();
        assert_eq!((f.command, f.run.join(" ")), (Command::Vm, "ip -br link".to_string()));
        // The guest command's own options are not xtask's.
        assert_eq!(p(&["vm", "--", "ls", "--timeout", "-v"]).unwrap().run, ["ls", "--timeout", "-v"]);
        assert!(!p(&["vm", "--", "ls", "-v"]).unwrap().verbose);
        assert!(p(&["vm"]).unwrap().run.is_empty());
        assert_eq!(p(&["vm"]).unwrap().guests, 1);
        // Without `--` a word is not a command: a typo must not run.
        assert!(p(&["vm", "ls"]).is_err());
    }

    #[test]
    fn vm_boots_one_or_two_guests() {
        let f = p(&["vm", "--guests", "2", "--", "ping", "$PEER_IP"]).unwrap();
        assert_eq!((f.guests, f.run.join(" ")), (2, "ping $PEER_IP".to_string()));
        assert_eq!(p(&["vm", "--guests=2"]).unwrap().guests, 2);
        assert!(p(&["vm", "--guests", "3"]).is_err());
        assert!(p(&["vm", "--guests", "0"]).is_err());
        assert!(p(&["test", "--guests", "2"]).is_err());
    }

    #[test]
    fn rejects_unknown_and_misplaced_options() {
        assert!(err(&["frobnicate"]).contains("frobnicate"));
        assert!(p(&["test", "--timeout", "soon"]).is_err());
        assert!(p(&["test", "--timeout", "0"]).is_err());
        assert!(p(&["test", "--cycles", "0"]).is_err());
        assert!(p(&["test", "--kdir"]).is_err());
        assert!(p(&["vm", "--bogus"]).is_err());
        // --quick belongs to bench: test must not take it and ignore it.
        assert!(err(&["test", "--quick"]).contains("--quick"));
        assert!(p(&["vm", "--filter", "x"]).is_err());
        assert!(p(&["bench", "--quick", "--perf"]).is_err());
        assert!(p(&["bench", "--quick"]).unwrap().quick);
        let f = p(&["bench", "--tunnel", "--quick"]).unwrap();
        assert!(f.tunnel && f.quick);
        assert!(p(&["bench", "--tunnel", "--perf"]).unwrap().perf);
        assert!(p(&["test", "--tunnel"]).is_err());
    }

    #[test]
    fn help_is_not_an_error_exit() {
        for args in [&["--help"][..], &["help"], &["test", "--help"], &[]] {
            let e = p(args).unwrap_err();
            assert!(e.to_string().contains("Usage"), "{args:?}: {e}");
        }
        assert_eq!(p(&["--help"]).unwrap_err().exit_code(), 0);
        assert!(err(&["test", "--help"]).contains("--stress-secs"));
    }
}
