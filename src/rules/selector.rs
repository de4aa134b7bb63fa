//! Calico label selectors, evaluated the way Calico evaluates them.
//!
//! Grammar (Calico `libcalico-go/lib/selector/{tokenizer,parser}`):
//!
//! ```text
//!  selector   := or
//!  or         := and ( "||" and )*            "&&" binds tighter than "||"
//!  and        := operation ( "&&" operation )*
//!  operation  := "!"* ( "has(" label ")" | "all()" | "global()" | "(" or ")"
//!                     | label "==" string | label "!=" string
//!                     | label "contains" string | label "starts with" string | label "ends with" string
//!                     | label "in" set | label "not in" set )
//!  set        := "{" [ string ( "," string )* [ "," ] ] "}"
//!  label      := [A-Za-z0-9_./-]+             e.g. topology.kubernetes.io/zone
//!  string     := '...' | "..."                no escapes: the other quote may appear inside
//! ```
//!
//! Semantics that matter for an audit, all as in Calico:
//! * `k != 'v'` and `k not in {...}` are true when `k` is absent; every other label test is false then.
//! * `global()` matches everything, like `all()` (Calico uses it to mean "non-namespaced" in
//!   policy namespace selectors; over node labels it selects every node).
//! * Whitespace is spaces and tabs only; a newline is an error, as in Calico.
//! * `has (k)` / `all ()` (space before the parenthesis) are errors, as in Calico.
//!
//! One deliberate difference: Calico parses the empty selector as `all()`. An empty selector in a
//! resource usually means "not set" (a `BGPPeer` without `nodeSelector` is a global peer), so the
//! caller must decide what empty means; [`Selector::parse`] rejects it and [`Selector::all`] is there
//! for callers that want Calico's reading.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Deeper parenthesis nesting than this is refused, so that parsing and matching never exhaust
/// the stack on hostile input. Real selectors nest two or three levels.
const MAX_NESTING: usize = 64;

/// A parsed Calico selector; keeps the original text for reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    text: String,
    expr: Expr,
}

/// A selector that does not parse: the column (1-based, in characters) where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("selector {text:?}: column {column}: {message}")]
pub struct SelectorError {
    pub text: String,
    pub column: usize,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    All,
    Global,
    Has(String),
    Eq(String, String),
    Ne(String, String),
    Contains(String, String),
    StartsWith(String, String),
    EndsWith(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &String| labels.get(k).map(String::as_str);
        match self {
            Expr::All | Expr::Global => true,
            Expr::Has(k) => labels.contains_key(k),
            Expr::Eq(k, v) => get(k) == Some(v.as_str()),
            Expr::Ne(k, v) => get(k) != Some(v.as_str()),
            Expr::Contains(k, v) => get(k).is_some_and(|l| l.contains(v.as_str())),
            Expr::StartsWith(k, v) => get(k).is_some_and(|l| l.starts_with(v.as_str())),
            Expr::EndsWith(k, v) => get(k).is_some_and(|l| l.ends_with(v.as_str())),
            Expr::In(k, set) => get(k).is_some_and(|l| set.contains(l)),
            Expr::NotIn(k, set) => get(k).is_none_or(|l| !set.contains(l)),
            Expr::Not(e) => !e.matches(labels),
            Expr::And(es) => es.iter().all(|e| e.matches(labels)),
            Expr::Or(es) => es.iter().any(|e| e.matches(labels)),
        }
    }
}

