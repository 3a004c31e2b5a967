//! Site-approved plugin bundles: built, signed (cosign's format, checked with openssl),
//! installed and run by name under a policy that requires a trusted signature; every kind of
//! tampering refused with a message that says what and why; and a bundle carried across the
//! gap with the images, installed and run on the high side.

use base64::Engine as _;
use ferry_bundle::format::{self, Metadata};
use ferry_oci::layout::Layout;
use ferry_oci::{Descriptor, Digest};
use ferry_testkit::{Registry, TestHome};
use ferry_tests::{Run, ferry};

use crate::fixture::Fixture;
use crate::plugin::write_wasm;

/// A config that trusts `keys` (file names in the home) and requires signatures.
fn policy(base: &str, keys: &[&str]) -> String {
    format!("{base}plugins:\n  requireSigned: true\n  trustedKeys: [{}]\n", keys.join(", "))
}

/// The example rule and tracker and a sources parser (a copy of the built-in one) as files,
/// and a bundle of the three written to `dest`.
fn make_bundle(f: &Fixture, dest: &str) -> [String; 3] {
    let route = write_wasm(f, "route-by-label.wasm", ferry_plugin::examples::ROUTE_BY_LABEL);
    let tracker = write_wasm(f, "jsonl-tracker.wasm", ferry_plugin::examples::JSONL_TRACKER);
    let parser = write_wasm(f, "site-sources.wasm", ferry_plugin::builtin::SOURCES_LIST);
    let args = ["plugin", "bundle", "--name", "site-rules", "--version", "1.0.0", &route, &tracker, &parser, "-o", dest];
    f.run(&args).expect_code(0);
    [route, tracker, parser]
}

fn run_with(home: &TestHome, config: &str, args: &[&str]) -> Run {
    ferry(home, config, args)
}

fn expect_refusal(run: &Run, code: i32, needles: &[&str]) {
    run.expect_code(code);
    for n in needles {
        assert!(run.stderr.contains(n), "expected {n:?} in:\n{}", run.stderr);
    }
}

