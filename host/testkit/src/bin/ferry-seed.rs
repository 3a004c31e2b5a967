//! Seeds a registry with the sample images the demo and benchmarks use, and prints a
//! sources list for them. `ferry-seed URL [--big MiB,... [--repo NAME]] [--many N]
//! [--layered N]`.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs, reason = "a small tool")]

use ferry_testkit::{Pusher, images};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: ferry-seed URL [--big MiB,MiB,... [--repo NAME]] [--many N] [--layered N]");
        std::process::exit(2);
    };
    let host = url.split("://").nth(1).unwrap_or(&url).to_owned();
    let p = Pusher::new(url, None, None);
    let rest: Vec<String> = args.collect();
    if let Some(i) = rest.iter().position(|a| a == "--big") {
        let sizes: Vec<u64> = rest[i + 1].split(',').map(|m| m.parse::<u64>().expect("MiB") << 20).collect();
        let repo = rest.iter().position(|a| a == "--repo").map_or("bench/big", |r| rest[r + 1].as_str());
        images::big_image(&p, repo, "v1", &sizes, 42);
        println!("{host}/{repo}:v1");
        return;
    }
    if let Some(i) = rest.iter().position(|a| a == "--many") {
        let n: u64 = rest[i + 1].parse().expect("count");
        for k in 0..n {
            images::single_image(&p, &format!("bench/small{k:03}"), "v1", 1000 + k);
            println!("{host}/bench/small{k:03}:v1");
        }
        return;
    }
    if let Some(i) = rest.iter().position(|a| a == "--layered") {
        let n: usize = rest[i + 1].parse().expect("count");
        layered(&p, &host, n);
        return;
    }
    let app = images::single_image(&p, "library/app", "1.0", 1);
    images::artifact_with_subject(&p, "library/app", &app.manifest, 2);
    images::multi_platform_index(&p, "library/base", "2.1", 3);
    images::docker_image(&p, "legacy/tool", "0.9", 4);
    images::index_of_indexes(&p, "platform/bundle", "v1", 5);
    println!("{host}/library/app:1.0,team=apps");
    println!("{host}/library/base:2.1,team=platform");
    println!("{host}/legacy/tool:0.9");
    println!("{host}/platform/bundle:v1,team=platform");
}

/// `n` images `bench/layeredNNN:v1`, each of three of 20 shared base layers (512 KiB each) and
/// one of its own (64 KiB), as a site's images share their distributions' bases.
fn layered(p: &Pusher, host: &str, n: usize) {
    use ferry_oci::{gojson, media_type};
    let layer_type = "application/vnd.oci.image.layer.v1.tar";
    let mut rng = ferry_testkit::rng::Rng::new(77);
    let bases: Vec<Vec<u8>> = (0..20).map(|_| rng.bytes(512 << 10)).collect();
    for k in 0..n {
        let repo = format!("bench/layered{k:03}");
        let mut layers: Vec<_> = [k % 20, (k * 7 + 3) % 20, (k * 13 + 11) % 20]
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|b| p.push_blob(&repo, layer_type, &bases[*b]))
            .collect();
        layers.push(p.push_blob(&repo, layer_type, &rng.bytes(64 << 10)));
        let config = p.push_blob(&repo, media_type::OCI_CONFIG, format!("{{\"image\":{k}}}").as_bytes());
        let manifest = serde_json::json!({ "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config, "layers": layers });
        p.push_manifest(&repo, "v1", media_type::OCI_MANIFEST, &gojson::to_vec(&manifest));
        println!("{host}/{repo}:v1");
    }
}