impl Selector {
    /// Parse Calico selector text. Empty (or blank) text is an error: see the module header.
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let err = |at: usize, message: String| SelectorError {
            text: text.to_string(),
            column: column_of(text, at),
            message,
        };
        let tokens = tokenize(text).map_err(|(at, m)| err(at, m))?;
        let mut parser = Parser { tokens: &tokens, pos: 0, depth: 0 };
        if parser.peek().kind == Kind::Eof {
            return Err(err(0, "empty selector (write all() to select everything)".to_string()));
        }
        let expr = parser.or().map_err(|(at, m)| err(at, m))?;
        let next = parser.peek();
        if next.kind != Kind::Eof {
            return Err(err(
                next.at,
                format!("unexpected {} after the end of the expression", next.describe()),
            ));
        }
        Ok(Selector { text: text.to_string(), expr })
    }

    /// `all()`: every label set matches.
    pub fn all() -> Selector {
        Selector { text: "all()".to_string(), expr: Expr::All }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.expr.matches(labels)
    }

    /// The text as written (not normalised), for reports.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True only for a selector that is exactly `all()` (spacing aside), not for one that merely
    /// happens to match everything.
    pub fn is_all(&self) -> bool {
        self.expr == Expr::All
    }
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, SelectorError> {
        Selector::parse(s)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// 1-based character column of a byte offset (offsets always fall on char boundaries here).
fn column_of(text: &str, at: usize) -> usize {
    text.get(..at).map_or(text.chars().count(), |s| s.chars().count()) + 1
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Label,
    Str,
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    All,
    Global,
    Has,
    Not,
    LParen,
    RParen,
    And,
    Or,
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    /// Label name, string value or `has()` label.
    value: String,
    /// Byte offset in the selector text.
    at: usize,
}

impl Token {
    fn describe(&self) -> String {
        match self.kind {
            Kind::Label => format!("label {:?}", self.value),
            Kind::Str => format!("string {:?}", self.value),
            Kind::Has => format!("has({})", self.value),
            Kind::Eof => "end of selector".to_string(),
            k => format!("'{}'", k.text()),
        }
    }
}

impl Kind {
    fn text(self) -> &'static str {
        match self {
            Kind::LBrace => "{",
            Kind::RBrace => "}",
            Kind::Comma => ",",
            Kind::Eq => "==",
            Kind::Ne => "!=",
            Kind::In => "in",
            Kind::NotIn => "not in",
            Kind::Contains => "contains",
            Kind::StartsWith => "starts with",
            Kind::EndsWith => "ends with",
            Kind::All => "all()",
            Kind::Global => "global()",
            Kind::Not => "!",
            Kind::LParen => "(",
            Kind::RParen => ")",
            Kind::And => "&&",
            Kind::Or => "||",
            Kind::Label | Kind::Str | Kind::Has | Kind::Eof => "",
        }
    }
}

