//! The common set-up of spec §12.4: `low/source1:v1` (an image) and `low/source2` (a
//! multi-platform index, listed by digest), labelled, gathered to `low/mirror:sync-1`.

use ferry_testkit::images::{self, Image, IndexFixture};
use ferry_testkit::{Pusher, Registry, TestHome};
use ferry_tests::{Run, ferry, write_file};

pub(crate) struct Fixture {
    pub(crate) reg: Registry,
    pub(crate) p: Pusher,
    pub(crate) home: TestHome,
    pub(crate) img1: Image,
    pub(crate) idx1: IndexFixture,
    /// `low/source1:v1`, with the registry.
    pub(crate) src1: String,
    /// `low/source2@<idx1>`, with the registry.
    pub(crate) src2: String,
    /// The sources list.
    pub(crate) sources: String,
}

impl Fixture {
    /// Sources labelled `component=core,module=test` and `component=env,module=test`; not
    /// gathered yet.
    pub(crate) fn new() -> Fixture {
        let reg = Registry::start();
        let p = reg.pusher();
        let img1 = images::single_image(&p, "low/source1", "v1", 1);
        let idx1 = images::multi_platform_index(&p, "low/source2", "v2", 2);
        let r = reg.addr().to_owned();
        let src1 = format!("{r}/low/source1:v1");
        let src2 = format!("{r}/low/source2@{}", idx1.index.digest);
        let home = TestHome::new();
        let sources = write_file(&home, "sources.list", &format!("{src1},component=core,module=test\n{src2},component=env,module=test\n"));
        Fixture { reg, p, home, img1, idx1, src1, src2, sources }
    }

    /// `H` of the spec: the registry's address.
    pub(crate) fn h(&self) -> &str {
        self.reg.addr()
    }

    /// [`Fixture::new`], gathered to `low/mirror:sync-1`.
    pub(crate) fn gathered() -> Fixture {
        let f = Fixture::new();
        f.run(&["mirror", "gather", &f.sources, &f.mirror()]).expect_code(0);
        f
    }

    pub(crate) fn mirror(&self) -> String {
        format!("{}/low/mirror:sync-1", self.h())
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        ferry(&self.home, &self.reg.ferry_config(), args)
    }

    /// Writes a file in the home; `H` in `text` is replaced by the registry's address.
    pub(crate) fn file(&self, name: &str, text: &str) -> String {
        write_file(&self.home, name, &text.replace("H/", &format!("{}/", self.h())))
    }

    /// `first-prefix` from `H/low/` to `H/high/<prefix>/` (nest would put the registry's
    /// `host:port` into the path).
    pub(crate) fn under(&self, prefix: &str) -> String {
        format!("first-prefix={}", self.file(&format!("{}.csv", prefix.replace('/', "-")), &format!("H/low/,H/high/{prefix}/\n")))
    }

    /// Whether `repo` holds `reference` (a tag or digest) and it is `digest`.
    pub(crate) fn holds(&self, repo: &str, reference: &str, digest: &str) -> bool {
        self.p.manifest(repo, reference).is_some_and(|(_, bytes)| ferry_tests::sha256(&bytes) == digest)
    }

    pub(crate) fn img_digest(&self) -> String {
        self.img1.manifest.digest.to_string()
    }

    pub(crate) fn idx_digest(&self) -> String {
        self.idx1.index.digest.to_string()
    }

    /// Every blob and child manifest of the fixtures is in `repo`.
    pub(crate) fn assert_complete(&self, repo: &str) {
        for blob in std::iter::once(&self.img1.config).chain(&self.img1.layers) {
            if self.p.has_manifest(repo, "v1") {
                assert!(self.p.has_blob(repo, &blob.digest), "{repo} lacks {}", blob.digest);
            }
        }
        if self.p.has_manifest(repo, &self.idx_digest()) {
            for child in &self.idx1.children {
                assert!(self.p.has_manifest(repo, &child.digest.to_string()), "{repo} lacks child {}", child.digest);
            }
        }
    }
}
