//! What a compliance officer sees of `report --format html`: the demo's page opened in a real browser
//! (headless Chromium), once as a screenshot read back as pixels and once printed to PDF read back
//! as text (poppler's `pdftotext`). What is checked against the page comes from the signed JSON form
//! of the same period report, so the test follows the demo wherever its nights fall.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use zoneaudit::evidence::html::cell_colours;
use zoneaudit::evidence::period::{Cell, PeriodReport};

use crate::support::{demo_in, run};

const INSTALL: &str = "apt-get install chromium poppler-utils";
/// The demo's route leak (night 2).
const LEAK_SUBJECT: &str = "leaf1/YELLOW/10.20.1.0/26";
/// Chromium's first start on a cold machine can take tens of seconds.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);
const WIDTH: u32 = 1400;
const HEIGHT: u32 = 2400;

/// `zoneaudit report --since 30d` over the demo database, in `format`, written to `file`.
fn report(dir: &Path, format: &str, file: &Path) {
    let config = dir.join("zoneaudit.yaml");
    let db = dir.join("zoneaudit.db");
    let out = run(&[
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "report",
        "--since",
        "30d",
        "--format",
        format,
        "-o",
        file.to_str().unwrap(),
    ]);
    // 1 means written, with something the officer must know about; 2 and 3 mean no report.
    assert!(matches!(out.code, 0 | 1), "report --format {format} exited {}:\n{}", out.code, out.all());
    assert!(file.is_file(), "report --format {format} wrote no {}:\n{}", file.display(), out.all());
}

/// The period report as signed: the predicate of the DSSE envelope's in-toto statement.
fn signed_period(file: &Path) -> PeriodReport {
    let envelope: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().expect("payload"))
        .unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    serde_json::from_value(statement["predicate"].clone()).expect("the predicate is a period report")
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

fn chromium() -> PathBuf {
    on_path("chromium")
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.is_file()))
        .unwrap_or_else(|| panic!("chromium is not installed: {INSTALL}"))
}

/// Run headless Chromium on `page` with `output_flags`, in a fresh profile, killed after
/// [`BROWSER_TIMEOUT`]; `output` is the file it must have written.
fn browser(page: &Path, output_flags: &[String], output: &Path) {
    let profile = tempfile::tempdir().unwrap();
    let log = profile.path().join("chromium.log");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(output_flags)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromium ({e}): {INSTALL}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}: {}", tail(&log));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success() && output.is_file(), "chromium failed ({status}): {}", tail(&log));
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("cannot run pdftotext ({e}): {INSTALL}"));
    assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Text without its line breaks and spacing: the PDF wraps long lines wherever the page needs.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn rgb(hex: &str) -> [u8; 3] {
    let value = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(value >> 16) as u8, (value >> 8) as u8, value as u8]
}

/// Decoded screenshot: width, height, and how many pixels have exactly each colour asked for.
fn screenshot_counts(png_file: &Path, colours: &[[u8; 3]]) -> (u32, u32, Vec<usize>) {
    let reader = std::io::BufReader::new(std::fs::File::open(png_file).unwrap());
    let mut decoder = png::Decoder::new(reader);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("the screenshot is a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = match frame.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("screenshot colour type {other:?}"),
    };
    let mut counts = vec![0; colours.len()];
    for pixel in pixels[..frame.buffer_size()].chunks_exact(channels) {
        for (count, colour) in counts.iter_mut().zip(colours) {
            if pixel[..3] == colour[..] {
                *count += 1;
            }
        }
    }
    (frame.width, frame.height, counts)
}

#[test]
fn compliance_officer_sees_matrix_findings_evidence_and_verdict_in_the_browser_and_in_print() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let html = dir.path().join("report.html");
    report(dir.path(), "html", &html);
    let json = dir.path().join("report.dsse.json");
    report(dir.path(), "json", &json);
    let period = signed_period(&json);
    let nights_with_runs: Vec<String> =
        period.nights.iter().filter(|n| !n.runs.is_empty()).map(|n| n.date.to_string()).collect();
    assert_eq!(nights_with_runs.len(), 3, "the demo runs three nights inside the last 30 days");
    let leak = period
        .findings
        .iter()
        .find(|f| f.subject == LEAK_SUBJECT)
        .unwrap_or_else(|| panic!("the demo's period report has no finding {LEAK_SUBJECT}"));
    let evidence = leak.evidence.first().expect("the leak has evidence");

    // (a) On screen: the page has the size asked for and the calendar's colours are there, many
    // cells' worth (a legend swatch alone is about 480 pixels).
    let png_file = dir.path().join("report.png");
    browser(
        &html,
        &[format!("--screenshot={}", png_file.display()), format!("--window-size={WIDTH},{HEIGHT}")],
        &png_file,
    );
    let colours = [rgb(cell_colours(Cell::Pass).0), rgb(cell_colours(Cell::Fail).0)];
    let (width, height, counts) = screenshot_counts(&png_file, &colours);
    assert_eq!((width, height), (WIDTH, HEIGHT), "screenshot size");
    assert!(counts[0] > 2000, "too few pass-coloured pixels ({}): the calendar did not render", counts[0]);
    assert!(counts[1] > 2000, "too few fail-coloured pixels ({}): the calendar did not render", counts[1]);

    // (b) In print: the visible text of the PDF.
    let pdf = dir.path().join("report.pdf");
    browser(
        &html,
        &[format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer".to_string()],
        &pdf,
    );
    let text = pdf_text(&pdf);
    let flat = squeezed(&text);
    // Each zone heads a calendar row with its number of findings.
    let zones: Vec<&str> = period.zones.iter().map(|z| z.zone.as_str()).collect();
    assert_eq!(zones.len(), 3, "zones of the demo: {zones:?}");
    for zone in ["yellow", "blue", "green"] {
        let row = period.zones.iter().find(|z| z.zone == zone).expect("a demo zone");
        let label = format!("{zone} {} finding(s)", row.findings);
        assert!(text.contains(&label), "calendar row {label:?} is not in the printed report:\n{text}");
    }
    // Every night of the window heads a calendar column, including nights without a run.
    // 30 days back from now: 29 whole UTC days, plus today's when a run started today.
    assert!(period.nights.len() >= 29, "a 30-day window has 29 or more nights: {}", period.nights.len());
    for night in &period.nights {
        let date = night.date.to_string();
        assert!(text.contains(&date), "night {date} is not in the printed calendar:\n{text}");
    }
    assert!(text.contains(LEAK_SUBJECT), "the finding {LEAK_SUBJECT} is not printed:\n{text}");
    assert!(text.contains(evidence.source.as_str()), "evidence source {} is not printed", evidence.source);
    assert!(
        flat.contains(&squeezed(&evidence.locator)),
        "evidence locator {} is not printed:\n{text}",
        evidence.locator
    );
    let excerpt: String = evidence.excerpt.chars().take(60).collect();
    assert!(flat.contains(&squeezed(&excerpt)), "evidence excerpt {excerpt:?} is not printed:\n{text}");
    assert!(
        flat.contains(&squeezed(&period.summary.verdict)),
        "the verdict {:?} is not printed:\n{text}",
        period.summary.verdict
    );
}
