//! Reed-Solomon parity over the data volumes, stripe by stripe: stripe `s` of every data
//! volume (zero-padded to the stripe's shard length) is one original shard, and stripe `s`
//! of parity volume `j` is recovery shard `j`. Any `N` shards of a stripe can be rebuilt
//! from the others, so any `N` lost or damaged volumes can be.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::VolumeError;
use crate::files::{at, volume_path, write_table};
use crate::header::{HEADER_BYTES, Kind};

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

/// A stripe and the CRC of its shard in each parity volume.
type RowCrcs = (u64, Vec<u32>);

/// Threads that encode stripes at once (each with its own encoder and one row of shards).
const WORKERS: usize = 4;

/// Writes `parity` parity volumes beside `base` from the data volumes `sources` (file and
/// payload length), each with a zeroed header for the caller to fill; returns each one's path,
/// payload length and trailer CRC. Stripes are independent: up to [`WORKERS`] threads (as
/// many as there are cores) encode them, memory staying one row of shards per thread.
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
        outputs.push((path, file));
    }
    let workers = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, WORKERS);
    // crcs[s][j]: the CRC of parity volume j's stripe s.
    let rows: Vec<Result<Vec<RowCrcs>, VolumeError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let outputs = &outputs;
                scope.spawn(move || encode_rows(sources, outputs, parity, stripe, longest, (w as u64..stripes).step_by(workers)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(VolumeError::Coder("a parity thread panicked".to_owned())))).collect()
    });
    let mut crcs = vec![Vec::new(); stripes as usize];
    for row in rows {
        for (s, c) in row? {
            crcs[s as usize] = c;
        }
    }
    let payload: u64 = (0..stripes).map(|s| shard_len(longest, stripe, s) as u64).sum();
    let mut done = Vec::new();
    for (j, (path, file)) in outputs.into_iter().enumerate() {
        let table_crc = write_table(&file, &path, payload, crcs.iter().map(|row| row[j]))?;
        done.push((path, payload, table_crc));
    }
    Ok(done)
}

/// Encodes the stripes `rows` and writes their recovery shards in place; each row's CRCs.
fn encode_rows(
    sources: &[(File, u64)],
    outputs: &[(PathBuf, File)],
    parity: u32,
    stripe: u32,
    longest: u64,
    rows: impl Iterator<Item = u64>,
) -> Result<Vec<RowCrcs>, VolumeError> {
    let mut encoder = None::<reed_solomon_simd::ReedSolomonEncoder>;
    let mut shard = Vec::new();
    let mut out = Vec::new();
    for s in rows {
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
        // Every stripe but the last is whole: stripe s starts at s × stripe.
        let at_offset = HEADER_BYTES as u64 + s * u64::from(stripe);
        let mut crcs = Vec::with_capacity(parity as usize);
        for ((path, file), recovery) in outputs.iter().zip(result.recovery_iter()) {
            file.write_all_at(recovery, at_offset).map_err(|e| VolumeError::Io(at(path, e)))?;
            crcs.push(crc32fast::hash(recovery));
        }
        out.push((s, crcs));
    }
    Ok(out)
}

/// Rebuilds original shard `wanted` of one stripe from `originals` (index → shard) and
/// `recovery` (parity index from 0 → shard), all `len` bytes; `decoder` is kept between
/// stripes so its buffers are allocated once.
pub(crate) fn rebuild(
    decoder: &mut Option<reed_solomon_simd::ReedSolomonDecoder>,
    counts: (usize, usize),
    len: usize,
    originals: &[(usize, Vec<u8>)],
    recovery: &[(usize, Vec<u8>)],
    wanted: usize,
) -> Result<Vec<u8>, VolumeError> {
    let (data_count, parity_count) = counts;
    let decoder = match decoder.as_mut() {
        Some(d) => {
            d.reset(data_count, parity_count, len).map_err(coder)?;
            d
        }
        None => decoder.insert(reed_solomon_simd::ReedSolomonDecoder::new(data_count, parity_count, len).map_err(coder)?),
    };
    for (i, shard) in originals {
        decoder.add_original_shard(*i, shard).map_err(coder)?;
    }
    for (j, shard) in recovery {
        decoder.add_recovery_shard(*j, shard).map_err(coder)?;
    }
    let result = decoder.decode().map_err(coder)?;
    result.restored_original(wanted).map(<[u8]>::to_vec).ok_or_else(|| VolumeError::Coder(format!("shard {wanted} was not rebuilt")))
}

fn coder(e: reed_solomon_simd::Error) -> VolumeError {
    VolumeError::Coder(e.to_string())
}
