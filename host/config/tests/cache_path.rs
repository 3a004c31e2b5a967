//! `Config::cache_path` in a process without `HOME` or `XDG_CACHE_HOME` (as under cron or a
//! systemd unit): the user's home from the user database, or an error, never a directory
//! other users share. The environment is the process's, so the case runs in a child process
//! of this test binary, started with those variables removed.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs, reason = "tests")]

use std::path::Path;
use std::process::Command;

use ferry_config::Config;

/// Set in the child's environment: the child runs the check, the parent only starts it.
const CHILD: &str = "FERRY_TEST_CACHE_PATH_CHILD";

#[test]
fn without_home_or_xdg_cache_home_the_cache_is_never_shared() {
    if std::env::var_os(CHILD).is_some() {
        assert!(std::env::var_os("HOME").is_none() && std::env::var_os("XDG_CACHE_HOME").is_none());
        match Config::default().cache_path() {
            Ok(path) => {
                // From the user database: the home directory's .cache.
                assert!(path.is_absolute() && path.ends_with(".cache/ferry"), "{}", path.display());
                assert!(!path.starts_with(std::env::temp_dir()) && !path.starts_with("/tmp"), "{}", path.display());
                println!("cache path: {}", path.display());
            }
            Err(e) => assert!(e.to_string().contains("set cachePath"), "{e}"),
        }
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "without_home_or_xdg_cache_home_the_cache_is_never_shared", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env_remove("HOME")
        .env_remove("XDG_CACHE_HOME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // The child really ran the check (one test, passed).
    assert!(stdout.contains("1 passed"), "{stdout}");
    if let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("cache path: ")) {
        assert!(Path::new(line).is_absolute(), "{line}");
    }
}
