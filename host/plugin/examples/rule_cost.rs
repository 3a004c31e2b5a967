//! What a mapping rule or a policy costs per image once loaded, and what loading costs: for
//! `just bench`. Prints markdown table rows: `cargo run --release -p ferry-plugin --example
//! rule_cost` for the mapping rules, `… -- policies` for the policy components.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs, reason = "a benchmark tool")]

use std::time::{Duration, Instant};

use ferry_plugin::policy::{Attachment, AttachmentKind, Evidence, SignatureCheck};
use ferry_plugin::{Host, Image, Limits, Mapper, Policy, builtin, examples};

const IMAGES: usize = 10_000;

/// A rule to measure: its name, its component and its parameters.
type Case<'a> = (&'a str, &'static [u8], Vec<(String, String)>);

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn images() -> Vec<Image> {
    (0..IMAGES)
        .map(|i| Image {
            source: format!("reg.example.com/team{}/app{i}:v{}", i % 7, i % 13),
            digest: format!("sha256:{:064x}", i),
            media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
            size: 1000 + i as u64,
            platform: None,
            artifact_type: None,
            annotations: vec![("vnd.act3-ace.manifest.source".to_owned(), format!("reg.example.com/team{}/app{i}", i % 7))],
            labels: vec![("team".to_owned(), format!("team{}", i % 7))],
        })
        .collect()
}

fn per_image(mapper: &mut Mapper<'_>, images: &[Image]) -> f64 {
    median(|| {
        for img in images {
            std::hint::black_box(mapper.map(img).unwrap());
        }
    })
}

/// Median of three passes over every image, in µs per image.
fn median(mut pass: impl FnMut()) -> f64 {
    let mut passes: Vec<Duration> = (0..3)
        .map(|_| {
            let t = Instant::now();
            pass();
            t.elapsed()
        })
        .collect();
    passes.sort();
    passes[1].as_secs_f64() * 1e6 / IMAGES as f64
}

/// What a signed image with an SBOM and an attestation shows a policy: two referrers, two
/// tag attachments, one good signature.
fn evidence(i: usize) -> Evidence {
    let attachment = |kind, tag: String, artifact_type: &str, n: usize| Attachment {
        kind,
        tag,
        artifact_type: artifact_type.to_owned(),
        media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        digest: format!("sha256:{:064x}", i * 8 + n),
        size: 600,
        annotations: vec![("org.opencontainers.image.created".to_owned(), "2026-12-06T00:00:00Z".to_owned())],
    };
    let subject = format!("sha256-{i:064x}");
    Evidence {
        attachments: vec![
            attachment(AttachmentKind::Referrer, String::new(), "application/spdx+json", 1),
            attachment(AttachmentKind::Referrer, String::new(), "application/vnd.in-toto+json", 2),
            attachment(AttachmentKind::Tag, format!("{subject}.sig"), "", 3),
            attachment(AttachmentKind::Tag, format!("{subject}.att"), "", 4),
        ],
        signatures: vec![SignatureCheck { signature: format!("sha256:{:064x}", i * 8 + 3), key_id: "sha256:feed".to_owned(), valid: true }],
    }
}

fn policies(host: &Host, images: &[Image]) {
    let evidence: Vec<Evidence> = (0..images.len()).map(evidence).collect();
    let cases: Vec<Case<'_>> = vec![
        ("examples/require-sbom, signed=true", examples::REQUIRE_SBOM, params(&[("signed", "true")])),
        ("examples/deny-by-label", examples::DENY_BY_LABEL, params(&[("label", "team"), ("deny", "team3")])),
    ];
    for (name, wasm, p) in cases {
        let loaded = host.load(name, wasm).unwrap();
        let mut policy = Policy::new(host, &loaded, p).unwrap();
        let us = median(|| {
            for (img, e) in images.iter().zip(&evidence) {
                std::hint::black_box(policy.decide(img, e).unwrap());
            }
        });
        println!("| {name} | {us:.1} µs | {} KiB |", wasm.len() >> 10);
    }
}

fn main() {
    let cache = tempfile::tempdir().unwrap();
    let host = Host::new(Limits::default(), Some(cache.path().to_owned())).unwrap();
    let images = images();
    if std::env::args().nth(1).as_deref() == Some("policies") {
        return policies(&host, &images);
    }
    // A 200-row mapping file, the match near the end for most images.
    let mut csv = String::new();
    for t in 0..200 {
        csv.push_str(&format!("reg.example.com/other{t}/,high.example.com/other{t}/\n"));
    }
    for t in 0..7 {
        csv.push_str(&format!("reg.example.com/team{t}/,high.example.com/t{t}/\n"));
    }
    // Source-based routing: the registry prefix dropped, one team sent elsewhere by label.
    let template = r#"{{- $src := index .Annotations "vnd.act3-ace.manifest.source" -}}
{{- if eq (index .Labels "team") "team3" -}}
high.example.com/special/{{ trimPrefix "reg.example.com/" $src }}
{{- else if hasPrefix "reg.example.com/" $src -}}
high.example.com/mirror/{{ trimPrefix "reg.example.com/" $src }}
{{- end }}"#;
    let rules: Vec<Case<'_>> = vec![
        ("nest", builtin::NEST, params(&[("prefix", "high.example.com/mirror")])),
        ("first-prefix (207 rows)", builtin::CSV_MAP, params(&[("rule", "first-prefix"), ("file", &csv)])),
        ("longest-prefix (207 rows)", builtin::CSV_MAP, params(&[("rule", "longest-prefix"), ("file", &csv)])),
        ("digests (207 rows)", builtin::CSV_MAP, params(&[("rule", "digests"), ("file", &csv)])),
        ("go-template", builtin::GO_TEMPLATE, params(&[("file", template), ("path", "route.tmpl")])),
        (
            "site component: examples/route-by-label",
            examples::ROUTE_BY_LABEL,
            params(&[("label", "team"), ("to.team3", "high.example.com/special/"), ("default", "high.example.com/mirror/")]),
        ),
    ];
    for (name, wasm, p) in rules {
        let t = Instant::now();
        let loaded = host.load(name, wasm).unwrap();
        let first_load = t.elapsed();
        let fresh = Host::new(Limits::default(), Some(cache.path().to_owned())).unwrap();
        let t = Instant::now();
        let _ = fresh.load(name, wasm).unwrap();
        let cached = t.elapsed();
        let mut mapper = Mapper::new(&host, &loaded, p).unwrap();
        let us = per_image(&mut mapper, &images);
        println!(
            "| {name} | {us:.1} µs | {:.1} ms | {:.2} ms | {} KiB |",
            first_load.as_secs_f64() * 1e3,
            cached.as_secs_f64() * 1e3,
            wasm.len() >> 10
        );
    }
}
