//! `ferry mirror serialize` against real registries: ace-dt's layout, readable by GNU tar and
//! skopeo, truthful ledger offsets, and what EXISTING-IMAGEs and checkpoints leave out.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::process::Command;

mod damage;
mod foreign;
mod hostile;
mod layouts;
mod options;
mod receipt;
mod signed;
mod volumes;

use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{ferry, sha256, write_file};
use serde_json::Value;

/// Entry names of a tar, in order, from GNU tar.
fn entries(path: &std::path::Path) -> Vec<String> {
    let out = Command::new("tar").arg("-tf").arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

/// The `n`th (0-based) copy of a file in the tar.
fn member(path: &std::path::Path, name: &str, n: usize) -> Vec<u8> {
    let out = Command::new("tar").args(["-xOf"]).arg(path).arg(format!("--occurrence={}", n + 1)).arg(name).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Byte offset of the tar header of `blobs/sha256/<hex>` (a block starting with its path).
fn blob_header(tar: &[u8], hex: &str) -> usize {
    let name = format!("blobs/sha256/{hex}\0");
    (0..tar.len()).step_by(512).find(|&o| tar[o..].starts_with(name.as_bytes())).unwrap()
}

/// The offsets a checkpoint ledger records, in order.
fn ledger_offsets(ledger: &std::path::Path) -> Vec<usize> {
    std::fs::read_to_string(ledger)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["annotations"]["vnd.act3-ace.data.offset"].as_str().unwrap().parse().unwrap())
        .collect()
}

struct Gathered {
    reg: Registry,
    home: TestHome,
    img: images::Image,
    index: images::IndexFixture,
    gather_digest: String,
}

fn gathered() -> Gathered {
    let reg = Registry::start();
    let p = reg.pusher();
    let img = images::single_image(&p, "low/app", "v1", 80);
    let index = images::multi_platform_index(&p, "low/base", "v1", 81);
    let r = reg.addr();
    let home = TestHome::new();
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n{r}/low/base:v1\n"));
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]).expect_code(0);
    let gather_digest = sha256(&p.manifest("low/mirror", "sync-1").unwrap().1);
    Gathered { reg, home, img, index, gather_digest }
}

/// Serializes the gathered index to `NAME.tar` with a checkpoint ledger; returns the archive's
/// path, its bytes and the ledger's offsets.
fn serialize_with_ledger(g: &Gathered, config: &str, name: &str) -> (std::path::PathBuf, Vec<u8>, Vec<usize>) {
    let tar = g.home.path().join(format!("{name}.tar"));
    let ledger = g.home.path().join(format!("{name}.jsonl"));
    let src = format!("{}/low/mirror:sync-1", g.reg.addr());
    ferry(&g.home, config, &["mirror", "serialize", "--checkpoint", ledger.to_str().unwrap(), &src, tar.to_str().unwrap()]).expect_code(0);
    (tar.clone(), std::fs::read(&tar).unwrap(), ledger_offsets(&ledger))
}

