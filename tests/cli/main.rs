//! Command-line behaviour outside the mirror commands: configuration, log levels, versions,
//! completions and man pages.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use ferry_testkit::TestHome;
use ferry_tests::{ferry, ferry_raw};

mod readme;

#[test]
fn config_sample_and_effective() {
    let home = TestHome::new();
    let sample = ferry_raw(&home, &["config", "--sample"]);
    sample.expect_code(0);
    assert!(sample.stdout.contains("apiVersion: config.dt.act3-ace.io/v1alpha1") && sample.stdout.contains("rewritePull"));

    let run = ferry(&home, "concurrentHTTP: 9\n", &["config"]);
    run.expect_code(0);
    assert!(run.stdout.contains("concurrentHTTP: 9") && run.stdout.contains("ferry-config.yaml"), "{}", run.stdout);

    // No file in any default place (the one above was ./ferry-config.yaml): defaults.
    std::fs::remove_file(home.path().join("ferry-config.yaml")).unwrap();
    let run = ferry_raw(&home, &["config"]);
    run.expect_code(0);
    assert!(run.stdout.contains("concurrentHTTP: 5") && run.stdout.contains("# no configuration file found"), "{}", run.stdout);

    // A file the operator names must be there.
    let run = ferry_raw(&home, &["--config", "/nonexistent/ferry.yaml", "config"]);
    run.expect_code(2);
    assert_eq!(
        run.stderr.trim(),
        "error: loading configuration: configuration file /nonexistent/ferry.yaml (named by --config) does not exist"
    );
}

#[test]
fn unknown_config_key_names_key_and_file() {
    let home = TestHome::new();
    let run = ferry(&home, "registryConfig:\n  registries:\n    reg.io:\n      endpoint: [\"http://x\"]\n", &["config"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("ferry-config.yaml") && run.stderr.contains("unknown key") && run.stderr.contains("endpoint"),
        "{}",
        run.stderr
    );
}

#[test]
fn ferry_config_variable_and_overrides() {
    let home = TestHome::new();
    let a = home.path().join("a.yaml");
    std::fs::write(&a, "concurrentHTTP: 3\n").unwrap();
    let missing = home.path().join("missing.yaml");
    let run = ferry_tests::ferry_env(&home, &[("FERRY_CONFIG", &format!("{}:{}", missing.display(), a.display()))], &["config"]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("{} (named by FERRY_CONFIG) does not exist", missing.display())), "{}", run.stderr);
    let list = a.display().to_string();
    let run = ferry_tests::ferry_env(&home, &[("FERRY_CONFIG", &list)], &["config"]);
    run.expect_code(0);
    assert!(run.stdout.contains("concurrentHTTP: 3") && run.stdout.contains("a.yaml"), "{}", run.stdout);

    let run = ferry_tests::ferry_env(&home, &[("FERRY_CONFIG", &list), ("FERRY_CONCURRENT_HTTP", "11")], &["config"]);
    assert!(run.stdout.contains("concurrentHTTP: 11"), "{}", run.stdout);
    let run = ferry_tests::ferry_env(&home, &[("FERRY_CONFIG", &list), ("FERRY_CONCURRENT_HTTP", "many")], &["config"]);
    run.expect_code(2);
    assert!(run.stderr.contains("FERRY_CONCURRENT_HTTP"), "{}", run.stderr);
}

