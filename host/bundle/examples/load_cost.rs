//! What the trust policy costs: loading an installed component by name (the bundle found, its
//! signature checked against the trusted keys, the wasm read and checked against its pin)
//! against reading the same component from a file; and what a signature check and an install
//! take. Prints Markdown table rows for `docs/benchmarks.md`.

#![allow(clippy::unwrap_used, clippy::print_stdout, reason = "a benchmark program")]

use std::time::{Duration, Instant};

use ferry_bundle::{Installed, Metadata, Policy, PrivateKey, bundle};
use ferry_engine::store::LayoutStore;
use ferry_plugin::{Host, Limits};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(Limits::default(), None).unwrap();
    let wasm = ferry_plugin::examples::ROUTE_BY_LABEL.to_vec();
    let entry = bundle::describe(&host, "route-by-label", &wasm).unwrap();
    let metadata = Metadata { name: "site-rules".into(), version: "1.0.0".into(), description: String::new(), components: vec![entry] };
    let layout = LayoutStore::open(&dir.path().join("bundle"), ferry_engine::store::Access::Create).unwrap();
    bundle::write(&layout, "1.0.0", &metadata, std::slice::from_ref(&wasm)).await.unwrap();
    let key = PrivateKey::generate();
    let unsigned = bundle::open(&layout, "1.0.0").await.unwrap();
    bundle::sign(&layout, &unsigned, &key, "site-rules").await.unwrap();
    let opened = bundle::open(&layout, "1.0.0").await.unwrap();
    let policy = Policy { require_signed: true, trusted_keys: vec![key.public_key()] };

    let mut installs = Vec::new();
    for i in 0..10 {
        let store = Installed::open(&dir.path().join(format!("store-{i}"))).unwrap();
        let start = Instant::now();
        store.install(&layout, &opened).await.unwrap();
        installs.push(start.elapsed());
    }
    let installed = Installed::open(&dir.path().join("store-0")).unwrap();
    let file = dir.path().join("route-by-label.wasm");
    std::fs::write(&file, &wasm).unwrap();

    let mut by_name = Vec::new();
    let mut by_file = Vec::new();
    for _ in 0..100 {
        let start = Instant::now();
        let (_, _, bytes) = installed.component("route-by-label", &policy).await.unwrap();
        by_name.push(start.elapsed());
        assert_eq!(bytes.len(), wasm.len());
        let start = Instant::now();
        let bytes = std::fs::read(&file).unwrap();
        by_file.push(start.elapsed());
        assert_eq!(bytes.len(), wasm.len());
    }
    let mut checks = Vec::new();
    for _ in 0..1000 {
        let start = Instant::now();
        bundle::trusted_signer(&opened, &policy.trusted_keys).unwrap();
        checks.push(start.elapsed());
    }
    let size = wasm.len() / 1024;
    println!(
        "| load by name under requireSigned ({size} KiB component) | {} | read from a file: {} |",
        ms(median(by_name)),
        ms(median(by_file))
    );
    println!("| signature check (ECDSA P-256, one trusted key) | {} | |", ms(median(checks)));
    println!("| install from an OCI layout into an empty store | {} | |", ms(median(installs)));
}
