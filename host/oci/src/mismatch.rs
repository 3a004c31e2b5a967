//! The one "content does not match its descriptor" error, shared by every place that checks
//! bytes against a digest and size: blob streams, layout writes, manifests, archive writes and
//! registry fetches. Callers wrap it with where the bytes came from.

use std::fmt;

use crate::digest::Digest;

/// Bytes that are not what their descriptor says: another size, another digest, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestMismatch {
    /// The descriptor's digest.
    pub expected: Digest,
    /// The descriptor's size.
    pub expected_size: u64,
    /// Bytes received (or announced, when the bytes were refused unread).
    pub size: u64,
    /// Digest of the bytes received; `None` when they were not all hashed (more bytes than
    /// expected, a body that ended early, or bytes refused unread).
    pub actual: Option<Digest>,
}

impl DigestMismatch {
    /// A mismatch between `expected` (digest and size) and bytes of `size` hashing to `actual`.
    pub fn new(expected: &crate::Descriptor, size: u64, actual: Option<Digest>) -> DigestMismatch {
        DigestMismatch { expected: expected.digest.clone(), expected_size: expected.size, size, actual }
    }
}

impl fmt::Display for DigestMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} bytes with digest {}, ", self.expected_size, self.expected)?;
        match &self.actual {
            Some(actual) => write!(f, "received {} bytes with digest {actual}", self.size),
            None if self.size > self.expected_size => write!(f, "received more than {} bytes", self.expected_size),
            None => write!(f, "received {} bytes", self.size),
        }
    }
}

impl std::error::Error for DigestMismatch {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Descriptor, media_type};

    #[test]
    fn says_what_was_expected_and_what_came() {
        let d = Descriptor::of_bytes(media_type::OCTET_STREAM, b"hello");
        let wrong = DigestMismatch::new(&d, 5, Some(Digest::sha256(b"hellx")));
        assert_eq!(
            wrong.to_string(),
            format!("expected 5 bytes with digest {}, received 5 bytes with digest {}", d.digest, Digest::sha256(b"hellx"))
        );
        assert!(DigestMismatch::new(&d, 9, None).to_string().ends_with("received more than 5 bytes"));
        assert!(DigestMismatch::new(&d, 2, None).to_string().ends_with("received 2 bytes"));
    }
}
