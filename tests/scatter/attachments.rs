//! cosign's tag attachments (`sha256-<hex>.sig`, no `subject`) cross an archive with `-r`:
//! serialize names their tags in the final index.json, deserialize tags them, and scatter and
//! unarchive place them next to each destination. A tag that is not an attachment's is refused.

use ferry_testkit::{Registry, images};
use ferry_tests::{config_for, ferry, tar_entries, write_tar};
use serde_json::Value;

use crate::fixture::Fixture;

/// The archive's last index.json, parsed.
fn final_index(path: &std::path::Path) -> Value {
    let entries = tar_entries(path);
    let (_, bytes, _) = entries.iter().rev().find(|(n, _, _)| n == "index.json").expect("an index.json");
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn cosign_attachments_cross_the_archive_with_recursive() {
    let f = Fixture::new();
    let sig = images::cosign_signature(&f.p, "low/source1", &f.img1.manifest, 42);
    let sbom = images::artifact_with_subject(&f.p, "low/source1", &f.img1.manifest, 41);
    let sig_tag = format!("{}.sig", f.img1.manifest.digest.tag_schema());
    f.run(&["mirror", "-r", "gather", &f.sources, &f.mirror()]).expect_code(0);
    let tar = f.home.path().join("signed.tar");
    f.run(&["mirror", "-r", "serialize", &f.mirror(), tar.to_str().unwrap()]).expect_code(0);

    let index = final_index(&tar);
    let entry =
        index["manifests"].as_array().unwrap().iter().find(|m| m["digest"] == sig.manifest.digest.to_string()).expect("the .sig is listed");
    assert_eq!(entry["annotations"]["vnd.ferry.cosign.tag"], sig_tag.as_str(), "{entry}");
    assert_eq!(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "sync-1", "the root stays first");
    f.run(&["mirror", "verify", "--complete", tar.to_str().unwrap()]).expect_code(0);

    // The high side: deserialize tags the attachment in the gather's repository…
    let high = Registry::start();
    let config = config_for(&[&f.reg, &high]);
    let h = high.addr();
    let run = ferry(&f.home, &config, &["mirror", "deserialize", "--strict", tar.to_str().unwrap(), &format!("{h}/in/gather:w1")]);
    run.expect_code(0);
    assert!(run.stdout.contains("; 1 cosign attachment tagged"), "{}", run.stdout);
    let hp = high.pusher();
    let holds = |repo: &str, reference: &str, digest: &ferry_oci::Digest| {
        hp.manifest(repo, reference).is_some_and(|(_, bytes)| ferry_tests::sha256(&bytes) == digest.to_string())
    };
    assert!(holds("in/gather", &sig_tag, &sig.manifest.digest), "the .sig is tagged after deserialize");

    // …and scatter -r places it, with the SBOM referrer, next to each destination.
    let rule = format!("first-prefix={}", f.file("high.csv", &format!("H/low/,{h}/final/\n")));
    ferry(&f.home, &config, &["mirror", "-r", "scatter", &format!("{h}/in/gather:w1"), &rule]).expect_code(0);
    assert!(holds("final/source1", "v1", &f.img1.manifest.digest));
    assert!(holds("final/source1", &sig_tag, &sig.manifest.digest), "the .sig follows the image");
    let referrers = hp.manifest_json("final/source1", &f.img1.manifest.digest.tag_schema());
    assert!(referrers.to_string().contains(&sbom.manifest.digest.to_string()), "{referrers}");

    // unarchive -r: through its cache, the same.
    let rule = format!("first-prefix={}", f.file("unarch.csv", &format!("H/low/,{h}/unarchived/\n")));
    let cache = f.home.path().join("cache");
    ferry(&f.home, &config, &["mirror", "-r", "unarchive", "--cache", cache.to_str().unwrap(), tar.to_str().unwrap(), &rule])
        .expect_code(0);
    assert!(holds("unarchived/source1", &sig_tag, &sig.manifest.digest), "unarchive places the .sig");

    // Without -r nothing is named: the archive carries no attachment, nothing is tagged.
    let plain = f.home.path().join("plain.tar");
    f.run(&["mirror", "serialize", &f.mirror(), plain.to_str().unwrap()]).expect_code(0);
    assert!(!final_index(&plain).to_string().contains("vnd.ferry.cosign.tag"));
}

/// An archive whose index.json gives a manifest a tag that is not a cosign attachment's (here
/// `latest`, or the `.sig` tag of a manifest the archive does not hold) is refused before
/// anything is tagged.
#[test]
fn a_tag_that_is_not_an_attachments_is_refused() {
    let f = Fixture::new();
    images::cosign_signature(&f.p, "low/source1", &f.img1.manifest, 42);
    f.run(&["mirror", "-r", "gather", &f.sources, &f.mirror()]).expect_code(0);
    let tar = f.home.path().join("signed.tar");
    f.run(&["mirror", "-r", "serialize", &f.mirror(), tar.to_str().unwrap()]).expect_code(0);
    let sig_tag = format!("{}.sig", f.img1.manifest.digest.tag_schema());
    let elsewhere = format!("sha256-{}.sig", "0".repeat(64));

    for (n, hostile) in ["latest", elsewhere.as_str(), "sha256-zz.sig"].into_iter().enumerate() {
        let mut entries = tar_entries(&tar);
        let last = entries.iter().rposition(|(name, _, _)| name == "index.json").unwrap();
        let text = String::from_utf8(entries[last].1.clone()).unwrap();
        assert!(text.contains(&sig_tag));
        entries[last].1 = text.replace(&sig_tag, hostile).into_bytes();
        let path = f.home.path().join(format!("hostile-{n}.tar"));
        write_tar(&path, &entries);
        let dest = format!("{}/hostile/in:{n}", f.h());
        let run = f.run(&["mirror", "deserialize", path.to_str().unwrap(), &dest]);
        run.expect_code(1);
        assert!(run.stderr.contains("is not a cosign attachment tag of a manifest in this archive"), "{hostile}: {}", run.stderr);
        assert!(f.p.tags("hostile/in").is_empty(), "{hostile}: nothing tagged");
    }
}
