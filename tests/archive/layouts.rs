//! ace-dt's serialize and deserialize scenarios (spec §12.2, §12.3) that the other tests do
//! not already cover: resume from an empty ledger, a large block buffer, referrers with `-r`,
//! an EXISTING-IMAGE by digest, and layouts tarred in any order.

use ferry_testkit::rng::Rng;
use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{ferry, sha256, write_file};
use serde_json::Value;

use crate::entries;

#[test]
fn serialize_scenarios_of_acedt() {
    let reg = Registry::start();
    let high = Registry::start();
    let p = reg.pusher();
    let index = images::multi_platform_index(&p, "low/index", "sync-1", 60);
    let img = images::single_image(&p, "low/app", "v1", 61);
    let sig = images::artifact_with_subject(&p, "low/app", &img.manifest, 62);
    let (r, h) = (reg.addr(), high.addr());
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg, &high]);
    let src = format!("{r}/low/index:sync-1");

    // Resume from an empty ledger (§12.2.4) and a buffer of 4096 one-MiB blocks (§12.2.5).
    let empty = write_file(&home, "empty.jsonl", "");
    let tar = home.path().join("a.tar");
    ferry(&home, &config, &["mirror", "serialize", "--existing-from-checkpoint", &format!("{empty}:123456"), &src, tar.to_str().unwrap()])
        .expect_code(0);
    let big = home.path().join("b.tar");
    ferry(&home, &config, &["mirror", "serialize", "-m", "4096Mi", "-b", "1Mi", &src, big.to_str().unwrap()]).expect_code(0);
    assert_eq!(sha256(&std::fs::read(&big).unwrap()), sha256(&std::fs::read(&tar).unwrap()), "the buffer changes no byte");

    // EXISTING-IMAGE by the first child's digest (§12.2.3): its config is in no ledger line.
    let child = p.manifest_json("low/index", &index.children[0].digest.to_string());
    let ledger = home.path().join("cp.jsonl");
    ferry(
        &home,
        &config,
        &[
            "mirror",
            "serialize",
            "--checkpoint",
            ledger.to_str().unwrap(),
            &src,
            home.path().join("c.tar").to_str().unwrap(),
            &format!("{r}/low/index@{}", index.children[0].digest),
        ],
    )
    .expect_code(0);
    let lines = std::fs::read_to_string(&ledger).unwrap();
    assert!(!lines.is_empty());
    assert!(!lines.contains(child["config"]["digest"].as_str().unwrap()), "{lines}");
    assert!(lines.contains(&index.children[0].digest.to_string()), "manifests are never left out");

    // -r (§12.2.6): the referrer travels and lands on the high side with its subject.
    let rtar = home.path().join("r.tar");
    ferry(&home, &config, &["mirror", "-r", "serialize", &format!("{r}/low/app:v1"), rtar.to_str().unwrap()]).expect_code(0);
    assert!(entries(&rtar).contains(&format!("blobs/sha256/{}", sig.manifest.digest.hex())));
    ferry(&home, &config, &["mirror", "deserialize", rtar.to_str().unwrap(), &format!("{h}/high/app:v1")]).expect_code(0);
    let got = high.pusher().manifest_json("high/app", &sig.manifest.digest.to_string());
    assert_eq!(got["subject"]["digest"], img.manifest.digest.to_string());
}

/// A layout directory tarred the way ace-dt's tests do: directory-walk order with trailing
/// slashes and `./` (§12.3.2), or shuffled with duplicates and stray files, minimal headers
/// (§12.3.5). Non-strict deserialize reads both, whatever the order.
#[test]
fn reads_a_layout_tarred_in_any_order() {
    let reg = Registry::start();
    let high = Registry::start();
    let p = reg.pusher();
    images::multi_platform_index(&p, "low/base", "v1", 63);
    images::single_image(&p, "low/app", "v1", 64);
    let (r, h) = (reg.addr(), high.addr());
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg, &high]);
    let list = write_file(&home, "sources.list", &format!("{r}/low/base:v1\n{r}/low/app:v1\n"));
    let dir = home.path().join("layout");
    ferry(&home, &config, &["mirror", "gather", &list, &format!("oci:{}:root", dir.display())]).expect_code(0);
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let root = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let mut blobs: Vec<String> =
        std::fs::read_dir(dir.join("blobs/sha256")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    blobs.sort();

    // Directory-walk order: ./, ./blobs/, ./blobs/sha256/, blobs sorted by hex, index.json, oci-layout.
    let mut walk: Vec<(String, Option<Vec<u8>>)> = ["./", "./blobs/", "./blobs/sha256/"].iter().map(|d| ((*d).to_owned(), None)).collect();
    for b in &blobs {
        walk.push((format!("./blobs/sha256/{b}"), Some(std::fs::read(dir.join("blobs/sha256").join(b)).unwrap())));
    }
    for f in ["index.json", "oci-layout"] {
        walk.push((format!("./{f}"), Some(std::fs::read(dir.join(f)).unwrap())));
    }
    let mut cases = vec![("walk".to_owned(), walk.clone())];
    for seed in [0u64, 11, 12345, 99] {
        let mut files: Vec<(String, Option<Vec<u8>>)> = walk.iter().filter(|(_, c)| c.is_some()).cloned().collect();
        for k in 0..3 {
            files.push((format!("bogus-{k}"), Some(b"bogus content".to_vec())));
        }
        let mut rng = Rng::new(seed);
        for _ in 0..3 {
            let k = (rng.next_u64() % files.len() as u64) as usize;
            files.push(files[k].clone());
        }
        for i in (1..files.len()).rev() {
            files.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        cases.push((format!("shuffled, seed {seed}"), files));
    }
    for (n, (what, files)) in cases.into_iter().enumerate() {
        let mut b = tar::Builder::new(Vec::new());
        for (path, content) in &files {
            let mut header = tar::Header::new_ustar();
            header.set_path(path).unwrap();
            match content {
                Some(c) => {
                    header.set_size(c.len() as u64);
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_cksum();
                    b.append(&header, c.as_slice()).unwrap();
                }
                None => {
                    header.set_size(0);
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_cksum();
                    b.append(&header, std::io::empty()).unwrap();
                }
            }
        }
        let path = home.path().join(format!("layout{n}.tar"));
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        let repo = format!("high/mirror{n}");
        let run = ferry(&home, &config, &["mirror", "deserialize", path.to_str().unwrap(), &format!("{h}/{repo}:sync-1")]);
        assert_eq!(run.code, 0, "{what}: {run:?}");
        assert_eq!(sha256(&high.pusher().manifest(&repo, "sync-1").unwrap().1), root, "{what}");
        let strict = ferry(&home, &config, &["mirror", "deserialize", "--strict", path.to_str().unwrap(), &format!("{h}/{repo}:strict")]);
        assert_eq!(strict.code, 1, "{what}: --strict wants ace-dt's order: {strict:?}");
    }
}
