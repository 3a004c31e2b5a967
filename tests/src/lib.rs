//! Support for ferry's integration tests: run the binary with a test home and config.

#![allow(missing_docs, clippy::unwrap_used, reason = "test support")]

use std::path::Path;
use std::process::Command;

use ferry_testkit::TestHome;

/// What a ferry run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the output unless the run exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// Runs ferry in `home` with `config` (YAML text) as its configuration file.
pub fn ferry(home: &TestHome, config: &str, args: &[&str]) -> Run {
    let cfg = home.path().join("ferry-config.yaml");
    std::fs::write(&cfg, config).unwrap();
    ferry_raw(home, &[&["--config", cfg.to_str().unwrap()], args].concat())
}

/// Runs ferry with exactly these arguments, in `home`.
pub fn ferry_raw(home: &TestHome, args: &[&str]) -> Run {
    ferry_env(home, &[], args)
}

/// Runs ferry in `home` with extra environment variables.
pub fn ferry_env(home: &TestHome, env: &[(&str, &str)], args: &[&str]) -> Run {
    let out = Command::new(binary())
        .args(args)
        .current_dir(home.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(home.env())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs ferry in `home` with `config`, extra environment variables and `input` on its
/// standard input.
pub fn ferry_input(home: &TestHome, config: &str, env: &[(&str, &str)], args: &[&str], input: &str) -> Run {
    use std::io::Write as _;
    let cfg = home.path().join("ferry-config.yaml");
    std::fs::write(&cfg, config).unwrap();
    let mut child = Command::new(binary())
        .args(["--config", cfg.to_str().unwrap()])
        .args(args)
        .current_dir(home.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(home.env())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A config reaching every plain-HTTP registry given (TLS ones need no entry).
pub fn config_for(registries: &[&ferry_testkit::Registry]) -> String {
    let plain: Vec<&str> = registries.iter().filter(|r| !r.is_tls()).map(|r| r.addr()).collect();
    config_for_addrs(&plain)
}

/// A config reaching these `host:port`s over plain HTTP.
pub fn config_for_addrs(addrs: &[&str]) -> String {
    let mut out = String::from("registryConfig:\n  registries:\n");
    for a in addrs {
        out += &format!("    {a}:\n      endpoints: [\"http://{a}\"]\n");
    }
    out
}

/// The binary under test: `target/<profile>/ferry-under-test`, beside the test's `deps/`.
pub fn binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("ferry-under-test");
    assert!(bin.exists(), "{} is missing: build it with `cargo build -p ferry-tests --bins`", bin.display());
    bin
}

/// Writes `lines` to `name` in the home directory and returns its path as a string.
pub fn write_file(home: &TestHome, name: &str, text: &str) -> String {
    let p = home.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

/// sha256 of bytes as `sha256:<hex>`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `skopeo inspect --raw` of a reference, hashed: an independent digest oracle.
pub fn skopeo_digest(reference: &str, extra: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw"])
        .args(extra)
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo (apt-get install skopeo)");
    assert!(out.status.success(), "skopeo inspect {reference}: {}", String::from_utf8_lossy(&out.stderr));
    sha256(&out.stdout)
}

/// Does `path` exist (for layout checks).
pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// A tar archive's entries (path, bytes, kind), for tests that read or rewrite an archive.
pub type TarEntries = Vec<(String, Vec<u8>, tar::EntryType)>;

/// Every entry of the tar archive at `path`, in order.
pub fn tar_entries(path: &Path) -> TarEntries {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let kind = entry.header().entry_type();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes, kind));
    }
    out
}

/// Writes `entries` as a ustar archive at `path`.
pub fn write_tar(path: &Path, entries: &TarEntries) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, bytes, kind) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(*kind);
        header.set_size(bytes.len() as u64);
        header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        header.set_cksum();
        builder.append_data(&mut header, name, bytes.as_slice()).unwrap();
    }
    builder.finish().unwrap();
}