#[test]
fn a_signed_bundle_installs_and_runs_by_name_under_the_policy() {
    let f = Fixture::gathered();
    let h = f.h().to_owned();
    f.run(&["plugin", "keygen", "officer"]).expect_code(0);
    let mode = std::fs::metadata(f.home.path().join("officer.key")).unwrap().permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);
    let bundle = format!("{h}/plugins/site-rules:1.0.0");
    let [route, tracker, parser] = make_bundle(&f, &bundle);
    f.run(&["plugin", "sign", "--key", "officer.key", &bundle]).expect_code(0);

    // cosign's layout: a .sig tag whose layer is the simple-signing payload naming the bundle,
    // its signature in the annotation; openssl verifies it with the public key.
    let (_, manifest) = f.p.manifest("plugins/site-rules", "1.0.0").unwrap();
    let digest: Digest = ferry_tests::sha256(&manifest).parse().unwrap();
    let sig = f.p.manifest_json("plugins/site-rules", &format!("{}.sig", digest.tag_schema()));
    let layer = &sig["layers"][0];
    assert_eq!(layer["mediaType"], format::SIMPLE_SIGNING_MEDIA_TYPE);
    assert_eq!(sig["subject"]["digest"], digest.to_string());
    let payload = f.p.blob("plugins/site-rules", &layer["digest"].as_str().unwrap().parse().unwrap());
    assert_eq!(format::signed_digest(&payload), Some(digest.clone()));
    let signature =
        base64::engine::general_purpose::STANDARD.decode(layer["annotations"][format::SIGNATURE_ANNOTATION].as_str().unwrap()).unwrap();
    std::fs::write(f.home.path().join("payload"), &payload).unwrap();
    std::fs::write(f.home.path().join("payload.sig"), signature).unwrap();
    let openssl = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", "officer.pub", "-signature", "payload.sig", "payload"])
        .current_dir(f.home.path())
        .output()
        .unwrap();
    assert!(openssl.status.success(), "{}", String::from_utf8_lossy(&openssl.stderr));

    let config = policy(&f.reg.ferry_config(), &["officer.pub"]);
    let run = run_with(&f.home, &config, &["plugin", "install", &bundle]);
    run.expect_code(0);
    assert!(run.stdout.contains("signed by trusted key sha256:"), "{}", run.stdout);
    let list = run_with(&f.home, &config, &["plugin", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&list.expect_code(0).stdout).unwrap();
    let names: Vec<(&str, &str, bool)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["world"].as_str().unwrap(), r["trusted"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("route-by-label", "mapper", true), ("jsonl-tracker", "tracker", true), ("site-sources", "sources-parser", true)]);
    assert!(rows[0]["digest"] == digest.to_string());

    // Under the policy a component file is refused; the installed plugin runs by name.
    let by_file = format!("plugin={route},label=component,to.core={h}/high/core/");
    expect_refusal(
        &run_with(&f.home, &config, &["mirror", "scatter", &f.mirror(), &by_file]),
        2,
        &["refused by the trust policy", "route-by-label.wasm"],
    );
    assert!(!f.p.has_manifest("high/core/low/source1", "v1"));
    let by_name = format!("plugin=route-by-label,label=component,to.core={h}/high/core/");
    run_with(&f.home, &config, &["mirror", "scatter", &f.mirror(), &by_name]).expect_code(0);
    assert!(f.holds("high/core/low/source1", "v1", &f.img_digest()));

    // The tracker, too: by name it loads, as a file it is refused.
    std::fs::create_dir(f.home.path().join("sync")).unwrap();
    let dest = format!("{h}/high/batch");
    let run = run_with(&f.home, &config, &["mirror", "batch-deserialize", "sync", &dest, "--tracker", "jsonl-tracker"]);
    assert!(run.expect_code(0).stdout.contains("Nothing new"), "{}", run.stdout);
    let run = run_with(&f.home, &config, &["mirror", "batch-deserialize", "sync", &dest, "--tracker", &tracker]);
    expect_refusal(&run, 2, &["--tracker", "refused by the trust policy"]);
    // And the sources parser.
    let again = format!("{h}/low/mirror:sync-2");
    run_with(&f.home, &config, &["mirror", "gather", "--sources-parser", "site-sources", &f.sources, &again]).expect_code(0);
    let run = run_with(&f.home, &config, &["mirror", "gather", "--sources-parser", &parser, &f.sources, &again]);
    expect_refusal(&run, 2, &["--sources-parser", "site-sources.wasm: refused by the trust policy"]);
    // A mapper's name that is a tracker is refused as the wrong world.
    let run = run_with(&f.home, &config, &["mirror", "scatter", &f.mirror(), "plugin=jsonl-tracker"]);
    expect_refusal(&run, 2, &["not a ferry:plugin/mapper@0.1.1 component"]);

    // The store is checked at every load: a component changed after install is refused.
    let store = f.home.path().join(".local/share/ferry/plugins");
    let route_sha = rows[0]["sha256"].as_str().unwrap();
    std::fs::write(store.join("blobs/sha256").join(route_sha), ferry_plugin::builtin::HOSTILE).unwrap();
    let run = run_with(&f.home, &config, &["mirror", "scatter", &f.mirror(), &by_name]);
    expect_refusal(&run, 2, &["mapper plugin=route-by-label", "component route-by-label", route_sha]);
    std::fs::write(store.join("blobs/sha256").join(route_sha), ferry_plugin::examples::ROUTE_BY_LABEL).unwrap();

    // A key the policy no longer trusts stops the load, naming the bundle.
    f.run(&["plugin", "keygen", "successor"]).expect_code(0);
    let rotated = policy(&f.reg.ferry_config(), &["successor.pub"]);
    let run = run_with(&f.home, &rotated, &["mirror", "scatter", &f.mirror(), &by_name]);
    expect_refusal(&run, 2, &["refused by the trust policy", "bundle site-rules 1.0.0", "by none of the trusted keys"]);

    // A bundle whose metadata was damaged in the store is listed as unreadable, and can be removed.
    let bundle_digest = rows[0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("blobs/sha256").join(bundle_digest.trim_start_matches("sha256:"))).unwrap())
            .unwrap();
    let config_blob = store.join("blobs/sha256").join(manifest["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:"));
    std::fs::write(&config_blob, b"{}").unwrap();
    let list = run_with(&f.home, &config, &["plugin", "list"]);
    assert!(list.expect_code(0).stdout.contains("UNREADABLE"), "{}", list.stdout);
    let run = run_with(&f.home, &config, &["plugin", "remove", "site-rules"]);
    assert!(run.expect_code(0).stdout.contains("Removed bundle site-rules (it could not be read)"), "{}", run.stdout);
    let run = run_with(&f.home, &config, &["mirror", "scatter", &f.mirror(), &by_name]);
    expect_refusal(&run, 2, &["no installed plugin is named \"route-by-label\""]);
    let left: Vec<_> = std::fs::read_dir(store.join("blobs/sha256")).unwrap().collect();
    assert!(left.is_empty(), "remove leaves no blobs behind: {left:?}");
}

