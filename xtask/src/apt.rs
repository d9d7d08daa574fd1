//! apt, two ways: the system's (installing packages, waiting for its lock)
//! and a private configuration under the cache for downloads from
//! trixie-backports, which never touches the system's sources.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{children, lock};

/// How long apt waits for a lock another apt holds (a fresh VM's unattended
/// upgrades hold it for minutes after first boot).
const LOCK_TIMEOUT_SECS: &str = "600";

/// `apt-get update` with the options given, retried: a mirror hiccup or a
/// lists lock held at first boot should not end a cold run.
fn update(sh: &Shell, options: &[String], what: &str) -> Result<()> {
    let mut last = None;
    for attempt in 1..=3 {
        match cmd!(sh, "apt-get {options...} -o DPkg::Lock::Timeout={LOCK_TIMEOUT_SECS} update -q")
            .quiet()
            .ignore_stdout()
            .run()
        {
            Ok(()) => return Ok(()),
            Err(e) => {
                eprintln!("    apt-get update ({what}) failed, attempt {attempt} of 3");
                last = Some(e);
                std::thread::sleep(Duration::from_secs(10 * attempt));
            }
        }
    }
    Err(last.unwrap()).with_context(|| format!("cannot read package lists ({what}); check the network and apt's sources"))
}

/// Installs `packages` (`-t suite` if given) through the system's apt,
/// with their recommended packages or without.
pub fn install(sh: &Shell, packages: &[&str], suite: Option<&str>, recommends: bool) -> Result<()> {
    let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    let mut options: Vec<&str> = suite.map(|s| vec!["-t", s]).unwrap_or_default();
    if !recommends {
        options.push("--no-install-recommends");
    }
    cmd!(sh, "apt-get -o DPkg::Lock::Timeout={LOCK_TIMEOUT_SECS} install -y -q {options...} {packages...}")
        .ignore_stdout()
        .run()
        .with_context(|| format!("apt-get install {} failed: see the message above", packages.join(" ")))
}

/// `apt-get update` of the system's sources.
pub fn update_system(sh: &Shell) -> Result<()> {
    update(sh, &[], "system sources")
}

/// A Debian archive as the system's apt sources name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub uri: String,
    pub keyring: String,
}

const DEFAULT_URI: &str = "http://deb.debian.org/debian";
const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

impl Mirror {
    /// The mirror the system's apt already uses for `codename` (deb822
    /// `.sources` files or one-line `.list` files), else deb.debian.org.
    pub fn of_system(codename: &str) -> Mirror {
        let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
        if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
            let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
            more.sort();
            files.extend(more);
        }
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            let found = match file.extension().and_then(|e| e.to_str()) {
                Some("sources") => from_deb822(&text, codename),
                Some("list") => from_one_line(&text, codename),
                _ => None,
            };
            if let Some(mirror) = found {
                return mirror;
            }
        }
        Mirror { uri: DEFAULT_URI.into(), keyring: DEFAULT_KEYRING.into() }
    }
}

/// The first deb822 stanza of type `deb` serving suite `codename`.
fn from_deb822(text: &str, codename: &str) -> Option<Mirror> {
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().to_string()))
        };
        let enabled = field("Enabled").is_none_or(|v| v != "no");
        let types = field("Types").unwrap_or_default();
        let suites = field("Suites").unwrap_or_default();
        if enabled && types.split_whitespace().any(|t| t == "deb") && suites.split_whitespace().any(|s| s == codename) {
            let uri = field("URIs")?.split_whitespace().next()?.to_string();
            let keyring = field("Signed-By").filter(|k| k.starts_with('/')).unwrap_or_else(|| DEFAULT_KEYRING.into());
            return Some(Mirror { uri, keyring });
        }
    }
    None
}

/// The first one-line `deb [options] URI codename ...` entry.
fn from_one_line(text: &str, codename: &str) -> Option<Mirror> {
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("deb ") else { continue };
        let (options, rest) = match rest.trim_start().strip_prefix('[') {
            Some(r) => r.split_once(']')?,
            None => ("", rest),
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else { continue };
        if suite == codename {
            let keyring = options
                .split_whitespace()
                .find_map(|o| o.strip_prefix("signed-by="))
                .map(String::from)
                .unwrap_or_else(|| DEFAULT_KEYRING.into());
            return Some(Mirror { uri: uri.to_string(), keyring });
        }
    }
    None
}

/// The system's release codename (`VERSION_CODENAME` of /etc/os-release).
pub fn codename() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines().find_map(|l| l.strip_prefix("VERSION_CODENAME=").map(|v| v.trim_matches('"').to_string()))
}

