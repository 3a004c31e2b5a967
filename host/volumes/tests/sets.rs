//! Sets written and read back through real files: every way of losing or damaging up to
//! `N` volumes joins to the same bytes, more is refused by name, and repair writes the lost
//! volumes back byte for byte.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ferry_volumes::{Condition, Kind, SetId, SetSpec, SetWriter, survey, volume_path};

mod common;

use common::{MIB, stream};

fn write_set(dir: &Path, data: &[u8], volume_size: u64, parity: u32, run: u8) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let base = dir.join("w49.tar");
    let mut w = SetWriter::create(&base, SetSpec { volume_size, parity }, SetId { root: [7; 32], run: [run; 16] }).unwrap();
    // Uneven writes, as the block buffer's last block is.
    for chunk in data.chunks(300_001) {
        w.write_all(chunk).unwrap();
    }
    let set = w.finish().unwrap();
    for v in set.data.iter().chain(&set.parity) {
        assert!(std::fs::metadata(v).unwrap().len() <= volume_size, "{} within the size", v.display());
    }
    (set.data, set.parity)
}

fn joined(paths: &[PathBuf]) -> Result<Vec<u8>, String> {
    let survey = survey(paths, false).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    survey.reader().read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The stream joined with the volumes `gone` lost (moved aside: the others of the set are
/// found beside any one named).
fn joined_without(all: &[PathBuf], gone: &[usize]) -> Result<Vec<u8>, String> {
    let aside = |p: &PathBuf| PathBuf::from(format!("{}.lost", p.display()));
    for &i in gone {
        std::fs::rename(&all[i], aside(&all[i])).unwrap();
    }
    let kept: Vec<PathBuf> = all.iter().enumerate().filter(|(i, _)| !gone.contains(i)).map(|(_, p)| p.clone()).collect();
    let result = joined(&kept);
    for &i in gone {
        std::fs::rename(aside(&all[i]), &all[i]).unwrap();
    }
    result
}

#[test]
fn every_way_of_losing_two_volumes_joins_to_the_same_stream() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream((5 * MIB + 12_345) as usize, 1);
    let (d, p) = write_set(dir.path(), &data, MIB, 2, 1);
    assert_eq!(d.len(), 6);
    assert_eq!(p.len(), 2);
    let all: Vec<PathBuf> = d.iter().chain(&p).cloned().collect();
    assert_eq!(joined(&all).unwrap(), data, "whole");
    for a in 0..all.len() {
        for b in a + 1..all.len() {
            assert_eq!(joined_without(&all, &[a, b]).unwrap(), data, "without {a} and {b}");
        }
    }
    // Three lost: refused, naming them.
    let e = joined_without(&all, &[0, 1, 2]).unwrap_err();
    for lost in &all[..3] {
        assert!(e.contains(&lost.display().to_string()), "{e}");
    }
    assert!(e.contains("2 parity volumes rebuild at most 2: bring back 1 of them"), "{e}");
}

#[test]
fn damaged_bytes_inside_volumes_are_found_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream((3 * MIB + 999) as usize, 2);
    let (d, p) = write_set(dir.path(), &data, MIB, 2, 1);
    let all: Vec<PathBuf> = d.iter().chain(&p).cloned().collect();
    // A byte in a data volume's payload, one in the last volume, and one in a parity volume.
    for (path, at) in [(&d[0], 5_000u64), (&d[3], 700), (&p[1], 80_000)] {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[at as usize] ^= 0xff;
        std::fs::write(path, bytes).unwrap();
    }
    assert_eq!(joined(&all).unwrap(), data);
    let checked = survey(&all, true).unwrap();
    let damaged: Vec<&Path> =
        checked.reports.iter().filter(|r| matches!(r.condition, Condition::Damaged { stripes: 1 })).map(|r| r.path.as_path()).collect();
    assert_eq!(damaged, vec![d[0].as_path(), d[3].as_path(), p[1].as_path()]);
    assert!(checked.rebuildable().is_ok(), "each stripe has at most two bad shards");
    // A damaged header is a volume lost whole.
    let mut bytes = std::fs::read(&d[1]).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&d[1], bytes).unwrap();
    let s = survey(&all, true).unwrap();
    assert!(matches!(s.reports.iter().find(|r| r.path == d[1]).unwrap().condition, Condition::Unreadable(_) | Condition::Missing));
}

