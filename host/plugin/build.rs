//! Builds ferry's components (the nested workspace in `components/`) for wasm32-wasip2, so
//! the built-in rules can be embedded in the binary and the sandbox tests have their guests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Components built here, by crate name.
const COMPONENTS: [&str; 13] = [
    "nest",
    "csv_map",
    "go_template",
    "sources_list",
    "csv_tracker",
    "route_by_label",
    "jsonl_tracker",
    "require_sbom",
    "deny_by_label",
    "hostile",
    "endless_parser",
    "old_interface",
    "earlier_minor",
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for watched in [
        "components/Cargo.toml",
        "components/Cargo.lock",
        "components/nest",
        "components/csv-map",
        "components/go-template",
        "components/csv-records",
        "components/sources-list",
        "components/csv-tracker",
        "components/examples",
        "components/testing",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = out.join("components");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["build", "--locked", "--target", "wasm32-wasip2", "--profile", "guest", "--manifest-path"])
        .arg(root.join("components/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags and wrappers (clippy's among them) are not the guests'.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("running cargo for the components");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !has_wasm_target() {
            panic!(
                "ferry's plugin components need the wasm32-wasip2 target: run `rustup target add wasm32-wasip2` (scripts/bootstrap does)\n{stderr}"
            );
        }
        panic!("building ferry's components failed:\n{stderr}");
    }
    for name in COMPONENTS {
        let built = target_dir.join("wasm32-wasip2/guest").join(format!("{name}.wasm"));
        std::fs::copy(&built, out.join(format!("{name}.wasm"))).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
    }
}

/// Whether rustc's sysroot has the wasm32-wasip2 standard library.
fn has_wasm_target() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .is_some_and(|sysroot| Path::new(&sysroot).join("lib/rustlib/wasm32-wasip2").exists())
}
