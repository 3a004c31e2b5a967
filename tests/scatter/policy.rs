//! Policy components (`--policy plugin=…`): on gather nothing is gathered when anything is
//! refused; on scatter, clone and unarchive nothing refused is placed. The two example
//! policies decide from labels and from the referrers and signatures ferry finds, and the
//! whole low-to-high path runs under every policy at once.

use ferry_testkit::images;

use crate::fixture::Fixture;
use crate::plugin::write_wasm;
use crate::signatures::{cosign_sign, openssl_key};

const SBOM_TYPE: &str = "application/vnd.example.sbom.v1";

#[test]
fn deny_by_label_refuses_on_the_low_side_and_on_the_high_side() {
    let f = Fixture::new();
    let wasm = write_wasm(&f, "deny_by_label.wasm", ferry_plugin::examples::DENY_BY_LABEL);
    let policy = format!("plugin={wasm},label=component,deny=env");
    let refused_line = format!("refused: {} ({}): policy {policy}: label component=env is denied", f.src2, f.idx_digest());

    // Low side: every source is decided on first; one refused, nothing gathered or tagged.
    let run = f.run(&["mirror", "gather", "--policy", &policy, &f.sources, &f.mirror()]);
    run.expect_code(1);
    assert!(run.stderr.contains("1 of 2 artifacts refused by policy; nothing gathered"), "{}", run.stderr);
    assert!(run.stderr.contains(&refused_line), "{}", run.stderr);
    assert!(f.p.tags("low/mirror").is_empty(), "nothing tagged");
    assert!(!f.p.has_manifest("low/mirror", &f.img_digest()), "nothing copied, not even what was allowed");

    // High side: --check shows each verdict; the refused one is not planned.
    f.run(&["mirror", "gather", &f.sources, &f.mirror()]).expect_code(0);
    let run = f.run(&["mirror", "scatter", "--check", "--policy", &policy, &f.mirror(), &f.under("check")]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("allowed: {} ({}): label component=core", f.src1, f.img_digest())), "{}", run.stdout);
    assert!(run.stdout.contains(&refused_line), "{}", run.stdout);
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with("sending ")).count(), 1, "{}", run.stdout);

    // scatter: nothing placed, exit 1, the report names the policy and the reason.
    let report = f.home.path().join("policy-report.json");
    let run = f.run(&["mirror", "scatter", "--report", report.to_str().unwrap(), "--policy", &policy, &f.mirror(), &f.under("strict")]);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("1 of 2 artifacts refused by policy {policy}; nothing placed")), "{}", run.stderr);
    assert!(f.p.tags("high/strict/source1").is_empty(), "nothing placed");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let record = report["artifacts"].as_array().unwrap().iter().find(|a| a["digest"] == f.idx_digest().as_str()).unwrap();
    assert_eq!(record["reason"], format!("refused by policy {policy}: label component=env is denied"));

    // clone --continue: the allowed one is placed, the refused one is not, exit 1.
    let run = f.run(&["mirror", "clone", "--continue", "--policy", &policy, &f.sources, &f.under("clone")]);
    run.expect_code(1);
    assert!(run.stderr.contains("the rest placed"), "{}", run.stderr);
    assert!(f.holds("high/clone/source1", "v1", &f.img_digest()));
    assert!(!f.p.has_manifest("high/clone/source2", &f.idx_digest()));

    // unarchive: the labels travel in the gather index, so the same policy decides the same.
    let tar = f.home.path().join("labelled.tar");
    f.run(&["mirror", "serialize", &f.mirror(), tar.to_str().unwrap()]).expect_code(0);
    let cache = f.home.path().join("cache");
    let args = ["mirror", "unarchive", "--check", "--cache", cache.to_str().unwrap(), "--policy", &policy, tar.to_str().unwrap()];
    let run = f.run(&[&args[..], &[f.under("unarchived").as_str()]].concat());
    run.expect_code(0);
    assert!(run.stdout.contains(&refused_line), "{}", run.stdout);
}

