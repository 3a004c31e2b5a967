//! What parity costs and how fast a set is rebuilt: a 1 GiB stream cut into 100 MiB volumes
//! with 2 parity volumes, on files in a temporary directory. For `just bench`; prints
//! markdown table rows. `cargo run --release -p ferry-volumes --example parity_cost`.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs, reason = "a benchmark tool")]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferry_volumes::{SetId, SetSpec, SetWriter, survey};

const STREAM: usize = 1 << 30;
const VOLUME: u64 = 100 << 20;

fn stream() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = vec![0u8; STREAM];
    for chunk in out.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out
}

/// Writes the set; the time of the data volumes and of finishing (headers and parity).
fn write(dir: &Path, data: &[u8], parity: u32) -> (Duration, Duration, Vec<PathBuf>) {
    let mut w =
        SetWriter::create(&dir.join("w.tar"), SetSpec { volume_size: VOLUME, parity }, SetId { root: [1; 32], run: [parity as u8; 16] })
            .unwrap();
    let t = Instant::now();
    for chunk in data.chunks(1 << 20) {
        w.write_all(chunk).unwrap();
    }
    let cut = t.elapsed();
    let t = Instant::now();
    let set = w.finish().unwrap();
    (cut, t.elapsed(), set.data.into_iter().chain(set.parity).collect())
}

fn join(paths: &[PathBuf]) -> Duration {
    let t = Instant::now();
    let mut reader = survey(paths, false).unwrap().reader();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0usize;
    loop {
        let got = reader.read(&mut buf).unwrap();
        if got == 0 {
            break;
        }
        n += got;
    }
    assert_eq!(n, STREAM);
    t.elapsed()
}

/// One core, in memory: encoding rows of 11 shards of 256 KiB into 2 recovery shards, and
/// rebuilding one lost shard of each row from the other 10 and a recovery shard.
fn coder(data: &[u8]) -> (Duration, Duration) {
    const SHARD: usize = 256 << 10;
    let rows: Vec<Vec<&[u8]>> = data.chunks(SHARD * 11).filter(|r| r.len() == SHARD * 11).map(|r| r.chunks(SHARD).collect()).collect();
    let mut encoder = reed_solomon_simd::ReedSolomonEncoder::new(11, 2, SHARD).unwrap();
    let mut recovery = Vec::new();
    let t = Instant::now();
    for row in &rows {
        encoder.reset(11, 2, SHARD).unwrap();
        for shard in row {
            encoder.add_original_shard(shard).unwrap();
        }
        recovery.push(encoder.encode().unwrap().recovery(0).unwrap().to_vec());
    }
    let encode = t.elapsed();
    let mut decoder = reed_solomon_simd::ReedSolomonDecoder::new(11, 2, SHARD).unwrap();
    let t = Instant::now();
    for (row, rec) in rows.iter().zip(&recovery) {
        decoder.reset(11, 2, SHARD).unwrap();
        for (i, shard) in row.iter().enumerate().skip(1) {
            decoder.add_original_shard(i, shard).unwrap();
        }
        decoder.add_recovery_shard(0, rec).unwrap();
        assert_eq!(decoder.decode().unwrap().restored_original(0).unwrap(), row[0]);
    }
    (encode, t.elapsed())
}

fn gbs(bytes: usize, d: Duration) -> String {
    format!("{:.2} GB/s", bytes as f64 / d.as_secs_f64() / 1e9)
}

/// The same stream written to one file, as serialize writes an archive without a set.
fn plain(dir: &Path, data: &[u8]) -> Duration {
    let t = Instant::now();
    let mut f = std::fs::File::create(dir.join("plain.tar")).unwrap();
    for chunk in data.chunks(1 << 20) {
        f.write_all(chunk).unwrap();
    }
    f.sync_all().unwrap();
    t.elapsed()
}

fn main() {
    let data = stream();
    let (encode, decode) = coder(&data);
    let covered = data.len() / (11 * (256 << 10)) * 11 * (256 << 10);
    println!("| encode, one core, in memory (11 data + 2 parity shards of 256 KiB) | {} of data |", gbs(covered, encode));
    println!("| rebuild one lost shard per row, one core, in memory | {} of data |", gbs(covered, decode));
    let dir = tempfile::tempdir().unwrap();
    let plain = plain(dir.path(), &data);
    std::fs::remove_file(dir.path().join("plain.tar")).unwrap();
    let (cut, finish, paths) = write(dir.path(), &data, 2);
    // Warm: the volumes are in the page cache, as right after serialize.
    let whole = join(&paths);
    // Volumes 3 and 8 lost: moved out of the directory, where the survey would find them.
    let aside = dir.path().join("aside");
    std::fs::create_dir(&aside).unwrap();
    for i in [2, 7] {
        std::fs::rename(&paths[i], aside.join(i.to_string())).unwrap();
    }
    let kept: Vec<PathBuf> = paths.iter().enumerate().filter(|(i, _)| *i != 2 && *i != 7).map(|(_, p)| p.clone()).collect();
    let lost = join(&kept);
    let rebuilt = (2 * VOLUME) as usize;
    let rebuild_time = lost.saturating_sub(whole.mul_f64(1.0 - rebuilt as f64 / STREAM as f64));
    // Each lost stripe is decoded from 11 shards: the data its decode covers.
    let covered = rebuilt * 11;
    println!("| write 1 GiB to one file (synced), for comparison | {} |", gbs(STREAM, plain));
    println!("| cut 1 GiB into 100 MiB volumes (CRC per stripe) | {} |", gbs(STREAM, cut));
    println!("| parity: 2 volumes over 11 (read back, encode, write) | {} of data |", gbs(STREAM, finish));
    println!("| join, every volume there | {} |", gbs(STREAM, whole));
    println!("| join, two data volumes lost | {} |", gbs(STREAM, lost));
    println!(
        "| rebuild of the lost volumes' bytes | {} lost bytes ({} of the set's data decoded) |",
        gbs(rebuilt, rebuild_time),
        gbs(covered, rebuild_time)
    );
    drop(dir);
}
