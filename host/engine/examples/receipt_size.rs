//! How large a receipt is for a load of 2,000 images with shared base layers, and how fast it
//! is read back: for `just bench`. Prints markdown table rows.
//! `cargo run --release -p ferry-engine --example receipt_size`.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs, reason = "a benchmark tool")]

use std::time::Instant;

use ferry_engine::receipt::{ArchiveReceipt, ImageReceipt, Receipt, parse};
use ferry_oci::Digest;

const IMAGES: usize = 2_000;
/// Base layers shared across the images; each image has three of them and two of its own.
const BASES: usize = 50;

fn digest(n: usize) -> Digest {
    Digest::sha256(n.to_string().as_bytes())
}

fn main() {
    let mut receipt = Receipt::new();
    receipt.archives.push(ArchiveReceipt {
        file: "000049-week49.tar.zst".to_owned(),
        root: Some(digest(usize::MAX)),
        signer: Some(digest(1).to_string()),
        loaded: ferry_engine::receipt::now(),
        destination: "high.example.com/in/gather:week49".to_owned(),
        complete: true,
    });
    receipt.present.insert(digest(usize::MAX));
    for i in 0..IMAGES {
        let own = 1_000 + i * 4;
        for n in [own, own + 1, own + 2, own + 3, i % BASES, (i + 7) % BASES, (i + 19) % BASES] {
            receipt.present.insert(digest(n));
        }
    }
    receipt.images.push(ImageReceipt {
        reference: "high.example.com/in/gather:week49".to_owned(),
        digest: digest(usize::MAX),
        complete: true,
        missing: Vec::new(),
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    ferry_engine::receipt::write(&path, &receipt, None).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let t = Instant::now();
    let back = parse(&bytes, &path).unwrap();
    let read = t.elapsed();
    assert_eq!(back.present.len(), receipt.present.len());
    println!(
        "| {IMAGES} images, {} distinct digests | {} KiB | {:.1} ms |",
        receipt.present.len(),
        bytes.len() >> 10,
        read.as_secs_f64() * 1e3
    );
}
