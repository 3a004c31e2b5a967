//! The compiled-component cache as native code: its directory is created 0700 and refused when
//! another user could write it; its entries are used only when their MAC under this user's key
//! matches, so a planted, foreign or altered entry is compiled again and replaced; a refused
//! key is replaced. Each case uses real files in a temporary directory, checks what the
//! operator sees (the warning, file modes and contents) and that the component still maps.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferry_plugin::{Host, Image, Limits, Loaded, Mapper, builtin};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The start of every entry ferry writes.
const MAGIC: &[u8] = b"ferrycw1";
/// The magic and the MAC before the compiled bytes.
const HEADER: usize = 8 + 32;

/// Log lines written while a closure ran on this thread.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with ferry's log captured; returns its result and the warnings (one per line).
fn logged<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).with_max_level(LevelFilter::DEBUG);
    let result = {
        let _guard = subscriber.set_default();
        f()
    };
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    (result, text.lines().filter(|l| l.contains(" WARN ")).map(str::to_owned).collect())
}

/// A new host on `dir` loads `nest`; returns the warnings of both steps, after checking that
/// the component still maps.
fn load(dir: &Path) -> Vec<String> {
    let (loaded, warnings) = logged(|| {
        let host = Host::new(Limits::default(), Some(dir.to_owned())).unwrap();
        let loaded = host.load("nest", builtin::NEST).unwrap();
        maps(&host, &loaded);
        loaded
    });
    assert_eq!(loaded.sha256.len(), 64);
    warnings
}

fn maps(host: &Host, loaded: &Loaded) {
    let image = Image {
        source: "docker.io/library/alpine:3".to_owned(),
        digest: format!("sha256:{}", "ab".repeat(32)),
        media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        size: 1,
        platform: None,
        artifact_type: None,
        annotations: vec![],
        labels: vec![],
    };
    let mut m = Mapper::new(host, loaded, vec![("prefix".to_owned(), "high.example.com/m".to_owned())]).unwrap();
    assert_eq!(m.map(&image).unwrap(), ["high.example.com/m/docker.io/library/alpine:3"]);
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// The one entry in `dir`.
fn entry(dir: &Path) -> PathBuf {
    let entries: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "cwasm")).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.into_iter().next().unwrap()
}

/// Every name in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// A cache in `dir` with `nest` in it; returns the entry's path.
fn warm(dir: &Path) -> PathBuf {
    assert_eq!(load(dir), Vec::<String>::new());
    entry(dir)
}

/// The next load uses the entry as it is: no warning, the same file (inode and bytes).
fn assert_served_from_cache(dir: &Path, entry: &Path) {
    let (before, bytes) = (std::fs::metadata(entry).unwrap().ino(), std::fs::read(entry).unwrap());
    assert_eq!(load(dir), Vec::<String>::new(), "a cached load warns of nothing");
    assert_eq!(std::fs::metadata(entry).unwrap().ino(), before, "the entry was not rewritten");
    assert_eq!(std::fs::read(entry).unwrap(), bytes);
}

/// `warnings` is one warning containing every needle.
fn assert_one_warning(warnings: &[String], needles: &[&str]) {
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    for needle in needles {
        assert!(warnings[0].contains(needle), "{needle:?} not in {}", warnings[0]);
    }
}

#[test]
fn the_cache_directory_and_its_parents_are_created_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("home/.cache/ferry/plugins");
    let entry = warm(&dir);
    for created in ["home", "home/.cache", "home/.cache/ferry", "home/.cache/ferry/plugins"] {
        assert_eq!(mode(&tmp.path().join(created)), 0o700, "{created}");
    }
    assert_eq!(mode(&dir.join("key")), 0o600);
    assert_eq!(std::fs::metadata(dir.join("key")).unwrap().len(), 64);
    assert_eq!(mode(&entry), 0o600);
    assert!(std::fs::read(&entry).unwrap().starts_with(MAGIC));
    // Only the key and the entry: no temporary file is left behind.
    assert_eq!(names(&dir).len(), 2, "{:?}", names(&dir));
    assert_served_from_cache(&dir, &entry);
}

