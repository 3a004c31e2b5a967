//! The engine's workflows called as a library, without a registry: routing by a rule written
//! in plain Rust, the placement plan, the skip set from a ledger, a partial archive and an
//! existing image, and serialize into memory.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::HashSet;
use std::path::Path;

use ferry_config::Config;
use ferry_engine::components::{Mapper, Rule};
use ferry_engine::confine::LayoutRoots;
use ferry_engine::delta::{Delta, existing_blobs, skip_set};
use ferry_engine::events::no_events;
use ferry_engine::place::{Artifact, Content, MappingProblem, plan};
use ferry_engine::route::route;
use ferry_engine::serialize::{SerializeOptions, serialize};
use ferry_engine::store::{Access, LayoutStore};
use ferry_oci::layout::Layout;
use ferry_oci::{Descriptor, ImageRef, LayoutRef, Platform, annotations, media_type};
use ferry_registry::Client;

/// Sends each artifact to `reg.io/mirror/<last part of its source>`; fails on a source named
/// `bad`.
struct ByName {
    roots: LayoutRoots,
}

struct ByNameMapper;

impl Rule for ByName {
    fn text(&self) -> &str {
        "by-name"
    }
    fn roots(&self) -> &LayoutRoots {
        &self.roots
    }
    fn mapper(&self) -> Result<Box<dyn Mapper + '_>, ferry_engine::Error> {
        Ok(Box::new(ByNameMapper))
    }
}

impl Mapper for ByNameMapper {
    fn map(&mut self, artifact: &Artifact) -> Result<Vec<String>, ferry_engine::Error> {
        let name = artifact.source().rsplit('/').next().unwrap_or_default();
        if name.starts_with("bad") {
            return Err(ferry_engine::Error::Component { what: format!("mapping {name}"), source: "refused".into() });
        }
        Ok(vec![format!("reg.io/mirror/{name}")])
    }
}

fn artifact(source: &str, content: &str) -> Artifact {
    let mut descriptor = Descriptor::of_bytes(media_type::OCI_MANIFEST, content.as_bytes());
    descriptor.annotations.insert(annotations::SOURCE.to_owned(), source.to_owned());
    Artifact { descriptor, store: 0 }
}

#[test]
fn a_rule_routes_many_artifacts_in_order_on_several_workers() {
    let artifacts: Vec<Artifact> = (0..300).map(|i| artifact(&format!("src.io/team/app{i}:v1"), &format!("m{i}"))).collect();
    let rule = ByName { roots: LayoutRoots::none() };
    let routed = route(&rule, artifacts.clone()).unwrap();
    assert_eq!(routed.len(), 300);
    for (i, (a, destinations)) in routed.iter().enumerate() {
        assert_eq!(a.descriptor.digest, artifacts[i].descriptor.digest);
        assert_eq!(destinations, &vec![format!("reg.io/mirror/app{i}:v1")]);
    }
    let mut with_bad = artifacts;
    with_bad[150] = artifact("src.io/team/bad:v1", "bad");
    let e = route(&rule, with_bad).unwrap_err();
    assert!(e.is_bad_input() && e.to_string() == "mapping bad:v1", "{e}");
}

#[test]
fn the_plan_refuses_what_a_rule_must_not_do() {
    let roots = LayoutRoots::none();
    let (a, b) = (artifact("src.io/a:1", "a"), artifact("src.io/b:1", "b"));
    let problem = |routed: Vec<(Artifact, Vec<String>)>| match plan("rule", &routed, &roots).unwrap_err() {
        ferry_engine::Error::Mapping { rule, problem } => {
            assert_eq!(rule, "rule");
            *problem
        }
        other => panic!("{other}"),
    };
    assert!(matches!(problem(vec![(a.clone(), vec![" ".into()])]), MappingProblem::Empty { .. }));
    assert!(matches!(problem(vec![(a.clone(), vec!["reg.io/Upper/x".into()])]), MappingProblem::Invalid { .. }));
    assert!(matches!(problem(vec![(a.clone(), vec!["oci:/elsewhere:x".into()])]), MappingProblem::OutsideLayouts { .. }));
    let shared = vec![(a.clone(), vec!["reg.io/x:1".into()]), (b.clone(), vec!["reg.io/x:1".into()])];
    assert!(matches!(problem(shared), MappingProblem::Shared { .. }));
    let pinned = format!("reg.io/x@{}", b.descriptor.digest);
    assert!(matches!(problem(vec![(a.clone(), vec![pinned])]), MappingProblem::Pinned { .. }));

    // One artifact to two places, the same one twice to one: two placements, in order.
    let ok = plan("rule", &[(a.clone(), vec!["reg.io/y:1".into(), "reg.io/z:1".into(), "reg.io/y:1".into()])], &roots).unwrap();
    let names: Vec<String> = ok.iter().map(|p| p.destination.to_string()).collect();
    assert_eq!(names, ["reg.io/y:1", "reg.io/z:1"]);
}

