//! Signing keys: ECDSA P-256, the algorithm of cosign's key pairs, as PEM files that openssl
//! and cosign read too. A signature is ECDSA over SHA-256 of the payload, DER-encoded and
//! base64'd, as cosign stores it.

use base64::Engine as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use sha2::{Digest as _, Sha256};

/// A key file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct KeyError {
    /// The file (or config entry) the key came from.
    pub origin: String,
    /// Why it cannot be used.
    pub message: String,
}

/// A private key could not be written as PEM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// Encoding it as PKCS#8 failed.
    #[error("encoding the key as PKCS#8")]
    Pkcs8(#[from] pkcs8::Error),
    /// Encrypting it with the passphrase failed (pkcs5's error is not a `std` error, so it is
    /// shown, not chained).
    #[error("encrypting the key: {0}")]
    Encrypt(pkcs8::pkcs5::Error),
    /// Writing the encrypted key as PEM failed.
    #[error("writing the key as PEM")]
    Der(#[from] pkcs8::der::Error),
}

impl From<pkcs8::pkcs5::Error> for PemError {
    fn from(e: pkcs8::pkcs5::Error) -> PemError {
        PemError::Encrypt(e)
    }
}

fn key_error(origin: &str, message: impl Into<String>) -> KeyError {
    KeyError { origin: origin.to_owned(), message: message.into() }
}

/// PBKDF2 rounds for a passphrase-protected key (OWASP's figure for PBKDF2-HMAC-SHA256).
const PBKDF2_ROUNDS: u32 = 600_000;

/// A private key that signs bundles.
pub struct PrivateKey(SigningKey);

/// Shows the public fingerprint only: a private key never reaches a log.
impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey(public {})", self.public_key().fingerprint())
    }
}

