//! What every JSON parser of a vendor format needs the same way: errors that name the place
//! (`line L column C` for syntax, an RFC 6901 pointer for shape), bounded excerpts for evidence,
//! and the AS-number notations devices use.

use serde_json::Value;

use crate::collect::ParseError;

/// Evidence excerpts are bounded so one huge object cannot bloat a report.
pub const MAX_EXCERPT_CHARS: usize = 600;

/// A syntax error at its line and column; the end of input says the output was cut short.
pub fn json_error(e: &serde_json::Error) -> ParseError {
    let full = e.to_string();
    let detail = full.split(" at line ").next().unwrap_or(&full);
    let message = if e.is_eof() {
        format!("truncated JSON (output cut short?): {detail}")
    } else {
        format!("malformed JSON: {detail}")
    };
    ParseError::new(format!("line {} column {}", e.line(), e.column()), message)
}

/// A shape error at a JSON pointer (`(root)` for the whole document).
pub fn shape(pointer: &str, message: impl Into<String>) -> ParseError {
    let locator = if pointer.is_empty() { "(root)".to_string() } else { pointer.to_string() };
    ParseError::new(locator, message)
}

/// One RFC 6901 reference token: `~` -> `~0`, `/` -> `~1` (`10.0.0.0/24` -> `10.0.0.0~124`).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Compact JSON of a value, bounded.
pub fn excerpt(v: &Value) -> String {
    bounded(&v.to_string())
}

pub fn bounded(s: &str) -> String {
    if s.chars().count() <= MAX_EXCERPT_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_EXCERPT_CHARS).collect();
    out.push('…');
    out
}

/// `a number`, `an object`, ... for "expected X, found Y" messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An AS number as devices write it: a JSON number, asplain text (`"65001"`) or asdot (`"1.10"`).
pub fn parse_asn(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => parse_asn_text(s),
        _ => None,
    }
}

pub fn parse_asn_text(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.split_once('.') {
        Some((hi, lo)) => {
            let hi: u16 = hi.parse().ok()?;
            let lo: u16 = lo.parse().ok()?;
            Some(u32::from(hi) << 16 | u32::from(lo))
        }
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn_notations() {
        assert_eq!(parse_asn(&serde_json::json!(65001)), Some(65001));
        assert_eq!(parse_asn(&serde_json::json!("65001")), Some(65001));
        assert_eq!(parse_asn(&serde_json::json!("1.10")), Some(65546));
        assert_eq!(parse_asn(&serde_json::json!("x")), None);
        assert_eq!(parse_asn(&serde_json::json!(-1)), None);
    }

    #[test]
    fn errors_name_the_place() {
        let e = serde_json::from_str::<Value>("{\n  \"a\": [1,\n").unwrap_err();
        let p = json_error(&e);
        assert_eq!(p.locator, "line 3 column 0");
        assert!(p.message.starts_with("truncated JSON"), "{}", p.message);
        let e = serde_json::from_str::<Value>("{\"a\" 1}").unwrap_err();
        assert!(json_error(&e).message.starts_with("malformed JSON: expected `:`"));
        assert_eq!(shape("", "x").locator, "(root)");
        assert_eq!(escape("10.0.0.0/24"), "10.0.0.0~124");
        let long = "x".repeat(MAX_EXCERPT_CHARS + 5);
        assert_eq!(bounded(&long).chars().count(), MAX_EXCERPT_CHARS + 1);
    }
}
