//! The kill matrix: serialize killed at many points (inside headers, inside big blobs, at
//! entry boundaries, with zstd), continued both ways, and the pieces loaded on the high side.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferry_testkit::Registry;
use ferry_tests::ferry;

use crate::{Low, blob_entries, fetch_whole_graph, low};

/// Runs `serialize IMAGE -` (with `extra` flags), keeps the first `cut` bytes it writes in
/// `partial`, then kills it with SIGKILL (while it is still writing, unless the rest fitted
/// in the pipe).
fn serialize_killed_at(l: &Low, config: &Path, extra: &[&str], cut: u64, partial: &Path) {
    let mut child = Command::new(ferry_tests::binary())
        .args(["--config", config.to_str().unwrap(), "mirror", "serialize", &l.image, "-"])
        .args(extra)
        .current_dir(l.home.path())
        .envs(l.home.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut file = std::fs::File::create(partial).unwrap();
    let mut left = cut;
    let mut buf = vec![0u8; 64 << 10];
    while left > 0 {
        let n = out.read(&mut buf[..usize::try_from(left.min(64 << 10)).unwrap()]).unwrap();
        assert!(n > 0, "serialize ended before byte {cut}");
        file.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    // A cut within a pipe's buffer of the end may let serialize finish before the kill: the
    // receiving side still holds exactly `cut` bytes, which is what the trial continues from.
    let _ = child.kill();
    child.wait().unwrap();
    assert_eq!(std::fs::metadata(partial).unwrap().len(), cut, "the partial holds the first {cut} bytes");
}

/// Where the matrix cuts a plain archive: inside the first headers, inside each blob's header
/// and data, exactly at entry boundaries, and just before the end.
fn plain_cuts(full: &Path) -> Vec<u64> {
    let size = std::fs::metadata(full).unwrap().len();
    let mut cuts = vec![1, 700, 1536];
    for (_, at, len) in blob_entries(full) {
        cuts.extend([at, at + 100, at + 512 + len / 2, at + 512 + len]);
    }
    cuts.push(size - 1500);
    cuts.retain(|&c| c > 0 && c < size - 1024);
    cuts.sort_unstable();
    cuts.dedup();
    // Every kind of point, but a bounded number of trials: an even sample.
    let stride = cuts.len().div_ceil(POINTS);
    cuts.into_iter().step_by(stride.max(1)).collect()
}

/// About this many kill points for the plain archive.
const POINTS: usize = 24;

/// One trial: the partial and its continuation; the high side loads the partial (which fails
/// and tags nothing), then the continuation; and, into another repository, both at once.
fn trial(l: &Low, high: &Registry, config: &str, name: &str, partial: &Path, rest: &Path, stdin: bool) {
    let q = high.pusher();
    let dest = format!("{}/high/{name}:sync-1", high.addr());
    let first = if stdin {
        let out = Command::new(ferry_tests::binary())
            .args(["--config", l.home.path().join("ferry-config.yaml").to_str().unwrap(), "mirror", "deserialize", "-", &dest])
            .stdin(std::fs::File::open(partial).unwrap())
            .current_dir(l.home.path())
            .envs(l.home.env())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    } else {
        let run = ferry(&l.home, config, &["mirror", "deserialize", partial.to_str().unwrap(), &dest]);
        (run.code, run.stderr)
    };
    if first.0 == 0 {
        // Only the end marker was lost: then the whole graph must be there.
        fetch_whole_graph(&q, &format!("high/{name}"), "sync-1");
    } else {
        assert!(q.tags(&format!("high/{name}")).is_empty(), "{name}: a partial tagged something: {}", first.1);
    }
    ferry(&l.home, config, &["mirror", "deserialize", rest.to_str().unwrap(), &dest]).expect_code(0);
    let full = fetch_whole_graph(&q, &format!("high/{name}"), "sync-1");

    let both = format!("{}/high/{name}-both:sync-1", high.addr());
    ferry(&l.home, config, &["mirror", "deserialize", rest.to_str().unwrap(), partial.to_str().unwrap(), &both]).expect_code(0);
    assert_eq!(fetch_whole_graph(&q, &format!("high/{name}-both"), "sync-1"), full, "{name}: both pieces at once");
}

#[test]
fn serialize_killed_anywhere_resumes_both_ways_and_every_blob_arrives() {
    let l = low();
    let high = Registry::start();
    let config = ferry_tests::config_for(&[&l.reg, &high]);
    let config_path = l.home.path().join("low-config.yaml");
    std::fs::write(&config_path, &config).unwrap();
    let full = l.home.path().join("full.tar");
    ferry(&l.home, &config, &["mirror", "serialize", &l.image, full.to_str().unwrap()]).expect_code(0);
    let total = blob_entries(&full).len();
    let dir = l.home.path();
    let path = |n: String| -> PathBuf { dir.join(n) };

    let cuts = plain_cuts(&full);
    assert!(cuts.len() >= 20, "{} kill points", cuts.len());
    let mut complete = 0;
    for (i, &cut) in cuts.iter().enumerate() {
        let (partial, ledger) = (path(format!("p{i}.tar")), path(format!("p{i}.jsonl")));
        serialize_killed_at(&l, &config_path, &["--checkpoint", ledger.to_str().unwrap()], cut, &partial);
        assert_eq!(std::fs::metadata(&partial).unwrap().len(), cut);
        // By reading the partial archive.
        let rest = path(format!("r{i}.tar"));
        ferry(
            &l.home,
            &config,
            &["mirror", "serialize", &l.image, rest.to_str().unwrap(), "--existing-from-archive", partial.to_str().unwrap()],
        )
        .expect_code(0);
        trial(&l, &high, &config, &format!("a{i}"), &partial, &rest, i % 2 == 1);
        // By the ledger, as ace-dt documents it (OFFSET: the size of the partial file).
        let rest = path(format!("c{i}.tar"));
        let checkpoint = format!("{}:{cut}", ledger.display());
        ferry(&l.home, &config, &["mirror", "serialize", &l.image, rest.to_str().unwrap(), "--existing-from-checkpoint", &checkpoint])
            .expect_code(0);
        trial(&l, &high, &config, &format!("c{i}"), &partial, &rest, i % 2 == 0);
        complete += 1;
    }
    eprintln!("plain: {complete}/{} kill points complete both ways ({total} blobs each)", cuts.len());

    // zstd: cut inside compressed frames, continued by reading the partial.
    let fullz = path("full.tar.zst".to_owned());
    ferry(&l.home, &config, &["mirror", "serialize", "--compression", "zstd", &l.image, fullz.to_str().unwrap()]).expect_code(0);
    let size = std::fs::metadata(&fullz).unwrap().len();
    let zcuts: Vec<u64> = (1..=8).map(|k| size * k / 10 + 7).collect();
    for (i, &cut) in zcuts.iter().enumerate() {
        let partial = path(format!("z{i}.tar.zst"));
        serialize_killed_at(&l, &config_path, &["--compression", "zstd"], cut, &partial);
        let rest = path(format!("zr{i}.tar.zst"));
        ferry(
            &l.home,
            &config,
            &[
                "mirror",
                "serialize",
                "--compression",
                "zstd",
                &l.image,
                rest.to_str().unwrap(),
                "--existing-from-archive",
                partial.to_str().unwrap(),
            ],
        )
        .expect_code(0);
        trial(&l, &high, &config, &format!("z{i}"), &partial, &rest, i % 2 == 0);
    }
    eprintln!("zstd: {}/{} kill points complete", zcuts.len(), zcuts.len());
}