#[test]
fn a_planted_entry_is_refused_compiled_again_and_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, other) = (tmp.path().join("mine"), tmp.path().join("other"));
    let mine = warm(&dir);
    let name = mine.file_name().unwrap().to_owned();
    // What another user's ferry (another key) wrote for the same wasm and engine, under the
    // same name; its bare compiled bytes (what wasmtime itself writes); and garbage.
    let foreign = std::fs::read(warm(&other)).unwrap();
    assert_eq!(entry(&other).file_name().unwrap(), name);
    for (planted, why) in [
        (foreign.clone(), "its authentication code does not match"),
        (foreign[HEADER..].to_vec(), "it has no authentication code"),
        (b"\x7fELF garbage".to_vec(), "it has no authentication code"),
    ] {
        std::fs::write(&mine, &planted).unwrap();
        let warnings = load(&dir);
        assert_one_warning(&warnings, &["refusing the cached component", &mine.display().to_string(), why, "compiling it again"]);
        let rewritten = std::fs::read(&mine).unwrap();
        assert!(rewritten != planted && rewritten.starts_with(MAGIC), "{why}: the entry was rewritten");
        assert_eq!(mode(&mine), 0o600);
        assert_served_from_cache(&dir, &mine);
    }
}

#[test]
fn an_altered_entry_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let entry = warm(tmp.path());
    let good = std::fs::read(&entry).unwrap();
    // One byte of the compiled code, one of the MAC, and the code cut short.
    let mut in_code = good.clone();
    in_code[HEADER + (good.len() - HEADER) / 2] ^= 0x01;
    let mut in_mac = good.clone();
    in_mac[8] ^= 0x80;
    let cut = good[..good.len() - 1].to_vec();
    for altered in [in_code, in_mac, cut] {
        std::fs::write(&entry, &altered).unwrap();
        let warnings = load(tmp.path());
        assert_one_warning(&warnings, &["refusing the cached component", "its authentication code does not match"]);
        assert_eq!(std::fs::read(&entry).unwrap(), good, "rewritten as compiled: the same bytes under the same key");
        assert_served_from_cache(tmp.path(), &entry);
    }
}

#[test]
fn a_cache_directory_others_can_write_is_not_used() {
    for shared in [0o777, 0o770, 0o1777, 0o720] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("plugins");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(shared)).unwrap();
        let warnings = load(&dir);
        assert_one_warning(
            &warnings,
            &[
                &format!("not using the plugin cache {}", dir.display()),
                &format!("writable by group or others (mode {shared:04o})"),
                "compiled on every run",
            ],
        );
        assert_eq!(names(&dir), Vec::<String>::new(), "{shared:o}: nothing written there");
        assert_eq!(mode(&dir), shared, "its mode is the operator's to fix");
    }
}

#[test]
fn a_cache_directory_of_another_user_is_not_used() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let me = rustix::process::geteuid().as_raw();
    let other = if me == 0 { 65534 } else { 0 };
    // As root, give the directory away; as anyone else, root's own directory stands in.
    let dir = if me == 0 {
        rustix::fs::chown(&dir, Some(rustix::fs::Uid::from_raw(other)), None).unwrap();
        dir
    } else {
        PathBuf::from("/usr")
    };
    let warnings = load(&dir);
    assert_one_warning(&warnings, &[&dir.display().to_string(), &format!("it is owned by uid {other}, not by this user (uid {me})")]);
    if me == 0 {
        assert_eq!(names(&dir), Vec::<String>::new());
    }
}

#[test]
fn a_key_others_can_read_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let entry = warm(tmp.path());
    let key = tmp.path().join("key");
    let old_key = std::fs::read(&key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warnings = load(tmp.path());
    // The key is replaced, so the entry it authenticated is compiled again under the new one.
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert_one_warning(
        &warnings[..1],
        &[
            "refusing the plugin cache key",
            &key.display().to_string(),
            "readable or writable by group or others (mode 0644)",
            "replacing it",
        ],
    );
    assert_one_warning(&warnings[1..], &["refusing the cached component", "its authentication code does not match"]);
    let new_key = std::fs::read(&key).unwrap();
    assert!(new_key != old_key && new_key.len() == 64);
    assert_eq!(mode(&key), 0o600);
    assert_served_from_cache(tmp.path(), &entry);
}