/// The layout `dir` (in the home) as a copy of `from`.
fn copy_layout(f: &Fixture, from: &str, to: &str) -> Layout {
    let out = std::process::Command::new("cp").args(["-r", from, to]).current_dir(f.home.path()).output().unwrap();
    assert!(out.status.success());
    Layout::open(f.home.path().join(to)).unwrap()
}

/// Rewrites the bundle in `layout` with `change` applied to its metadata (the manifest
/// rebuilt to match, as a forger would), tagged 1.0.0; returns the new digest.
fn forge(layout: &Layout, wasm: &[(&Descriptor, &[u8])], change: impl FnOnce(&mut Metadata)) -> Digest {
    let old = layout.resolve("1.0.0").unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&layout.read_blob(&old).unwrap()).unwrap();
    let config: Descriptor = serde_json::from_value(manifest["config"].clone()).unwrap();
    let mut metadata: Metadata = serde_json::from_slice(&layout.read_blob(&config).unwrap()).unwrap();
    change(&mut metadata);
    let (metadata_bytes, manifest) = format::bundle_manifest(&metadata).unwrap();
    layout.write_blob(&Descriptor::of_bytes(format::METADATA_MEDIA_TYPE, &metadata_bytes), metadata_bytes.as_slice()).unwrap();
    for (desc, bytes) in wasm {
        layout.write_blob(desc, *bytes).unwrap();
    }
    layout.write_blob(manifest.descriptor(), manifest.bytes()).unwrap();
    layout.tag(manifest.descriptor(), "1.0.0").unwrap();
    // The forger also hangs the old signature on the new digest.
    if let Ok(sig) = layout.resolve(&format!("{}.sig", old.digest.tag_schema())) {
        layout.tag(&sig, &format!("{}.sig", manifest.descriptor().digest.tag_schema())).unwrap();
    }
    manifest.descriptor().digest.clone()
}