#[test]
fn shuffled_sets_directories_and_volumes_of_other_sets() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream((2 * MIB + 77) as usize, 3);
    let (d, p) = write_set(dir.path(), &data, MIB, 1, 1);
    let other = tempfile::tempdir().unwrap();
    let (od, _) = write_set(other.path(), &stream(1_000, 9), MIB, 1, 2);
    let mut shuffled: Vec<PathBuf> = p.iter().chain(d.iter().rev()).cloned().collect();
    shuffled.insert(1, od[0].clone());
    let s = survey(&shuffled, false).unwrap();
    assert!(s.reports.iter().any(|r| r.path == od[0] && matches!(r.condition, Condition::OtherSet(_))));
    let mut out = Vec::new();
    s.reader().read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
    assert_eq!(joined(&[dir.path().to_owned()]).unwrap(), data, "a directory of volumes");
    // A duplicate is reported and does no harm.
    let copy = dir.path().join("copy-of-002");
    std::fs::copy(&d[1], &copy).unwrap();
    let s = survey(&[dir.path().to_owned(), copy.clone()], false).unwrap();
    assert!(s.reports.iter().any(|r| r.path == copy && r.condition == Condition::Duplicate), "{:?}", s.reports);
}

#[test]
fn repair_writes_lost_volumes_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream((4 * MIB + 4_321) as usize, 4);
    let (d, p) = write_set(dir.path(), &data, MIB, 2, 1);
    let originals: Vec<Vec<u8>> = [&d[2], &p[0]].iter().map(|v| std::fs::read(v).unwrap()).collect();
    std::fs::remove_file(&d[2]).unwrap();
    std::fs::remove_file(&p[0]).unwrap();
    let s = survey(&[dir.path().to_owned()], true).unwrap();
    let missing: Vec<PathBuf> = s.reports.iter().filter(|r| r.condition == Condition::Missing).map(|r| r.path.clone()).collect();
    assert_eq!(missing, vec![d[2].clone(), p[0].clone()]);
    let out = tempfile::tempdir().unwrap();
    let written = s.repair(out.path()).unwrap();
    assert_eq!(written.len(), 2);
    for (w, original) in written.iter().zip(&originals) {
        assert_eq!(&std::fs::read(w).unwrap(), original, "{}", w.display());
    }
    assert_eq!(volume_path(&dir.path().join("w49.tar"), Kind::Parity, 1), p[0]);
}

