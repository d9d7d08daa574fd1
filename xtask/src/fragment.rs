//! Kernel config fragments: parsing, and checking that a merged `.config`
//! kept every option (Kconfig silently drops ones whose dependencies fail).

/// One `CONFIG_FOO=value` line; `n` also stands for "is not set".
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

pub fn parse(text: &str) -> Vec<Setting> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("# ") {
                let name = rest.strip_suffix(" is not set")?;
                return Some(Setting { name: name.to_string(), value: "n".to_string() });
            }
            if line.starts_with('#') {
                return None;
            }
            let (name, value) = line.split_once('=')?;
            Some(Setting { name: name.trim().to_string(), value: value.trim().to_string() })
        })
        .collect()
}

/// The fragment's settings that `config` does not have.
pub fn missing(config: &str, fragment: &str) -> Vec<Setting> {
    let config = parse(config);
    let lookup = |name: &str| config.iter().find(|s| s.name == name).map(|s| s.value.as_str());
    parse(fragment)
        .into_iter()
        .filter(|want| {
            let have = lookup(&want.name).unwrap_or("n");
            have != want.value
        })
        .collect()
}

/// FNV-1a: a stable hash for cache keys (std's hasher may change between
/// Rust releases).
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_set_unset_and_comments() {
        let s = parse("# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\n\nCONFIG_D=n\n");
        let names: Vec<_> = s.iter().map(|s| (s.name.as_str(), s.value.as_str())).collect();
        assert_eq!(names, [("CONFIG_A", "y"), ("CONFIG_B", "n"), ("CONFIG_C", "\"x\""), ("CONFIG_D", "n")]);
    }

    #[test]
    fn reports_dropped_options() {
        let config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_NR_CPUS=4\n";
        let fragment = "CONFIG_A=y\nCONFIG_B=y\nCONFIG_C=n\nCONFIG_NR_CPUS=8\nCONFIG_E=y\n";
        let names: Vec<_> = missing(config, fragment).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["CONFIG_B", "CONFIG_NR_CPUS", "CONFIG_E"]);
    }

    #[test]
    fn hash_is_stable_and_separates_parts() {
        assert_eq!(stable_hash(&[b"abc"]), stable_hash(&[b"abc"]));
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        assert_eq!(stable_hash(&[]), 0xcbf2_9ce4_8422_2325);
    }
}