/// apt with its own sources, lists and cache, for downloads only.
pub struct PrivateApt {
    dir: PathBuf,
    options: Vec<String>,
    updated: std::cell::Cell<bool>,
}

impl PrivateApt {
    pub fn new(sh: &Shell, dir: &Path) -> Result<PrivateApt> {
        let host_codename = codename().unwrap_or_else(|| "bookworm".into());
        let mirror = Mirror::of_system(&host_codename);
        for sub in ["lists/partial", "cache/archives/partial", "empty", "debs"] {
            sh.create_dir(dir.join(sub))?;
        }
        let list = dir.join("sources.list");
        sh.write_file(&list, format!("deb [signed-by={}] {} trixie-backports main\n", mirror.keyring, mirror.uri))?;
        let d = dir.display();
        let options = [
            format!("Dir::Etc::SourceList={}", list.display()),
            format!("Dir::Etc::SourceParts={d}/empty"),
            format!("Dir::State::Lists={d}/lists"),
            format!("Dir::Cache={d}/cache"),
            "APT::Sandbox::User=root".to_string(),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_string(), o])
        .collect();
        Ok(PrivateApt { dir: dir.to_path_buf(), options, updated: false.into() })
    }

    /// Versions of `package` in trixie-backports, newest first.
    pub fn versions(&self, sh: &Shell, package: &str) -> Result<Vec<String>> {
        if !self.updated.get() {
            update(sh, &self.options, "trixie-backports, private apt config")?;
            self.updated.set(true);
        }
        let o = &self.options;
        let out = cmd!(sh, "apt-cache {o...} madison {package}").quiet().read()?;
        Ok(out.lines().filter_map(|l| l.split('|').nth(1).map(|v| v.trim().to_string())).collect())
    }

    /// Downloads `package=version` (once) and returns the .deb's path.
    /// apt writes into a directory of this run's own, and the file moves
    /// to its final name only when complete, so an interrupted download
    /// never looks like a finished one.
    pub fn download(&self, sh: &Shell, package: &str, version: &str) -> Result<PathBuf> {
        let debs = self.dir.join("debs");
        let file = format!("{package}_{}_all.deb", version.replace(':', "%3a"));
        let deb = debs.join(&file);
        if deb.exists() {
            return Ok(deb);
        }
        eprintln!("    downloading {package} {version}");
        let partial = debs.join(format!(".partial-{}", std::process::id()));
        sh.remove_path(&partial)?;
        sh.create_dir(&partial)?;
        let mut args = self.options.clone();
        args.extend(["download".into(), "-q".into(), format!("{package}={version}")]);
        // apt-get dies with xtask, so nothing writes into `partial` after
        // the next run has removed it.
        children::dies_with_parent(duct::cmd("apt-get", &args).dir(&partial).stdout_null())
            .run()
            .with_context(|| format!("cannot download {package}={version}"))?;
        let got = partial.join(&file);
        if !got.exists() {
            bail!("apt-get download did not produce {file}");
        }
        std::fs::rename(&got, &deb).with_context(|| format!("cannot move {} into {}", got.display(), debs.display()))?;
        sh.remove_path(&partial)?;
        Ok(deb)
    }

    /// Forgets a cached .deb that turned out to be damaged.
    pub fn forget(&self, deb: &Path) {
        eprintln!("    {} is damaged; deleting it", deb.display());
        let _ = std::fs::remove_file(deb);
    }

    /// Removes downloads left half-done by runs that were killed. Call
    /// only while holding the cache lock.
    pub fn remove_partials(&self) -> Result<()> {
        lock::remove_leftovers(&self.dir.join("debs"), ".partial-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_mirror_skips_security_and_disabled() {
        let text = "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n\
                    Types: deb\nEnabled: no\nURIs: http://off.example/debian\nSuites: bookworm\n\n\
                    Types: deb deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\
                    Components: main\nSigned-By: /k.gpg\n";
        assert_eq!(
            from_deb822(text, "bookworm"),
            Some(Mirror { uri: "http://mirror.example/debian".into(), keyring: "/k.gpg".into() })
        );
        assert_eq!(from_deb822(text, "trixie"), None);
    }

    #[test]
    fn one_line_mirror_with_and_without_options() {
        let text = "# comment\ndeb http://security.example/ bookworm-security main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            from_one_line(text, "bookworm"),
            Some(Mirror { uri: "http://mirror.example/debian".into(), keyring: "/k.gpg".into() })
        );
        let plain = "deb http://m.example/debian bookworm main contrib\n";
        assert_eq!(from_one_line(plain, "bookworm").unwrap().keyring, DEFAULT_KEYRING);
    }
}