#[test]
fn a_set_without_parity_and_a_single_volume_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream(1_000, 5);
    let (d, p) = write_set(dir.path(), &data, MIB, 0, 1);
    assert_eq!((d.len(), p.len()), (1, 0));
    assert_eq!(joined(&d).unwrap(), data);
    // A stream a little over one volume: the short last volume rebuilt from parity.
    let data = stream((MIB + 4_000) as usize, 6);
    let dir = tempfile::tempdir().unwrap();
    let (d, p) = write_set(dir.path(), &data, MIB, 1, 1);
    assert_eq!(d.len(), 2);
    let all = [d[0].clone(), d[1].clone(), p[0].clone()];
    assert_eq!(joined_without(&all, &[1]).unwrap(), data, "the last volume rebuilt");
    let e = joined_without(&all, &[1, 2]).unwrap_err();
    assert!(e.contains("w49.tar.002") && e.contains("w49.tar.p01"), "{e}");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Any stream, any volume size, any loss within the parity: the same bytes back.
        #[test]
        fn any_loss_within_the_parity_joins_back(len in 0usize..3_500_000, extra in 0u64..300_000, parity in 1u32..4, seed in any::<u64>(), lose in proptest::collection::vec(0usize..16, 0..4)) {
            let dir = tempfile::tempdir().unwrap();
            let data = stream(len, seed);
            let (d, p) = write_set(dir.path(), &data, MIB + extra, parity, 1);
            let all: Vec<PathBuf> = d.iter().chain(&p).cloned().collect();
            let mut gone: Vec<usize> = lose.iter().map(|i| i % all.len()).collect();
            gone.sort_unstable();
            gone.dedup();
            gone.truncate(parity as usize);
            prop_assert_eq!(joined_without(&all, &gone).unwrap(), data);
        }

        /// A volume cut or with bytes changed anywhere: an error, or the very bytes written.
        #[test]
        fn a_damaged_volume_never_passes_as_other_bytes(cut in 0usize..4000, at in 0usize..4000, flip in 1u8..=255) {
            let seed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/volume_set/one-volume")).unwrap();
            let mut bytes = seed[1..].to_vec();
            let at = at % bytes.len();
            bytes[at] ^= flip;
            bytes.truncate(cut.max(1).min(bytes.len()));
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("set.tar.001");
            std::fs::write(&path, &bytes).unwrap();
            let expected: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
            if let Ok(out) = joined(&[path]) {
                prop_assert_eq!(out, expected);
            }
        }

        /// Garbage where a header should be never panics and is never taken for a volume.
        #[test]
        fn garbage_headers_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut b = bytes.clone();
            if b.len() >= 8 {
                b[..8].copy_from_slice(b"FERRYVS\0");
            }
            let _ = ferry_volumes::Header::decode(&b);
        }
    }
}

#[test]
fn the_fuzz_seed_is_a_whole_one_volume_set() {
    let seed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/volume_set/one-volume")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("set.tar.001");
    std::fs::write(&path, &seed[1..]).unwrap();
    let expected: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    assert_eq!(joined(&[path]).unwrap(), expected);
}

mod resume {
    use super::*;
    use ferry_volumes::{Condition, SetWriter};

    const ROOT: [u8; 32] = [7; 32];

    /// Writes the first `cut` bytes of `data` and stops without finishing, as a run that died.
    fn interrupted(base: &Path, data: &[u8], cut: usize) {
        let mut w = SetWriter::create(base, SetSpec { volume_size: MIB, parity: 1 }, SetId { root: ROOT, run: [3; 16] }).unwrap();
        w.write_all(&data[..cut]).unwrap();
        drop(w);
    }

    fn resumed(base: &Path, data: &[u8]) -> usize {
        let spec = SetSpec { volume_size: MIB, parity: 1 };
        let r = SetWriter::resumable(base, spec, ROOT).unwrap();
        let kept = r.volumes();
        let mut w = SetWriter::resume(base, spec, ROOT, r, [4; 16]).unwrap();
        for chunk in data.chunks(77_777) {
            w.write_all(chunk).unwrap();
        }
        w.finish().unwrap();
        kept
    }

