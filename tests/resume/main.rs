//! Resuming after a run died, and the tag promise: a serialize killed anywhere continues from
//! what its output holds, the pieces load on the high side in any order, and nothing is ever
//! tagged over a graph that is not whole at the destination.

#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs, reason = "tests; measurements are printed")]

mod kill;
mod promise;

use std::collections::HashSet;
use std::path::Path;

use ferry_testkit::{Pusher, Registry, TestHome, images};
use ferry_tests::{ferry, sha256, write_file};
use serde_json::Value;

/// A low side: a registry with a gathered index of three images (one with multi-MiB layers).
struct Low {
    reg: Registry,
    home: TestHome,
    #[expect(dead_code, reason = "kept with the low side for tests that need its config text")]
    config: String,
    /// The gather index, as serialize takes it.
    image: String,
}

fn low() -> Low {
    let reg = Registry::start();
    let p = reg.pusher();
    images::big_image(&p, "low/big", "v1", &[3 << 20, 700 << 10, 5000], 21);
    images::single_image(&p, "low/app", "v1", 22);
    images::multi_platform_index(&p, "low/base", "v1", 23);
    let r = reg.addr();
    let home = TestHome::new();
    let list = write_file(&home, "sources.list", &format!("{r}/low/big:v1\n{r}/low/app:v1\n{r}/low/base:v1\n"));
    let config = reg.ferry_config();
    ferry(&home, &config, &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]).expect_code(0);
    Low { image: format!("{r}/low/mirror:sync-1"), reg, home, config }
}

/// Every descriptor a manifest names (config, layers, children, subject).
fn children(manifest: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut take = |d: &Value| out.push((d["mediaType"].as_str().unwrap_or_default().to_owned(), d["digest"].as_str().unwrap().to_owned()));
    for key in ["manifests", "layers"] {
        for d in manifest[key].as_array().into_iter().flatten() {
            take(d);
        }
    }
    if manifest["config"].is_object() {
        take(&manifest["config"]);
    }
    out
}

/// Fetches `repo:tag` and every manifest and blob under it straight from the registry,
/// checks each against its digest, and returns the digests seen.
fn fetch_whole_graph(p: &Pusher, repo: &str, tag: &str) -> HashSet<String> {
    let (_, root) = p.manifest(repo, tag).unwrap_or_else(|| panic!("{repo}:{tag} is not tagged"));
    let mut seen = HashSet::from([sha256(&root)]);
    let mut work = vec![serde_json::from_slice::<Value>(&root).unwrap()];
    while let Some(m) = work.pop() {
        for (media_type, digest) in children(&m) {
            if !seen.insert(digest.clone()) {
                continue;
            }
            if media_type.contains("manifest") || media_type.contains("index") {
                let (_, bytes) = p.manifest(repo, &digest).unwrap_or_else(|| panic!("manifest {digest} missing in {repo}"));
                assert_eq!(sha256(&bytes), digest);
                work.push(serde_json::from_slice(&bytes).unwrap());
            } else {
                assert_eq!(sha256(&p.blob(repo, &digest.parse().unwrap())), digest, "blob {digest} in {repo}");
            }
        }
    }
    seen
}

/// The blob entries of a plain archive: (digest, header offset, size), in order.
fn blob_entries(tar: &Path) -> Vec<(String, u64, u64)> {
    let mut archive = tar::Archive::new(std::fs::File::open(tar).unwrap());
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            out.push((format!("sha256:{hex}"), e.raw_header_position(), e.size()));
        }
    }
    out
}
