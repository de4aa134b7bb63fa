//! Ed25519 signing keys in the formats openssl reads and writes.
//!
//! ```text
//!  zoneaudit.key  PKCS#8 v1 PEM  "-----BEGIN PRIVATE KEY-----"  mode 0600  (openssl genpkey -algorithm ed25519)
//!  zoneaudit.pub  SPKI PEM       "-----BEGIN PUBLIC KEY-----"              (openssl pkey -pubout)
//!  keyid          "sha256:" + hex(SHA-256(SPKI DER of the public key))
//! ```
//!
//! The keyid is derived from the public key alone, so an auditor can recompute it with
//! `openssl pkey -pubin -in zoneaudit.pub -outform DER | sha256sum` and match it to the envelope.
//! Several public keys form a [`Keyring`], so reports signed before a key rotation still verify.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed::pkcs8::spki::der::pem::LineEnding;
use ed::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes};
use ed25519_dalek as ed;

use super::EvidenceError;
use super::canonical::sha256_hex;

pub const PRIVATE_KEY_FILE: &str = "zoneaudit.key";
pub const PUBLIC_KEY_FILE: &str = "zoneaudit.pub";

/// The private key used to sign run reports.
pub struct SigningKey {
    key: ed::SigningKey,
    keyid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey").field("keyid", &self.keyid).finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn load(path: &Path) -> Result<Self, EvidenceError> {
        let pem = read_text(path)?;
        Self::from_pem(&pem, &path.display().to_string())
    }

    /// `place` names where the PEM came from in errors.
    pub fn from_pem(pem: &str, place: &str) -> Result<Self, EvidenceError> {
        let key = ed::SigningKey::from_pkcs8_pem(pem).map_err(|e| EvidenceError::Key {
            place: place.to_string(),
            reason: format!("not an Ed25519 PKCS#8 private key PEM: {e}"),
        })?;
        Ok(Self::from_dalek(key))
    }

    fn from_dalek(key: ed::SigningKey) -> Self {
        let keyid = keyid_of(&key.verifying_key());
        SigningKey { key, keyid }
    }

    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey { key: self.key.verifying_key(), keyid: self.keyid.clone() }
    }

    /// Raw Ed25519 (RFC 8032, "pure") signature: what `openssl pkeyutl -sign -rawin` produces.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        use ed::Signer;
        self.key.sign(message).to_bytes()
    }

    /// PKCS#8 v1 PEM without the optional embedded public key: byte-compatible with what
    /// `openssl genpkey -algorithm ed25519` writes, and readable by every openssl 1.1.1+.
    pub fn to_pem(&self) -> Result<String, EvidenceError> {
        let bytes = KeypairBytes { secret_key: self.key.to_bytes(), public_key: None };
        bytes.to_pkcs8_pem(LineEnding::LF).map(|pem| pem.to_string()).map_err(|e| EvidenceError::Key {
            place: self.keyid.clone(),
            reason: format!("cannot encode private key: {e}"),
        })
    }
}

/// A public key that report signatures are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: ed::VerifyingKey,
    keyid: String,
}

impl PublicKey {
    pub fn load(path: &Path) -> Result<Self, EvidenceError> {
        let pem = read_text(path)?;
        Self::from_pem_at(&pem, &path.display().to_string())
    }

    pub fn from_pem(pem: &str) -> Result<Self, EvidenceError> {
        Self::from_pem_at(pem, "public key PEM")
    }

    fn from_pem_at(pem: &str, place: &str) -> Result<Self, EvidenceError> {
        let key = ed::VerifyingKey::from_public_key_pem(pem).map_err(|e| EvidenceError::Key {
            place: place.to_string(),
            reason: format!("not an Ed25519 public key PEM (-----BEGIN PUBLIC KEY-----): {e}"),
        })?;
        let keyid = keyid_of(&key);
        Ok(PublicKey { key, keyid })
    }

    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    pub fn to_pem(&self) -> String {
        // Encoding a valid 32-byte key as SPKI cannot fail; keep an empty string rather than panic.
        self.key.to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    /// Strict verification: rejects non-canonical `S` and small-order keys, so one signature has
    /// exactly one valid encoding (no malleated copies of a report verify).
    pub(crate) fn verify_raw(&self, message: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(message, &sig).is_ok()
    }
}

/// `sha256:` + hex SHA-256 of the SubjectPublicKeyInfo DER (the bytes of `openssl pkey -pubin
/// -outform DER`), so the id is reproducible from the public key file with standard tools.
fn keyid_of(key: &ed::VerifyingKey) -> String {
    let der = key.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
    format!("sha256:{}", sha256_hex(&der))
}

/// A freshly generated key pair, before it is written anywhere.
pub struct KeyPair {
    pub signing: SigningKey,
    pub public: PublicKey,
}

impl KeyPair {
    /// 32 bytes from the operating system RNG are the Ed25519 secret key (RFC 8032 5.1.5).
    pub fn generate() -> Result<Self, EvidenceError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| EvidenceError::Random(e.to_string()))?;
        let signing = SigningKey::from_dalek(ed::SigningKey::from_bytes(&secret));
        secret.fill(0);
        let public = signing.public_key();
        Ok(KeyPair { signing, public })
    }
}