    #[test]
    fn a_run_that_died_keeps_its_whole_volumes_and_writes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("w.tar");
        let data = stream((5 * MIB + 3_000) as usize, 21);
        interrupted(&base, &data, (3 * MIB + 500_000) as usize);
        // An unfinished set reads as a partial archive: its whole volumes, no more.
        let partial = survey(&[dir.path().to_owned()], true).unwrap();
        assert!(partial.unfinished);
        assert_eq!((partial.data_count, partial.parity_count), (3, 0));
        let capacity = SetSpec { volume_size: MIB, parity: 1 }.capacity() as usize;
        assert_eq!(joined(&[dir.path().to_owned()]).unwrap(), data[..3 * capacity]);
        // Without its first volume it is not a set at all.
        let first = volume_path(&base, Kind::Data, 1);
        std::fs::rename(&first, dir.path().join("aside")).unwrap();
        let e = survey(&[volume_path(&base, Kind::Data, 2)], false).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("without its first volume"), "{e}");
        std::fs::rename(dir.path().join("aside"), &first).unwrap();
        // Volume 2 burned to a disc as soon as it was whole: its provisional header.
        let burned = std::fs::read(volume_path(&base, Kind::Data, 2)).unwrap();
        assert_eq!(resumed(&base, &data), 3, "three whole volumes were written before it died");
        assert_eq!(joined(&[dir.path().to_owned()]).unwrap(), data);
        // The disc reads with the finished set in place of its volume.
        std::fs::write(volume_path(&base, Kind::Data, 2), &burned).unwrap();
        assert_eq!(joined(&[dir.path().to_owned()]).unwrap(), data, "a volume taken off early reads with its set");
        let checked = survey(&[dir.path().to_owned()], true).unwrap();
        assert!(checked.reports.iter().all(|r| r.condition == Condition::Good), "{:?}", checked.reports);
    }

    #[test]
    fn a_stream_that_differs_is_written_from_where_it_differs() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("w.tar");
        let old = stream((4 * MIB) as usize, 22);
        interrupted(&base, &old, (3 * MIB + 10) as usize);
        let mut new = old.clone();
        new[(MIB + 300_000) as usize] ^= 1;
        new.truncate((2 * MIB + 5) as usize);
        let burned = std::fs::read(volume_path(&base, Kind::Data, 2)).unwrap();
        assert_eq!(resumed(&base, &new), 3);
        assert_eq!(joined(&[dir.path().to_owned()]).unwrap(), new, "the second volume rewritten from the change, the third gone");
        // A disc burned of the interrupted run's second volume holds other bytes: the new
        // run id makes it a volume of another set, refused by name.
        std::fs::write(dir.path().join("disc.002"), &burned).unwrap();
        let strangers = survey(&[dir.path().join("w.tar.001"), dir.path().join("disc.002")], false).unwrap();
        let e = strangers.refuse_strangers().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("disc.002"), "{e}");
        std::fs::remove_file(dir.path().join("disc.002")).unwrap();
        assert_eq!(survey(&[dir.path().to_owned()], true).unwrap().data_count, 3);
        // A stream that differs in the first volume and ends in the second: the interrupted
        // run's third volume goes, so the directory holds one finished set.
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("w.tar");
        interrupted(&base, &old, (3 * MIB + 10) as usize);
        let mut early = old[..(MIB + MIB / 2) as usize].to_vec();
        early[1_000] ^= 1;
        resumed(&base, &early);
        assert!(!volume_path(&base, Kind::Data, 3).exists());
        let checked = survey(&[dir.path().to_owned()], true).unwrap();
        assert!(checked.reports.iter().all(|r| r.condition == Condition::Good), "{:?}", checked.reports);
        let mut out = Vec::new();
        checked.reader().read_to_end(&mut out).unwrap();
        assert_eq!(out, early);
        // A stream that is shorter and the same: ends inside a kept volume.
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("w.tar");
        interrupted(&base, &old, (3 * MIB + 10) as usize);
        let short = old[..(MIB + 7) as usize].to_vec();
        resumed(&base, &short);
        assert_eq!(joined(&[dir.path().to_owned()]).unwrap(), short);
    }
}

#[test]
fn a_forged_header_claiming_a_vast_set_is_answered_at_once() {
    let seed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/volume_set/one-volume")).unwrap();
    let mut bytes = seed[1..].to_vec();
    let mut h = ferry_volumes::Header::decode(&bytes[..512]).unwrap();
    h.volume_size = 1 << 50;
    h.data_count = 3;
    h.parity_count = 1;
    h.stream = (1 << 50) * 2 + 5;
    bytes[..512].copy_from_slice(&h.encode());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.tar.001");
    std::fs::write(&path, &bytes).unwrap();
    // Answered from the rows that can differ, not by walking 2^32 stripes.
    let s = survey(std::slice::from_ref(&path), true).unwrap();
    let e = s.rebuildable().unwrap_err().to_string();
    assert!(e.contains("v.tar.002") && e.contains("v.tar.003"), "{e}");
    assert!(joined(&[path]).is_err());
}
