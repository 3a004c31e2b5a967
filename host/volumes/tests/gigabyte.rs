//! A 1 GiB set in 100 MiB volumes with 2 parity volumes, on files: every way of losing two
//! volumes (data, parity, or one of each) joins to the same stream, as does damage inside
//! volumes; three lost are refused naming them. The stream is compared by its sha256.

use std::io::{Read, Write};
use std::path::PathBuf;

use ferry_volumes::{SetId, SetSpec, SetWriter, survey};
use sha2::{Digest as _, Sha256};

const GIB: usize = 1 << 30;
const VOLUME: u64 = 100 << 20;

/// Writes 1 GiB of pseudo-random bytes into the set, returning its volumes and the sha256.
fn write_set(dir: &std::path::Path) -> (Vec<PathBuf>, [u8; 32]) {
    let mut w =
        SetWriter::create(&dir.join("g.tar"), SetSpec { volume_size: VOLUME, parity: 2 }, SetId { root: [2; 32], run: [4; 16] }).unwrap();
    let mut hash = Sha256::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..GIB / chunk.len() {
        for word in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        hash.update(&chunk);
        w.write_all(&chunk).unwrap();
    }
    let set = w.finish().unwrap();
    (set.data.into_iter().chain(set.parity).collect(), hash.finalize().into())
}

/// The sha256 of the stream joined without the volumes `gone` (moved aside).
fn joined_without(all: &[PathBuf], gone: &[usize]) -> Result<[u8; 32], String> {
    let aside = |p: &PathBuf| PathBuf::from(format!("{}.lost", p.display()));
    for &i in gone {
        std::fs::rename(&all[i], aside(&all[i])).unwrap();
    }
    let named: Vec<PathBuf> = all.iter().enumerate().filter(|(i, _)| !gone.contains(i)).map(|(_, p)| p.clone()).take(1).collect();
    let result = (|| {
        let mut reader = survey(&named, false).map_err(|e| e.to_string())?.reader();
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
        }
        Ok(hash.finalize().into())
    })();
    for &i in gone {
        std::fs::rename(aside(&all[i]), &all[i]).unwrap();
    }
    result
}

#[test]
fn a_gigabyte_set_survives_any_two_lost_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let (all, sha) = write_set(dir.path());
    assert_eq!(all.len(), 11 + 2, "eleven data volumes of 100 MiB and two parity volumes");
    for v in &all {
        assert!(std::fs::metadata(v).unwrap().len() <= VOLUME);
    }
    assert_eq!(joined_without(&all, &[]).unwrap(), sha);
    for a in 0..all.len() {
        for b in a + 1..all.len() {
            assert_eq!(joined_without(&all, &[a, b]).unwrap(), sha, "without {} and {}", all[a].display(), all[b].display());
        }
    }
    let e = joined_without(&all, &[0, 5, 12]).unwrap_err();
    for i in [0, 5, 12] {
        assert!(e.contains(&all[i].display().to_string()), "{e}");
    }
    // Damage: bytes changed in two volumes at the same stripe, and in a third elsewhere.
    for (i, at) in [(1usize, 700_000u64), (6, 700_001), (9, 50_000_000)] {
        let f = std::fs::OpenOptions::new().write(true).open(&all[i]).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, b"\xde\xad\xbe\xef", at).unwrap();
    }
    assert_eq!(joined_without(&all, &[]).unwrap(), sha, "damaged stripes rebuilt");
}
