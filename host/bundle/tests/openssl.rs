//! openssl as an independent oracle for the signature format cosign uses (ECDSA P-256 over
//! SHA-256, DER): what ferry signs, openssl verifies; what openssl signs with a key of its own
//! making, ferry verifies.

use std::process::Command;

use base64::Engine as _;
use ferry_bundle::{PrivateKey, PublicKey};

fn openssl(args: &[&str], dir: &std::path::Path) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("running openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn openssl_verifies_what_ferry_signs() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let payload = br#"{"critical":{"type":"cosign container image signature"}}"#;
    let signature = base64::engine::general_purpose::STANDARD.decode(key.sign(payload)).unwrap();
    std::fs::write(dir.path().join("payload"), payload).unwrap();
    std::fs::write(dir.path().join("sig"), signature).unwrap();
    std::fs::write(dir.path().join("key.pub"), key.public_key().to_pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.to_pem(None).unwrap()).unwrap();
    std::fs::write(dir.path().join("encrypted.pem"), key.to_pem(Some("s3cret")).unwrap()).unwrap();
    openssl(&["dgst", "-sha256", "-verify", "key.pub", "-signature", "sig", "payload"], dir.path());
    // openssl reads the private key file ferry writes, and derives the same public key.
    openssl(&["pkey", "-in", "key.pem", "-pubout", "-out", "derived.pub"], dir.path());
    let derived = PublicKey::from_pem(&std::fs::read_to_string(dir.path().join("derived.pub")).unwrap(), "derived.pub").unwrap();
    assert_eq!(derived.fingerprint(), key.public_key().fingerprint());
    // And the passphrase-protected one, given the passphrase.
    openssl(&["pkey", "-in", "encrypted.pem", "-passin", "pass:s3cret", "-pubout", "-out", "derived2.pub"], dir.path());
    let derived = PublicKey::from_pem(&std::fs::read_to_string(dir.path().join("derived2.pub")).unwrap(), "derived2.pub").unwrap();
    assert_eq!(derived.fingerprint(), key.public_key().fingerprint());
}

#[test]
fn ferry_verifies_what_openssl_signs_with_its_own_keys() {
    let dir = tempfile::tempdir().unwrap();
    openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "openssl.key"], dir.path());
    openssl(&["ec", "-in", "openssl.key", "-pubout", "-out", "openssl.pub"], dir.path());
    std::fs::write(dir.path().join("payload"), b"the payload").unwrap();
    openssl(&["dgst", "-sha256", "-sign", "openssl.key", "-out", "sig", "payload"], dir.path());
    let public = PublicKey::from_pem(&std::fs::read_to_string(dir.path().join("openssl.pub")).unwrap(), "openssl.pub").unwrap();
    let signature = base64::engine::general_purpose::STANDARD.encode(std::fs::read(dir.path().join("sig")).unwrap());
    assert!(public.verifies(b"the payload", &signature));
    assert!(!public.verifies(b"another payload", &signature));
    // The SEC1 private key openssl wrote signs in ferry too.
    let private = PrivateKey::from_pem(&std::fs::read_to_string(dir.path().join("openssl.key")).unwrap(), "openssl.key", None).unwrap();
    assert!(public.verifies(b"x", &private.sign(b"x")));
    // openssl's passphrase-protected PKCS#8 (PBES2 with PBKDF2 and AES-256-CBC by default).
    openssl(&["pkcs8", "-topk8", "-in", "openssl.key", "-passout", "pass:s3cret", "-out", "openssl-enc.key"], dir.path());
    let text = std::fs::read_to_string(dir.path().join("openssl-enc.key")).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let private = PrivateKey::from_pem(&text, "openssl-enc.key", Some("s3cret")).unwrap();
    assert!(public.verifies(b"y", &private.sign(b"y")));
}