#[test]
fn platforms_of_one_index_sent_to_one_reference_form_a_new_index() {
    let platform = |arch: &str, content: &str| {
        let mut a = artifact("src.io/multi:1", content);
        a.descriptor.platform = Some(Platform { architecture: arch.to_owned(), os: "linux".to_owned(), ..Platform::default() });
        a
    };
    let (amd, arm) = (platform("amd64", "amd"), platform("arm64", "arm"));
    let routed = vec![(amd.clone(), vec!["reg.io/m:1".to_owned()]), (arm.clone(), vec!["reg.io/m:1".to_owned()])];
    let placements = plan("rule", &routed, &LayoutRoots::none()).unwrap();
    assert_eq!(placements.len(), 1);
    match &placements[0].content {
        Content::Selection { children, .. } => {
            let digests: Vec<_> = children.iter().map(|c| c.digest.clone()).collect();
            assert_eq!(digests, [amd.descriptor.digest, arm.descriptor.digest]);
        }
        Content::Artifact(_) => panic!("expected a new index"),
    }
}

/// An image in a new layout at `dir`, tagged `tag`: a config and two layers.
fn layout_image(dir: &Path, tag: &str, seed: &str) -> (Vec<Descriptor>, Descriptor) {
    let layout = Layout::create(dir).unwrap();
    let blob = |media: &str, bytes: Vec<u8>| {
        let d = Descriptor::of_bytes(media, &bytes);
        layout.write_blob(&d, bytes.as_slice()).unwrap();
        d
    };
    let config = blob(media_type::OCI_CONFIG, format!("{{\"seed\":\"{seed}\"}}").into_bytes());
    let layers: Vec<Descriptor> =
        (0..2).map(|i| blob("application/vnd.oci.image.layer.v1.tar", format!("{seed} layer {i} ").repeat(4000).into_bytes())).collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST,
        "config": config, "layers": layers,
    });
    let root = blob(media_type::OCI_MANIFEST, serde_json::to_vec(&manifest).unwrap());
    layout.tag(&root, tag).unwrap();
    (std::iter::once(config).chain(layers).collect(), root)
}

fn client(dir: &Path) -> Client {
    let file = dir.join("config.yaml");
    std::fs::write(&file, "").unwrap();
    Client::new(Config::load(&[file]).unwrap())
}

#[tokio::test]
async fn serialize_writes_to_memory_and_the_skip_set_reads_what_a_partial_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (blobs, root) = layout_image(&dir.path().join("src"), "v1", "a");
    let store = LayoutStore::open(&dir.path().join("src"), Access::Read).unwrap();
    let options = SerializeOptions { ref_name: "v1".to_owned(), ..SerializeOptions::default() };
    let (outcome, archive) = serialize(&store, root.clone(), Vec::new(), &options, no_events()).await.unwrap();
    assert_eq!(outcome.blobs, 4, "config, two layers and the manifest");
    assert_eq!(outcome.archive_bytes, archive.len() as u64);

    // Cut inside the second layer: the manifest, config and first layer are whole.
    let ledgerless = dir.path().join("partial.tar");
    let cut = archive.len() - 20_000;
    std::fs::write(&ledgerless, &archive[..cut]).unwrap();
    let delta = Delta { archives: vec![ledgerless.clone()], ..Delta::default() };
    let client = client(dir.path());
    let skip = skip_set(&client, &delta, None, &no_events()).await.unwrap();
    let expected: HashSet<_> = [root.digest.clone(), blobs[0].digest.clone(), blobs[1].digest.clone()].into_iter().collect();
    assert_eq!(skip, expected);

    // The partial archive is DEST itself: refused, nothing read.
    let e = skip_set(&client, &delta, Some(&ledgerless), &no_events()).await.unwrap_err();
    assert!(e.is_bad_input() && e.to_string().contains("that is DEST"), "{e}");

    // An existing image leaves out its non-manifest blobs.
    let image = ImageRef::Layout(LayoutRef { path: dir.path().join("src"), tag: Some("v1".to_owned()), digest: None });
    let existing = existing_blobs(&store, &image).await.unwrap();
    assert_eq!(existing, blobs.iter().map(|b| b.digest.clone()).collect());
    let with_existing = Delta { existing: vec![image], ..Delta::default() };
    assert_eq!(skip_set(&client, &with_existing, None, &no_events()).await.unwrap(), existing);

    // Serialized again leaving those out: only the manifest is written.
    let options = SerializeOptions { skip: existing, ..options };
    let (again, _) = serialize(&store, root, Vec::new(), &options, no_events()).await.unwrap();
    assert_eq!(again.blobs, 1);
}

#[tokio::test]
async fn a_ledger_names_what_was_delivered_below_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (blobs, root) = layout_image(&dir.path().join("src"), "v1", "b");
    let store = LayoutStore::open(&dir.path().join("src"), Access::Read).unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let options = SerializeOptions { ref_name: "v1".to_owned(), checkpoint: Some(ledger.clone()), ..SerializeOptions::default() };
    serialize(&store, root.clone(), Vec::new(), &options, no_events()).await.unwrap();
    let text = std::fs::read_to_string(&ledger).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    // Up to the second record's offset: the first two blobs written.
    let offset: u64 = lines[1]["annotations"][ferry_archive::ledger::OFFSET].as_str().expect("an offset").parse().unwrap();
    let delta = Delta { checkpoints: vec![(ledger, offset)], ..Delta::default() };
    let skip = skip_set(&client(dir.path()), &delta, None, &no_events()).await.unwrap();
    assert_eq!(skip.len(), 2);
    let written: HashSet<_> = std::iter::once(root.digest).chain(blobs.into_iter().map(|b| b.digest)).collect();
    assert!(skip.is_subset(&written));
}