#[test]
fn archive_layout_is_acedts_and_skopeo_reads_it() {
    let g = gathered();
    let r = g.reg.addr();
    let tar = g.home.path().join("sync-1.tar");
    // A file that is not an archive is replaced only with --force (see options.rs), and then
    // truncated: nothing of it survives.
    std::fs::write(&tar, b"stale bytes that must not survive").unwrap();
    let ledger = g.home.path().join("ledger.jsonl");
    let run = ferry(
        &g.home,
        &g.reg.ferry_config(),
        &[
            "mirror",
            "serialize",
            "--force",
            "--checkpoint",
            ledger.to_str().unwrap(),
            &format!("{r}/low/mirror:sync-1"),
            tar.to_str().unwrap(),
        ],
    );
    run.expect_code(0);

    let names = entries(&tar);
    assert_eq!(names[..4], ["oci-layout", "index.json", "blobs", "blobs/sha256"]);
    assert_eq!(names.last().unwrap(), "index.json");
    let blobs: Vec<&String> = names.iter().filter(|n| n.starts_with("blobs/sha256/")).collect();
    let unique: std::collections::HashSet<_> = blobs.iter().collect();
    assert_eq!(unique.len(), blobs.len(), "each digest once");
    assert_eq!(blobs[0], &format!("blobs/sha256/{}", g.gather_digest.trim_start_matches("sha256:")), "the gather index first");
    for d in [&g.img.manifest, &g.img.config, &g.img.layers[0], &g.index.index] {
        let name = format!("blobs/sha256/{}", d.digest.hex());
        assert!(names.contains(&name), "{name}");
        assert_eq!(sha256(&member(&tar, &name, 0)), d.digest.to_string());
    }

    let first: Value = serde_json::from_slice(&member(&tar, "index.json", 0)).unwrap();
    let last: Value = serde_json::from_slice(&member(&tar, "index.json", 1)).unwrap();
    assert_eq!(first["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(first["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "sync-1");
    assert_eq!(first["annotations"]["vnd.act3-ace.data.serialization.version"], "2");
    assert_eq!(last["manifests"][0], first["manifests"][0]);
    // Every manifest: gather index, image, index and its four children.
    assert_eq!(last["manifests"].as_array().unwrap().len(), 3 + g.index.children.len());
    assert!(String::from_utf8(member(&tar, "index.json", 0)).unwrap().starts_with("{\n  \"schemaVersion\": 2,"));

    // skopeo reads ferry's archive by the root's ref.name.
    let out = Command::new("skopeo").args(["inspect", "--raw"]).arg(format!("oci-archive:{}:sync-1", tar.display())).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sha256(&out.stdout), g.gather_digest);

    // The ledger: one line per blob, in order, each offset a block boundary within the file.
    let size = std::fs::metadata(&tar).unwrap().len();
    let lines: Vec<Value> = std::fs::read_to_string(&ledger).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), blobs.len());
    assert_eq!(lines[0]["digest"], g.gather_digest);
    let offsets: Vec<u64> = lines.iter().map(|l| l["annotations"]["vnd.act3-ace.data.offset"].as_str().unwrap().parse().unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]) && offsets.iter().all(|o| o % 512 == 0 && *o < size));
    // Cut the archive at a ledger offset: GNU tar still lists every blob before it.
    let cut = g.home.path().join("cut.tar");
    std::fs::write(&cut, &std::fs::read(&tar).unwrap()[..offsets[2] as usize]).unwrap();
    let partial = Command::new("tar").arg("-tf").arg(&cut).output().unwrap();
    let listed = String::from_utf8_lossy(&partial.stdout);
    for l in &lines[..3] {
        assert!(listed.contains(l["digest"].as_str().unwrap().trim_start_matches("sha256:")), "{listed}");
    }
}

