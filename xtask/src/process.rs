//! Child processes that never outlive xtask: if xtask is killed (a CI
//! timeout, SIGKILL), the kernel sends them SIGKILL, so no make or QEMU
//! keeps writing into the cache or a results file the next run reads.

use std::os::unix::process::CommandExt;

/// `expr` with `PR_SET_PDEATHSIG` set in its child.
pub fn dies_with_parent(expr: duct::Expression) -> duct::Expression {
    expr.before_spawn(|command| {
        // SAFETY: the closure runs between fork and exec and calls only
        // prctl(2), which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        Ok(())
    })
}
