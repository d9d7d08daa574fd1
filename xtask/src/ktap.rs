//! Parser for the KTAP lines the guest writes on its results port.

#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Outcome {
    Pass,
    Fail,
    Skip(String),
}

#[derive(Debug, PartialEq, Eq, Clone)]
pub struct TestLine {
    pub number: usize,
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// `1..N`: how many tests the guest announced.
    pub plan: Option<usize>,
    pub tests: Vec<TestLine>,
}

/// Parses one `ok N name [# SKIP reason]` / `not ok N name` line.
pub fn parse_line(line: &str) -> Option<TestLine> {
    let line = line.trim_end();
    let (passed, rest) = if let Some(rest) = line.strip_prefix("not ok ") {
        (false, rest)
    } else {
        (true, line.strip_prefix("ok ")?)
    };
    let (number, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let number = number.parse().ok()?;
    let (name, directive) = match rest.split_once(" # ") {
        Some((name, directive)) => (name, Some(directive)),
        None => (rest, None),
    };
    let outcome = match directive {
        Some(d) if d.to_ascii_uppercase().starts_with("SKIP") => Outcome::Skip(d[4..].trim().to_string()),
        _ if passed => Outcome::Pass,
        _ => Outcome::Fail,
    };
    Some(TestLine { number, name: name.trim().to_string(), outcome })
}

pub fn parse(text: &str) -> Report {
    let mut report = Report::default();
    for line in text.lines() {
        if let Some(n) = line.trim().strip_prefix("1..") {
            report.plan = n.parse().ok();
        } else if let Some(test) = parse_line(line) {
            report.tests.push(test);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pass_fail_skip() {
        let r = parse("TAP version 13\n1..3\nok 1 load\nnot ok 2 ping via responder\nok 3 kvm # SKIP no kvm\n# Totals: pass:1\n");
        assert_eq!(r.plan, Some(3));
        assert_eq!(r.tests.len(), 3);
        assert_eq!(r.tests[0], TestLine { number: 1, name: "load".into(), outcome: Outcome::Pass });
        assert_eq!(r.tests[1].outcome, Outcome::Fail);
        assert_eq!(r.tests[1].name, "ping via responder");
        assert_eq!(r.tests[2].outcome, Outcome::Skip("no kvm".into()));
    }

    #[test]
    fn ignores_noise_and_keeps_todo_as_result() {
        assert_eq!(parse_line("okay 1 x"), None);
        assert_eq!(parse_line("ok x name"), None);
        assert_eq!(parse_line("# ok 1 x"), None);
        assert_eq!(parse_line("not ok 4 x # TODO later").unwrap().outcome, Outcome::Fail);
        assert_eq!(parse("").plan, None);
    }
}