#[test]
fn existing_images_and_checkpoints_leave_blobs_out() {
    let g = gathered();
    let r = g.reg.addr();
    let config = g.reg.ferry_config();

    // EXISTING-IMAGE: its config and layers stay out, its manifest stays in.
    let tar = g.home.path().join("delta.tar");
    ferry(&g.home, &config, &["mirror", "serialize", &format!("{r}/low/mirror:sync-1"), tar.to_str().unwrap(), &format!("{r}/low/app:v1")])
        .expect_code(0);
    let names = entries(&tar);
    assert!(names.contains(&format!("blobs/sha256/{}", g.img.manifest.digest.hex())));
    for d in [&g.img.config, &g.img.layers[0], &g.img.layers[1]] {
        assert!(!names.contains(&format!("blobs/sha256/{}", d.digest.hex())), "{} should be left out", d.digest);
    }

    // Checkpoint resume, with the new ledger at the same path as the old one.
    let ledger = g.home.path().join("cp:1.jsonl");
    let first = g.home.path().join("first.tar");
    ferry(
        &g.home,
        &config,
        &["mirror", "serialize", "--checkpoint", ledger.to_str().unwrap(), &format!("{r}/low/mirror:sync-1"), first.to_str().unwrap()],
    )
    .expect_code(0);
    let lines: Vec<Value> = std::fs::read_to_string(&ledger).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let cut_at = lines[3]["annotations"]["vnd.act3-ace.data.offset"].as_str().unwrap().to_owned();
    let second = g.home.path().join("second.tar");
    let arg = format!("{}:{cut_at}", ledger.display());
    ferry(
        &g.home,
        &config,
        &[
            "mirror",
            "serialize",
            "--checkpoint",
            ledger.to_str().unwrap(),
            "--existing-from-checkpoint",
            &arg,
            &format!("{r}/low/mirror:sync-1"),
            second.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    // The blob whose entry ends exactly at the offset is on the media too.
    let names = entries(&second);
    for l in &lines[..=3] {
        assert!(!names.contains(&format!("blobs/sha256/{}", l["digest"].as_str().unwrap().trim_start_matches("sha256:"))));
    }
    for l in &lines[4..] {
        assert!(names.contains(&format!("blobs/sha256/{}", l["digest"].as_str().unwrap().trim_start_matches("sha256:"))));
    }
    let new_lines = std::fs::read_to_string(&ledger).unwrap().lines().count();
    assert_eq!(new_lines, lines.len() - 4, "the new ledger records what the second archive carries");

    // Bad checkpoint arguments are usage errors.
    let run = ferry(
        &g.home,
        &config,
        &["mirror", "serialize", "--existing-from-checkpoint", "nocolon", &format!("{r}/low/mirror:sync-1"), second.to_str().unwrap()],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("FILE:OFFSET"), "{}", run.stderr);
}

/// `--compression` compresses the whole stream; GNU tar reads it back; an unknown value is a
/// usage error, not a silent plain archive.
#[test]
fn compressed_archives() {
    let g = gathered();
    let r = g.reg.addr();
    let config = g.reg.ferry_config();
    for (kind, magic, flag) in [("gzip", &[0x1f, 0x8b][..], "-z"), ("zstd", &[0x28, 0xb5, 0x2f, 0xfd][..], "--zstd")] {
        let tar = g.home.path().join(format!("a.tar.{kind}"));
        ferry(&g.home, &config, &["mirror", "serialize", "--compression", kind, &format!("{r}/low/mirror:sync-1"), tar.to_str().unwrap()])
            .expect_code(0);
        let bytes = std::fs::read(&tar).unwrap();
        assert_eq!(&bytes[..magic.len()], magic, "{kind}");
        let out = Command::new("tar").arg(flag).arg("-tf").arg(&tar).output().unwrap();
        assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(listing.starts_with("oci-layout\nindex.json\nblobs\nblobs/sha256\n"), "{listing}");
        assert!(listing.contains(&g.img.layers[0].digest.hex().to_string()));
    }
    let run = ferry(&g.home, &config, &["mirror", "serialize", "--compression", "zstd9", &format!("{r}/low/mirror:sync-1"), "x.tar"]);
    run.expect_code(2);
    assert!(run.stderr.contains("zstd9"), "{}", run.stderr);
}

/// `verify` passes good archives, plain or compressed, and names the entry and byte offset
/// of each kind of damage.
#[test]
fn verify_finds_damage() {
    let g = gathered();
    let r = g.reg.addr();
    let config = g.reg.ferry_config();
    let (tar, good, offsets) = serialize_with_ledger(&g, &config, "good");
    let run = ferry(&g.home, &config, &["mirror", "verify", tar.to_str().unwrap()]);
    run.expect_code(0);
    // The gather index, the image, the index and its four children; nothing absent.
    assert!(run.stdout.contains("7 manifests (5 images); 0 referenced blobs not in this archive"), "{}", run.stdout);
    let zst = g.home.path().join("good.tar.zst");
    ferry(&g.home, &config, &["mirror", "serialize", "--compression", "zstd", &format!("{r}/low/mirror:sync-1"), zst.to_str().unwrap()])
        .expect_code(0);
    assert!(ferry(&g.home, &config, &["mirror", "verify", zst.to_str().unwrap()]).expect_code(0).stdout.contains("zstd tar"));

    let layer = g.img.layers[0].digest.hex().to_string();
    // The layer's tar header: a block that starts with its path.
    let header = blob_header(&good, &layer);
    let header_at = header + 13;
    let damaged: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "flipped byte in a blob",
            {
                let mut b = good.clone();
                b[header_at - 13 + 512 + 3] ^= 0xff;
                b
            },
            "content has digest",
        ),
        ("cut inside a blob", good[..header_at - 13 + 512 + 10].to_vec(), "after 10 of"),
        ("cut at a blob boundary", good[..offsets[3]].to_vec(), "without an end-of-archive marker (truncated?)"),
        (
            "garbage instead of a header",
            {
                let mut b = good.clone();
                b[offsets[1]..offsets[1] + 512].fill(b'x');
                b
            },
            "after entry",
        ),
    ];
    for (what, bytes, needle) in damaged {
        let path = g.home.path().join("bad.tar");
        std::fs::write(&path, &bytes).unwrap();
        let run = ferry(&g.home, &config, &["mirror", "verify", path.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{what}: {run:?}");
        assert!(run.stderr.contains(needle), "{what}: {}", run.stderr);
    }
    // The flipped byte is reported with its entry and the header's byte offset.
    let mut b = good.clone();
    b[header_at - 13 + 512 + 3] ^= 0xff;
    std::fs::write(g.home.path().join("bad.tar"), &b).unwrap();
    let run = ferry(&g.home, &config, &["mirror", "verify", g.home.path().join("bad.tar").to_str().unwrap()]);
    assert!(run.stderr.contains(&format!("entry \"blobs/sha256/{layer}\" at byte {}", header_at - 13)), "{}", run.stderr);
}

/// gather → serialize → deserialize into a fresh registry: the root tagged, every digest the
/// same; `--strict` accepts ferry's archives; a dry run writes nothing.
#[test]
fn round_trip_through_an_archive() {
    let g = gathered();
    let high = Registry::start();
    let (r, h) = (g.reg.addr(), high.addr());
    let config = ferry_tests::config_for(&[&g.reg, &high]);
    let q = high.pusher();
    for (n, compression) in [(1, None), (2, Some("zstd")), (3, Some("gzip"))] {
        let tar = g.home.path().join(format!("rt{n}.tar"));
        let mut args = vec!["mirror", "serialize"];
        if let Some(c) = compression {
            args.extend(["--compression", c]);
        }
        let (src, dst) = (format!("{r}/low/mirror:sync-1"), tar.to_str().unwrap().to_owned());
        args.extend([src.as_str(), dst.as_str()]);
        ferry(&g.home, &config, &args).expect_code(0);

        let dry = ferry(&g.home, &config, &["mirror", "deserialize", "--dry-run", &dst, &format!("{h}/high/mirror:dry")]);
        dry.expect_code(0);
        assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
        assert!(q.tags("high/mirror").iter().all(|t| t != "dry"));

        let target = format!("{h}/high/mirror{n}:sync-1");
        ferry(&g.home, &config, &["mirror", "deserialize", "--strict", &dst, &target]).expect_code(0);
        let repo = format!("high/mirror{n}");
        assert_eq!(sha256(&q.manifest(&repo, "sync-1").unwrap().1), g.gather_digest, "{compression:?}");
        for child in &g.index.children {
            assert_eq!(sha256(&q.manifest(&repo, &child.digest.to_string()).unwrap().1), child.digest.to_string());
        }
        for d in [&g.img.config, &g.img.layers[0], &g.img.layers[1]] {
            assert!(q.has_blob(&repo, &d.digest));
        }
    }
    // Into an OCI layout as well.
    let dir = g.home.path().join("layout");
    ferry(
        &g.home,
        &config,
        &["mirror", "deserialize", g.home.path().join("rt1.tar").to_str().unwrap(), &format!("oci:{}:sync-1", dir.display())],
    )
    .expect_code(0);
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], g.gather_digest);
    assert!(dir.join("blobs/sha256").join(g.img.layers[1].digest.hex()).exists());
}

