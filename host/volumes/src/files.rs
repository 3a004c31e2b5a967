//! How volumes sit in files: their names (`DEST.003`, `DEST.p01`), reading a header and the
//! checksum table, writing the table, and telling a volume whose writing was cut short.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::header::{HEADER_BYTES, Header, Kind, MAGIC};

/// `DEST.001` for data volume 1, `DEST.p01` for parity volume 1.
pub fn volume_path(base: &Path, kind: Kind, index: u32) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(match kind {
        Kind::Data => format!(".{index:03}"),
        Kind::Parity => format!(".p{index:02}"),
    });
    PathBuf::from(name)
}

/// A volume's file name taken apart: `DEST.003` → (`DEST`, data, 3), `DEST.p01` → (`DEST`,
/// parity, 1); `None` for any other name.
pub fn split_volume_name(file_name: &str) -> Option<(&str, Kind, u32)> {
    let (base, suffix) = file_name.rsplit_once('.')?;
    let (kind, digits) = match suffix.strip_prefix('p') {
        Some(digits) => (Kind::Parity, digits),
        None => (Kind::Data, suffix),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base, kind, digits.parse().ok()?))
}

/// Whether the file at `path` starts with a volume header's magic.
pub fn is_volume(path: &Path) -> bool {
    let Ok(file) = File::open(path) else { return false };
    let mut magic = [0u8; 8];
    file.read_exact_at(&mut magic, 0).is_ok() && &magic == MAGIC
}

/// A volume whose writing was cut short: its header block is still the zeros ferry writes
/// first.
pub fn is_unfinished(path: &Path) -> bool {
    let mut head = [1u8; HEADER_BYTES];
    File::open(path).is_ok_and(|f| f.read_exact_at(&mut head, 0).is_ok()) && head.iter().all(|b| *b == 0)
}

/// A volume's file and header, or why it has none.
pub(crate) fn read_header(path: &Path) -> Result<(File, Header), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut b = [0u8; HEADER_BYTES];
    file.read_exact_at(&mut b, 0).map_err(|e| e.to_string())?;
    let h = Header::decode(&b).map_err(|e| e.to_string())?;
    Ok((file, h))
}

/// A volume's checksum table (a CRC-32 per stripe), if it is there and intact. A table the
/// file cannot hold is not read (nor allocated): whatever a header claims.
pub(crate) fn read_table(file: &File, h: &Header) -> Option<Vec<u32>> {
    let stripes = h.stripes();
    let fits = file.metadata().is_ok_and(|m| m.len() >= h.trailer_offset().saturating_add(stripes * 4));
    if !fits {
        return None;
    }
    let mut table = vec![0u8; (stripes * 4) as usize];
    file.read_exact_at(&mut table, h.trailer_offset()).ok()?;
    (crc32fast::hash(&table) == h.trailer_crc)
        .then(|| table.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Writes the checksum table after a payload of `payload` bytes; the table's own CRC, for
/// the header.
pub(crate) fn write_table(file: &File, path: &Path, payload: u64, crcs: impl IntoIterator<Item = u32>) -> io::Result<u32> {
    let table: Vec<u8> = crcs.into_iter().flat_map(u32::to_le_bytes).collect();
    file.write_all_at(&table, HEADER_BYTES as u64 + payload).map_err(|e| at(path, e))?;
    Ok(crc32fast::hash(&table))
}

/// An I/O error naming the volume.
pub(crate) fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