#[test]
fn a_bad_policy_stops_the_run_before_anything_moves() {
    let f = Fixture::gathered();
    let deny = write_wasm(&f, "deny_by_label.wasm", ferry_plugin::examples::DENY_BY_LABEL);
    let mapper = write_wasm(&f, "route_by_label.wasm", ferry_plugin::examples::ROUTE_BY_LABEL);
    // The policy's own error (it cannot decide): bad input, nothing placed.
    let run = f.run(&["mirror", "scatter", "--policy", &format!("plugin={deny},label=component"), &f.mirror(), &f.under("a")]);
    run.expect_code(2);
    assert!(run.stderr.contains("no \\\"deny\\\" value") || run.stderr.contains("no \"deny\" value"), "{}", run.stderr);
    assert!(f.p.tags("high/a/source1").is_empty());
    // A mapper is not a policy.
    let run = f.run(&["mirror", "scatter", "--policy", &format!("plugin={mapper}"), &f.mirror(), &f.under("b")]);
    run.expect_code(2);
    assert!(run.stderr.contains("not a ferry:plugin/policy@0.1.1 component"), "{}", run.stderr);
    // Not plugin=…
    let run = f.run(&["mirror", "gather", "--policy", "nest=x", &f.sources, &format!("{}/low/mirror:other", f.h())]);
    run.expect_code(2);
    assert!(run.stderr.contains("invalid policy \"nest=x\""), "{}", run.stderr);
    // Under plugins.requireSigned, a policy file is refused as any unsigned component is.
    let config = format!("{}plugins:\n  requireSigned: true\n  trustedKeys: []\n", f.reg.ferry_config());
    let run = ferry_tests::ferry(
        &f.home,
        &config,
        &["mirror", "scatter", "--policy", &format!("plugin={deny},label=c,deny=x"), &f.mirror(), &f.under("c")],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("plugins.requireSigned"), "{}", run.stderr);
}

#[test]
fn require_sbom_sees_referrers_and_signatures() {
    let f = Fixture::new();
    let dir = f.home.path();
    let wasm = write_wasm(&f, "require_sbom.wasm", ferry_plugin::examples::REQUIRE_SBOM);
    let (key, public) = openssl_key(dir, "site");
    images::artifact_with_subject(&f.p, "low/source1", &f.img1.manifest, 7);
    cosign_sign(&f.p, dir, "low/source1", &f.img1.manifest, &key);
    let policy = format!("plugin={wasm},types={SBOM_TYPE}");

    // Low side: source2 has no SBOM, so nothing is gathered.
    let run = f.run(&["mirror", "-r", "gather", "--policy", &policy, &f.sources, &f.mirror()]);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("refused: {} ({}): policy {policy}: no SBOM", f.src2, f.idx_digest())), "{}", run.stderr);
    // With an SBOM on source2 too, the gather goes through and carries the referrers.
    images::artifact_with_subject(&f.p, "low/source2", &f.idx1.index, 8);
    f.run(&["mirror", "-r", "gather", "--policy", &policy, &f.sources, &f.mirror()]).expect_code(0);

    // High side, signed=true: the signature checks use images.trustedKeys of the config even
    // without requireSigned; only source1 is signed.
    let config = format!("{}images:\n  trustedKeys: [{public}]\n", f.reg.ferry_config());
    let strict = format!("{policy},signed=true");
    let run = ferry_tests::ferry(
        &f.home,
        &config,
        &["mirror", "scatter", "--check", "-o", "json", "--policy", &strict, &f.mirror(), &f.under("x")],
    );
    run.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let verdict = |digest: String| plan["verdicts"].as_array().unwrap().iter().find(|v| v["digest"] == digest.as_str()).unwrap().clone();
    let signed = verdict(f.img_digest());
    assert_eq!((signed["allowed"].as_bool(), signed["signed"].as_bool()), (Some(true), Some(true)), "{plan}");
    assert!(signed["reason"].as_str().unwrap().contains("signed by sha256:"), "{plan}");
    let unsigned = verdict(f.idx_digest());
    assert_eq!(unsigned["allowed"], false, "{plan}");
    assert_eq!(unsigned["refusedBy"], format!("policy {strict}"), "{plan}");
    assert_eq!(unsigned["reason"], "an SBOM, but no signature by a trusted key", "{plan}");
    // Without the keys no signature is valid: both refused.
    let run = f.run(&["mirror", "scatter", "--check", "--policy", &strict, &f.mirror(), &f.under("y")]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with("refused: ")).count(), 2, "{}", run.stdout);
}

