//! `cargo xtask bench`: xtun against the kernel's own tap, side by side in
//! the same guest. The guest program `xtun-bench all` measures each metric
//! as interleaved pairs (xtun, tap, tap, xtun, ...) and prints one flat
//! JSON object per measurement; this module boots the guest `boots` times,
//! collects them and reports, per metric and device, the median, min and
//! max, and the median of the per-pair ratios xtun/tap with its 95%
//! confidence interval. Under TCG identical runs differ by 30-60%, so only
//! the paired ratios mean much, and the interval says how much.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{ser::SerializeMap, Deserialize, Serialize, Serializer};
use serde_json::Value;
use xshell::Shell;

use crate::{
    boot::{choose_accel, echo, run_guest, GuestRun, RunFiles},
    flags::Flags,
    pipeline::{build, Artifacts},
    qemu::{Accel, Mode, Net},
    workspace::Workspace,
};

/// (metric, higher is better, target ratio xtun/tap).
const TARGETS: &[(&str, bool, f64)] = &[
    ("read_pps", true, 1.0),
    ("mq_read_pps", true, 1.0),
    ("write_pps", true, 1.0),
    ("napi_write_pps", true, 1.0),
    ("ping_rtt_us", false, 1.1),
    ("tcp_mbps", true, 0.9),
];

pub fn run(sh: &Shell, ws: &Workspace, flags: &Flags) -> Result<()> {
    let artifacts = build(sh, ws, flags)?;
    let accel = choose_accel(flags, ws, &artifacts)?;
    if flags.tunnel {
        return crate::bench_tunnel::run(ws, flags, &artifacts, accel);
    }
    if flags.perf {
        return profile(ws, flags, &artifacts, accel);
    }
    let (boots, pairs, seconds) = if flags.quick { (1, 1, "0.3") } else { (3, 6, "1") };
    let mut samples = Vec::new();
    for boot in 0..boots {
        eprintln!("==> bench boot {}/{boots} ({}, {pairs} pairs of {seconds} s)", boot + 1, accel.name());
        let (run, text) = boot_once(ws, flags, &artifacts, accel, Mode::Bench, &[format!("xtunbench={pairs},{seconds},{boot}")], "bench")?;
        let got: Vec<Sample> = text.lines().filter_map(Sample::parse).collect();
        if got.len() != pairs * 2 * TARGETS.len() || run.timed_out {
            let tail: Vec<&str> = run.console.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("bench boot {} gave {} of {} measurements; console tail:\n{}", boot + 1, got.len(), pairs * 2 * TARGETS.len(), tail.join("\n"));
        }
        samples.extend(got);
    }
    let report = Report::new(&samples);
    print!("{}", report.table(accel.name(), boots, pairs, seconds));
    print!("{}", napi_gain_lines(&samples));
    let json = ws.target.join("xtun-bench.json");
    std::fs::write(&json, report.json(accel.name(), &samples)).context("cannot write target/xtun-bench.json")?;
    eprintln!("    wrote {}", json.display());
    Ok(())
}

/// Every metric on each device once, under `perf record -a` in the guest:
/// where the CPU time goes, to explain a ratio (not to measure one).
fn profile(ws: &Workspace, flags: &Flags, artifacts: &Artifacts, accel: Accel) -> Result<()> {
    profile_boot(ws, flags, artifacts, accel, &[], TARGETS.len() * 2, "perf")
}

/// One perf boot: `runs` runs of 3 s, each under `perf record -a`, chosen
/// by /init from `args`; their top symbols on stdout and in
/// `target/xtun-<name>.txt`.
pub(crate) fn profile_boot(ws: &Workspace, flags: &Flags, artifacts: &Artifacts, accel: Accel, args: &[String], runs: usize, name: &str) -> Result<()> {
    eprintln!("==> perf boot ({}, {runs} runs of 3 s, each under perf record)", accel.name());
    let args = [&["xtunperf=3".to_string()], args].concat();
    let (run, text) = boot_once(ws, flags, artifacts, accel, Mode::Perf, &args, name)?;
    let profiled = text.split("=== ").skip(1).filter(|run| run.contains("%  ")).count();
    print!("{text}");
    if profiled != runs || run.timed_out {
        bail!("perf gave {profiled} of {runs} profiles (see target/xtun-{name}-console.log)");
    }
    eprintln!("    wrote {}", ws.target.join(format!("xtun-{name}.txt")).display());
    Ok(())
}

