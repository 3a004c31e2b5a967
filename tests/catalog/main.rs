//! The delivery catalog through the command line: every archive recorded, receipts imported,
//! `serialize --catalog` leaving out what the high side confirmed under any name and sending
//! again what was lost, `catalog list|where|gaps`, receipt policies, and two ferry processes
//! writing one PostgreSQL catalog at once.

mod hostile;

use std::collections::BTreeSet;
use std::path::Path;

use ferry_oci::{Descriptor, gojson, media_type};
use ferry_testkit::push::Pusher;
use ferry_testkit::{Registry, TestHome};
use ferry_tests::{Run, ferry, tar_entries, write_file};
use serde_json::{Value, json};

/// An image of `base` and one layer of its own (from `seed`), tagged `tag` in `repo`.
pub(crate) fn layered(p: &Pusher, repo: &str, tag: &str, base: &[u8], seed: u8) -> Descriptor {
    let layer_type = "application/vnd.oci.image.layer.v1.tar";
    let base = p.push_blob(repo, layer_type, base);
    let own = p.push_blob(repo, layer_type, &vec![seed; 700 + usize::from(seed)]);
    let config = p.push_blob(repo, media_type::OCI_CONFIG, format!("{{\"seed\":{seed}}}").as_bytes());
    let manifest = json!({ "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config, "layers": [base, own] });
    p.push_manifest(repo, tag, media_type::OCI_MANIFEST, &gojson::to_vec(&manifest))
}

/// A low side and a high side, each with its own registry, and the ferry home of each.
pub(crate) struct Sides {
    pub(crate) low: Registry,
    pub(crate) high: Registry,
    pub(crate) home: TestHome,
    pub(crate) config: String,
}

impl Sides {
    pub(crate) fn new() -> Sides {
        let (low, high) = (Registry::start(), Registry::start());
        let config = ferry_tests::config_for(&[&low, &high]);
        Sides { low, high, home: TestHome::new(), config }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        ferry(&self.home, &self.config, args)
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.home.path().join(name).to_str().unwrap().to_owned()
    }

    /// Gathers `images` (repository:tag on the low registry) as `low/mirror:TAG`.
    pub(crate) fn gather(&self, tag: &str, images: &[&str]) -> String {
        let r = self.low.addr();
        let list: String = images.iter().map(|i| format!("{r}/{i}\n")).collect();
        let index = format!("{r}/low/mirror:{tag}");
        self.run(&["mirror", "gather", &write_file(&self.home, &format!("{tag}.list"), &list), &index]).expect_code(0);
        index
    }

    /// Loads `archive` into the high side's staging repository under `tag`, with a receipt.
    pub(crate) fn load(&self, archive: &str, tag: &str) -> String {
        let receipt = self.path(&format!("{tag}.receipt.json"));
        let dest = format!("{}/in/gather:{tag}", self.high.addr());
        self.run(&["mirror", "deserialize", "--receipt", &receipt, &self.path(archive), &dest]).expect_code(0);
        receipt
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let run = self.run(args);
        run.expect_code(0);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    }
}

/// The blob digests an archive file carries.
pub(crate) fn carried(path: &str) -> BTreeSet<String> {
    tar_entries(Path::new(path))
        .into_iter()
        .filter_map(|(name, _, _)| name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()).map(|h| format!("sha256:{h}")))
        .collect()
}

#[test]
fn week_by_week_the_catalog_sends_what_was_lost_and_nothing_the_high_side_confirmed() {
    let s = Sides::new();
    let p = s.low.pusher();
    let base = vec![7u8; 4096];
    let a = layered(&p, "apps/a", "v1", &base, 1);
    let b = layered(&p, "apps/b", "v1", &vec![8u8; 2048], 2);
    let c = layered(&p, "apps/c", "v1", &vec![9u8; 3000], 3);
    // Week 2's new image shares a's base layer, sent and confirmed under another name.
    let f = layered(&p, "apps/f", "v1", &base, 6);

    // Week 1: three gathers, three archives, each recorded.
    for (tag, image) in [("w1a", "apps/a:v1"), ("w1b", "apps/b:v1"), ("w1c", "apps/c:v1")] {
        let index = s.gather(tag, &[image]);
        let run = s.run(&["mirror", "serialize", &index, &s.path(&format!("{tag}.tar"))]);
        run.expect_code(0);
        assert!(run.stdout.contains("in the delivery catalog as "), "{}", run.stdout);
    }
    let listed = s.json(&["catalog", "list", "-o", "json"]);
    let archives = listed["archives"].as_array().unwrap();
    assert_eq!(archives.len(), 3, "{listed}");
    assert!(archives.iter().all(|a| a["status"] == "sent"), "{listed}");
    assert!(archives[2]["location"].as_str().unwrap().ends_with("/w1c.tar"), "{listed}");

    // `where` finds a's base layer at its offset in w1a.tar: the bytes there are its entry.
    let base_digest = a_layer(&s, &a, 0);
    let found = s.json(&["catalog", "where", &base_digest, "-o", "json"]);
    let holding = &found["holdings"][0];
    assert!(holding["location"].as_str().unwrap().ends_with("/w1a.tar"), "{found}");
    let offset = holding["offset"].as_u64().unwrap() as usize;
    let tar = std::fs::read(s.path("w1a.tar")).unwrap();
    let name = format!("blobs/sha256/{}", base_digest.trim_start_matches("sha256:"));
    assert_eq!(&tar[offset..offset + name.len()], name.as_bytes(), "the offset is where the entry's header starts");
    assert_eq!(holding["confirmed"], false);

    // The high side loads two and loses the third; the receipts come back.
    let r1 = s.load("w1a.tar", "w1a");
    let r2 = s.load("w1b.tar", "w1b");
    let imported = s.run(&["catalog", "import", &r1, &r2]);
    imported.expect_code(0);
    assert!(imported.stdout.contains("1 archives loaded"), "{}", imported.stdout);
    let again = s.run(&["catalog", "import", &r1]);
    again.expect_code(0);
    assert!(again.stdout.contains("imported before; nothing changed"), "{}", again.stdout);

    let gaps = s.json(&["catalog", "gaps", "-o", "json"]);
    let gaps = gaps["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(gaps[0]["location"].as_str().unwrap().ends_with("/w1c.tar"), "{gaps:?}");
    assert!(gaps[0]["unconfirmed"].as_array().unwrap().contains(&json!(c.digest.to_string())), "{gaps:?}");
    let text = s.run(&["catalog", "gaps"]);
    assert!(text.stdout.contains("w1c.tar") && text.stdout.contains("not confirmed"), "{}", text.stdout);

    // Week 2: the same three images and a new one. With --catalog the archive carries the
    // lost gather's content, f's own blobs, and no blob the high side confirmed (manifests
    // always go).
    let index = s.gather("w2", &["apps/a:v1", "apps/b:v1", "apps/c:v1", "apps/f:v1"]);
    let report = s.path("w2.report.json");
    let week2 = s.run(&["mirror", "serialize", "--report", &report, "--catalog", &index, &s.path("w2.tar")]);
    week2.expect_code(0);
    let c_own = a_layer(&s, &c, 1);
    assert!(week2.stdout.contains(&format!("Sending again {c_own}")), "{}", week2.stdout);
    assert!(week2.stdout.contains("not confirmed by the receipt of"), "{}", week2.stdout);
    let sent = carried(&s.path("w2.tar"));
    for lost in [c.digest.to_string(), a_layer(&s, &c, 0), a_layer(&s, &c, 1)] {
        assert!(sent.contains(&lost), "the lost gather's {lost} is in week 2's archive");
    }
    assert!(sent.contains(&f.digest.to_string()) && sent.contains(&a_layer(&s, &f, 1)), "f's own blobs go");
    for confirmed in [base_digest.clone(), a_layer(&s, &a, 1), a_layer(&s, &b, 0), a_layer(&s, &b, 1)] {
        assert!(!sent.contains(&confirmed), "{confirmed} was confirmed: left out of week 2");
    }
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let blobs = report["blobs"].as_array().unwrap();
    let resent = blobs.iter().find(|b| b["digest"] == c_own).unwrap();
    assert!(resent["reason"].as_str().unwrap().starts_with("sent again: sent in "), "{resent}");
    let skipped = blobs.iter().find(|b| b["digest"] == base_digest).unwrap();
    assert_eq!((skipped["status"].as_str(), skipped["reason"].as_str()), (Some("skipped"), Some("the high side confirmed it")));

    // By source reference: c's manifest went in the lost archive and again in week 2.
    let by_name = s.json(&["catalog", "where", &format!("{}/apps/c:v1", s.low.addr()), "-o", "json"]);
    let places: Vec<&str> = by_name["holdings"].as_array().unwrap().iter().map(|h| h["location"].as_str().unwrap()).collect();
    assert!(places.len() == 2 && places[0].ends_with("/w1c.tar") && places[1].ends_with("/w2.tar"), "{by_name}");
    assert!(by_name["holdings"].as_array().unwrap().iter().all(|h| h["digest"] == c.digest.to_string()), "{by_name}");

    // Week 2 loads on the high side (into the same staging repository) and is confirmed:
    // the lost archive's content is confirmed with it, and the gap closes.
    let r3 = s.load("w2.tar", "w2");
    s.run(&["catalog", "import", &r3]).expect_code(0);
    let gaps = s.json(&["catalog", "gaps", "-o", "json"]);
    assert_eq!(gaps["gaps"], json!([]), "{gaps}");
    assert!(s.high.pusher().has_manifest("in/gather", &f.digest.to_string()));

    // A third delivery of the same images carries no blob of theirs at all: manifests only.
    let index = s.gather("w3", &["apps/a:v1", "apps/b:v1", "apps/c:v1", "apps/f:v1"]);
    let week3 = s.run(&["mirror", "serialize", "--catalog", &index, &s.path("w3.tar")]);
    week3.expect_code(0);
    let listed = s.json(&["catalog", "list", "-o", "json"]);
    let root = listed["archives"].as_array().unwrap().last().unwrap()["root"].as_str().unwrap().to_owned();
    let manifests: BTreeSet<String> = [&a, &b, &c, &f].iter().map(|m| m.digest.to_string()).chain([root]).collect();
    let sent = carried(&s.path("w3.tar"));
    assert!(sent.is_subset(&manifests), "{sent:?}");
    // Four configs, four layers of their own, three bases (a and f share one).
    assert!(
        week3.stdout.contains(": 11 blobs (") && week3.stdout.contains("left out as confirmed, 0 on their way, 0 sent again"),
        "{}",
        week3.stdout
    );
}

/// The digest of `image`'s layer `i`, read back from the low registry.
fn a_layer(s: &Sides, image: &Descriptor, i: usize) -> String {
    let repos = ["apps/a", "apps/b", "apps/c", "apps/f"];
    let p = s.low.pusher();
    let repo = repos.iter().find(|r| p.has_manifest(r, &image.digest.to_string())).unwrap();
    let manifest = p.manifest_json(repo, &image.digest.to_string());
    manifest["layers"][i]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn an_unconfirmed_archive_is_left_out_until_overdue_then_sent_again() {
    let s = Sides::new();
    let p = s.low.pusher();
    let a = layered(&p, "apps/a", "v1", &[5u8; 1500], 1);
    let index = s.gather("w1", &["apps/a:v1"]);
    s.run(&["mirror", "serialize", &index, &s.path("w1.tar")]).expect_code(0);

    // No receipt yet: the archive is on its way, and a second delivery leaves its blobs out.
    let index = s.gather("w2", &["apps/a:v1"]);
    let early = s.run(&["mirror", "serialize", "--catalog", &index, &s.path("w2.tar")]);
    early.expect_code(0);
    assert!(early.stdout.contains("on their way") && !early.stdout.contains(" 0 on their way"), "{}", early.stdout);
    let own = a_layer(&s, &a, 1);
    assert!(!carried(&s.path("w2.tar")).contains(&own) && carried(&s.path("w2.tar")).contains(&a.digest.to_string()));

    // Once older than --resend-after, it goes again, named.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let late = s.run(&["mirror", "serialize", "--catalog", "--resend-after", "1s", &index, &s.path("w3.tar")]);
    late.expect_code(0);
    assert!(late.stdout.contains(&format!("Sending again {own}")), "{}", late.stdout);
    assert!(late.stdout.contains("not confirmed after 1s"), "{}", late.stdout);
    assert!(carried(&s.path("w3.tar")).contains(&own));
}

#[test]
fn batch_serialize_with_the_catalog_leaves_out_blobs_sent_under_another_name() {
    let s = Sides::new();
    let p = s.low.pusher();
    let r = s.low.addr();
    let base = vec![4u8; 5000];
    let one = layered(&p, "apps/one", "v1", &base, 1);
    let two = layered(&p, "apps/two", "v1", &base, 2);
    let list = write_file(&s.home, "batch.csv", &format!("one,{r}/apps/one:v1\ntwo,{r}/apps/two:v1\n"));
    let with = s.path("with");
    let run = s.run(&["mirror", "batch-serialize", "--catalog", &list, &with]);
    run.expect_code(0);
    assert!(run.stdout.contains("1 on their way"), "{}", run.stdout);
    let plain = s.path("plain");
    s.run(&["mirror", "batch-serialize", &list, &plain]).expect_code(0);
    let base_digest = p.manifest_json("apps/one", "v1")["layers"][0]["digest"].as_str().unwrap().to_owned();
    let one_with = carried(&format!("{with}/000001-one.tar"));
    let two_with = carried(&format!("{with}/000002-two.tar"));
    assert!(one_with.contains(&base_digest) && one_with.contains(&one.digest.to_string()));
    // The base went in 000001-one.tar, on its way: two's archive leaves it out.
    assert!(!two_with.contains(&base_digest), "{two_with:?}");
    assert!(two_with.contains(&two.digest.to_string()) && !two_with.contains(&one.digest.to_string()));
    let two_plain = carried(&format!("{plain}/000002-two.tar"));
    assert!(two_plain.contains(&base_digest), "the per-name delta sends the base again under another name");
    // The trackers stay ace-dt's.
    let tracker = std::fs::read_to_string(format!("{with}/record-keeping.csv")).unwrap();
    assert_eq!(tracker.lines().count(), 3, "a header and a row per archive: {tracker}");
    let listed = s.json(&["catalog", "list", "-o", "json"]);
    assert_eq!(listed["archives"].as_array().unwrap().len(), 4, "{listed}");
}

#[test]
fn two_ferry_processes_write_one_postgres_catalog_at_once_and_lose_nothing() {
    let pg = ferry_testkit::postgres::Postgres::start();
    let s = Sides::new();
    let p = s.low.pusher();
    let config = format!("{}catalog:\n  url: \"{}\"\n", s.config, pg.url());
    for i in 0..6u8 {
        layered(&p, &format!("apps/n{i}"), "v1", &vec![i; 9000], i + 10);
    }
    let r = s.low.addr();
    let lists: Vec<String> = (0..2)
        .map(|side| {
            let rows: String = (0..3).map(|i| format!("n{}{i},{r}/apps/n{}:v1\n", side, side * 3 + i)).collect();
            write_file(&s.home, &format!("batch{side}.csv"), &rows)
        })
        .collect();
    let cfg = s.home.path().join("pg.yaml");
    std::fs::write(&cfg, &config).unwrap();
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = lists
            .iter()
            .enumerate()
            .map(|(side, list)| {
                let dir = s.path(&format!("sync{side}"));
                let cfg = cfg.to_str().unwrap().to_owned();
                let home = &s.home;
                scope.spawn(move || ferry_tests::ferry_raw(home, &["--config", &cfg, "mirror", "batch-serialize", "--catalog", list, &dir]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Both plan against the catalog as they write it; their images share nothing.
    for run in &runs {
        run.expect_code(0);
        assert_eq!(run.stdout.matches("in the delivery catalog as ").count(), 3, "{}", run.stdout);
        assert!(run.stdout.contains("0 blobs (0 B) left out as confirmed, 0 on their way, 0 sent again"), "{}", run.stdout);
    }
    let listed = ferry_tests::ferry_raw(&s.home, &["--config", cfg.to_str().unwrap(), "catalog", "list", "-o", "json"]);
    listed.expect_code(0);
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let archives = listed["archives"].as_array().unwrap();
    assert_eq!(archives.len(), 6, "{listed}");
    // Each archive's blobs as the file holds them: index, manifest, config and two layers.
    for a in archives {
        let file = a["location"].as_str().unwrap();
        assert_eq!(a["blobs"].as_u64().unwrap() as usize, carried(file).len(), "{a}");
    }
    // Nothing went to the default SQLite file.
    assert!(!s.home.path().join(".local/share/ferry/catalog.db").exists());
}

#[test]
fn receipts_are_imported_only_under_the_receipt_policy() {
    let s = Sides::new();
    let p = s.low.pusher();
    layered(&p, "apps/a", "v1", &[3u8; 900], 1);
    let index = s.gather("w1", &["apps/a:v1"]);
    s.run(&["mirror", "serialize", &index, &s.path("w1.tar")]).expect_code(0);
    s.run(&["plugin", "keygen", "high"]).expect_code(0);
    s.run(&["plugin", "keygen", "other"]).expect_code(0);
    let dest = format!("{}/in/gather:w1", s.high.addr());
    s.run(&["mirror", "deserialize", "--receipt", &s.path("signed.json"), "--sign", &s.path("high.key"), &s.path("w1.tar"), &dest])
        .expect_code(0);
    s.run(&["mirror", "receipt", &dest, "-o", &s.path("unsigned.json")]).expect_code(0);
    s.run(&["mirror", "receipt", "--sign", &s.path("other.key"), &dest, "-o", &s.path("other.json")]).expect_code(0);
    // A signed receipt with one byte changed.
    let mut bytes = std::fs::read(s.path("signed.json")).unwrap();
    let at = bytes.iter().position(|b| *b == b'T').unwrap();
    bytes[at] = b' ';
    std::fs::write(s.path("tampered.json"), &bytes).unwrap();
    std::fs::copy(s.path("signed.json.sig"), s.path("tampered.json.sig")).unwrap();

    let policy = format!("{}receipts:\n  requireSigned: true\n  trustedKeys: [high.pub]\n", s.config);
    let import = |files: &[&str]| {
        let paths: Vec<String> = files.iter().map(|f| s.path(f)).collect();
        let args: Vec<&str> = ["catalog", "import"].into_iter().chain(paths.iter().map(String::as_str)).collect();
        ferry(&s.home, &policy, &args)
    };
    for (file, why) in [
        ("unsigned.json", "not signed"),
        ("other.json", "no signature by a trusted key"),
        ("tampered.json", "no signature by a trusted key"),
    ] {
        // Even beside a good one, a refused receipt imports nothing.
        let refused = import(&["signed.json", file]);
        refused.expect_code(1);
        assert!(refused.stderr.contains(&format!("receipt {} refused by the receipt policy", s.path(file))), "{}", refused.stderr);
        assert!(refused.stderr.contains(why) && refused.stderr.contains("nothing imported"), "{}", refused.stderr);
    }
    assert_eq!(s.json(&["catalog", "list", "-o", "json"])["archives"][0]["status"], "sent");
    let ok = import(&["signed.json"]);
    ok.expect_code(0);
    assert!(ok.stdout.contains(", signed by "), "{}", ok.stdout);
    assert_eq!(s.json(&["catalog", "list", "-o", "json"])["archives"][0]["status"], "confirmed");
}
