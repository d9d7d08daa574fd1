//! Advisory file locks, so that runs started together (`test` and `bench`,
//! two profiles) never build into the same directory at once. The kernel
//! drops a lock when its holder exits, however it exits.

use std::{
    fs::{File, TryLockError},
    path::Path,
    time::Instant,
};

use anyhow::{Context, Result};

/// An exclusive lock, held until dropped.
pub struct Lock {
    file: File,
}

impl Lock {
    /// Takes the lock at `path` (creating the file), waiting for another
    /// holder and saying so.
    pub fn exclusive(path: &Path, what: &str) -> Result<Lock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = File::create(path).with_context(|| format!("cannot open lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                eprintln!("    waiting for another xtask run that holds the {what} ({})", path.display());
                let start = Instant::now();
                file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
                eprintln!("    got the {what} after {:.0}s", start.elapsed().as_secs_f64());
            }
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
        Ok(Lock { file })
    }

    /// Lets the children spawned from now on hold the lock too (a flock
    /// belongs to the open file, which they inherit): sub-makes orphaned by
    /// a killed xtask then keep the next run out of the tree until they end.
    pub fn shared_with_children(&self) -> Result<()> {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        fcntl(&self.file, FcntlArg::F_SETFD(FdFlag::empty())).context("cannot clear FD_CLOEXEC on a lock")?;
        Ok(())
    }
}

/// Removes what killed runs left in `dir`: the entries named `prefix...`
/// (a run writes into `<prefix><pid>` and renames it into place when
/// complete). Call only while holding the lock that guards `dir`, so that
/// no live run owns one.
pub fn remove_leftovers(dir: &Path, prefix: &str) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)) {
            eprintln!("    removing {} left by an interrupted run", path.display());
            std::fs::remove_dir_all(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes the lock within 10 s. Tests run in threads of one process, and
    /// a child another test forks holds copies of every descriptor until
    /// its exec closes them, so a released lock can stay busy for a moment.
    fn lock_soon(file: &File) {
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while let Err(e) = file.try_lock() {
            assert!(Instant::now() < deadline, "the lock was never released: {e:?}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn leftovers_are_the_entries_with_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".partial-1/half")).unwrap();
        std::fs::create_dir(dir.path().join("done")).unwrap();
        remove_leftovers(dir.path(), ".partial-").unwrap();
        assert!(!dir.path().join(".partial-1").exists());
        assert!(dir.path().join("done").exists());
    }

    #[test]
    fn a_second_holder_must_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/x.lock");
        let held = Lock::exclusive(&path, "test lock").unwrap();
        let other = File::open(&path).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        drop(held);
        lock_soon(&other);
    }

    #[test]
    fn a_child_keeps_a_shared_lock_after_its_parent_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build.lock");
        let held = Lock::exclusive(&path, "test lock").unwrap();
        held.shared_with_children().unwrap();
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        drop(held);
        let other = File::open(&path).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)), "the child holds it");
        child.kill().unwrap();
        child.wait().unwrap();
        lock_soon(&other);
    }
}