/// A damaged archive leaves no tag and no bad blob; a cut one is completed by a second archive
/// made from the first one's ledger.
#[test]
fn damage_and_resume() {
    let g = gathered();
    let high = Registry::start();
    let (r, h) = (g.reg.addr(), high.addr());
    let config = ferry_tests::config_for(&[&g.reg, &high]);
    let q = high.pusher();
    let (_, good, offsets) = serialize_with_ledger(&g, &config, "full");
    let ledger = g.home.path().join("full.jsonl");

    // A flipped byte in a layer: refused, nothing tagged, the bad blob not stored.
    let layer = g.img.layers[0].digest.hex().to_string();
    let header = blob_header(&good, &layer);
    let mut bad = good.clone();
    bad[header + 512 + 5] ^= 0xff;
    let bad_path = g.home.path().join("bad.tar");
    std::fs::write(&bad_path, &bad).unwrap();
    let run = ferry(&g.home, &config, &["mirror", "deserialize", bad_path.to_str().unwrap(), &format!("{h}/high/bad:sync-1")]);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("blobs/sha256/{layer}")) && run.stderr.contains(&format!("at byte {header}")), "{}", run.stderr);
    assert!(q.tags("high/bad").is_empty());
    assert!(!q.has_blob("high/bad", &g.img.layers[0].digest));

    // Cut at a blob boundary (a partial tape): what was read lands, nothing is tagged.
    let cut = g.home.path().join("cut.tar");
    std::fs::write(&cut, &good[..offsets[3]]).unwrap();
    let run = ferry(&g.home, &config, &["mirror", "deserialize", cut.to_str().unwrap(), &format!("{h}/high/resumed:sync-1")]);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("ends at byte {} without an end-of-archive marker (truncated?)", offsets[3])), "{}", run.stderr);
    assert!(q.tags("high/resumed").is_empty());

    // The second archive carries the rest; into the same repository it completes the image.
    let rest = g.home.path().join("rest.tar");
    let arg = format!("{}:{}", ledger.display(), offsets[3]);
    ferry(
        &g.home,
        &config,
        &["mirror", "serialize", "--existing-from-checkpoint", &arg, &format!("{r}/low/mirror:sync-1"), rest.to_str().unwrap()],
    )
    .expect_code(0);
    assert!(std::fs::metadata(&rest).unwrap().len() < good.len() as u64);
    ferry(&g.home, &config, &["mirror", "deserialize", rest.to_str().unwrap(), &format!("{h}/high/resumed:sync-1")]).expect_code(0);
    assert_eq!(sha256(&q.manifest("high/resumed", "sync-1").unwrap().1), g.gather_digest);
    for d in [&g.img.config, &g.img.layers[0], &g.img.layers[1]] {
        assert!(q.has_blob("high/resumed", &d.digest));
    }
}

