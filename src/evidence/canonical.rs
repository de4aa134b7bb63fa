//! RFC 8785 (JCS) canonical JSON and the SHA-256 digests taken over it.
//!
//! Digests and signatures are always computed over canonical bytes, so any serializer on the
//! verifying side (a script, `jq -S`-like tools with JCS support) reproduces them from the values.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::EvidenceError;

/// The RFC 8785 serialisation of `value`: sorted keys (UTF-16 order), no whitespace,
/// ECMAScript number formatting, minimal string escaping.
pub fn to_canonical_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, EvidenceError> {
    serde_json_canonicalizer::to_vec(value).map_err(|source| EvidenceError::Canonical {
        what: std::any::type_name::<T>().rsplit("::").next().unwrap_or("value").to_string(),
        source,
    })
}

/// Lower-case hex SHA-256 (sha2 0.11 digests do not implement `LowerHex`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8785 section 3.2.2: literals, ECMAScript numbers and string escaping.
    #[test]
    fn rfc8785_primitives_example() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        let value: serde_json::Value = serde_json::from_str(input).unwrap();
        let out = to_canonical_vec(&value).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
             \"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    /// RFC 8785 section 3.2.3: properties sorted by UTF-16 code units, not by UTF-8 bytes
    /// (the emoji, a surrogate pair starting 0xD83D, sorts before U+FB33).
    #[test]
    fn rfc8785_sorting_example() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let value: serde_json::Value = serde_json::from_str(input).unwrap();
        let out = String::from_utf8(to_canonical_vec(&value).unwrap()).unwrap();
        let order: Vec<&str> = ["Carriage", "One", "Control", "Latin", "Euro", "Emoji", "Hebrew"].to_vec();
        let positions: Vec<usize> = order.iter().map(|k| out.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "order wrong in {out}");
        assert!(out.starts_with("{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\""));
    }

    #[test]
    fn struct_fields_are_sorted_and_digest_is_hex() {
        #[derive(Serialize)]
        struct Run {
            zeta: u32,
            alpha: &'static str,
        }
        let bytes = to_canonical_vec(&Run { zeta: 7, alpha: "a" }).unwrap();
        assert_eq!(bytes, br#"{"alpha":"a","zeta":7}"#);
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
