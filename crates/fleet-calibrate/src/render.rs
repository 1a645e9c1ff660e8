//! A [`Calibration`] as the scenario's `[behaviour]` section (TOML, commented with sample
//! sizes and intervals, ready to paste) or as JSON.

use std::fmt::Write;

use fleet_sim::Distribution;

use crate::calibrate::{Calibration, SegmentFit};
use crate::rates::RateFit;
use crate::segment::toml_string;

/// The JSON of a calibration (its numbers: `--format json`).
pub fn json(c: &Calibration) -> String {
    serde_json::to_string_pretty(c).expect("a calibration serialises")
}

/// The `[behaviour]` section: a rule for every device (the pooled fit), then one rule per
/// segment. With `posterior`, every probability is written as its Beta posterior
/// (`{ beta = [a, b] }`), which each replication draws from; otherwise as the posterior mean.
pub fn behaviour_toml(c: &Calibration, posterior: bool) -> String {
    let mut out = String::new();
    header(c, &mut out);
    out.push_str("[behaviour]\n");
    rule(&c.pooled, c.level, posterior, &mut out);
    for s in &c.segments {
        rule(s, c.level, posterior, &mut out);
    }
    out
}

fn header(c: &Calibration, out: &mut String) {
    let platforms: Vec<&str> = c.platforms.iter().map(|p| p.as_str()).collect();
    let _ = writeln!(
        out,
        "# fleetsim calibrate: {} device results from {} file(s) ({})",
        c.records,
        c.files.len(),
        platforms.join(", ")
    );
    if !c.by.is_empty() {
        let _ = writeln!(
            out,
            "# segments by {}: {}",
            c.by.join(", "),
            c.segments.len()
        );
    }
    let _ = writeln!(out, "# rates: {}", c.rate_method);
    let _ = writeln!(
        out,
        "# intervals: {:.0} %; latency: log-normal by maximum likelihood (exact t and chi-square \
         intervals), chosen by Kolmogorov-Smirnov with a parametric bootstrap",
        100.0 * c.level
    );
    if !c.left_out.is_empty() {
        let parts: Vec<String> = c.left_out.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = writeln!(out, "# left out of the rates: {}", parts.join(", "));
    }
    if c.not_in_fleet.count > 0 {
        let _ = writeln!(
            out,
            "# {} results name devices the fleet lacks (in the rule for all devices only), e.g. {}",
            c.not_in_fleet.count,
            c.not_in_fleet.examples.join("; ")
        );
    }
    for n in &c.notes {
        let _ = writeln!(out, "# note: {n}");
    }
    out.push('\n');
}

fn percent(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

fn rate_comment(what: &str, r: &RateFit, out: &mut String) {
    let _ = writeln!(
        out,
        "# {what:<10} {} / {}: {} % [{}, {}]",
        r.count,
        r.n,
        percent(r.mean),
        percent(r.lower),
        percent(r.upper)
    );
}

fn probability(field: &str, r: &RateFit, posterior: bool, out: &mut String) {
    if posterior {
        let _ = writeln!(
            out,
            "{field} = {{ beta = [{}, {}] }}",
            round6(r.beta[0]),
            round6(r.beta[1])
        );
    } else {
        let _ = writeln!(out, "{field} = {}", round6(r.mean));
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn rule(s: &SegmentFit, level: f64, posterior: bool, out: &mut String) {
    out.push_str("\n[[behaviour.rules]]\n");
    let _ = writeln!(out, "name = {}", toml_string(&s.name));
    if let Some(sel) = &s.selector {
        let _ = writeln!(out, "selector = {sel}");
    }
    let total: u64 = s.outcomes.values().sum();
    let _ = writeln!(
        out,
        "# {total} results, {} with a final outcome of their own",
        s.failure.n
    );
    rate_comment("failure", &s.failure, out);
    if let Some(r) = &s.rejection {
        rate_comment("rejection", r, out);
    }
    if let Some(r) = &s.time_out {
        rate_comment("time-out", r, out);
    }
    latency(s, level, out);
    probability("failure_probability", &s.failure, posterior, out);
    if let Some(r) = &s.rejection {
        probability("reject_probability", r, posterior, out);
    }
    if let Some(r) = &s.time_out {
        out.push_str(
            "# time-outs: devices that never answered (they time out at the job's timeout)\n",
        );
        probability("crash_probability", r, posterior, out);
    }
}

fn latency(s: &SegmentFit, level: f64, out: &mut String) {
    let Some(l) = &s.latency else {
        out.push_str("# latency: no device of this segment has a known latency\n");
        return;
    };
    let _ = writeln!(
        out,
        "# latency   {} answered: log-normal median {:.0} ms [{:.0}, {:.0}], sigma {:.3} [{:.3}, {:.3}] ({:.0} %)",
        l.n,
        l.median_ms,
        l.median_ms_interval[0],
        l.median_ms_interval[1],
        l.sigma,
        l.sigma_interval[0],
        l.sigma_interval[1],
        100.0 * level
    );
    let gof: Vec<String> = l
        .candidates
        .iter()
        .map(|c| {
            let name = kind(&c.distribution);
            match c.p_value {
                Some(p) => format!("{name} D = {:.4} (p = {p:.3})", c.ks_d),
                None => format!("{name} D = {:.4}", c.ks_d),
            }
        })
        .collect();
    let _ = writeln!(out, "# fit       Kolmogorov-Smirnov: {}", gof.join(", "));
    if let Some(p) = &l.pooled {
        let _ = writeln!(
            out,
            "# pooled    median {:.0} ms [{:.0}, {:.0}] (its own estimate's weight {:.2})",
            p.median_ms, p.median_ms_interval[0], p.median_ms_interval[1], p.own_weight
        );
    }
    match s.latency_from {
        "own" => {
            let _ = writeln!(out, "latency = {}", distribution(&l.chosen));
        }
        "partial" => {
            let _ = writeln!(
                out,
                "# too few answers for a distribution of its own: its pooled median, the pooled sigma"
            );
            let _ = writeln!(out, "latency = {}", distribution(&l.chosen));
        }
        _ => {
            let _ = writeln!(
                out,
                "# too few answers for a latency of its own: the pooled rule's applies"
            );
        }
    }
}

fn kind(d: &Distribution) -> &'static str {
    match d {
        Distribution::Fixed { .. } => "fixed",
        Distribution::Uniform { .. } => "uniform",
        Distribution::Exponential { .. } => "exponential",
        Distribution::Lognormal { .. } => "lognormal",
        Distribution::Empirical { .. } => "empirical",
    }
}

/// A distribution as a TOML inline table.
fn distribution(d: &Distribution) -> String {
    match d {
        Distribution::Fixed { ms } => format!("{{ type = \"fixed\", ms = {} }}", ms.round()),
        Distribution::Uniform { min_ms, max_ms } => format!(
            "{{ type = \"uniform\", min_ms = {}, max_ms = {} }}",
            min_ms.round(),
            max_ms.round()
        ),
        Distribution::Exponential { mean_ms } => {
            format!("{{ type = \"exponential\", mean_ms = {:.1} }}", mean_ms)
        }
        Distribution::Lognormal { median_ms, sigma } => format!(
            "{{ type = \"lognormal\", median_ms = {:.1}, sigma = {:.4} }}",
            median_ms, sigma
        ),
        Distribution::Empirical { samples_ms } => {
            let s: Vec<String> = samples_ms.iter().map(|x| format!("{x:.0}")).collect();
            format!(
                "{{ type = \"empirical\", samples_ms = [{}] }}",
                s.join(", ")
            )
        }
    }
}