/// `archive` = gather into a local cache + serialize; `--reference` names the root; an
/// EXISTING-IMAGE is accepted (ace-dt refused any).
#[test]
fn archive_gathers_and_serializes_in_one_step() {
    let reg = Registry::start();
    let high = Registry::start();
    let p = reg.pusher();
    let img = images::single_image(&p, "low/app", "v1", 90);
    let other = images::single_image(&p, "low/other", "v1", 91);
    let (r, h) = (reg.addr(), high.addr());
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg, &high]);
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n{r}/low/other:v1\n"));
    let cache = home.path().join("cache");
    let tar = home.path().join("sync-9.tar");
    let run = ferry(
        &home,
        &config,
        &[
            "mirror",
            "archive",
            "--reference",
            "sync-9",
            "--cache",
            cache.to_str().unwrap(),
            &list,
            tar.to_str().unwrap(),
            &format!("{r}/low/other:v1"),
        ],
    );
    run.expect_code(0);
    let first: Value = serde_json::from_slice(&member(&tar, "index.json", 0)).unwrap();
    assert_eq!(first["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "sync-9");
    let names = entries(&tar);
    assert!(names.contains(&format!("blobs/sha256/{}", img.layers[0].digest.hex())));
    assert!(!names.contains(&format!("blobs/sha256/{}", other.layers[0].digest.hex())), "left out: EXISTING-IMAGE");
    // The high side already has `other`; the archive completes the rest.
    let seed = write_file(&home, "seed.list", &format!("{r}/low/other:v1\n"));
    ferry(&home, &config, &["mirror", "gather", &seed, &format!("{h}/high/x:seed")]).expect_code(0);
    ferry(&home, &config, &["mirror", "deserialize", tar.to_str().unwrap(), &format!("{h}/high/x:sync-9")]).expect_code(0);
    let q = high.pusher();
    assert_eq!(sha256(&q.manifest("high/x", "sync-9").unwrap().1), first["manifests"][0]["digest"].as_str().unwrap());
    assert!(q.has_blob("high/x", &img.layers[1].digest));
}

/// Writes an archive the way ace-dt lays it out (spec §2, §12.3): `oci-layout`, an
/// `index.json` with only M, M and its blobs, R (subject M) and its blobs, R2 (subject R) and
/// its blobs, and a final `index.json` listing M, R and R2: the referrers appear only there.
/// With `extra_index`, a third `index.json {M, R}` comes after R's blobs.
fn acedt_archive(p: &ferry_testkit::Pusher, repo: &str, extra_index: bool) -> (Vec<u8>, images::Image, images::Image, images::Image) {
    use ferry_archive::{ArchiveWriter, Plain};
    let m = images::single_image(p, repo, "m", 100);
    let r1 = images::artifact(p, repo, None, 101, Some(&m.manifest));
    let r2 = images::artifact(p, repo, None, 102, Some(&r1.manifest));
    let index = |ds: &[&ferry_oci::Descriptor]| {
        let mut i = ferry_oci::Index::new();
        i.manifests = ds.iter().map(|d| (*d).clone()).collect();
        ferry_oci::gojson::to_vec_pretty(&i)
    };
    let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
    w.write_oci_layout().unwrap();
    w.write_index(&index(&[&m.manifest])).unwrap();
    for (k, img) in [&m, &r1, &r2].into_iter().enumerate() {
        w.write_blob(&img.manifest, img.bytes.as_slice()).unwrap();
        for d in std::iter::once(&img.config).chain(&img.layers) {
            w.write_blob(d, p.blob(repo, &d.digest).as_slice()).unwrap();
        }
        if extra_index && k == 1 {
            w.write_index(&index(&[&m.manifest, &r1.manifest])).unwrap();
        }
    }
    w.write_index(&index(&[&m.manifest, &r1.manifest, &r2.manifest])).unwrap();
    (w.finish().unwrap().into_inner(), m, r1, r2)
}

#[test]
fn reads_archives_laid_out_as_acedt_writes_them() {
    let low = Registry::start();
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&high]);
    let q = high.pusher();
    let (bytes, m, r1, r2) = acedt_archive(&low.pusher(), "src/app", false);
    let tar = home.path().join("acedt.tar");
    std::fs::write(&tar, &bytes).unwrap();
    ferry(&home, &config, &["mirror", "deserialize", "--strict", tar.to_str().unwrap(), &format!("{}/testreferrer:sync-1", high.addr())])
        .expect_code(0);
    assert_eq!(sha256(&q.manifest("testreferrer", "sync-1").unwrap().1), m.manifest.digest.to_string());
    let (_, got) = q.manifest("testreferrer", &r1.manifest.digest.to_string()).unwrap();
    let got: Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(got["subject"]["digest"], m.manifest.digest.to_string());
    assert!(q.has_manifest("testreferrer", &r2.manifest.digest.to_string()));
    // Discoverable as referrers on a registry without the referrers API.
    let listed = q.manifest_json("testreferrer", &m.manifest.digest.tag_schema());
    assert_eq!(listed["manifests"][0]["digest"], r1.manifest.digest.to_string());

    // Three index.json: fine without --strict, refused with it (spec §12.3.4).
    let (bytes, ..) = acedt_archive(&low.pusher(), "src/app2", true);
    std::fs::write(&tar, &bytes).unwrap();
    ferry(&home, &config, &["mirror", "deserialize", tar.to_str().unwrap(), &format!("{}/testreferrer:sync-2", high.addr())])
        .expect_code(0);
    let run = ferry(
        &home,
        &config,
        &["mirror", "deserialize", "--strict", tar.to_str().unwrap(), &format!("{}/testreferrer:sync-3", high.addr())],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("more than 2 index.json"), "{}", run.stderr);
    assert!(!q.tags("testreferrer").contains(&"sync-3".to_owned()));
}