/// Boots the guest once in `mode` with `args` added to the command line;
/// returns the run and what the guest wrote to `target/xtun-<name>.txt`
/// (the console goes to `target/xtun-<name>-console.log`).
pub(crate) fn boot_once(ws: &Workspace, flags: &Flags, artifacts: &Artifacts, accel: Accel, mode: Mode, args: &[String], name: &str) -> Result<(GuestRun, String)> {
    let files = RunFiles::new(&ws.target)?;
    let results = files.path(&format!("xtun-{name}.txt"));
    let mut boot = artifacts.boot(mode, accel, Net::User);
    boot.results = Some(results.clone());
    boot.extra.extend_from_slice(args);
    let console = files.path(&format!("xtun-{name}-console.log"));
    let mut echo = echo(flags.verbose, "");
    let run = run_guest(&[], &boot, &console, Duration::from_secs(flags.timeout_secs), &mut echo)?;
    Ok((run, std::fs::read_to_string(&results).unwrap_or_default()))
}

/// One measurement from the guest: one JSON object per line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sample {
    pub boot: u32,
    /// The pair (device bench) or the round (tunnel bench) in its boot.
    #[serde(alias = "round")]
    pub pair: u32,
    pub metric: String,
    pub device: String,
    pub value: f64,
    /// The whole object, other fields included, for the JSON file.
    #[serde(skip)]
    pub raw: Value,
}

impl Sample {
    /// Parses one line as `xtun-bench` prints it; None for other lines.
    pub fn parse(line: &str) -> Option<Sample> {
        let raw: Value = serde_json::from_str(line.trim()).ok()?;
        let sample = Sample::deserialize(&raw).ok()?;
        Some(Sample { raw, ..sample })
    }
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// A distribution-free 95% confidence interval for the median of `sorted`:
/// the order statistics `i` and `n - 1 - i` (0-based), with the largest `i`
/// such that P(Binomial(n, 1/2) <= i) <= 2.5%. None for fewer than 6
/// values: even the whole range is less than 95% sure.
pub(crate) fn median_interval(sorted: &[f64]) -> Option<(f64, f64)> {
    let n = sorted.len();
    let (mut i, mut cdf, mut choose) = (None, 0.0, 1.0); // choose = C(n, k)
    for k in 0..n / 2 {
        cdf += choose / 2f64.powi(n as i32); // P(B <= k)
        if cdf > 0.025 {
            break;
        }
        i = Some(k);
        choose = choose * (n - k) as f64 / (k + 1) as f64;
    }
    i.map(|i| (sorted[i], sorted[n - 1 - i]))
}

/// Whether NAPI pays on `device`: the median over pairs of
/// napi_write_pps / write_pps, each pair taken from the same boot and pair
/// number (the two metrics run one after the other in a boot), and how
/// many such pairs there were.
pub fn napi_gain(samples: &[Sample], device: &str) -> (f64, usize) {
    let mut ratios: Vec<f64> = samples
        .iter()
        .filter(|s| s.metric == "napi_write_pps" && s.device == device)
        .filter_map(|napi| {
            let plain = samples.iter().find(|p| p.metric == "write_pps" && p.device == device && p.boot == napi.boot && p.pair == napi.pair)?;
            (plain.value > 0.0).then(|| napi.value / plain.value)
        })
        .collect();
    (median(&mut ratios), ratios.len())
}

/// One report line per device with its [`napi_gain`].
pub fn napi_gain_lines(samples: &[Sample]) -> String {
    ["xtun", "tap"]
        .iter()
        .map(|device| {
            let (gain, n) = napi_gain(samples, device);
            format!("napi_write_pps / write_pps, {device}: {gain:.3} (median of {n} same-boot pairs)\n")
        })
        .collect()
}

/// One ratio: `metric` of `num` over `den`, paired by boot and pair.
pub struct Row {
    pub metric: &'static str,
    /// The devices (or tunnel variants) on top of and below the ratio.
    pub num: &'static str,
    pub den: &'static str,
    pub higher_is_better: bool,
    /// None: the ratio is reported, not judged.
    pub target: Option<f64>,
    /// (median, min, max) of `num` and of `den`.
    pub num_stats: (f64, f64, f64),
    pub den_stats: (f64, f64, f64),
    pub ratio: f64,
    /// 95% confidence interval of `ratio`, given enough pairs.
    pub interval: Option<(f64, f64)>,
}

impl Row {
    /// The median of the ratios num/den over every (boot, pair) that has
    /// both, with its interval, and each side's median, min and max.
    pub fn new(samples: &[Sample], metric: &'static str, num: &'static str, den: &'static str, higher_is_better: bool, target: Option<f64>) -> Row {
        let stats = |device: &str| {
            let mut v: Vec<f64> = samples.iter().filter(|s| s.metric == metric && s.device == device).map(|s| s.value).collect();
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (median(&mut v), min, max)
        };
        let mut ratios: Vec<f64> = samples
            .iter()
            .filter(|s| s.metric == metric && s.device == num)
            .filter_map(|x| {
                let other = samples.iter().find(|t| t.metric == metric && t.device == den && t.boot == x.boot && t.pair == x.pair)?;
                (other.value > 0.0).then(|| x.value / other.value)
            })
            .collect();
        let ratio = median(&mut ratios); // sorts `ratios`
        let interval = median_interval(&ratios);
        Row { metric, num, den, higher_is_better, target, num_stats: stats(num), den_stats: stats(den), ratio, interval }
    }