/// The whole path: images signed by the site, gathered with their SBOMs under a policy,
/// shipped as a signed delivery, loaded under the delivery policy, and scattered under the
/// image signature policy and the policy component together.
#[test]
fn low_side_to_high_side_under_every_policy() {
    let f = Fixture::new();
    let dir = f.home.path();
    let wasm = write_wasm(&f, "require_sbom.wasm", ferry_plugin::examples::REQUIRE_SBOM);
    let (key, public) = openssl_key(dir, "site");
    for (repo, subject, seed) in [("low/source1", &f.img1.manifest, 7), ("low/source2", &f.idx1.index, 8)] {
        images::artifact_with_subject(&f.p, repo, subject, seed);
        cosign_sign(&f.p, dir, repo, subject, &key);
    }
    let policy = format!("plugin={wasm},types={SBOM_TYPE},signed=true");
    let low_config = format!("{}images:\n  trustedKeys: [{public}]\n", f.reg.ferry_config());
    let low = |args: &[&str]| ferry_tests::ferry(&f.home, &low_config, args);
    low(&["plugin", "keygen", "officer"]).expect_code(0);
    low(&["mirror", "-r", "gather", "--policy", &policy, &f.sources, &f.mirror()]).expect_code(0);
    let tar = dir.join("delivery.tar");
    let officer_key = dir.join("officer.key");
    low(&["mirror", "-r", "serialize", "--sign", officer_key.to_str().unwrap(), &f.mirror(), tar.to_str().unwrap()]).expect_code(0);

    let high_config = format!(
        "{}deliveries:\n  requireSigned: true\n  trustedKeys: [officer.pub]\nimages:\n  requireSigned: true\n  trustedKeys: [{public}]\n",
        f.reg.ferry_config()
    );
    let high = |args: &[&str]| ferry_tests::ferry(&f.home, &high_config, args);
    let landing = format!("{}/high/landing:sync-1", f.h());
    let run = high(&["mirror", "deserialize", tar.to_str().unwrap(), &landing]);
    run.expect_code(0);
    assert!(run.stderr.contains("signed by") || run.stdout.contains("signed by"), "{}{}", run.stdout, run.stderr);
    let run = high(&["mirror", "-r", "scatter", "--policy", &policy, &landing, &f.under("final")]);
    run.expect_code(0);
    assert!(f.holds("high/final/source1", "v1", &f.img_digest()));
    assert!(f.p.has_manifest("high/final/source2", &f.idx_digest()));
    // The signatures and SBOMs followed their images.
    for (repo, subject) in [("high/final/source1", &f.img1.manifest), ("high/final/source2", &f.idx1.index)] {
        let tags = f.p.tags(repo);
        assert!(tags.contains(&format!("{}.sig", subject.digest.tag_schema())), "{repo}: {tags:?}");
        assert!(tags.contains(&subject.digest.tag_schema()), "{repo}: the SBOM's tag-schema index: {tags:?}");
    }
}

/// Under `plugins.requireSigned`, a policy comes from a bundle the officer signed, by name.
#[test]
fn a_policy_from_a_signed_bundle_runs_by_name() {
    let f = Fixture::gathered();
    f.run(&["plugin", "keygen", "officer"]).expect_code(0);
    let wasm = write_wasm(&f, "deny-by-label.wasm", ferry_plugin::examples::DENY_BY_LABEL);
    let bundle = format!("{}/plugins/site-policy:1.0.0", f.h());
    f.run(&["plugin", "bundle", "--name", "site-policy", "--version", "1.0.0", &wasm, "-o", &bundle]).expect_code(0);
    f.run(&["plugin", "sign", "--key", "officer.key", &bundle]).expect_code(0);
    let config = format!("{}plugins:\n  requireSigned: true\n  trustedKeys: [officer.pub]\n", f.reg.ferry_config());
    let high = |args: &[&str]| ferry_tests::ferry(&f.home, &config, args);
    high(&["plugin", "install", &bundle]).expect_code(0);
    let list: serde_json::Value = serde_json::from_str(&high(&["plugin", "list", "--json"]).expect_code(0).stdout).unwrap();
    assert_eq!((list[0]["name"].as_str(), list[0]["world"].as_str()), (Some("deny-by-label"), Some("policy")), "{list}");
    let run =
        high(&["mirror", "scatter", "--check", "--policy", "plugin=deny-by-label,label=component,deny=env", &f.mirror(), &f.under("n")]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("refused: {} ({}): policy plugin=deny-by-label", f.src2, f.idx_digest())), "{}", run.stdout);
    // The same component as a file is refused under the policy.
    let run =
        high(&["mirror", "scatter", "--check", "--policy", &format!("plugin={wasm},label=component,deny=env"), &f.mirror(), &f.under("m")]);
    run.expect_code(2);
    assert!(run.stderr.contains("refused by the trust policy"), "{}", run.stderr);
}
