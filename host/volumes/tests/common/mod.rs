//! What the set tests share: a pseudo-random stream.

pub(crate) const MIB: u64 = 1 << 20;

/// `len` pseudo-random bytes from `seed` (xorshift): the same for the same seed.
pub(crate) fn stream(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
