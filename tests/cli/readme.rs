//! The README's operator section, run as written: every `sh` block under "Operating ferry",
//! in order, in one shell, with `LOW` and `HIGH` two real registries and `ferry` on the PATH.

use std::process::Command;

use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{binary, config_for};

/// The `sh` blocks of the README section headed `## {heading}`, in order.
fn section_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme.find(&format!("\n## {heading}\n")).unwrap_or_else(|| panic!("README has no section {heading}"));
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in rest[..end].lines() {
        match (&mut current, line) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed block in the README's {heading}");
    blocks
}

#[test]
fn the_operator_section_of_the_readme_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let blocks = section_blocks(&readme, "Operating ferry");
    assert!(blocks.len() >= 4, "{} blocks", blocks.len());

    let low = Registry::start();
    let high = Registry::start();
    let p = low.pusher();
    let web = images::single_image(&p, "apps/web", "1.0", 71);
    let db = images::multi_platform_index(&p, "apps/db", "2.1", 72);
    let home = TestHome::new();
    let config = home.path().join("ferry.yaml");
    std::fs::write(&config, config_for(&[&low, &high])).unwrap();
    let bin = home.path().join("ferry-bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(binary(), bin.join("ferry")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());

    for (i, block) in blocks.iter().enumerate() {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", block])
            .current_dir(home.path())
            .envs(home.env())
            .env("PATH", &path)
            .env("FERRY_CONFIG", &config)
            .env("LOW", low.addr())
            .env("HIGH", high.addr())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README block {i} failed ({}):\n{block}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // What the walkthrough promises: each image under HIGH's mirror/apps/, as it was on LOW.
    let h = high.pusher();
    let placed = |repo: &str, reference: &str| h.manifest(repo, reference).map(|(_, bytes)| ferry_tests::sha256(&bytes));
    assert_eq!(placed("mirror/apps/web", "1.0"), Some(web.manifest.digest.to_string()));
    assert_eq!(placed("mirror/apps/db", "2.1"), Some(db.index.digest.to_string()));
    for name in ["gather.json", "serialize.json", "scatter.json", "scatter-retry.json"] {
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(home.path().join(name)).unwrap()).unwrap();
        assert_eq!(report["exitCode"], 0, "{name}: {report:#}");
    }
}
