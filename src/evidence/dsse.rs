//! DSSE v1 envelopes (secure-systems-lab/dsse): the signature covers the payload type and the
//! payload bytes through the pre-authentication encoding, never the JSON around them.
//!
//! ```text
//!  { "payload": base64(body), "payloadType": TYPE, "signatures": [{ "keyid": KEYID, "sig": base64(sig) }] }
//!  sig = Ed25519(PAE(TYPE, body))
//!  PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body    (LEN = decimal byte length)
//! ```

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::{Deserialize, Serialize};

use super::EvidenceError;
use super::keys::{Keyring, SigningKey};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Optional in DSSE; an empty keyid means "try every key in the keyring".
    #[serde(default)]
    pub keyid: String,
    pub sig: String,
}

impl Envelope {
    /// The decoded payload. DSSE verifiers must accept standard and URL-safe base64.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, EvidenceError> {
        decode(&self.payload, "payload")
    }

    /// The bytes of an envelope file as zoneaudit writes it: pretty JSON, fields in the order
    /// `payload`, `payloadType`, `signatures`, standard base64, one trailing newline.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        // Serialising a struct of strings cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The same envelope with payload and signatures re-encoded in standard base64: what the file
    /// would hold had zoneaudit written these values.
    pub(crate) fn normalised(&self) -> Result<Envelope, EvidenceError> {
        let signatures = self
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let sig = decode(&s.sig, &format!("signatures[{i}].sig"))?;
                Ok(Signature { keyid: s.keyid.clone(), sig: encode(&sig) })
            })
            .collect::<Result<Vec<_>, EvidenceError>>()?;
        Ok(Envelope {
            payload: encode(&self.payload_bytes()?),
            payload_type: self.payload_type.clone(),
            signatures,
        })
    }
}

pub(crate) fn decode(text: &str, field: &str) -> Result<Vec<u8>, EvidenceError> {
    STANDARD.decode(text).or_else(|first| {
        URL_SAFE.decode(text).map_err(|_| EvidenceError::Base64 { field: field.to_string(), source: first })
    })
}

pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(body);
    out
}

pub fn sign(payload_type: &str, body: &[u8], key: &SigningKey) -> Envelope {
    let sig = key.sign_raw(&pae(payload_type, body));
    Envelope {
        payload: encode(body),
        payload_type: payload_type.to_string(),
        signatures: vec![Signature { keyid: key.keyid().to_string(), sig: encode(&sig) }],
    }
}

/// Returns the payload bytes once one signature verifies with a key from `keys` (a 1-of-n
/// envelope). When none does, the error of the first signature is returned: it names the keyid.
/// The payload type is authenticated but not judged here; callers check it.
pub fn verify(env: &Envelope, keys: &Keyring) -> Result<Vec<u8>, EvidenceError> {
    let body = env.payload_bytes()?;
    let message = pae(&env.payload_type, &body);
    let mut first_error = None;
    for (index, signature) in env.signatures.iter().enumerate() {
        match verify_one(index, signature, &message, keys) {
            Ok(()) => return Ok(body),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(EvidenceError::NoSignature))
}

fn verify_one(
    index: usize,
    signature: &Signature,
    message: &[u8],
    keys: &Keyring,
) -> Result<(), EvidenceError> {
    let sig = decode(&signature.sig, &format!("signatures[{index}].sig"))?;
    let candidates: Vec<_> = if signature.keyid.is_empty() {
        keys.keys().iter().collect()
    } else {
        let key = keys.get(&signature.keyid).ok_or_else(|| EvidenceError::UnknownKey {
            index,
            keyid: signature.keyid.clone(),
            known: keys.describe(),
        })?;
        vec![key]
    };
    if candidates.iter().any(|k| k.verify_raw(message, &sig)) {
        Ok(())
    } else {
        let keyid =
            if signature.keyid.is_empty() { "(no keyid)".to_string() } else { signature.keyid.clone() };
        Err(EvidenceError::BadSignature { index, keyid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::keys::KeyPair;

    /// The test vector of the DSSE protocol specification.
    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn sign_then_verify_returns_the_body() {
        let pair = KeyPair::generate().unwrap();
        let env = sign("application/vnd.in-toto+json", b"{\"a\":1}", &pair.signing);
        assert_eq!(env.signatures[0].keyid, pair.signing.keyid());
        let json = serde_json::to_value(&env).unwrap();
        assert_eq!(json["payloadType"], "application/vnd.in-toto+json");
        assert_eq!(json["payload"], "eyJhIjoxfQ==");
        let body = verify(&env, &Keyring::new([pair.public])).unwrap();
        assert_eq!(body, b"{\"a\":1}");
    }

    #[test]
    fn unknown_keyid_is_named() {
        let signer = KeyPair::generate().unwrap();
        let other = KeyPair::generate().unwrap();
        let env = sign("t", b"body", &signer.signing);
        let err = verify(&env, &Keyring::new([other.public.clone()])).unwrap_err().to_string();
        assert!(err.contains("unknown keyid") && err.contains(signer.signing.keyid()), "{err}");
        assert!(err.contains(other.public.keyid()), "lists the known keys: {err}");
    }

    #[test]
    fn tampered_payload_type_or_body_or_signature_fails() {
        let pair = KeyPair::generate().unwrap();
        let ring = Keyring::new([pair.public.clone()]);
        let env = sign("t", b"body", &pair.signing);

        let mut changed_type = env.clone();
        changed_type.payload_type = "u".into();
        assert!(verify(&changed_type, &ring).unwrap_err().to_string().contains("does not verify"));

        let mut changed_body = env.clone();
        changed_body.payload = encode(b"bodY");
        assert!(verify(&changed_body, &ring).unwrap_err().to_string().contains("does not verify"));

        let mut bad_b64 = env.clone();
        bad_b64.signatures[0].sig = "!!!".into();
        let err = verify(&bad_b64, &ring).unwrap_err().to_string();
        assert!(err.contains("signatures[0].sig") && err.contains("base64"), "{err}");

        let mut bad_payload = env.clone();
        bad_payload.payload = "a".into();
        assert!(verify(&bad_payload, &ring).unwrap_err().to_string().starts_with("payload: invalid base64"));

        let mut none = env;
        none.signatures.clear();
        assert_eq!(verify(&none, &ring).unwrap_err().to_string(), "envelope has no signatures");
    }

    /// Rotation: an envelope counter-signed by the new key verifies for a verifier that only
    /// knows the new key, even though the first signature is by a key it does not know.
    #[test]
    fn any_known_signature_is_enough() {
        let old = KeyPair::generate().unwrap();
        let new = KeyPair::generate().unwrap();
        let mut env = sign("t", b"body", &old.signing);
        env.signatures.extend(sign("t", b"body", &new.signing).signatures);
        assert_eq!(verify(&env, &Keyring::new([new.public])).unwrap(), b"body");
    }
}