type Fail = (usize, String);

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-')
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Split into tokens as Calico does: what follows a label is read as an operator keyword, anywhere
/// else a word is a label (so a label may be called `contains` or `in`).
fn tokenize(text: &str) -> Result<Vec<Token>, Fail> {
    let bytes = text.as_bytes();
    let skip_space = |mut j: usize| {
        while bytes.get(j).is_some_and(|&b| is_space(b)) {
            j += 1;
        }
        j
    };
    let label_end = |mut j: usize| {
        while bytes.get(j).is_some_and(|&b| is_label_byte(b)) {
            j += 1;
        }
        j
    };
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    loop {
        i = skip_space(i);
        let Some(&c) = bytes.get(i) else {
            tokens.push(Token { kind: Kind::Eof, value: String::new(), at: i });
            return Ok(tokens);
        };
        let rest = &text[i..];
        let previous_label = tokens.last().filter(|t| t.kind == Kind::Label).map(|t| t.value.as_str());
        // (kind, value, byte offset just past the token)
        let (kind, value, end) = match c {
            b'(' => (Kind::LParen, "", i + 1),
            b')' => (Kind::RParen, "", i + 1),
            b'{' => (Kind::LBrace, "", i + 1),
            b'}' => (Kind::RBrace, "", i + 1),
            b',' => (Kind::Comma, "", i + 1),
            b'"' | b'\'' => {
                let quote = c as char;
                let Some(len) = rest[1..].find(quote) else {
                    return Err((i, format!("unterminated string (no closing {quote})")));
                };
                (Kind::Str, &rest[1..1 + len], i + len + 2)
            }
            b'=' if rest.starts_with("==") => (Kind::Eq, "", i + 2),
            b'=' => return Err((i, "expected '==' (a single '=' is not an operator)".to_string())),
            b'!' if rest.starts_with("!=") => (Kind::Ne, "", i + 2),
            b'!' => (Kind::Not, "", i + 1),
            b'&' if rest.starts_with("&&") => (Kind::And, "", i + 2),
            b'&' => return Err((i, "expected '&&'".to_string())),
            b'|' if rest.starts_with("||") => (Kind::Or, "", i + 2),
            b'|' => return Err((i, "expected '||'".to_string())),
            _ if previous_label.is_some() => {
                let label = previous_label.unwrap_or_default();
                let expected = || {
                    (
                        i,
                        format!(
                            "expected an operator after label {label:?} \
                             (==, !=, in, not in, contains, starts with, ends with)"
                        ),
                    )
                };
                // Two-word operators: the second word after optional spaces.
                let second = |first: &str, word: &str| -> Option<usize> {
                    let j = skip_space(i + first.len());
                    text[j..].starts_with(word).then_some(j + word.len())
                };
                if rest.starts_with("contains") {
                    (Kind::Contains, "", i + "contains".len())
                } else if rest.starts_with("starts") {
                    (Kind::StartsWith, "", second("starts", "with").ok_or_else(expected)?)
                } else if rest.starts_with("ends") {
                    (Kind::EndsWith, "", second("ends", "with").ok_or_else(expected)?)
                } else if rest.starts_with("not") {
                    (Kind::NotIn, "", second("not", "in").ok_or_else(expected)?)
                } else if rest.starts_with("in") {
                    (Kind::In, "", i + "in".len())
                } else {
                    return Err(expected());
                }
            }
            _ if rest.starts_with("has(") => {
                let name_at = skip_space(i + "has(".len());
                let name_end = label_end(name_at);
                let name = &text[name_at..name_end];
                if name.is_empty() {
                    return Err((name_at, "expected a label name in has(...)".to_string()));
                }
                let close = skip_space(name_end);
                if bytes.get(close) != Some(&b')') {
                    return Err((close, format!("expected ')' to close has({name}")));
                }
                (Kind::Has, name, close + 1)
            }
            _ if rest.starts_with("all(") || rest.starts_with("global(") => {
                let (kind, word) =
                    if rest.starts_with("all(") { (Kind::All, "all(") } else { (Kind::Global, "global(") };
                let close = skip_space(i + word.len());
                if bytes.get(close) != Some(&b')') {
                    return Err((close, format!("expected ')' after {word}, it takes no argument")));
                }
                (kind, "", close + 1)
            }
            _ if is_label_byte(c) => {
                let end = label_end(i);
                (Kind::Label, &text[i..end], end)
            }
            _ => {
                let ch = rest.chars().next().unwrap_or(' ');
                return Err((i, format!("unexpected character {ch:?}")));
            }
        };
        tokens.push(Token { kind, value: value.to_string(), at: i });
        i = end;
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The tokenizer always ends the list with Eof and the parser never moves past it.
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.pos.min(last)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.kind != Kind::Eof {
            self.pos += 1;
        }
        t
    }

    fn or(&mut self) -> Result<Expr, Fail> {
        let mut terms = vec![self.and()?];
        while self.peek().kind == Kind::Or {
            self.bump();
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Expr::Or(terms) })
    }

    fn and(&mut self) -> Result<Expr, Fail> {
        let mut terms = vec![self.operation()?];
        while self.peek().kind == Kind::And {
            self.bump();
            terms.push(self.operation()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Expr::And(terms) })
    }

    fn operation(&mut self) -> Result<Expr, Fail> {
        let mut negated = false;
        while self.peek().kind == Kind::Not {
            self.bump();
            negated = !negated;
        }
        let t = self.bump();
        let expr = match t.kind {
            Kind::Has => Expr::Has(t.value),
            Kind::All => Expr::All,
            Kind::Global => Expr::Global,
            Kind::LParen => {
                if self.depth >= MAX_NESTING {
                    return Err((t.at, format!("parentheses nested deeper than {MAX_NESTING}")));
                }
                self.depth += 1;
                let inner = self.or()?;
                self.depth -= 1;
                let close = self.bump();
                if close.kind != Kind::RParen {
                    return Err((close.at, format!("expected ')' but found {}", close.describe())));
                }
                inner
            }
            Kind::Label => self.comparison(t.value)?,
            Kind::Eof => {
                return Err((t.at, "unexpected end of selector, expected an expression".to_string()));
            }
            _ => return Err((t.at, format!("unexpected {}, expected an expression", t.describe()))),
        };
        Ok(if negated { Expr::Not(Box::new(expr)) } else { expr })
    }

    fn comparison(&mut self, label: String) -> Result<Expr, Fail> {
        let op = self.bump();
        match op.kind {
            Kind::Eq | Kind::Ne | Kind::Contains | Kind::StartsWith | Kind::EndsWith => {
                let value = self.string(op.kind)?;
                Ok(match op.kind {
                    Kind::Eq => Expr::Eq(label, value),
                    Kind::Ne => Expr::Ne(label, value),
                    Kind::Contains => Expr::Contains(label, value),
                    Kind::StartsWith => Expr::StartsWith(label, value),
                    _ => Expr::EndsWith(label, value),
                })
            }
            Kind::In | Kind::NotIn => {
                let set = self.set(op.kind)?;
                Ok(if op.kind == Kind::In { Expr::In(label, set) } else { Expr::NotIn(label, set) })
            }
            _ => Err((
                op.at,
                format!(
                    "expected an operator after label {label:?} \
                     (==, !=, in, not in, contains, starts with, ends with) but found {}",
                    op.describe()
                ),
            )),
        }
    }

    fn string(&mut self, after: Kind) -> Result<String, Fail> {
        let t = self.bump();
        if t.kind == Kind::Str {
            Ok(t.value)
        } else {
            Err((
                t.at,
                format!("expected a quoted string after '{}' but found {}", after.text(), t.describe()),
            ))
        }
    }

    /// `{'a', 'b'}`; Calico accepts `{}` and a trailing comma.
    fn set(&mut self, after: Kind) -> Result<BTreeSet<String>, Fail> {
        let open = self.bump();
        if open.kind != Kind::LBrace {
            return Err((
                open.at,
                format!("expected a set {{'a', 'b'}} after '{}' but found {}", after.text(), open.describe()),
            ));
        }
        let mut values = BTreeSet::new();
        while self.peek().kind == Kind::Str {
            values.insert(self.bump().value);
            if self.peek().kind != Kind::Comma {
                break;
            }
            self.bump();
        }
        let close = self.bump();
        if close.kind != Kind::RBrace {
            return Err((close.at, format!("expected ',' or '}}' in set but found {}", close.describe())));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const ZONE: &str = "topology.kubernetes.io/zone";

    #[test]
    fn evaluates_like_calico() {
        let rr_a = labels(&[(ZONE, "zone-a"), ("route-reflector", "true")]);
        let wk_a = labels(&[(ZONE, "zone-a"), ("kubernetes.io/hostname", "wk-a-1")]);
        let wk_b = labels(&[(ZONE, "zone-b"), ("rack", "rack-1")]);
        let bare = labels(&[]);
        let quoted = labels(&[("note", "it's \"fine\""), ("dash-ed_key.x", "a b")]);
        #[rustfmt::skip]
        let table: &[(&str, &BTreeMap<String, String>, bool)] = &[
            ("all()", &bare, true),
            ("all( )", &wk_a, true),
            ("global()", &bare, true),
            ("has(route-reflector)", &rr_a, true),
            ("has(route-reflector)", &wk_a, false),
            ("has( route-reflector )", &rr_a, true),
            ("!has(route-reflector)", &wk_a, true),
            ("!!has(route-reflector)", &wk_a, false),
            ("! has(route-reflector)", &rr_a, false),
            ("topology.kubernetes.io/zone == 'zone-a'", &wk_a, true),
            ("topology.kubernetes.io/zone == \"zone-a\"", &wk_b, false),
            ("topology.kubernetes.io/zone=='zone-a'", &rr_a, true),
            ("topology.kubernetes.io/zone == 'zone-a'", &bare, false),
            ("topology.kubernetes.io/zone != 'zone-a'", &wk_b, true),
            ("topology.kubernetes.io/zone != 'zone-a'", &wk_a, false),
            // `!=` is true when the label is absent.
            ("topology.kubernetes.io/zone != 'zone-a'", &bare, true),
            ("topology.kubernetes.io/zone in {'zone-a', 'zone-c'}", &wk_a, true),
            ("topology.kubernetes.io/zone in {'zone-a', 'zone-c'}", &wk_b, false),
            ("topology.kubernetes.io/zone in {'zone-a'}", &bare, false),
            ("topology.kubernetes.io/zone in {}", &wk_a, false),
            ("topology.kubernetes.io/zone in{\"zone-b\",}", &wk_b, true),
            ("topology.kubernetes.io/zone not in {'zone-a'}", &wk_b, true),
            ("topology.kubernetes.io/zone not in {'zone-a'}", &wk_a, false),
            // `not in` is true when the label is absent.
            ("topology.kubernetes.io/zone not in {'zone-a'}", &bare, true),
            ("topology.kubernetes.io/zone notin {'zone-a'}", &wk_b, true),
            ("topology.kubernetes.io/zone contains 'one'", &wk_b, true),
            ("topology.kubernetes.io/zone contains 'x'", &wk_b, false),
            ("topology.kubernetes.io/zone contains ''", &bare, false),
            ("topology.kubernetes.io/zone starts with 'zone-'", &wk_a, true),
            ("topology.kubernetes.io/zone starts  with 'a'", &wk_a, false),
            ("topology.kubernetes.io/zone ends with '-b'", &wk_b, true),
            ("topology.kubernetes.io/zone ends with '-b'", &bare, false),
            ("kubernetes.io/hostname starts with 'wk-' && topology.kubernetes.io/zone == 'zone-a'", &wk_a, true),
            ("topology.kubernetes.io/zone == 'zone-a' && route-reflector == 'true'", &rr_a, true),
            ("topology.kubernetes.io/zone == 'zone-a' && route-reflector == 'true'", &wk_a, false),
            ("topology.kubernetes.io/zone == 'zone-a' && !has(route-reflector)", &wk_a, true),
            // && binds tighter than ||: read as a || (b && c).
            ("has(rack) || has(route-reflector) && topology.kubernetes.io/zone == 'zone-a'", &wk_b, true),
            ("has(route-reflector) && topology.kubernetes.io/zone == 'zone-b' || has(rack)", &wk_b, true),
            ("(has(rack) || has(route-reflector)) && topology.kubernetes.io/zone == 'zone-a'", &wk_b, false),
            ("has(route-reflector) || has(rack) && topology.kubernetes.io/zone == 'zone-a'", &rr_a, true),
            ("!(topology.kubernetes.io/zone == 'zone-a' || has(rack))", &wk_a, false),
            ("!(topology.kubernetes.io/zone == 'zone-a' || has(rack))", &bare, true),
            ("((has(rack)))", &wk_b, true),
            ("!((has(rack) && rack == 'rack-1') || all())", &wk_b, false),
            ("\tzone == 'x'\t|| global()", &bare, true),
            // Quotes: no escapes, the other quote may appear inside.
            ("note contains \"it's\"", &quoted, true),
            ("note ends with '\"fine\"'", &quoted, true),
            ("dash-ed_key.x == 'a b'", &quoted, true),
            // Keywords are only operators right after a label; elsewhere they are label names.
            ("contains == 'x'", &labels(&[("contains", "x")]), true),
            ("in in {'x'}", &labels(&[("in", "x")]), true),
            ("has == 'x'", &labels(&[("has", "x")]), true),
        ];
        for (text, labels, expected) in table {
            let selector = Selector::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"));
            assert_eq!(selector.matches(labels), *expected, "{text:?} over {labels:?}");
        }
    }

    #[test]
    fn rejects_invalid_selectors_at_the_right_column() {
        #[rustfmt::skip]
        let table: &[(&str, usize, &str)] = &[
            ("", 1, "empty selector"),
            ("   ", 1, "empty selector"),
            ("zone = 'a'", 6, "expected '=='"),
            ("zone == a", 9, "expected a quoted string after '=='"),
            ("zone == 'a", 9, "unterminated string"),
            ("zone == \"a", 9, "unterminated string"),
            ("zone 'a'", 6, "expected an operator after label \"zone\""),
            ("zone", 5, "expected an operator after label \"zone\""),
            ("zone is 'a'", 6, "expected an operator"),
            ("zone starts 'a'", 6, "expected an operator"),
            ("zone not 'a'", 6, "expected an operator"),
            ("zone in ('a')", 9, "expected a set"),
            ("zone in {'a' 'b'}", 14, "expected ',' or '}' in set"),
            ("zone in {'a'", 13, "expected ',' or '}' in set"),
            ("zone in {,}", 10, "expected ',' or '}' in set"),
            ("has(zone", 9, "expected ')' to close has(zone"),
            ("has()", 5, "expected a label name"),
            ("has (zone)", 5, "expected an operator after label \"has\""),
            ("all(x)", 5, "expected ')' after all("),
            ("a == 'b' & c == 'd'", 10, "expected '&&'"),
            ("a == 'b' | c == 'd'", 10, "expected '||'"),
            ("a == 'b' &&", 12, "unexpected end of selector"),
            ("|| a == 'b'", 1, "unexpected '||'"),
            ("(a == 'b'", 10, "expected ')' but found end of selector"),
            ("a == 'b')", 9, "unexpected ')' after the end"),
            ("a == 'b' c == 'd'", 10, "unexpected label \"c\""),
            ("!", 2, "unexpected end of selector"),
            ("zone == 'a'\n", 12, "unexpected character '\\n'"),
            ("zöne == 'a'", 2, "expected an operator after label \"z\""),
            ("ü == 'a'", 1, "unexpected character 'ü'"),
            ("a == 'ü' && #", 13, "unexpected character '#'"),
            // No escapes in strings: the backslash ends nothing.
            ("note == 'it\\'s'", 15, "unterminated string"),
        ];
        for (text, column, message) in table {
            let err = Selector::parse(text).expect_err(text);
            assert_eq!(err.column, *column, "{text:?}: {err}");
            assert!(err.message.contains(message), "{text:?}: {err}");
            assert_eq!(err.text, *text);
        }
    }

    #[test]
    fn error_text_names_the_selector_and_column() {
        let err = Selector::parse("zone = 'a'").unwrap_err();
        assert_eq!(
            err.to_string(),
            "selector \"zone = 'a'\": column 6: expected '==' (a single '=' is not an operator)"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}has(a){}", "(".repeat(10_000), ")".repeat(10_000));
        let err = Selector::parse(&deep).unwrap_err();
        assert_eq!(err.column, MAX_NESTING + 1);
        assert!(err.message.contains("nested deeper"));
        let ok = format!("{}has(a){}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(Selector::parse(&ok).unwrap().matches(&labels(&[("a", "")])));
        let nots = format!("{}has(a)", "!".repeat(100_001));
        assert!(Selector::parse(&nots).unwrap().matches(&labels(&[])));
    }

    #[test]
    fn all_text_and_serialisation() {
        let all = Selector::all();
        assert!(all.is_all());
        assert!(all.matches(&labels(&[])));
        assert_eq!(all, Selector::parse("all()").unwrap());
        assert!(Selector::parse(" all( ) ").unwrap().is_all());
        assert!(!Selector::parse("global()").unwrap().is_all());
        assert!(!Selector::parse("all() || has(a)").unwrap().is_all());

        let text = "topology.kubernetes.io/zone == 'zone-a' && !has(route-reflector)";
        let selector: Selector = text.parse().unwrap();
        assert_eq!(selector.text(), text);
        assert_eq!(selector.to_string(), text);
        assert_eq!(serde_json::to_string(&selector).unwrap(), serde_json::to_string(text).unwrap());
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            if let Ok(selector) = Selector::parse(&text) {
                selector.matches(&labels(&[("a", "b")]));
            }
        }

        #[test]
        fn parse_never_panics_on_selector_like_text(
            text in "[a-z!&|(){}'\" ,=.\\-/]{0,40}"
        ) {
            if let Ok(selector) = Selector::parse(&text) {
                selector.matches(&labels(&[("a", "b")]));
            }
        }
    }
}
