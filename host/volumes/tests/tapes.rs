//! Sets on media that take one volume each: written through the hand-off, read back by
//! staging with a loader that plays the operator (tapes lost, loaded twice, of another set,
//! cut short, damaged), and joined to the stream that was written.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use ferry_volumes::tape::{Loader, OneAtATime, Wanted, stage, write_to_medium};
use ferry_volumes::{Handed, SetId, SetSpec, SetWriter, survey};

mod common;

use common::{MIB, stream};

/// A set written volume by volume to "tapes", keyed `1`, `2`, …, `p1`, …, with what the
/// staging directory held at each hand-off.
fn write_tapes(dir: &Path, data: &[u8], parity: u32, run: u8) -> (HashMap<String, Vec<u8>>, Vec<usize>) {
    let tapes = std::sync::Arc::new(std::sync::Mutex::new(HashMap::new()));
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (t, h, d) = (tapes.clone(), held.clone(), dir.to_owned());
    let handoff = Box::new(move |v: Handed<'_>| {
        let mut tape = Vec::new();
        write_to_medium(v.path, &mut tape)?;
        let key = Wanted { kind: v.kind, index: v.index }.to_string();
        t.lock().unwrap().insert(key, tape);
        h.lock().unwrap().push(std::fs::read_dir(&d).unwrap().count());
        Ok(())
    });
    let spec = SetSpec { volume_size: 2 * MIB, parity };
    let mut w = SetWriter::create(&dir.join("set"), spec, SetId { root: [7; 32], run: [run; 16] }).unwrap().handing_off(handoff);
    for chunk in data.chunks(300_001) {
        w.write_all(chunk).unwrap();
    }
    w.finish().unwrap();
    let tapes = tapes.lock().unwrap().clone();
    let held = held.lock().unwrap().clone();
    (tapes, held)
}

/// Plays the operator: answers each request from `answer`, recording what was asked.
struct Operator<F: FnMut(&str) -> Option<Vec<u8>>> {
    answer: F,
    asked: Vec<String>,
    refused: Vec<String>,
}

impl<F: FnMut(&str) -> Option<Vec<u8>>> Loader for Operator<F> {
    fn load(&mut self, wanted: Wanted) -> Result<Option<Box<dyn Read>>, ferry_volumes::VolumeError> {
        self.asked.push(wanted.to_string());
        Ok((self.answer)(&wanted.to_string()).map(|t| Box::new(std::io::Cursor::new(t)) as Box<dyn Read>))
    }

    fn refused(&mut self, _: Wanted, why: &str) {
        self.refused.push(why.to_owned());
    }
}

fn operator<F: FnMut(&str) -> Option<Vec<u8>>>(answer: F) -> Operator<F> {
    Operator { answer, asked: Vec::new(), refused: Vec::new() }
}

/// Stages from the first tape and joins what was staged.
fn read_back(first: &[u8], op: &mut dyn Loader, every: bool) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().unwrap();
    let volumes = stage(Box::new(std::io::Cursor::new(first.to_vec())), op, dir.path(), every).map_err(|e| e.to_string())?;
    let survey = survey(&volumes, true).map_err(|e| e.to_string())?;
    survey.rebuildable().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    survey.reader().read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn without_parity_the_staging_directory_holds_one_volume_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream(7 * MIB as usize, 1);
    let (tapes, held) = write_tapes(dir.path(), &data, 0, 1);
    assert_eq!(tapes.len(), 4);
    assert!(held.iter().all(|n| *n == 1), "one volume staged at each hand-off: {held:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing is left behind");
    // Every tape but the last holds a provisional header: its set's count is not known.
    for (key, count) in [("1", 0u32), ("2", 0), ("3", 0), ("4", 4)] {
        assert_eq!(u32::from_le_bytes(tapes[key][16..20].try_into().unwrap()), count, "tape {key}");
    }
    let mut op = operator(|v| tapes.get(v).cloned());
    assert_eq!(read_back(&tapes["1"], &mut op, false).unwrap(), data);
    assert_eq!(op.asked, ["2", "3", "4"]);
}

