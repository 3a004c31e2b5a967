//! The volume header: a fixed 512-byte block at the start of every volume that names its set,
//! its place in it and the length of its payload, so that a volume of another set, a
//! duplicate, a missing one or a damaged one is recognised. Integers are little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `FERRYVS\0` |
//! | 8 | 2 | format version (1) |
//! | 10 | 1 | kind: 0 data, 1 parity |
//! | 11 | 1 | reserved (0) |
//! | 12 | 4 | index within its kind, from 1 |
//! | 16 | 4 | data volumes in the set (0 until the set is finished) |
//! | 20 | 4 | parity volumes in the set |
//! | 24 | 8 | the size limit each volume was cut to (header and trailer included) |
//! | 32 | 8 | this volume's payload length |
//! | 40 | 8 | the whole archive stream's length (the data payloads joined) |
//! | 48 | 4 | stripe size (the unit of parity and of checksums) |
//! | 52 | 4 | CRC-32 of the trailer (one CRC-32 per stripe of the payload) |
//! | 56 | 32 | the set's root digest (sha256, raw) |
//! | 88 | 16 | the run id (16 random bytes) |
//! | 104 | 400 | reserved (0) |
//! | 504 | 4 | CRC-32 of bytes 0..504 |
//! | 508 | 4 | reserved (0) |

/// Bytes of a header.
pub const HEADER_BYTES: usize = 512;
/// The first bytes of every volume.
pub const MAGIC: &[u8; 8] = b"FERRYVS\0";
/// The format this ferry writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// The most data (or parity) volumes in a set: the Reed-Solomon coder's limit.
pub const MAX_VOLUMES: u32 = 32_768;

/// A data volume (a piece of the archive stream) or a parity volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `DEST.001`, …: the archive stream, cut.
    Data,
    /// `DEST.p01`, …: Reed-Solomon recovery data over the data volumes.
    Parity,
}

/// Which set a volume belongs to: the archive's root and the run that wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SetId {
    /// The root digest (sha256), raw.
    pub root: [u8; 32],
    /// The run id.
    pub run: [u8; 16],
}

impl std::fmt::Display for SetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{} run {}", hex(&self.root), hex(&self.run))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A decoded header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Data or parity.
    pub kind: Kind,
    /// Its index within its kind, from 1.
    pub index: u32,
    /// Data volumes in the set.
    pub data_count: u32,
    /// Parity volumes in the set.
    pub parity_count: u32,
    /// The size limit each volume was cut to.
    pub volume_size: u64,
    /// This volume's payload length.
    pub payload: u64,
    /// The archive stream's length.
    pub stream: u64,
    /// The stripe size.
    pub stripe: u32,
    /// CRC-32 of the trailer.
    pub trailer_crc: u32,
    /// The set.
    pub set: SetId,
}

/// Why a header is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// It does not start with [`MAGIC`]: not a volume of a set.
    #[error("not a ferry volume (no volume header)")]
    NotAVolume,
    /// A format this ferry does not read.
    #[error("volume format {0}; this ferry reads {FORMAT_VERSION}")]
    Version(u16),
    /// The header's own checksum does not match: it is damaged.
    #[error("its header is damaged (checksum mismatch)")]
    Damaged,
    /// A field is out of range.
    #[error("its header is inconsistent: {0}")]
    Inconsistent(&'static str),
}