#[test]
fn a_key_of_the_wrong_size_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let entry = warm(tmp.path());
    let key = tmp.path().join("key");
    std::fs::write(&key, b"short").unwrap();
    let warnings = load(tmp.path());
    assert!(warnings[0].contains("refusing the plugin cache key") && warnings[0].contains("it is 5 bytes, not 64"), "{warnings:#?}");
    assert_eq!((std::fs::metadata(&key).unwrap().len(), mode(&key)), (64, 0o600));
    assert_served_from_cache(tmp.path(), &entry);
}

#[test]
fn symbolic_links_are_refused_and_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    // A link in place of the cache directory, to a directory that would pass every check.
    let target = tmp.path().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = tmp.path().join("plugins");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_one_warning(&load(&link), &[&link.display().to_string(), "it is a symbolic link"]);
    assert_eq!(names(&target), Vec::<String>::new());
    // A dangling link is not followed to create the directory it names.
    let dangling = tmp.path().join("dangling");
    std::os::unix::fs::symlink(tmp.path().join("made-through-link"), &dangling).unwrap();
    assert_one_warning(&load(&dangling), &["it is a symbolic link"]);
    assert!(!tmp.path().join("made-through-link").exists());

    // Links in place of an entry and of the key, to a valid entry and key of another cache.
    let (dir, other) = (tmp.path().join("mine"), tmp.path().join("other"));
    let entry = warm(&dir);
    let other_entry = warm(&other);
    let other_bytes = std::fs::read(&other_entry).unwrap();
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(&other_entry, &entry).unwrap();
    assert_one_warning(&load(&dir), &["refusing the cached component", "it is a symbolic link"]);
    assert!(!std::fs::symlink_metadata(&entry).unwrap().file_type().is_symlink(), "replaced by a file");
    assert_eq!(std::fs::read(&other_entry).unwrap(), other_bytes, "the link's target is untouched");
    let key = dir.join("key");
    std::fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink(other.join("key"), &key).unwrap();
    let warnings = load(&dir);
    assert!(warnings[0].contains("refusing the plugin cache key") && warnings[0].contains("it is a symbolic link"), "{warnings:#?}");
    assert!(std::fs::symlink_metadata(&key).unwrap().file_type().is_file());
    assert_served_from_cache(&dir, &entry);
    assert_served_from_cache(&other, &other_entry);
}

#[test]
fn what_is_not_a_small_regular_file_is_refused_without_being_read() {
    let tmp = tempfile::tempdir().unwrap();
    let entry = warm(tmp.path());
    // A 300 MiB (sparse) file: refused by its size, not read into memory.
    std::fs::remove_file(&entry).unwrap();
    let huge = std::fs::File::create(&entry).unwrap();
    huge.set_len(300 << 20).unwrap();
    drop(huge);
    assert_one_warning(&load(tmp.path()), &["refusing the cached component", "it is 314572800 bytes, more than the 268435456 allowed"]);
    assert!(std::fs::read(&entry).unwrap().starts_with(MAGIC));
    // A FIFO would block a plain open; a directory cannot be read. Both are refused.
    std::fs::remove_file(&entry).unwrap();
    rustix::fs::mknodat(rustix::fs::CWD, &entry, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o600), 0).unwrap();
    assert_one_warning(&load(tmp.path()), &["refusing the cached component", "it is not a regular file"]);
    std::fs::remove_file(&entry).unwrap();
    std::fs::create_dir(&entry).unwrap();
    let warnings = load(tmp.path());
    // The directory cannot be replaced by a rename: the entry is compiled, not cached.
    assert!(warnings[0].contains("it is not a regular file"), "{warnings:#?}");
    assert!(warnings[1].contains("could not cache the compiled component"), "{warnings:#?}");
    std::fs::remove_dir(&entry).unwrap();
    let mut file = std::fs::File::create(&entry).unwrap();
    file.write_all(b"").unwrap();
    assert_one_warning(&load(tmp.path()), &["it has no authentication code"]);
    assert_served_from_cache(tmp.path(), &entry);
}

#[test]
fn an_entry_others_can_write_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let entry = warm(tmp.path());
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_one_warning(&load(tmp.path()), &["refusing the cached component", "writable by group or others (mode 0666)"]);
    assert_eq!(mode(&entry), 0o600);
    assert_served_from_cache(tmp.path(), &entry);
}