/// `ferry plugin inspect`: a built-in rule is a usable mapper; JSON for programs; another
/// interface version is refused (exit 1); a file that is not a component is bad input naming
/// the file.
#[test]
fn plugin_inspect() {
    let home = ferry_testkit::TestHome::new();
    let wasm = home.path().join("nest.wasm");
    std::fs::write(&wasm, ferry_plugin::builtin::NEST).unwrap();
    let run = ferry_tests::ferry_raw(&home, &["plugin", "inspect", wasm.to_str().unwrap()]);
    run.expect_code(0);
    for line in ["world:     mapper", "interface: ferry:plugin@0.1.1", "exports:   map-image", "usable:    yes"] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
    assert!(run.stdout.contains(&ferry_tests::sha256(ferry_plugin::builtin::NEST).trim_start_matches("sha256:").to_owned()));
    let run = ferry_tests::ferry_raw(&home, &["plugin", "inspect", "--json", wasm.to_str().unwrap()]);
    run.expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((doc["world"].as_str(), doc["usable"].as_bool()), (Some("mapper"), Some(true)));
    assert_eq!(doc["size"], ferry_plugin::builtin::NEST.len());
    // Built against another interface version: described, and refused with both versions.
    let other = home.path().join("route.wasm");
    std::fs::write(&other, ferry_plugin::builtin::OLD_INTERFACE).unwrap();
    let run = ferry_tests::ferry_raw(&home, &["plugin", "inspect", other.to_str().unwrap()]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("usable:    no: it was built against ferry:plugin@0.2.0, and this ferry runs 0.1.0, 0.1.1"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("route.wasm: not usable"), "{}", run.stderr);
    let bad = home.path().join("notes.wasm");
    std::fs::write(&bad, b"not a component").unwrap();
    let run = ferry_tests::ferry_raw(&home, &["plugin", "inspect", bad.to_str().unwrap()]);
    run.expect_code(2);
    assert!(run.stderr.contains("notes.wasm") && run.stderr.contains("not a loadable component"), "{}", run.stderr);
}

/// Outside bytes in a message are escaped and cut short: a 4 MiB sources line holding ESC
/// and BEL gives a short error naming FILE:LINE, with no raw control byte.
#[test]
fn a_huge_bad_line_gives_a_short_escaped_message() {
    let home = TestHome::new();
    let list = home.path().join("sources.list");
    let mut bytes = b"reg.example.com/app:v1\n\x1b[31m".to_vec();
    bytes.extend(std::iter::repeat_n(b'A', 4 << 20));
    bytes.extend(b"\x07\n");
    std::fs::write(&list, bytes).unwrap();
    let run = ferry(&home, "", &["mirror", "gather", list.to_str().unwrap(), "127.0.0.1:1/mirror:sync-1"]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("{}:2: invalid reference \"\\u{{1b}}[31mAAA", list.display())), "{}", run.stderr);
    assert!(run.stderr.len() < 1024, "{} bytes of message", run.stderr.len());
    assert!(!run.stderr.bytes().any(|b| b == 0x1b || b == 0x07), "{:?}", run.stderr);
}

