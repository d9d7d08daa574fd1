//! Children die with xtask. QEMU gets PR_SET_PDEATHSIG, so it dies however
//! xtask dies (SIGKILL from a CI timeout included); SIGINT, SIGTERM and
//! SIGHUP kill the registered children instead of xtask, so the stage
//! returns through its error path and Drop (the lab's) runs.

use std::{
    io,
    os::unix::process::CommandExt,
    process::{Child, Command},
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
};

use anyhow::{bail, Context, Result};
use nix::{
    errno::Errno,
    sys::{
        prctl,
        signal::{kill, Signal},
    },
    unistd::{getppid, setsid, Pid},
};

/// Pids of the running children a signal kills.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler. With no child to stop, or on a second signal,
/// xtask exits at once (130, as a shell reports SIGINT).
pub fn kill_on_signal() -> Result<()> {
    ctrlc::set_handler(|| {
        let again = INTERRUPTED.swap(true, Ordering::SeqCst);
        let running = RUNNING.lock().map(|r| r.clone()).unwrap_or_default();
        if again || running.is_empty() {
            std::process::exit(130);
        }
        eprintln!("xtask: interrupted: stopping the guest");
        for pid in running {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    })
    .context("cannot install the signal handler")
}

/// Whether a signal asked xtask to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// A running child that dies with xtask and that a signal to xtask kills.
pub struct Guarded(pub Child);

/// Spawns `cmd` so that it dies with xtask (the calling thread, in fact:
/// spawn from a thread that outlives the child) and registers it.
pub fn spawn(cmd: &mut Command) -> Result<Guarded> {
    if interrupted() {
        bail!("interrupted");
    }
    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec; it only
    // makes two system calls (prctl, getppid), both async-signal-safe, and
    // allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            prctl::set_pdeathsig(Signal::SIGKILL)?;
            // xtask may have died before the prctl: then no signal will come.
            if getppid().as_raw() as u32 != parent {
                return Err(Errno::ESRCH.into());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push(child.id());
    Ok(Guarded(child))
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let id = self.0.id();
        RUNNING.lock().unwrap_or_else(|e| e.into_inner()).retain(|&pid| pid != id);
    }
}

/// `expr` (a duct pipeline: the kernel's make) with PR_SET_PDEATHSIG in
/// its child, so an xtask killed mid-build leaves no make writing into the
/// cache; the kernel build lock then passes to the next run.
pub fn dies_with_parent(expr: duct::Expression) -> duct::Expression {
    expr.before_spawn(|command| {
        // SAFETY: the closure runs in the child between fork and exec and
        // makes one system call (prctl), async-signal-safe, allocating nothing.
        unsafe {
            command.pre_exec(|| prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from));
        }
        Ok(())
    })
}

/// Spawns `cmd` in a session of its own: signals to xtask's process group
/// (Ctrl-C, a CI runner killing the group) do not reach it. For the one
/// child that must outlive xtask: the lab's cleaner.
pub fn spawn_detached(cmd: &mut Command) -> io::Result<Child> {
    // SAFETY: runs between fork and exec; setsid is one system call,
    // async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            setsid()?;
            Ok(())
        });
    }
    cmd.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{thread, time::Duration};

    /// A child spawned by a thread that ends gets SIGKILL: the pdeathsig is
    /// set (xtask ending works the same way, the thread being its last).
    #[test]
    fn child_dies_with_its_parent_thread() {
        let mut child = thread::spawn(|| spawn(Command::new("sleep").arg("30")).unwrap()).join().unwrap();
        let status = wait_timeout::ChildExt::wait_timeout(&mut child.0, Duration::from_secs(10)).unwrap();
        let _ = child.0.kill();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.and_then(|s| s.signal()), Some(9), "sleep outlived the thread that spawned it");
    }
}
