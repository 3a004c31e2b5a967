//! Image signatures on the high side: with `--require-signed-images KEY` (or `images:` in the
//! config) scatter and clone place only artifacts with a cosign signature by a trusted key.
//! The signatures are made independently, by openssl, as cosign lays them out.

use std::process::Command;

use base64::Engine as _;
use ferry_oci::Descriptor;
use ferry_testkit::Pusher;

use crate::fixture::Fixture;

/// An ECDSA P-256 key pair made by openssl: (private PEM path, public PEM path).
pub(crate) fn openssl_key(dir: &std::path::Path, name: &str) -> (String, String) {
    let (key, public) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.pub")));
    let ok = Command::new("openssl").args(["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out"]).arg(&key).status().unwrap();
    assert!(ok.success());
    let ok = Command::new("openssl").args(["ec", "-pubout", "-in"]).arg(&key).arg("-out").arg(&public).output().unwrap();
    assert!(ok.status.success());
    (key.to_str().unwrap().to_owned(), public.to_str().unwrap().to_owned())
}

/// Signs `subject` with openssl and pushes cosign's `.sig` manifest for it into `repo`.
pub(crate) fn cosign_sign(p: &Pusher, dir: &std::path::Path, repo: &str, subject: &Descriptor, key: &str) {
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{repo}"}},"image":{{"docker-manifest-digest":"{}"}},"type":"cosign container image signature"}},"optional":null}}"#,
        subject.digest
    );
    let payload_path = dir.join("payload.json");
    std::fs::write(&payload_path, &payload).unwrap();
    let der = Command::new("openssl").args(["dgst", "-sha256", "-sign", key]).arg(&payload_path).output().unwrap();
    assert!(der.status.success());
    let signature = base64::engine::general_purpose::STANDARD.encode(der.stdout);
    let layer = p.push_blob(repo, "application/vnd.dev.cosign.simplesigning.v1+json", payload.as_bytes());
    let config = p.push_blob(repo, "application/vnd.oci.image.config.v1+json", b"{}");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config.media_type, "digest": config.digest.to_string(), "size": config.size},
        "layers": [{
            "mediaType": layer.media_type, "digest": layer.digest.to_string(), "size": layer.size,
            "annotations": {"dev.cosignproject.cosign/signature": signature},
        }],
    });
    let tag = format!("{}.sig", subject.digest.tag_schema());
    p.push_manifest(repo, &tag, "application/vnd.oci.image.manifest.v1+json", manifest.to_string().as_bytes());
}

#[test]
fn only_artifacts_signed_by_a_trusted_key_are_placed() {
    let f = Fixture::new();
    let dir = f.home.path();
    let (key, public) = openssl_key(dir, "site");
    let (_, stranger) = openssl_key(dir, "stranger");
    cosign_sign(&f.p, dir, "low/source1", &f.img1.manifest, &key);
    f.run(&["mirror", "-r", "gather", &f.sources, &f.mirror()]).expect_code(0);

    // --check: each artifact's verdict and signer; nothing copied.
    let run = f.run(&["mirror", "scatter", "--check", "--require-signed-images", &public, &f.mirror(), &f.under("check")]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("signed: {} ({}) by key sha256:", f.src1, f.img_digest())), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("refused: {} ({}): no cosign signature", f.src2, f.idx_digest())), "{}", run.stdout);
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with("sending ")).count(), 1, "only the signed one is planned: {}", run.stdout);

    // scatter (no --continue): something refused, nothing placed, exit 1; the report says why.
    let report = dir.join("refused.json");
    let run = f.run(&[
        "mirror",
        "scatter",
        "--report",
        report.to_str().unwrap(),
        "--require-signed-images",
        &public,
        &f.mirror(),
        &f.under("strict"),
    ]);
    run.expect_code(1);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let refused =
        report["artifacts"].as_array().unwrap().iter().find(|a| a["digest"] == f.idx_digest().as_str()).expect("a record of the refused");
    assert_eq!(refused["status"], "failed");
    assert_eq!(refused["reason"], "refused by the image signature policy: no cosign signature");
    assert!(
        run.stderr.contains("refused: ") && run.stderr.contains("1 of 2 artifacts refused by the image signature policy; nothing placed"),
        "{}",
        run.stderr
    );
    assert!(f.p.tags("high/strict/source1").is_empty(), "nothing placed");

    // clone --continue: the signed one placed, the other refused, exit 1.
    let run = f.run(&["mirror", "clone", "--continue", "--require-signed-images", &public, &f.sources, &f.under("clone")]);
    run.expect_code(1);
    assert!(run.stderr.contains("the rest placed"), "{}", run.stderr);
    assert!(f.holds("high/clone/source1", "v1", &f.img_digest()));
    assert!(!f.p.has_manifest("high/clone/source2", &f.idx_digest()), "the unsigned index is not placed");

    // Another key: the signature is not by a trusted key.
    let run = f.run(&["mirror", "scatter", "--check", "--require-signed-images", &stranger, &f.mirror(), &f.under("stranger")]);
    run.expect_code(0);
    assert!(
        run.stdout.contains(&format!("refused: {} ({}): its signatures are by no trusted key", f.src1, f.img_digest())),
        "{}",
        run.stdout
    );

    // unarchive: the signature crosses the archive with -r and is checked in the cache.
    let tar = dir.join("signed.tar");
    f.run(&["mirror", "-r", "serialize", &f.mirror(), tar.to_str().unwrap()]).expect_code(0);
    let cache = dir.join("cache");
    let run = f.run(&[
        "mirror",
        "unarchive",
        "--check",
        "--cache",
        cache.to_str().unwrap(),
        "--require-signed-images",
        &public,
        tar.to_str().unwrap(),
        &f.under("unarchived"),
    ]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("signed: {} ({}) by key sha256:", f.src1, f.img_digest())), "{}", run.stdout);
    assert!(run.stdout.contains("refused: "), "{}", run.stdout);

    // The policy in the config does the same.
    let config = format!("{}images:\n  requireSigned: true\n  trustedKeys: [{public}]\n", f.reg.ferry_config());
    let run = ferry_tests::ferry(&f.home, &config, &["mirror", "scatter", "--check", "-o", "json", &f.mirror(), &f.under("config")]);
    run.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let verdicts = plan["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 2, "{plan}");
    assert_eq!(verdicts.iter().filter(|v| v["signed"] == true).count(), 1, "{plan}");
}