/// A reader that closes standard output early (`| head`) ends ferry quietly with exit 0: no
/// panic, no exit 101. The pipe's read end is closed before ferry starts, so every write
/// meets a closed pipe.
#[test]
fn a_closed_pipe_ends_quietly() {
    let home = TestHome::new();
    for args in [vec!["plugin", "wit"], vec!["config", "--sample"], vec!["--help"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(ferry_tests::binary())
            .args(&args)
            .current_dir(home.path())
            .envs(home.env())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// `-v` alone means debug and never takes the next argument: the sources file stays the
/// sources file. `-v LEVEL`, `-vLEVEL` and `--verbosity=LEVEL` still set the level.
#[test]
fn v_alone_means_debug_and_takes_no_argument() {
    let home = TestHome::new();
    let run = ferry_raw(&home, &["mirror", "-v", "gather", "nonexistent.list", "127.0.0.1:1/mirror:sync-1"]);
    run.expect_code(2);
    assert!(run.stderr.contains("nonexistent.list") && !run.stderr.contains("invalid value"), "{}", run.stderr);
    assert!(run.stderr.contains("DEBUG") && run.stderr.contains("no configuration file found"), "{}", run.stderr);
    for args in [&["-v", "info", "config"][..], &["-vinfo", "config"], &["--verbosity=info", "config"], &["-v=INFO", "config"]] {
        let run = ferry_raw(&home, args);
        run.expect_code(0);
        assert!(!run.stderr.contains("DEBUG"), "{args:?}: {}", run.stderr);
    }
    let run = ferry_raw(&home, &["config"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "", "warn is the default");
}

/// A level that is none of the levels is a usage error listing them, from the flag or from
/// either variable.
#[test]
fn an_unknown_level_is_a_usage_error() {
    let home = TestHome::new();
    let run = ferry_raw(&home, &["--verbosity=loud", "config"]);
    run.expect_code(2);
    assert!(run.stderr.contains("'loud'") && run.stderr.contains("[possible values: error, warn, info, debug]"), "{}", run.stderr);
    for var in ["FERRY_VERBOSITY", "ACE_DT_VERBOSITY"] {
        let run = ferry_tests::ferry_env(&home, &[(var, "bogus")], &["config"]);
        run.expect_code(2);
        assert_eq!(
            run.stderr.trim(),
            format!("error: {var}=\"bogus\" is not a log level; the levels are error, warn, info, debug (or ace-dt's 0, 4, 8, 12)")
        );
        assert_eq!(run.stdout, "");
    }
}

/// ace-dt's verbosity variable is honoured after ferry's, numbers included.
#[test]
fn acedt_verbosity_is_honoured_after_ferrys() {
    let home = TestHome::new();
    let run = ferry_tests::ferry_env(&home, &[("ACE_DT_VERBOSITY", "12")], &["config"]);
    run.expect_code(0);
    assert!(run.stderr.contains("DEBUG") && run.stderr.contains("no configuration file found"), "{}", run.stderr);
    let run = ferry_tests::ferry_env(&home, &[("ACE_DT_VERBOSITY", "debug"), ("FERRY_VERBOSITY", "warn")], &["config"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "");
}

/// Log lines carry no colour codes when standard error is not a terminal.
#[test]
fn no_colour_when_stderr_is_not_a_terminal() {
    let home = TestHome::new();
    let run = ferry_raw(&home, &["-v", "debug", "config"]);
    run.expect_code(0);
    assert!(run.stderr.contains("DEBUG"), "{}", run.stderr);
    assert!(!run.stderr.contains('\x1b'), "{:?}", run.stderr);
}

/// At `-v debug` ferry says which configuration file it read, or where it looked.
#[test]
fn debug_names_the_configuration_file() {
    let home = TestHome::new();
    let run = ferry(&home, "concurrentHTTP: 3\n", &["-v", "config"]);
    run.expect_code(0);
    let file = home.path().join("ferry-config.yaml");
    assert!(run.stderr.contains(&format!("configuration read from {}", file.display())), "{}", run.stderr);
    std::fs::remove_file(&file).unwrap();
    let run = ferry_raw(&home, &["-v", "config"]);
    assert!(
        run.stderr.contains("no configuration file found, defaults used; looked at ferry-config.yaml, ")
            && run.stderr.contains("/etc/ace/dt/config.yaml"),
        "{}",
        run.stderr
    );
}

/// An ace-dt site's configuration is found after ferry's own places: `ACE_DT_CONFIG`, then
/// ace-dt's default places. Keys ferry does not use are left out with a note, not refused.
#[test]
fn an_acedt_configuration_is_read_after_ferrys() {
    let home = TestHome::new();
    let acedt = home.path().join("site-ace-dt.yaml");
    std::fs::write(
        &acedt,
        "apiVersion: config.dt.act3-ace.io/v1alpha1\nkind: Configuration\nconcurrentHTTP: 6\nfutureAceDtSetting: on\nregistryConfig:\n  registries:\n    reg.example.com:\n      endpoints: [\"http://127.0.0.1:5000\"]\n",
    )
    .unwrap();
    let path = acedt.display().to_string();
    let run = ferry_tests::ferry_env(&home, &[("ACE_DT_CONFIG", &path), ("FERRY_VERBOSITY", "info")], &["config"]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("# from {path}")), "{}", run.stdout);
    assert!(run.stdout.contains("reg.example.com") && run.stdout.contains("http://127.0.0.1:5000"), "{}", run.stdout);
    assert!(run.stdout.contains("concurrentHTTP: 6") && !run.stdout.contains("futureAceDtSetting"), "{}", run.stdout);
    assert!(run.stderr.contains("ace-dt configuration keys ferry does not use, left out: futureAceDtSetting"), "{}", run.stderr);

    // ace-dt's own default place, under XDG_CONFIG_HOME.
    let xdg = home.path().join(".config/ace/dt");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(xdg.join("config.yaml"), "concurrentHTTP: 2\n").unwrap();
    let run = ferry_raw(&home, &["config"]);
    run.expect_code(0);
    assert!(run.stdout.contains("concurrentHTTP: 2") && run.stdout.contains("ace/dt/config.yaml"), "{}", run.stdout);

    // ferry's own places come first.
    std::fs::write(home.path().join("ferry-config.yaml"), "concurrentHTTP: 9\n").unwrap();
    let run = ferry_tests::ferry_env(&home, &[("ACE_DT_CONFIG", &path)], &["config"]);
    run.expect_code(0);
    assert!(run.stdout.contains("concurrentHTTP: 9") && run.stdout.contains("# from ferry-config.yaml"), "{}", run.stdout);
}

/// ace-dt's checkpoint list, `--existing-from-checkpoint a:1, b:2`, as one quoted word or as
/// two: every blob either ledger records up to its offset is left out, the rest carried.
#[test]
fn a_checkpoint_list_with_spaces() {
    let reg = ferry_testkit::Registry::start();
    let p = reg.pusher();
    ferry_testkit::images::multi_platform_index(&p, "low/index", "sync-1", 70);
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg]);
    let src = format!("{}/low/index:sync-1", reg.addr());
    let ledger = home.path().join("full.jsonl");
    let whole = home.path().join("whole.tar");
    ferry(&home, &config, &["mirror", "serialize", "--checkpoint", ledger.to_str().unwrap(), &src, whole.to_str().unwrap()]).expect_code(0);
    let lines: Vec<String> = std::fs::read_to_string(&ledger).unwrap().lines().map(str::to_owned).collect();
    assert!(lines.len() >= 5, "{} ledger lines", lines.len());
    let offset = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["annotations"]["vnd.act3-ace.data.offset"].as_str().unwrap().to_owned()
    };
    let digest = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned()
    };
    // Two ledgers: the first two records, and the next two.
    let a = ferry_tests::write_file(&home, "a.jsonl", &format!("{}\n{}\n", lines[0], lines[1]));
    let b = ferry_tests::write_file(&home, "b.jsonl", &format!("{}\n{}\n", lines[2], lines[3]));
    let (first, second) = (format!("{a}:{}", offset(&lines[1])), format!("{b}:{}", offset(&lines[3])));
    let one_word = format!("{first}, {second}");
    let first_comma = format!("{first},");
    for (name, words) in [("one.tar", vec![one_word.as_str()]), ("two.tar", vec![first_comma.as_str(), second.as_str()])] {
        let tar = home.path().join(name);
        let args = [&["mirror", "serialize", "--existing-from-checkpoint"][..], &words, &[&src, tar.to_str().unwrap()]].concat();
        ferry(&home, &config, &args).expect_code(0);
        let mut archive = tar::Archive::new(std::fs::File::open(&tar).unwrap());
        let names: Vec<String> = archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
        for (i, l) in lines.iter().enumerate() {
            let carried = names.contains(&format!("blobs/sha256/{}", digest(l)));
            assert_eq!(carried, i >= 4, "{name}: ledger line {i} {}", if i >= 4 { "should be carried" } else { "should be left out" });
        }
    }
}