    pub fn met(&self) -> bool {
        self.target.is_some_and(|target| if self.higher_is_better { self.ratio >= target } else { self.ratio <= target })
    }

    /// Whether the target lies inside the ratio's confidence interval: the
    /// run cannot tell `num` from one exactly on target.
    pub fn within_noise(&self) -> bool {
        match (self.target, self.interval) {
            (Some(target), Some((low, high))) => low <= target && target <= high,
            _ => false,
        }
    }

    pub fn verdict(&self) -> &'static str {
        match (self.target.is_some(), self.met(), self.within_noise()) {
            (false, _, _) => "-",
            (true, true, false) => "yes",
            (true, true, true) => "yes (within noise)",
            (true, false, true) => "no (within noise)",
            (true, false, false) => "NO",
        }
    }

    /// `>=0.9`, `<=1.05`, or `-` without a target.
    pub fn target_text(&self) -> String {
        match self.target {
            Some(t) => format!("{}{}", if self.higher_is_better { ">=" } else { "<=" }, trim_number(t)),
            None => "-".into(),
        }
    }

    pub fn interval_text(&self) -> String {
        self.interval.map_or("too few".into(), |(low, high)| format!("{low:.2}..{high:.2}"))
    }
}

/// `t` with one decimal at least and no trailing zeros: 1.0, 1.05, 3.0.
fn trim_number(t: f64) -> String {
    let s = format!("{t:.2}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') { format!("{s}0") } else { s.to_string() }
}

/// `median (min..max)`, one decimal.
fn stats_text((m, lo, hi): (f64, f64, f64)) -> String {
    format!("{m:.1} ({lo:.1}..{hi:.1})")
}

/// The columns both benches' tables end with, after their own first ones:
/// each side's median (min..max), the ratio, its interval, the target and
/// the verdict. The benches differ only in how wide the sides and the
/// ratio are.
pub struct Columns {
    pub stats: usize,
    pub ratio: usize,
}

impl Columns {
    /// The headers, given the two sides' and the ratio's.
    pub fn header(&self, num: &str, den: &str, ratio: &str) -> String {
        let Columns { stats, ratio: width } = *self;
        format!(
            "{num:>stats$} {den:>stats$} {ratio:>width$} {:>13} {:>7}  {}",
            "95% interval", "target", "met"
        )
    }

    /// `r` in these columns.
    pub fn row(&self, r: &Row) -> String {
        let Columns { stats, ratio } = *self;
        let (num, den) = (stats_text(r.num_stats), stats_text(r.den_stats));
        format!(
            "{num:>stats$} {den:>stats$} {:>ratio$.3} {:>13} {:>7}  {}",
            r.ratio,
            r.interval_text(),
            r.target_text(),
            r.verdict()
        )
    }
}

/// How a bench's JSON summary names each side's median, min and max.
#[derive(Clone, Copy)]
pub enum SideNames {
    /// After the sides themselves, `xtun_median`, `tap_min`: the device
    /// bench, whose rows are all xtun over tap.
    Devices,
    /// `numerator_median`, `denominator_min`, the sides named in fields of
    /// their own: the tunnel bench, whose rows compare different variants.
    Numerator,
}

/// A bench's JSON file: the accelerator, a summary per row, then every
/// sample as the guest printed it. A value that is not a number (a NaN
/// ratio when a side measured nothing) is written as `null`.
pub fn report_json(rows: &[Row], names: SideNames, accel: &str, samples: &[Sample]) -> String {
    #[derive(Serialize)]
    struct File<'a> {
        accelerator: &'a str,
        summary: Vec<Summary<'a>>,
        samples: Vec<&'a Value>,
    }
    let summary = rows.iter().map(|row| Summary { row, names }).collect();
    let file = File { accelerator: accel, summary, samples: samples.iter().map(|s| &s.raw).collect() };
    serde_json::to_string_pretty(&file).expect("plain structs serialize") + "\n"
}