#[test]
fn unsigned_untrusted_tampered_and_mislabelled_bundles_are_refused() {
    let f = Fixture::new();
    f.run(&["plugin", "keygen", "officer"]).expect_code(0);
    f.run(&["plugin", "keygen", "stranger"]).expect_code(0);
    make_bundle(&f, "oci:bundle:1.0.0");
    let config = policy(&f.reg.ferry_config(), &["officer.pub"]);
    let install = |b: &str| run_with(&f.home, &config, &["plugin", "install", b]);

    expect_refusal(&install("oci:bundle:1.0.0"), 2, &["bundle site-rules 1.0.0", "it is not signed"]);
    let run = run_with(&f.home, &config, &["plugin", "install", "--allow-unsigned", "oci:bundle:1.0.0"]);
    expect_refusal(&run, 2, &["--allow-unsigned: refused: plugins.requireSigned is on"]);
    f.run(&["plugin", "sign", "--key", "stranger.key", "oci:bundle:1.0.0"]).expect_code(0);
    expect_refusal(&install("oci:bundle:1.0.0"), 2, &["signed (1 signature), but by none of the trusted keys"]);
    // The officer co-signs: both signatures are kept, and the bundle is trusted.
    f.run(&["plugin", "sign", "--key", "officer.key", "oci:bundle:1.0.0"]).expect_code(0);
    let verify = run_with(&f.home, &config, &["plugin", "verify", "--json", "oci:bundle:1.0.0"]);
    let doc: serde_json::Value = serde_json::from_str(&verify.expect_code(0).stdout).unwrap();
    assert_eq!((doc["signatures"].as_u64(), doc["trusted"].as_bool()), (Some(2), Some(true)));

    // A component's bytes changed in place: its pinned sha256 no longer holds.
    let l = copy_layout(&f, "bundle", "swapped");
    let route = ferry_oci::Digest::sha256(ferry_plugin::examples::ROUTE_BY_LABEL);
    std::fs::write(l.blob_path(&route), ferry_plugin::builtin::HOSTILE).unwrap();
    let run = install("oci:swapped:1.0.0");
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("component route-by-label") && run.stderr.contains(&route.to_string()), "{}", run.stderr);

    // The metadata document changed in place.
    let l = copy_layout(&f, "bundle", "edited");
    let (_, config_desc) = metadata_of(&l);
    std::fs::write(l.blob_path(&config_desc.digest), br#"{"name":"site-rules","version":"9.9.9","components":[]}"#).unwrap();
    let run = install("oci:edited:1.0.0");
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains(&config_desc.digest.to_string()), "{}", run.stderr);

    // A component swapped for another, metadata and manifest rebuilt to match, the old
    // signature hung on the new digest: the signature names another manifest.
    let l = copy_layout(&f, "bundle", "forged");
    let hostile = Descriptor::of_bytes(format::WASM_MEDIA_TYPE, ferry_plugin::builtin::HOSTILE);
    let forged = forge(&l, &[(&hostile, ferry_plugin::builtin::HOSTILE)], |m| {
        m.components[0].sha256 = hostile.digest.hex().to_owned();
        m.components[0].size = hostile.size;
    });
    let run = install("oci:forged:1.0.0");
    expect_refusal(&run, 2, &[&forged.to_string(), "is for sha256:", "its manifest was changed after signing"]);

    // Metadata that claims another world for a component: refused to sign, refused to install.
    let l = copy_layout(&f, "bundle", "mislabelled");
    forge(&l, &[], |m| m.components[0].world = "tracker".to_owned());
    let refused = ["component route-by-label: the metadata says world tracker", "the component is a mapper"];
    expect_refusal(&f.run(&["plugin", "sign", "--key", "officer.key", "oci:mislabelled:1.0.0"]), 2, &refused);
    expect_refusal(&f.run(&["plugin", "install", "--allow-unsigned", "oci:mislabelled:1.0.0"]), 2, &refused);

    // Not a bundle at all.
    let run = f.run(&["plugin", "verify", &format!("{}/low/source1:v1", f.h())]);
    expect_refusal(&run, 2, &["not a plugin bundle: artifactType is (none)"]);
    assert!(run_with(&f.home, &config, &["plugin", "list"]).stdout.contains("No plugins installed"));

    // Without the policy, --allow-unsigned installs what no configured key vouches for, and
    // says so; the list shows it untrusted.
    let run = f.run(&["plugin", "install", "--allow-unsigned", "oci:bundle:1.0.0"]);
    assert!(run.expect_code(0).stderr.contains("warning: installing without a trusted signature"), "{}", run.stderr);
    let list = f.run(&["plugin", "list"]);
    assert!(list.expect_code(0).stdout.contains("not signed by a trusted key"), "{}", list.stdout);
}

fn metadata_of(l: &Layout) -> (Metadata, Descriptor) {
    let m: serde_json::Value = serde_json::from_slice(&l.read_blob(&l.resolve("1.0.0").unwrap()).unwrap()).unwrap();
    let config: Descriptor = serde_json::from_value(m["config"].clone()).unwrap();
    (serde_json::from_slice(&l.read_blob(&config).unwrap()).unwrap(), config)
}

#[test]
fn a_bundle_carried_across_the_gap_installs_and_runs_on_the_high_side() {
    // Low side: the bundle beside the images, signed, gathered and serialized with -r.
    let f = Fixture::new();
    let h = f.h().to_owned();
    f.run(&["plugin", "keygen", "officer"]).expect_code(0);
    let bundle = format!("{h}/low/plugins/site-rules:1.0.0");
    make_bundle(&f, &bundle);
    f.run(&["plugin", "sign", "--key", "officer.key", &bundle]).expect_code(0);
    let sources = std::fs::read_to_string(&f.sources).unwrap() + &bundle + "\n";
    let sources = ferry_tests::write_file(&f.home, "with-plugins.list", &sources);
    f.run(&["mirror", "-r", "gather", &sources, &f.mirror()]).expect_code(0);
    f.run(&["mirror", "-r", "serialize", &f.mirror(), "transfer.tar"]).expect_code(0);

    // High side: another registry and home; only the archive and the public key cross.
    let high = Registry::start();
    let home = TestHome::new();
    for file in ["transfer.tar", "officer.pub"] {
        std::fs::copy(f.home.path().join(file), home.path().join(file)).unwrap();
    }
    let hh = high.addr().to_owned();
    let config = policy(&high.ferry_config(), &["officer.pub"]);
    let run = |args: &[&str]| run_with(&home, &config, args);
    run(&["mirror", "deserialize", "transfer.tar", &format!("{hh}/high/mirror:sync-1")]).expect_code(0);
    let csv = ferry_tests::write_file(&home, "rule.csv", &format!("{h}/low/,{hh}/high/\n"));
    run(&["mirror", "-r", "scatter", &format!("{hh}/high/mirror:sync-1"), &format!("first-prefix={csv}")]).expect_code(0);
    let installed = run(&["plugin", "install", &format!("{hh}/high/plugins/site-rules:1.0.0")]);
    assert!(installed.expect_code(0).stdout.contains("signed by trusted key"), "{}", installed.stdout);
    let rule = format!("plugin=route-by-label,label=component,to.core={hh}/site/core/");
    run(&["mirror", "scatter", &format!("{hh}/high/mirror:sync-1"), &rule]).expect_code(0);
    let p = high.pusher();
    let (_, placed) = p.manifest("site/core/low/source1", "v1").expect("placed by the installed rule");
    assert_eq!(ferry_tests::sha256(&placed), f.img_digest());
}

