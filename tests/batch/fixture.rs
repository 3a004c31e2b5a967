//! The seed's scenario: three gathers (`tools`, `ops`, `cicd`) in a low registry, a sync
//! directory, and a high registry.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ferry_testkit::images::{self, Image};
use ferry_testkit::{Pusher, Registry, TestHome};
use ferry_tests::{Run, config_for, ferry, write_file};

pub(crate) struct Low {
    pub(crate) reg: Registry,
    pub(crate) p: Pusher,
    pub(crate) home: TestHome,
    pub(crate) sync: PathBuf,
    /// `ops` images: A and B in v0.2.5; C replaces A in v0.2.6.
    pub(crate) ops_a: Image,
    pub(crate) ops_b: Image,
    pub(crate) ops_c: Image,
}

impl Low {
    /// Gathers `low/tools:v3.0.6`, `low/ops:v0.2.5` and `low/cicd:v8.1`, and writes the
    /// BATCH-LIST of the seed (with its header row).
    pub(crate) fn new() -> Low {
        let reg = Registry::start();
        let p = reg.pusher();
        let home = TestHome::new();
        images::single_image(&p, "src/tool", "1", 11);
        let ops_a = images::single_image(&p, "src/ops-a", "1", 21);
        let ops_b = images::single_image(&p, "src/ops-b", "1", 22);
        let ops_c = images::single_image(&p, "src/ops-c", "1", 23);
        images::single_image(&p, "src/ci", "1", 31);
        let sync = home.path().join("sync");
        std::fs::create_dir(&sync).unwrap();
        let low = Low { reg, p, home, sync, ops_a, ops_b, ops_c };
        low.gather("tools", &["src/tool:1"], "low/tools:v3.0.6");
        low.gather("ops", &["src/ops-a:1", "src/ops-b:1"], "low/ops:v0.2.5");
        low.gather("cicd", &["src/ci:1"], "low/cicd:v8.1");
        low.batch_list(&[("tools", "low/tools:v3.0.6"), ("ops", "low/ops:v0.2.5"), ("cicd", "low/cicd:v8.1")]);
        low
    }

    pub(crate) fn h(&self) -> &str {
        self.reg.addr()
    }

    pub(crate) fn gather(&self, name: &str, sources: &[&str], to: &str) {
        let text: String = sources.iter().map(|s| format!("{}/{s}\n", self.h())).collect();
        let list = write_file(&self.home, &format!("{name}.list"), &text);
        self.run(&["mirror", "gather", &list, &format!("{}/{to}", self.h())]).expect_code(0);
    }

    /// `batch.csv` with the seed's header row.
    pub(crate) fn batch_list(&self, rows: &[(&str, &str)]) -> String {
        let mut text = String::from("name, artifact\n");
        for (name, artifact) in rows {
            text += &format!("{name},{}/{artifact}\n", self.h());
        }
        write_file(&self.home, "batch.csv", &text)
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        ferry(&self.home, &self.reg.ferry_config(), args)
    }

    pub(crate) fn batch_serialize(&self, extra: &[&str]) -> Run {
        let list = self.home.path().join("batch.csv");
        let args = [&["mirror", "batch-serialize"], extra, &[list.to_str().unwrap(), self.sync.to_str().unwrap()]].concat();
        self.run(&args)
    }

    /// The digest `repo:tag` resolves to in the low registry.
    pub(crate) fn digest(&self, repo: &str, tag: &str) -> String {
        ferry_tests::sha256(&self.p.manifest(repo, tag).unwrap().1)
    }

    /// The sync directory's file names, sorted.
    pub(crate) fn files(&self) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(&self.sync).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    pub(crate) fn tracker(&self) -> String {
        std::fs::read_to_string(self.sync.join("record-keeping.csv")).unwrap()
    }

    /// Runs ferry with a config reaching this registry and `high` too.
    pub(crate) fn run_with(&self, high: &Registry, args: &[&str]) -> Run {
        ferry(&self.home, &config_for(&[&self.reg, high]), args)
    }
}

/// The digests of the blobs an archive carries (`blobs/sha256/<hex>` entries).
pub(crate) fn blobs_in(archive: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut reader = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for entry in reader.entries().unwrap() {
        let entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            out.insert(format!("sha256:{hex}"));
        }
    }
    out
}

/// The non-manifest blobs of an image: its config and layers.
pub(crate) fn image_blobs(img: &Image) -> BTreeSet<String> {
    std::iter::once(&img.config).chain(&img.layers).map(|d| d.digest.to_string()).collect()
}