/// One row of a JSON summary, written field by field because the sides'
/// field names depend on the bench.
struct Summary<'a> {
    row: &'a Row,
    names: SideNames,
}

impl Serialize for Summary<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.row;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("metric", r.metric)?;
        let sides = match self.names {
            SideNames::Devices => [r.num, r.den],
            SideNames::Numerator => {
                map.serialize_entry("numerator", r.num)?;
                map.serialize_entry("denominator", r.den)?;
                ["numerator", "denominator"]
            }
        };
        for (side, (median, min, max)) in sides.into_iter().zip([r.num_stats, r.den_stats]) {
            map.serialize_entry(&format!("{side}_median"), &median)?;
            map.serialize_entry(&format!("{side}_min"), &min)?;
            map.serialize_entry(&format!("{side}_max"), &max)?;
        }
        map.serialize_entry("ratio_median", &r.ratio)?;
        map.serialize_entry("ratio_95", &r.interval.map(|(low, high)| [low, high]))?;
        // None (a ratio reported, not judged) is `null`.
        map.serialize_entry("target", &r.target)?;
        map.serialize_entry("higher_is_better", &r.higher_is_better)?;
        map.serialize_entry("met", &r.met())?;
        map.serialize_entry("within_noise", &r.within_noise())?;
        map.end()
    }
}

pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    pub fn new(samples: &[Sample]) -> Report {
        let rows = TARGETS
            .iter()
            .map(|&(metric, higher_is_better, target)| Row::new(samples, metric, "xtun", "tap", higher_is_better, Some(target)))
            .collect();
        Report { rows }
    }

    pub fn table(&self, accel: &str, boots: usize, pairs: usize, seconds: &str) -> String {
        let columns = Columns { stats: 26, ratio: 9 };
        let mut out = format!("xtun vs tap: {boots} boot(s) x {pairs} interleaved pair(s), {seconds} s each, {accel}, -smp 2\n");
        let header = columns.header("xtun median (min..max)", "tap median (min..max)", "xtun/tap");
        out += &format!("{:<14} {header}\n", "metric");
        for r in &self.rows {
            out += &format!("{:<14} {}\n", r.metric, columns.row(r));
        }
        out
    }

    /// The report as JSON, each side named after its device: `xtun_median`, `tap_min`.
    pub fn json(&self, accel: &str, samples: &[Sample]) -> String {
        report_json(&self.rows, SideNames::Devices, accel, samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(boot: u32, pair: u32, metric: &str, device: &str, value: f64) -> Sample {
        Sample { boot, pair, metric: metric.into(), device: device.into(), value, raw: Value::Null }
    }

    #[test]
    fn parses_guest_lines() {
        let line = r#"{"boot":2,"pair":1,"metric":"read_pps","unit":"frames/s","device":"tap","value":12345.500,"dropped":3.000}"#;
        let sample = Sample::parse(line).unwrap();
        assert_eq!((sample.boot, sample.pair, sample.value), (2, 1, 12345.5));
        assert_eq!((sample.metric.as_str(), sample.device.as_str()), ("read_pps", "tap"));
        assert_eq!(Sample::parse("ok 1 x"), None);
        assert_eq!(Sample::parse(r#"{"boot":1,"metric":"read_pps"}"#), None, "fields missing");
        // A comma inside a string is no field separator.
        let line = r#"{"boot":0,"pair":0,"metric":"read_pps","note":"a, b: c","device":"xtun","value":1}"#;
        assert_eq!(Sample::parse(line).unwrap().value, 1.0);
    }

    #[test]
    fn json_is_valid_even_with_nan_and_keeps_the_samples() {
        let line = r#"{"boot":0,"pair":0,"metric":"read_pps","unit":"frames/s","device":"xtun","value":10.5}"#;
        // No tap sample: every ratio is NaN, every tap min is +inf.
        let samples = vec![Sample::parse(line).unwrap()];
        let text = Report::new(&samples).json("TCG", &samples);
        let back: Value = serde_json::from_str(&text).expect("the report is valid JSON");
        let read = &back["summary"][0];
        assert_eq!(read["metric"], "read_pps");
        assert_eq!(read["ratio_median"], Value::Null);
        assert_eq!(read["tap_min"], Value::Null);
        assert_eq!(read["xtun_median"], 10.5);
        assert_eq!(read["ratio_95"], Value::Null);
        assert_eq!(back["samples"][0]["unit"], "frames/s");
        assert_eq!(Sample::parse(&back["samples"][0].to_string()), Some(samples[0].clone()));
    }

    /// People read the table and scripts read target/xtun-bench.json: pin
    /// the table's columns and the summary's fields, names and order.
    #[test]
    fn table_and_json_summary_keep_their_layout() {
        let mut samples: Vec<Sample> = (0..6)
            .flat_map(|p| {
                [
                    s(0, p, "read_pps", "xtun", 100.0 + 10.0 * f64::from(p)),
                    s(0, p, "read_pps", "tap", 100.0),
                ]
            })
            .collect();
        samples.extend([
            s(0, 0, "ping_rtt_us", "xtun", 120.0),
            s(0, 0, "ping_rtt_us", "tap", 100.0),
        ]);
        let report = Report::new(&samples);
        assert_eq!(
            report.table("TCG", 1, 6, "1"),
            "\
xtun vs tap: 1 boot(s) x 6 interleaved pair(s), 1 s each, TCG, -smp 2
metric             xtun median (min..max)      tap median (min..max)  xtun/tap  95% interval  target  met
read_pps             125.0 (100.0..150.0)       100.0 (100.0..100.0)     1.250    1.00..1.50   >=1.0  yes (within noise)
mq_read_pps               NaN (inf..-inf)            NaN (inf..-inf)       NaN       too few   >=1.0  NO
write_pps                 NaN (inf..-inf)            NaN (inf..-inf)       NaN       too few   >=1.0  NO
napi_write_pps            NaN (inf..-inf)            NaN (inf..-inf)       NaN       too few   >=1.0  NO
ping_rtt_us          120.0 (120.0..120.0)       100.0 (100.0..100.0)     1.200       too few   <=1.1  NO
tcp_mbps                  NaN (inf..-inf)            NaN (inf..-inf)       NaN       too few   >=0.9  NO
"
        );
        let head = r#"{
  "accelerator": "TCG",
  "summary": [
    {
      "metric": "read_pps",
      "xtun_median": 125.0,
      "xtun_min": 100.0,
      "xtun_max": 150.0,
      "tap_median": 100.0,
      "tap_min": 100.0,
      "tap_max": 100.0,
      "ratio_median": 1.25,
      "ratio_95": [
        1.0,
        1.5
      ],
      "target": 1.0,
      "higher_is_better": true,
      "met": true,
      "within_noise": true
    },
"#;
        let json = report.json("TCG", &samples);
        assert!(json.starts_with(head), "{json}");
    }

    #[test]
    fn ratios_are_paired_and_medians_are_medians() {
        let samples = vec![
            s(0, 0, "read_pps", "xtun", 100.0),
            s(0, 0, "read_pps", "tap", 50.0),
            s(0, 1, "read_pps", "xtun", 10.0),
            s(0, 1, "read_pps", "tap", 10.0),
            s(1, 0, "read_pps", "xtun", 30.0),
            s(1, 0, "read_pps", "tap", 20.0),
            s(0, 0, "ping_rtt_us", "xtun", 120.0),
            s(0, 0, "ping_rtt_us", "tap", 100.0),
        ];
        let r = Report::new(&samples);
        let read = &r.rows[0];
        // Pair ratios 2.0, 1.0, 1.5: median 1.5, not the ratio of medians (30/20).
        assert_eq!(read.ratio, 1.5);
        assert_eq!(read.num_stats, (30.0, 10.0, 100.0));
        assert!(read.met());
        let ping = r.rows.iter().find(|r| r.metric == "ping_rtt_us").unwrap();
        assert!((ping.ratio - 1.2).abs() < 1e-9);
        assert!(!ping.met(), "1.2x the RTT misses the <= 1.1 target");
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn napi_gain_pairs_each_device_with_itself_in_the_same_boot_and_pair() {
        let samples = vec![
            s(0, 0, "write_pps", "xtun", 100.0),
            s(0, 0, "napi_write_pps", "xtun", 150.0),
            s(0, 1, "write_pps", "xtun", 50.0),
            s(0, 1, "napi_write_pps", "xtun", 100.0),
            s(1, 0, "write_pps", "xtun", 1000.0),
            s(1, 0, "napi_write_pps", "xtun", 1200.0),
            // Boot 2 has no write_pps for xtun: that napi sample pairs with nothing.
            s(2, 0, "napi_write_pps", "xtun", 1.0),
            s(0, 0, "write_pps", "tap", 200.0),
            s(0, 0, "napi_write_pps", "tap", 100.0),
        ];
        // xtun: 1.5, 2.0, 1.2, median 1.5 (not 1200/1000 from medians of all boots).
        assert_eq!(napi_gain(&samples, "xtun"), (1.5, 3));
        assert_eq!(napi_gain(&samples, "tap"), (0.5, 1));
        let (gain, n) = napi_gain(&[], "tap");
        assert!(gain.is_nan() && n == 0);
        assert_eq!(
            napi_gain_lines(&samples),
            "napi_write_pps / write_pps, xtun: 1.500 (median of 3 same-boot pairs)\n\
             napi_write_pps / write_pps, tap: 0.500 (median of 1 same-boot pairs)\n"
        );
    }

    #[test]
    fn median_interval_uses_binomial_order_statistics() {
        let sorted: Vec<f64> = (1..=18).map(f64::from).collect();
        // n = 18: P(B <= 4) = 1.5%, P(B <= 5) = 4.8%, so the 5th and 14th values.
        assert_eq!(median_interval(&sorted), Some((5.0, 14.0)));
        // n = 6: P(B <= 0) = 1.6%, P(B <= 1) = 10.9%: the whole range.
        let six: Vec<f64> = (1..=6).map(f64::from).collect();
        assert_eq!(median_interval(&six), Some((1.0, 6.0)));
        // n = 5: P(B <= 0) = 3.1%: no 95% interval at all.
        assert_eq!(median_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]), None);
        assert_eq!(median_interval(&[3.0]), None);
    }
}
