//! A writer for the Prometheus text exposition format 0.0.4, the format of `/metrics` and of the
//! node-exporter textfile collector:
//!
//! ```text
//! # HELP zoneaudit_findings Findings of the last complete run, by severity.
//! # TYPE zoneaudit_findings gauge
//! zoneaudit_findings{severity="high"} 1
//! ```
//!
//! Each metric family is written once: its `HELP` line, then its `TYPE` line, then all its samples,
//! before the next family starts. In `HELP` text a backslash and a line feed are escaped (`\\`, `\n`);
//! in label values also the double quote (`\"`). Values are Go-style floats (`NaN`, `+Inf`, `-Inf`);
//! whole numbers are written without a fraction so counts read as counts. The output ends with a
//! line feed (the textfile collector rejects a file without one).

use std::fmt::Write;

/// The content type a scraper is told.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// Builds an exposition document family by family.
#[derive(Debug, Default)]
pub struct TextWriter {
    out: String,
    family: Option<String>,
}

impl TextWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a metric family: its `HELP` and `TYPE` lines. Samples written next belong to it.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        debug_assert!(valid_name(name), "metric name {name:?}");
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        self.family = Some(name.to_string());
        self
    }

    /// A sample of the current family, named as the family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        let name = self.family.clone().expect("a sample follows its family's HELP and TYPE lines");
        self.out.push_str(&name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                debug_assert!(valid_name(label) && !label.starts_with("__"), "label name {label:?}");
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape_label_value(value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` (label names additionally have no colon; ours never do).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label_value(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        // Exact for every integer below 2^53; counts and ids print as integers.
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_and_type_precede_the_samples_of_their_family() {
        let mut w = TextWriter::new();
        w.family("zoneaudit_findings", Kind::Gauge, "Findings by severity.")
            .sample(&[("severity", "high")], 2.0)
            .sample(&[("severity", "low")], 0.0);
        w.family("zoneaudit_runs_total", Kind::Counter, "Runs.").sample(&[], 7.0);
        assert_eq!(
            w.finish(),
            "# HELP zoneaudit_findings Findings by severity.\n\
             # TYPE zoneaudit_findings gauge\n\
             zoneaudit_findings{severity=\"high\"} 2\n\
             zoneaudit_findings{severity=\"low\"} 0\n\
             # HELP zoneaudit_runs_total Runs.\n\
             # TYPE zoneaudit_runs_total counter\n\
             zoneaudit_runs_total 7\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut w = TextWriter::new();
        w.family("m", Kind::Gauge, "a \\ back\nslash \"quoted\"")
            .sample(&[("source", "fw \"core\"\\2\nb"), ("kind", "panos")], 1.0);
        let text = w.finish();
        let lines: Vec<&str> = text.lines().collect();
        // HELP escapes backslash and line feed only; quotes stay as they are.
        assert_eq!(lines[0], r#"# HELP m a \\ back\nslash "quoted""#);
        assert_eq!(lines[2], r#"m{source="fw \"core\"\\2\nb",kind="panos"} 1"#);
        assert_eq!(lines.len(), 3, "an escaped line feed does not break the line: {text}");
    }

    #[test]
    fn values_are_go_style_floats() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(-0.0), "0");
        assert_eq!(format_value(1.25), "1.25");
        assert_eq!(format_value(1_764_270_000.5), "1764270000.5");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }
}
