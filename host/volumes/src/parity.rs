//! Reed-Solomon parity over the data volumes, stripe by stripe: stripe `s` of every data
//! volume (zero-padded to the stripe's shard length) is one original shard, and stripe `s`
//! of parity volume `j` is recovery shard `j`. Any `N` shards of a stripe can be rebuilt
//! from the others, so any `N` lost or damaged volumes can be.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::header::{HEADER_BYTES, Kind};
use crate::writer::at;
use crate::{VolumeError, volume_path};

/// The length of stripe `s`'s shards, for data volumes whose longest payload is `longest`:
/// the stripe's bytes rounded up to 64 (the coder's unit).
pub(crate) fn shard_len(longest: u64, stripe: u32, s: u64) -> usize {
    let start = s * u64::from(stripe);
    let bytes = longest.saturating_sub(start).min(u64::from(stripe));
    bytes.div_ceil(64) as usize * 64
}

/// Stripe `s` of a payload of `payload` bytes: its offset in the volume and its length.
pub(crate) fn stripe_range(payload: u64, stripe: u32, s: u64) -> (u64, usize) {
    let start = s * u64::from(stripe);
    (HEADER_BYTES as u64 + start, payload.saturating_sub(start).min(u64::from(stripe)) as usize)
}

/// Writes `parity` parity volumes beside `base` from the data volumes `sources` (file and
/// payload length), each with a zeroed header for the caller to fill; returns each one's path,
/// payload length and trailer CRC.
pub(crate) fn write_parity(
    base: &Path,
    sources: &[(File, u64)],
    parity: u32,
    stripe: u32,
) -> Result<Vec<(PathBuf, u64, u32)>, VolumeError> {
    let longest = sources.iter().map(|(_, p)| *p).max().unwrap_or(0);
    let stripes = longest.div_ceil(u64::from(stripe));
    let mut outputs = Vec::new();
    for j in 1..=parity {
        let path = volume_path(base, Kind::Parity, j);
        let file = File::create(&path).map_err(|e| VolumeError::Io(at(&path, e)))?;
        file.write_all_at(&[0u8; HEADER_BYTES], 0).map_err(|e| VolumeError::Io(at(&path, e)))?;
        outputs.push((path, file, 0u64, Vec::new()));
    }
    let mut encoder = None::<reed_solomon_simd::ReedSolomonEncoder>;
    let mut shard = Vec::new();
    for s in 0..stripes {
        let len = shard_len(longest, stripe, s);
        let encoder = match encoder.as_mut() {
            Some(e) => {
                e.reset(sources.len(), parity as usize, len).map_err(coder)?;
                e
            }
            None => encoder.insert(reed_solomon_simd::ReedSolomonEncoder::new(sources.len(), parity as usize, len).map_err(coder)?),
        };
        for (file, payload) in sources {
            let (offset, bytes) = stripe_range(*payload, stripe, s);
            shard.clear();
            shard.resize(len, 0);
            file.read_exact_at(&mut shard[..bytes], offset).map_err(VolumeError::Io)?;
            encoder.add_original_shard(&shard).map_err(coder)?;
        }
        let result = encoder.encode().map_err(coder)?;
        for ((path, file, payload, crcs), recovery) in outputs.iter_mut().zip(result.recovery_iter()) {
            file.write_all_at(recovery, HEADER_BYTES as u64 + *payload).map_err(|e| VolumeError::Io(at(path, e)))?;
            *payload += recovery.len() as u64;
            crcs.push(crc32fast::hash(recovery));
        }
    }
    let mut done = Vec::new();
    for (path, file, payload, crcs) in outputs {
        let trailer: Vec<u8> = crcs.iter().flat_map(|c| c.to_le_bytes()).collect();
        file.write_all_at(&trailer, HEADER_BYTES as u64 + payload).map_err(|e| VolumeError::Io(at(&path, e)))?;
        done.push((path, payload, crc32fast::hash(&trailer)));
    }
    Ok(done)
}

/// Rebuilds the original shards of one stripe that are missing from `originals` (index →
/// shard, all `len` bytes) using `recovery` (parity index from 0 → shard).
pub(crate) fn rebuild(
    data_count: usize,
    parity_count: usize,
    originals: &[(usize, Vec<u8>)],
    recovery: &[(usize, Vec<u8>)],
) -> Result<BTreeMap<usize, Vec<u8>>, VolumeError> {
    if originals.len() == data_count {
        return Ok(BTreeMap::new());
    }
    let restored = reed_solomon_simd::decode(
        data_count,
        parity_count,
        originals.iter().map(|(i, s)| (*i, s.as_slice())),
        recovery.iter().map(|(i, s)| (*i, s.as_slice())),
    )
    .map_err(coder)?;
    Ok(restored)
}

fn coder(e: reed_solomon_simd::Error) -> VolumeError {
    VolumeError::Coder(e.to_string())
}