#[test]
fn a_set_without_parity_is_read_one_tape_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream(7 * MIB as usize, 11);
    let (tapes, _) = write_tapes(dir.path(), &data, 0, 11);
    let staging = tempfile::tempdir().unwrap();
    let held = std::cell::RefCell::new(Vec::new());
    let count = || std::fs::read_dir(staging.path()).unwrap().count();
    let op = operator(|v| {
        held.borrow_mut().push(count());
        tapes.get(v).cloned()
    });
    let mut reader = OneAtATime::new(Box::new(std::io::Cursor::new(tapes["1"].clone())), op, staging.path()).unwrap();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    assert!(out == data, "the stream comes back");
    assert_eq!(*held.borrow(), [0, 0, 0], "each volume is gone before the next is asked for");
    assert_eq!(count(), 0);

    // A lost tape, a damaged one: the stream stops naming it (there is no parity).
    let read = |answer: &dyn Fn(&str) -> Option<Vec<u8>>| {
        let staging = tempfile::tempdir().unwrap();
        let op = operator(|v| answer(v));
        let mut out = Vec::new();
        OneAtATime::new(Box::new(std::io::Cursor::new(tapes["1"].clone())), op, staging.path())
            .map_err(|e| e.to_string())
            .and_then(|mut r| r.read_to_end(&mut out).map_err(|e| e.to_string()))
            .err()
            .unwrap_or_default()
    };
    let lost = read(&|v| if v == "3" { None } else { tapes.get(v).cloned() });
    assert!(lost.contains("volume 3 cannot be had and the set has no parity"), "{lost}");
    let mut bad = tapes["2"].clone();
    bad[5_000] ^= 1;
    let damaged = read(&|v| if v == "2" { Some(bad.clone()) } else { tapes.get(v).cloned() });
    assert!(damaged.contains("volume 2 is damaged"), "{damaged}");
    // Tape 3 when 2 is asked for: named, asked again.
    let mut wrong = Some(tapes["3"].clone());
    let staging = tempfile::tempdir().unwrap();
    let mut op = operator(|v| if v == "2" { wrong.take().or_else(|| tapes.get(v).cloned()) } else { tapes.get(v).cloned() });
    let mut out = Vec::new();
    OneAtATime::new(Box::new(std::io::Cursor::new(tapes["1"].clone())), &mut op, staging.path()).unwrap().read_to_end(&mut out).unwrap();
    assert!(out == data);
    assert_eq!(op.refused, ["volume 3"]);
    // Not volume 1 first.
    let staging = tempfile::tempdir().unwrap();
    let e = OneAtATime::new(Box::new(std::io::Cursor::new(tapes["2"].clone())), operator(|_| None), staging.path()).err().unwrap();
    assert!(e.to_string().contains("read from volume 1"), "{e}");
}

#[test]
fn a_lost_tape_is_rebuilt_and_the_parity_tape_tells_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream(7 * MIB as usize, 2);
    let (tapes, held) = write_tapes(dir.path(), &data, 1, 2);
    assert_eq!(held.last(), Some(&5), "with parity every volume stays until the set is whole");
    // The last data tape lost: the count comes from the parity tape.
    let mut op = operator(|v| if v == "4" { None } else { tapes.get(v).cloned() });
    assert_eq!(read_back(&tapes["1"], &mut op, false).unwrap(), data);
    assert_eq!(op.asked, ["2", "3", "4", "p1"]);
    // A middle one lost: parity first, then the rest.
    let mut op = operator(|v| if v == "2" { None } else { tapes.get(v).cloned() });
    assert_eq!(read_back(&tapes["1"], &mut op, false).unwrap(), data);
    assert_eq!(op.asked, ["2", "p1", "3", "4"]);
    // Damage inside tape 3 asks for the parity tape too.
    let mut damaged = tapes["3"].clone();
    damaged[100_000] ^= 1;
    let mut op = operator(|v| if v == "3" { Some(damaged.clone()) } else { tapes.get(v).cloned() });
    assert_eq!(read_back(&tapes["1"], &mut op, false).unwrap(), data);
    assert_eq!(op.asked, ["2", "3", "4", "p1"]);
    // Two lost with one parity tape: refused, naming them.
    let mut op = operator(|v| if v == "2" || v == "3" { None } else { tapes.get(v).cloned() });
    let err = read_back(&tapes["1"], &mut op, false).unwrap_err();
    assert!(err.contains("set.002") && err.contains("set.003"), "{err}");
}