/// `ferry version` (and `-o json`) and `--version`: the release, the commit built, and the
/// archive format and plugin interface versions.
#[test]
fn version_names_commit_and_formats() {
    let home = TestHome::new();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "unknown".to_owned(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let run = ferry_raw(&home, &["version"]);
    run.expect_code(0);
    let serialization = format!("serialization version {}", ferry_archive::entries::SERIALIZATION_VERSION);
    let interface = format!("ferry:plugin@{}", ferry_plugin::INTERFACE_VERSION);
    for fact in
        [format!("ferry {}", env!("CARGO_PKG_VERSION")), format!("commit:           {commit}"), serialization.clone(), interface.clone()]
    {
        assert!(run.stdout.contains(&fact), "{fact}: {}", run.stdout);
    }
    let run = ferry_raw(&home, &["version", "-o", "json"]);
    run.expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(doc["commit"].as_str().unwrap().starts_with(&commit), "{doc}");
    assert_eq!(doc["archiveFormat"], ferry_archive::entries::SERIALIZATION_VERSION);
    assert_eq!(doc["pluginInterface"], interface.as_str());
    let date = doc["buildDate"].as_str().unwrap();
    assert!(date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-', "{date}");
    let run = ferry_raw(&home, &["--version"]);
    run.expect_code(0);
    let first = run.stdout.lines().next().unwrap();
    assert!(first.starts_with(&format!("ferry {} (commit {commit}", env!("CARGO_PKG_VERSION"))) && first.contains(date), "{}", run.stdout);
    assert!(run.stdout.contains(&serialization) && run.stdout.contains(&interface), "{}", run.stdout);
}

/// A completion script for each shell, naming the mirror commands.
#[test]
fn completion_scripts() {
    let home = TestHome::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = ferry_raw(&home, &["completion", shell]);
        run.expect_code(0);
        assert!(run.stdout.contains("mirror") && run.stdout.contains("batch-serialize"), "{shell}: {}", run.stdout);
    }
    let run = ferry_raw(&home, &["completion", "tcsh"]);
    run.expect_code(2);
}

/// The man pages under docs/man are what `ferry man DIR` writes now: regenerate them with
/// `ferry man docs/man` when this fails.
#[test]
fn man_pages_are_fresh() {
    let home = TestHome::new();
    let dir = home.path().join("man");
    ferry_raw(&home, &["man", dir.to_str().unwrap()]).expect_code(0);
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/man");
    let list = |d: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let names = list(&dir);
    assert!(names.contains(&"ferry-mirror-gather.1".to_owned()) && names.contains(&"ferry.1".to_owned()), "{names:?}");
    assert_eq!(list(&committed), names, "docs/man is stale: run `ferry man docs/man`");
    for name in &names {
        let fresh = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(std::fs::read_to_string(committed.join(name)).unwrap(), fresh, "docs/man/{name} is stale: run `ferry man docs/man`");
    }
    let run = ferry_raw(&home, &["man"]);
    run.expect_code(0);
    assert_eq!(run.stdout, std::fs::read_to_string(dir.join("ferry.1")).unwrap());
}