/// Write a new key pair as `dir/zoneaudit.key` (0600) and `dir/zoneaudit.pub`; never overwrite.
pub fn generate(dir: &Path) -> Result<(PathBuf, PathBuf), EvidenceError> {
    let private_path = dir.join(PRIVATE_KEY_FILE);
    let public_path = dir.join(PUBLIC_KEY_FILE);
    for path in [&private_path, &public_path] {
        if path.exists() {
            return Err(EvidenceError::KeyExists { path: path.clone() });
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| EvidenceError::Io { path: dir.to_path_buf(), source })?;
    let pair = KeyPair::generate()?;
    write_new(&private_path, pair.signing.to_pem()?.as_bytes(), 0o600)?;
    write_new(&public_path, pair.public.to_pem().as_bytes(), 0o644)?;
    Ok((private_path, public_path))
}

/// `create_new` makes the no-overwrite rule hold even against a file appearing meanwhile, and the
/// mode is applied at creation so the private key is never briefly world-readable.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), EvidenceError> {
    let io = |source| EvidenceError::Io { path: path.to_path_buf(), source };
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            EvidenceError::KeyExists { path: path.to_path_buf() }
        } else {
            io(e)
        }
    })?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

fn read_text(path: &Path) -> Result<String, EvidenceError> {
    std::fs::read_to_string(path).map_err(|source| EvidenceError::Io { path: path.to_path_buf(), source })
}

/// The public keys a verifier trusts, looked up by keyid (old and new keys during a rotation).
#[derive(Debug, Clone, Default)]
pub struct Keyring(Vec<PublicKey>);

impl Keyring {
    /// Duplicate keys (same keyid) are kept once.
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut ring = Keyring(Vec::new());
        for key in keys {
            if ring.get(key.keyid()).is_none() {
                ring.0.push(key);
            }
        }
        ring
    }

    pub fn load(paths: &[PathBuf]) -> Result<Self, EvidenceError> {
        let keys = paths.iter().map(|p| PublicKey::load(p)).collect::<Result<Vec<_>, _>>()?;
        Ok(Keyring::new(keys))
    }

    pub fn get(&self, keyid: &str) -> Option<&PublicKey> {
        self.0.iter().find(|k| k.keyid == keyid)
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// For error messages: the keyids a signature could have used.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "no keys".to_string();
        }
        self.0.iter().map(|k| k.keyid.as_str()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generate_writes_openssl_style_pems_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let (key_path, pub_path) = generate(dir.path()).unwrap();
        assert_eq!(key_path.file_name().unwrap(), "zoneaudit.key");
        let private = std::fs::read_to_string(&key_path).unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{private}");
        let public = std::fs::read_to_string(&pub_path).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{public}");
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let signing = SigningKey::load(&key_path).unwrap();
        let public = PublicKey::load(&pub_path).unwrap();
        assert_eq!(signing.keyid(), public.keyid());
        assert!(public.keyid().starts_with("sha256:") && public.keyid().len() == 7 + 64);

        let before = std::fs::read(&key_path).unwrap();
        let err = generate(dir.path()).unwrap_err().to_string();
        assert!(err.contains("zoneaudit.key") && err.contains("refusing to overwrite"), "{err}");
        assert_eq!(std::fs::read(&key_path).unwrap(), before);
    }

    /// A key written by `openssl genpkey -algorithm ed25519` (and its `pkey -pubout` public key)
    /// loads, and the keyid is the SHA-256 of the SPKI DER (`openssl pkey -pubin -outform DER`).
    #[test]
    fn loads_keys_written_by_openssl() {
        let signing = SigningKey::from_pem(
            include_str!("../../tests/fixtures/evidence/test-only-openssl-ed25519.key"),
            "fixture",
        )
        .unwrap();
        let public =
            PublicKey::from_pem(include_str!("../../tests/fixtures/evidence/test-only-openssl-ed25519.pub"))
                .unwrap();
        assert_eq!(signing.keyid(), public.keyid());
        let spki_der = include_bytes!("../../tests/fixtures/evidence/test-only-openssl-ed25519.pub.der");
        assert_eq!(public.keyid(), format!("sha256:{}", sha256_hex(spki_der)));
        // Our own encoding of the same key is what openssl wrote.
        assert_eq!(
            signing.to_pem().unwrap(),
            include_str!("../../tests/fixtures/evidence/test-only-openssl-ed25519.key")
        );
        assert_eq!(
            public.to_pem(),
            include_str!("../../tests/fixtures/evidence/test-only-openssl-ed25519.pub")
        );
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("bogus.pub");
        std::fs::write(&bogus, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").unwrap();
        let err = PublicKey::load(&bogus).unwrap_err().to_string();
        assert!(err.contains("bogus.pub") && err.contains("public key"), "{err}");
        let err = Keyring::load(&[dir.path().join("missing.pub")]).unwrap_err().to_string();
        assert!(err.contains("missing.pub"), "{err}");
        let err = SigningKey::load(&bogus).unwrap_err().to_string();
        assert!(err.contains("bogus.pub") && err.contains("private key"), "{err}");
    }

    #[test]
    fn keyring_finds_each_key_by_keyid() {
        let a = KeyPair::generate().unwrap();
        let b = KeyPair::generate().unwrap();
        let ring = Keyring::new([a.public.clone(), b.public.clone(), a.public.clone()]);
        assert_eq!(ring.keys().len(), 2);
        assert_eq!(ring.get(a.public.keyid()), Some(&a.public));
        assert_eq!(ring.get(b.public.keyid()), Some(&b.public));
        assert!(ring.get("sha256:00").is_none());
    }
}
