//! Tag order within one repository. distribution 2.8 rewrites a manifest's link file in place
//! when the same manifest is PUT again, so an index PUT that checks its children at that
//! moment is answered 400 MANIFEST_BLOB_UNKNOWN. Multi-platform indexes whose children are
//! tagged in the same repository are scattered and cloned again and again into fresh
//! repositories of an empty registry; every run must succeed.

use ferry_testkit::images::{self, IndexFixture};
use ferry_testkit::{Pusher, Registry, TestHome};
use ferry_tests::{Run, ferry, write_file};

/// Runs of each command.
const RUNS: usize = 20;
/// Indexes in the source repository.
const INDEXES: u64 = 3;

struct Source {
    reg: Registry,
    p: Pusher,
    home: TestHome,
    indexes: Vec<IndexFixture>,
    sources: String,
}

/// `low/app:vN` (an index) and each of its children tagged `vN-C` in the same repository,
/// every one listed in the sources list.
fn source() -> Source {
    let reg = Registry::start();
    let p = reg.pusher();
    let home = TestHome::new();
    let mut list = String::new();
    let mut indexes = Vec::new();
    for n in 0..INDEXES {
        let idx = images::multi_platform_index(&p, "low/app", &format!("v{n}"), 40 + n);
        list.push_str(&format!("{}/low/app:v{n}\n", reg.addr()));
        for (c, child) in idx.children.iter().enumerate() {
            let (media_type, bytes) = p.manifest("low/app", &child.digest.to_string()).unwrap();
            p.push_manifest("low/app", &format!("v{n}-{c}"), &media_type, &bytes);
            list.push_str(&format!("{}/low/app:v{n}-{c}\n", reg.addr()));
        }
        indexes.push(idx);
    }
    let sources = write_file(&home, "sources.list", &list);
    Source { reg, p, home, indexes, sources }
}

impl Source {
    fn run(&self, args: &[&str]) -> Run {
        ferry(&self.home, &self.reg.ferry_config(), args)
    }

    /// `first-prefix` from `low/` to `high/<prefix>/`.
    fn rule(&self, prefix: &str) -> String {
        let csv = write_file(&self.home, &format!("{prefix}.csv"), &format!("{0}/low/,{0}/high/{prefix}/\n", self.reg.addr()));
        format!("first-prefix={csv}")
    }

    /// Every index and child is at its tag in `high/<prefix>/app`.
    fn assert_placed(&self, prefix: &str) {
        let repo = format!("high/{prefix}/app");
        for (n, idx) in self.indexes.iter().enumerate() {
            let (_, bytes) = self.p.manifest(&repo, &format!("v{n}")).unwrap();
            assert_eq!(ferry_tests::sha256(&bytes), idx.index.digest.to_string());
            for (c, child) in idx.children.iter().enumerate() {
                let (_, bytes) = self.p.manifest(&repo, &format!("v{n}-{c}")).unwrap();
                assert_eq!(ferry_tests::sha256(&bytes), child.digest.to_string());
            }
        }
    }
}

/// Runs `command` RUNS times, each into fresh repositories; returns the failed runs' output.
fn repeat(s: &Source, command: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for i in 0..RUNS {
        let prefix = format!("{command}{i}");
        let rule = s.rule(&prefix);
        let run = match command {
            "scatter" => s.run(&["mirror", "scatter", &format!("{}/low/mirror:sync", s.reg.addr()), &rule]),
            _ => s.run(&["mirror", "clone", &s.sources, &rule]),
        };
        if run.code == 0 {
            s.assert_placed(&prefix);
        } else {
            failures.push(format!("run {i}: exit {}: {}", run.code, run.stderr.trim()));
        }
    }
    failures
}

#[test]
fn scatter_and_clone_place_children_before_their_index() {
    let s = source();
    s.run(&["mirror", "gather", &s.sources, &format!("{}/low/mirror:sync", s.reg.addr())]).expect_code(0);
    let scatter = repeat(&s, "scatter");
    let clone = repeat(&s, "clone");
    eprintln!("scatter: {} of {RUNS} runs failed; clone: {} of {RUNS} runs failed", scatter.len(), clone.len());
    assert!(scatter.is_empty() && clone.is_empty(), "failed runs:\n{}\n{}", scatter.join("\n"), clone.join("\n"));
}