#[test]
fn wrong_tapes_are_named_and_asked_for_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream(5 * MIB as usize, 3);
    let (tapes, _) = write_tapes(dir.path(), &data, 1, 3);
    let other_dir = tempfile::tempdir().unwrap();
    let (other, _) = write_tapes(other_dir.path(), &data, 1, 4);
    // Tape 2 of another set, then tape 1 again, then the right one.
    let mut wrong = vec![other["2"].clone(), tapes["1"].clone()];
    let mut op = operator(|v| if v == "2" && !wrong.is_empty() { Some(wrong.remove(0)) } else { tapes.get(v).cloned() });
    assert_eq!(read_back(&tapes["1"], &mut op, false).unwrap(), data);
    assert_eq!(op.refused.len(), 2, "{:?}", op.refused);
    assert!(op.refused[0].starts_with("volume 2 of another set"), "{:?}", op.refused);
    assert_eq!(op.refused[1], "volume 1, already read");
    // Three wrong tapes in a row stop it.
    let mut op = operator(|v| if v == "2" { Some(b"not a tape of any set".repeat(40)) } else { tapes.get(v).cloned() });
    let err = read_back(&tapes["1"], &mut op, false).unwrap_err();
    assert!(err.contains("3 times in a row"), "{err}");
    // A tape cut short names its volume.
    let short = tapes["2"][..300_000].to_vec();
    let mut op = operator(|v| if v == "2" { Some(short.clone()) } else { tapes.get(v).cloned() });
    let err = read_back(&tapes["1"], &mut op, false).unwrap_err();
    assert!(err.contains("reading volume 2 from the medium"), "{err}");
    // A first tape that is no volume at all.
    let err = read_back(b"plain tar bytes", &mut operator(|_| None), false).unwrap_err();
    assert!(err.contains("the first medium"), "{err}");
}

#[test]
fn a_check_of_the_whole_set_reads_every_tape() {
    let dir = tempfile::tempdir().unwrap();
    let data = stream(3 * MIB as usize, 5);
    let (tapes, _) = write_tapes(dir.path(), &data, 2, 5);
    let mut op = operator(|v| tapes.get(v).cloned());
    assert_eq!(read_back(&tapes["2"], &mut op, true).unwrap(), data, "any tape may come first");
    assert_eq!(op.asked, ["1", "p1", "p2"]);
}

mod properties {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;

    /// The stream and its tapes by volume.
    type Written = (Vec<u8>, HashMap<String, Vec<u8>>);

    /// One set of 5 data tapes and 2 parity tapes, written once for every case.
    fn tapes() -> &'static Written {
        static TAPES: OnceLock<Written> = OnceLock::new();
        TAPES.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let data = stream((9 * MIB + 12_345) as usize, 9);
            let (tapes, _) = write_tapes(dir.path(), &data, 2, 9);
            (data, tapes)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Any two tapes lost (data or parity) and any one damaged within what the parity
        /// rebuilds: the stream comes back.
        #[test]
        fn any_loss_within_the_parity_stages_back(lost in proptest::sample::subsequence(vec!["2", "3", "4", "5", "p1", "p2"], 0..=2)) {
            let (data, tapes) = tapes();
            let mut op = operator(|v| if lost.contains(&v) { None } else { tapes.get(v).cloned() });
            prop_assert_eq!(&read_back(&tapes["1"], &mut op, false).unwrap(), data);
        }

        /// Garbage tapes, first or later, give an error or a set, never a panic.
        #[test]
        fn garbage_tapes_are_refused(first in proptest::collection::vec(any::<u8>(), 0..2048), later in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2048), 0..4), real_first in any::<bool>()) {
            let (_, tapes) = tapes();
            let mut later = later.into_iter();
            let mut op = operator(|_| later.next());
            let first = if real_first { tapes["1"].clone() } else { first };
            let _ = read_back(&first, &mut op, real_first);
            // Read one at a time as a set without parity would be.
            let staging = tempfile::tempdir().unwrap();
            if let Ok(mut one) = OneAtATime::new(Box::new(std::io::Cursor::new(first)), &mut op, staging.path()) {
                let mut out = Vec::new();
                let _ = one.read_to_end(&mut out);
            }
        }
    }
}