impl PrivateKey {
    /// A new random key, from the operating system's generator.
    pub fn generate() -> PrivateKey {
        PrivateKey(SigningKey::random(&mut rand_core::OsRng))
    }

    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`, what `ferry plugin keygen` writes),
    /// passphrase-protected PKCS#8 (`ENCRYPTED PRIVATE KEY`, given `passphrase`) or SEC1
    /// (`EC PRIVATE KEY`, what `openssl ecparam -genkey` writes). `origin` names it in errors.
    pub fn from_pem(text: &str, origin: &str, passphrase: Option<&str>) -> Result<PrivateKey, KeyError> {
        let label = pem_label(text).ok_or_else(|| key_error(origin, "not a PEM file"))?;
        match label {
            "PRIVATE KEY" => SigningKey::from_pkcs8_pem(text)
                .map(PrivateKey)
                .map_err(|e| key_error(origin, format!("not an ECDSA P-256 PKCS#8 key ({e})"))),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_pem(text)
                .map(|k| PrivateKey(k.into()))
                .map_err(|e| key_error(origin, format!("not an ECDSA P-256 SEC1 key ({e})"))),
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase =
                    passphrase.ok_or_else(|| key_error(origin, "the key is encrypted: give its passphrase in FERRY_KEY_PASSPHRASE"))?;
                SigningKey::from_pkcs8_encrypted_pem(text, passphrase)
                    .map(PrivateKey)
                    .map_err(|_| key_error(origin, "the passphrase does not open it, or it is not an ECDSA P-256 key"))
            }
            "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => Err(key_error(
                origin,
                format!("{label}: cosign's own key format is not read; use a PKCS#8 key (`ferry plugin keygen`, or openssl)"),
            )),
            "PUBLIC KEY" => Err(key_error(origin, "this is a public key; signing needs the private key")),
            other => Err(key_error(origin, format!("a PEM {other:?}, not a private key"))),
        }
    }

    /// The key as PKCS#8 PEM: encrypted with `passphrase` when one is given, as PBES2 with
    /// PBKDF2-HMAC-SHA256 and AES-256-CBC (what openssl reads and writes by default; the
    /// crate's scrypt default exceeds openssl's scrypt memory limit).
    pub fn to_pem(&self, passphrase: Option<&str>) -> Result<String, PemError> {
        let Some(passphrase) = passphrase else {
            return Ok(self.0.to_pkcs8_pem(LineEnding::LF)?.to_string());
        };
        let (mut salt, mut iv) = ([0u8; 16], [0u8; 16]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut iv);
        let der = self.0.to_pkcs8_der()?;
        let info = pkcs8::PrivateKeyInfo::try_from(der.as_bytes())?;
        let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ROUNDS, &salt, &iv)?;
        Ok(info.encrypt_with_params(params, passphrase)?.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)?.to_string())
    }

    /// Its public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::new(*self.0.verifying_key())
    }

    /// The base64 of the DER ECDSA signature over SHA-256 of `payload` (cosign's form).
    pub fn sign(&self, payload: &[u8]) -> String {
        let signature: Signature = self.0.sign(payload);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }
}

/// A public key that a signature is checked against.
#[derive(Clone, Debug)]
pub struct PublicKey {
    key: VerifyingKey,
    fingerprint: String,
}

impl PublicKey {
    fn new(key: VerifyingKey) -> PublicKey {
        let der = key.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
        PublicKey { key, fingerprint: format!("sha256:{}", hex::encode(Sha256::digest(der))) }
    }

    /// Reads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo, as `cosign.pub` and `openssl ec -pubout`
    /// write it).
    pub fn from_pem(text: &str, origin: &str) -> Result<PublicKey, KeyError> {
        match pem_label(text) {
            Some("PUBLIC KEY") => VerifyingKey::from_public_key_pem(text)
                .map(PublicKey::new)
                .map_err(|e| key_error(origin, format!("not an ECDSA P-256 public key ({e})"))),
            Some(label) if label.contains("PRIVATE") => {
                Err(key_error(origin, "this is a private key; a trusted key is the public half (`ferry plugin keygen` writes it as .pub)"))
            }
            Some(other) => Err(key_error(origin, format!("a PEM {other:?}, not a public key"))),
            None => Err(key_error(origin, "not a PEM file")),
        }
    }

    /// The key as SubjectPublicKeyInfo PEM.
    pub fn to_pem(&self) -> String {
        self.key.to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo: what names it in messages.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether `signature` (base64 DER, cosign's form) is this key's over `payload`.
    pub fn verifies(&self, payload: &[u8], signature: &str) -> bool {
        let Ok(der) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
            return false;
        };
        Signature::from_der(&der).is_ok_and(|s| self.key.verify(payload, &s).is_ok())
    }
}

/// The label of the first PEM block (`PRIVATE KEY` in `-----BEGIN PRIVATE KEY-----`).
fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &text[start..];
    rest.find("-----").map(|end| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_key_only() {
        let key = PrivateKey::generate();
        let signature = key.sign(b"payload");
        assert!(key.public_key().verifies(b"payload", &signature));
        assert!(!key.public_key().verifies(b"payloaD", &signature));
        assert!(!PrivateKey::generate().public_key().verifies(b"payload", &signature));
        assert!(!key.public_key().verifies(b"payload", "not base64!"));
    }

    #[test]
    fn keys_survive_pem() {
        let key = PrivateKey::generate();
        let again = PrivateKey::from_pem(&key.to_pem(None).unwrap(), "k", None).unwrap();
        let public = PublicKey::from_pem(&key.public_key().to_pem(), "p").unwrap();
        assert_eq!(again.public_key().fingerprint(), key.public_key().fingerprint());
        assert!(public.verifies(b"x", &again.sign(b"x")));
        assert!(key.public_key().fingerprint().starts_with("sha256:"));
    }

    #[test]
    fn an_encrypted_key_needs_its_passphrase() {
        let key = PrivateKey::generate();
        let pem = key.to_pem(Some("correct horse")).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{pem}");
        let again = PrivateKey::from_pem(&pem, "officer.key", Some("correct horse")).unwrap();
        assert_eq!(again.public_key().fingerprint(), key.public_key().fingerprint());
        let e = PrivateKey::from_pem(&pem, "officer.key", Some("wrong")).unwrap_err().to_string();
        assert_eq!(e, "officer.key: the passphrase does not open it, or it is not an ECDSA P-256 key");
        let e = PrivateKey::from_pem(&pem, "officer.key", None).unwrap_err().to_string();
        assert!(e.contains("FERRY_KEY_PASSPHRASE"), "{e}");
    }

    #[test]
    fn the_wrong_kind_of_pem_is_named() {
        let key = PrivateKey::generate();
        let e = PublicKey::from_pem(&key.to_pem(None).unwrap(), "officer.key").unwrap_err();
        assert!(e.to_string().starts_with("officer.key: this is a private key"), "{e}");
        let e = PrivateKey::from_pem(&key.public_key().to_pem(), "officer.pub", None).unwrap_err();
        assert!(e.to_string().contains("this is a public key"), "{e}");
        let e = PrivateKey::from_pem(
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nx\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            "cosign.key",
            Some("x"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("cosign's own key format is not read"), "{e}");
        assert!(PublicKey::from_pem("hello", "x").unwrap_err().to_string().contains("not a PEM file"));
    }
}