#[test]
fn a_bundle_file_is_signed_in_place_and_installs_compressed_too() {
    let f = Fixture::new();
    f.run(&["plugin", "keygen", "officer"]).expect_code(0);
    let [route, ..] = make_bundle(&f, "site.tar");
    // A version that cannot be a tag needs a tag of its own in --output.
    let run = f.run(&["plugin", "bundle", "--name", "x", "--version", "1.0+build", &route, "-o", "oci:versions"]);
    expect_refusal(&run, 2, &["--version \"1.0+build\" cannot be a tag"]);
    f.run(&["plugin", "bundle", "--name", "x", "--version", "1.0+build", &route, "-o", "oci:versions:v1"]).expect_code(0);
    f.run(&["plugin", "sign", "--key", "officer.key", "site.tar"]).expect_code(0);
    assert!(!f.home.path().join("site.tar.partial").exists());
    f.run(&["plugin", "verify", "--key", "officer.pub", "site.tar"]).expect_code(0);
    let zstd =
        std::process::Command::new("zstd").args(["-q", "site.tar", "-o", "site.tar.zst"]).current_dir(f.home.path()).status().unwrap();
    assert!(zstd.success());
    let config = policy(&f.reg.ferry_config(), &["officer.pub"]);
    // Under the policy only the configured keys decide what is installed.
    let run = run_with(&f.home, &config, &["plugin", "install", "--key", "officer.pub", "site.tar.zst"]);
    expect_refusal(&run, 2, &["--key: refused: plugins.requireSigned is on"]);
    let run = run_with(&f.home, &config, &["plugin", "install", "site.tar.zst"]);
    assert!(run.expect_code(0).stdout.contains("signed by trusted key"), "{}", run.stdout);
    let run = run_with(&f.home, &config, &["plugin", "install", "missing.tar"]);
    expect_refusal(&run, 2, &["bundle missing.tar: no such file"]);
}

#[test]
fn a_passphrase_protects_the_officers_key() {
    let f = Fixture::new();
    make_bundle(&f, "oci:bundle:1.0.0");
    let cfg = f.home.path().join("ferry-config.yaml").display().to_string();
    let with = |pass: &[(&str, &str)], args: &[&str]| ferry_tests::ferry_env(&f.home, pass, &[&["--config", cfg.as_str()], args].concat());
    let secret = [("FERRY_KEY_PASSPHRASE", "correct horse battery")];
    let run = with(&secret, &["plugin", "keygen", "officer"]);
    assert!(run.expect_code(0).stdout.contains("encrypted with FERRY_KEY_PASSPHRASE"), "{}", run.stdout);
    let pem = std::fs::read_to_string(f.home.path().join("officer.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{pem}");

    expect_refusal(
        &with(&[], &["plugin", "sign", "--key", "officer.key", "oci:bundle:1.0.0"]),
        2,
        &["the key is encrypted", "FERRY_KEY_PASSPHRASE"],
    );
    let wrong = with(&[("FERRY_KEY_PASSPHRASE", "tr0ub4dor")], &["plugin", "sign", "--key", "officer.key", "oci:bundle:1.0.0"]);
    expect_refusal(&wrong, 2, &["officer.key: the passphrase does not open it"]);
    assert!(!wrong.stderr.contains("tr0ub4dor"), "the passphrase is never shown");
    with(&secret, &["plugin", "sign", "--key", "officer.key", "oci:bundle:1.0.0"]).expect_code(0);
    f.run(&["plugin", "verify", "--key", "officer.pub", "oci:bundle:1.0.0"]).expect_code(0);
}
