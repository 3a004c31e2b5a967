//! The installed-plugin store under concurrency: installs of different bundles into one store
//! at the same time, from threads with stores of their own and from separate processes, all
//! end up listed and whole, round after round.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use ferry_bundle::{ComponentEntry, Installed, Metadata, bundle};
use ferry_engine::store::LayoutStore;
use sha2::Digest as _;

const ROUNDS: usize = 20;
/// Set in a child process: install the bundle named by it from [`SOURCE_ENV`] into [`STORE_ENV`].
const CHILD_ENV: &str = "FERRY_TEST_INSTALL_BUNDLE";
const SOURCE_ENV: &str = "FERRY_TEST_INSTALL_SOURCE";
const STORE_ENV: &str = "FERRY_TEST_INSTALL_STORE";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A source layout holding bundles `names` (their components are not run, so any bytes do).
fn source(dir: &Path, names: &[&str]) -> PathBuf {
    let path = dir.join("source");
    runtime().block_on(async {
        let src = LayoutStore::open(&path, ferry_engine::store::Access::Create).unwrap();
        for name in names {
            let wasm = format!("component bytes of {name}").into_bytes();
            let entry = ComponentEntry {
                name: format!("{name}-map"),
                world: "mapper".to_owned(),
                interface: format!("ferry:plugin@{}", ferry_plugin::INTERFACE_VERSION),
                sha256: hex::encode(sha2::Sha256::digest(&wasm)),
                size: wasm.len() as u64,
            };
            let metadata =
                Metadata { name: (*name).to_owned(), version: "1.0.0".to_owned(), description: String::new(), components: vec![entry] };
            bundle::write(&src, name, &metadata, &[wasm]).await.unwrap();
        }
    });
    path
}

async fn install(source: &Path, store: &Path, name: &str) {
    let src = LayoutStore::open(source, ferry_engine::store::Access::Read).unwrap();
    let opened = bundle::open(&src, name).await.unwrap();
    Installed::open(store).unwrap().install(&src, &opened).await.unwrap();
}

/// The bundles listed in `store`, each opened whole (its blobs all there).
fn listed(store: &Path) -> Vec<String> {
    runtime().block_on(async {
        let installed = Installed::open(store).unwrap();
        let mut names = Vec::new();
        for (name, opened) in installed.bundles().await.unwrap() {
            let opened = opened.unwrap_or_else(|e| panic!("{name} is damaged: {e}"));
            let entry = opened.metadata.components[0].clone();
            let wasm = bundle::component_bytes(installed.store(), &opened, &entry).await.unwrap();
            assert_eq!(wasm, format!("component bytes of {name}").into_bytes());
            names.push(name);
        }
        names
    })
}

#[test]
fn installs_from_threads_at_once_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["alpha", "beta", "gamma"];
    let source = source(dir.path(), &names);
    for round in 0..ROUNDS {
        let store = dir.path().join(format!("store-{round}"));
        let start = Arc::new(Barrier::new(names.len()));
        let threads: Vec<_> = names
            .iter()
            .map(|name| {
                let (source, store, start, name) = (source.clone(), store.clone(), start.clone(), (*name).to_owned());
                std::thread::spawn(move || {
                    start.wait();
                    runtime().block_on(install(&source, &store, &name));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(listed(&store), names, "round {round}");
    }
}

#[test]
fn installs_from_processes_at_once_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["alpha", "beta"];
    let source = source(dir.path(), &names);
    let me = std::env::current_exe().unwrap();
    for round in 0..ROUNDS {
        let store = dir.path().join(format!("store-{round}"));
        let children: Vec<_> = names
            .iter()
            .map(|name| {
                std::process::Command::new(&me)
                    .args(["--exact", "child_install", "--nocapture", "--test-threads=1"])
                    .env(CHILD_ENV, name)
                    .env(SOURCE_ENV, &source)
                    .env(STORE_ENV, &store)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // The child really installed (it is not a test that did nothing).
            assert!(String::from_utf8_lossy(&out.stdout).contains("installed "), "{}", String::from_utf8_lossy(&out.stdout));
        }
        assert_eq!(listed(&store), names, "round {round}");
    }
}

/// The child of [`installs_from_processes_at_once_are_all_kept`]; does nothing on its own.
#[test]
fn child_install() {
    let Some(name) = std::env::var_os(CHILD_ENV) else { return };
    let (source, store) = (PathBuf::from(std::env::var_os(SOURCE_ENV).unwrap()), PathBuf::from(std::env::var_os(STORE_ENV).unwrap()));
    let name = name.to_string_lossy().into_owned();
    runtime().block_on(install(&source, &store, &name));
    #[allow(clippy::print_stdout, reason = "tells the parent the install ran")]
    {
        println!("installed {name}");
    }
}