impl Header {
    /// The 512 bytes of this header.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut b = [0u8; HEADER_BYTES];
        b[0..8].copy_from_slice(MAGIC);
        b[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[10] = match self.kind {
            Kind::Data => 0,
            Kind::Parity => 1,
        };
        b[12..16].copy_from_slice(&self.index.to_le_bytes());
        b[16..20].copy_from_slice(&self.data_count.to_le_bytes());
        b[20..24].copy_from_slice(&self.parity_count.to_le_bytes());
        b[24..32].copy_from_slice(&self.volume_size.to_le_bytes());
        b[32..40].copy_from_slice(&self.payload.to_le_bytes());
        b[40..48].copy_from_slice(&self.stream.to_le_bytes());
        b[48..52].copy_from_slice(&self.stripe.to_le_bytes());
        b[52..56].copy_from_slice(&self.trailer_crc.to_le_bytes());
        b[56..88].copy_from_slice(&self.set.root);
        b[88..104].copy_from_slice(&self.set.run);
        let crc = crc32fast::hash(&b[..504]);
        b[504..508].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header.
    pub fn decode(b: &[u8]) -> Result<Header, HeaderError> {
        if b.len() < HEADER_BYTES || &b[0..8] != MAGIC {
            return Err(HeaderError::NotAVolume);
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        if u32_at(504) != crc32fast::hash(&b[..504]) || b[508..512] != [0; 4] {
            return Err(HeaderError::Damaged);
        }
        let version = u16_at(8);
        if version != FORMAT_VERSION {
            return Err(HeaderError::Version(version));
        }
        let kind = match b[10] {
            0 => Kind::Data,
            1 => Kind::Parity,
            _ => return Err(HeaderError::Inconsistent("unknown kind")),
        };
        let mut root = [0u8; 32];
        root.copy_from_slice(&b[56..88]);
        let mut run = [0u8; 16];
        run.copy_from_slice(&b[88..104]);
        let h = Header {
            kind,
            index: u32_at(12),
            data_count: u32_at(16),
            parity_count: u32_at(20),
            volume_size: u64_at(24),
            payload: u64_at(32),
            stream: u64_at(40),
            stripe: u32_at(48),
            trailer_crc: u32_at(52),
            set: SetId { root, run },
        };
        let count = match kind {
            // A provisional data volume: its set's count is not known yet.
            Kind::Data if h.data_count == 0 => MAX_VOLUMES,
            Kind::Data => h.data_count,
            Kind::Parity => h.parity_count,
        };
        if h.index == 0 || h.index > count {
            return Err(HeaderError::Inconsistent("index outside the set"));
        }
        if h.stripe == 0 || !h.stripe.is_multiple_of(64) {
            return Err(HeaderError::Inconsistent("stripe size"));
        }
        // The coder's limits, which also bound what a reader lists for a forged header.
        if (h.data_count == 0 && (kind == Kind::Parity || h.stream != 0)) || h.data_count > MAX_VOLUMES || h.parity_count > MAX_VOLUMES {
            return Err(HeaderError::Inconsistent("volume counts"));
        }
        let capacity = payload_capacity(h.volume_size, h.stripe);
        if capacity == 0 || h.payload > capacity || h.stream > capacity.saturating_mul(u64::from(h.data_count.max(1))) {
            return Err(HeaderError::Inconsistent("lengths"));
        }
        // Every data volume but the last is full, and the last holds something.
        if h.data_count > 1 && h.stream <= capacity.saturating_mul(u64::from(h.data_count - 1)) {
            return Err(HeaderError::Inconsistent("lengths"));
        }
        Ok(h)
    }

    /// A data volume of a set whose writing has not finished (its count is 0 until then).
    pub fn is_provisional(&self) -> bool {
        self.data_count == 0
    }

    /// Stripes in this volume's payload.
    pub fn stripes(&self) -> u64 {
        self.payload.div_ceil(u64::from(self.stripe))
    }

    /// Where the trailer (a CRC-32 per stripe) starts in the volume.
    pub fn trailer_offset(&self) -> u64 {
        HEADER_BYTES as u64 + self.payload
    }
}

/// The payload bytes a volume of `size` bytes holds with stripes of `stripe` bytes: the most
/// `p`, a multiple of 64 (so a parity volume, whose shards are, is no longer), with
/// header + p + 4 × ⌈p / stripe⌉ ≤ size.
pub fn payload_capacity(size: u64, stripe: u32) -> u64 {
    let room = size.saturating_sub(HEADER_BYTES as u64);
    let per = u64::from(stripe) + 4;
    let whole = room / per;
    let rest = room % per;
    let p = whole * u64::from(stripe) + rest.saturating_sub(4);
    p / 64 * 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            kind: Kind::Parity,
            index: 2,
            data_count: 11,
            parity_count: 2,
            volume_size: 100 << 20,
            payload: 99 << 20,
            stream: 1 << 30,
            stripe: 256 << 10,
            trailer_crc: 7,
            set: SetId { root: [3; 32], run: [9; 16] },
        }
    }

    #[test]
    fn a_header_reads_back_and_any_changed_byte_is_caught() {
        let h = sample();
        let bytes = h.encode();
        assert_eq!(Header::decode(&bytes), Ok(h));
        for i in 8..512 {
            let mut bad = bytes;
            bad[i] ^= 0x40;
            assert!(Header::decode(&bad).is_err(), "byte {i}");
        }
        assert_eq!(Header::decode(&[0u8; 512]), Err(HeaderError::NotAVolume));
    }

    #[test]
    fn the_capacity_leaves_room_for_header_and_trailer() {
        for size in [1u64 << 20, 100 << 20, 4_700_000_000, 1_000_000] {
            let stripe = 256 << 10;
            let p = payload_capacity(size, stripe);
            assert!(512 + p + 4 * p.div_ceil(u64::from(stripe)) <= size, "{size}");
            assert_eq!(p % 64, 0);
            assert!(512 + (p + 64) + 4 * (p + 64).div_ceil(u64::from(stripe)) > size, "{size}: 64 more bytes would not fit");
        }
    }
}
