//! Where things live: the repository, cargo's target directory and the
//! per-user build cache.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub struct Workspace {
    pub root: PathBuf,
    /// cargo's target directory (`CARGO_TARGET_DIR` if set); xtask's own
    /// outputs go here too.
    pub target: PathBuf,
    pub cache: PathBuf,
}

impl Workspace {
    pub fn locate() -> Result<Workspace> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize()?;
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => absolute(&cwd, Path::new(&dir)),
            None => root.join("target"),
        };
        let cache = match std::env::var_os("XTUN_CACHE") {
            Some(dir) => absolute(&cwd, Path::new(&dir)),
            None => {
                let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
                PathBuf::from(home).join(".cache/xtun")
            }
        };
        std::fs::create_dir_all(&target).with_context(|| format!("cannot create {}", target.display()))?;
        std::fs::create_dir_all(&cache).with_context(|| format!("cannot create the cache {}", cache.display()))?;
        Ok(Workspace { root, target, cache })
    }
}

/// `path` made absolute against `cwd`: apt and `make O=` run with other
/// working directories, so a relative `XTUN_CACHE` would point elsewhere.
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_made_absolute() {
        assert_eq!(absolute(Path::new("/work"), Path::new("cache")), PathBuf::from("/work/cache"));
        assert_eq!(absolute(Path::new("/work"), Path::new("/c")), PathBuf::from("/c"));
    }
}
