//! The one reader of an archive's tar entries. `verify`, `deserialize` (and its dry run) and the
//! resume scan all walk an archive through [`Entries`], so they accept and refuse the same
//! archives, and name the same entry and byte offset when they refuse one.
//!
//! # Rules
//!
//! - Headers: ustar, GNU and V7 headers with a valid checksum; PAX `x` records (`path`,
//!   `size`) and GNU long names (`L`) apply to the entry after them and are read whole, so
//!   they are limited to [`EXTENSION_MAX_BYTES`]. Names are cleaned (`./`, empty components
//!   and a trailing `/` dropped).
//! - Directories are skipped wherever they are.
//! - `oci-layout` (at most [`OCI_LAYOUT_MAX_BYTES`]) must say `imageLayoutVersion` `1.0.0`.
//! - `index.json` (at most [`INDEX_MAX_BYTES`]) must parse, must not be of a newer
//!   serialization version ([`check_version`]), the first one must name a root (its first
//!   manifest), and later ones must name the same root first.
//! - Any entry under `blobs/` must be a regular file named exactly `blobs/<alg>/<hex>` of a
//!   supported digest. Its size must agree with every `index.json` descriptor of that digest,
//!   and a blob listed as a manifest may be at most [`MANIFEST_MAX_BYTES`].
//! - Anything else (`manifest.json`, PAX global headers, links outside `blobs/`) is handed on as
//!   [`Entry::Other`].
//! - The archive is complete at its end-of-archive marker (a zero block where a header
//!   belongs). A stream that ends anywhere before it is [`ReadError::Truncated`].
//!
//! Entries are size-checked from their headers before any byte of their data is read: a
//! compressed bomb is refused without being inflated.
//!
//! # Modes
//!
//! [`Stream`] reads through every byte (standard input, a tape, a decompressed stream). With
//! [`Seekable`] (a plain tar file), blob data the caller does not read is skipped with a seek:
//! the caller reads it positionally at [`Blob::data_offset`].

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};

use ferry_oci::{Descriptor, Digest, DigestMismatch, Index, quoted};

use crate::header::BLOCK;
pub use crate::reader::MANIFEST_MAX_BYTES;

/// The largest `oci-layout` read: the real one is 30 bytes.
pub const OCI_LAYOUT_MAX_BYTES: u64 = 4 << 10;

/// The largest `index.json` read: ace-dt's final index lists every manifest, about 500 bytes
/// each, so this holds some 30,000.
pub const INDEX_MAX_BYTES: u64 = 16 << 20;

/// The largest PAX record block or GNU long name read: real ones are a few hundred bytes.
pub const EXTENSION_MAX_BYTES: u64 = 64 << 10;

/// The `index.json` annotation holding the serialization version.
pub const SERIALIZATION_VERSION_ANNOTATION: &str = "vnd.act3-ace.data.serialization.version";

/// The serialization version this reader understands (major); ace-dt writes `"2"`.
pub const SERIALIZATION_VERSION: u64 = 2;

/// An `index.json` of a serialization version this reader does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("serialization version {found} is newer than this ferry reads ({SERIALIZATION_VERSION}); upgrade ferry")]
pub struct VersionError {
    /// The annotation's value, quoted.
    pub found: String,
}

/// Refuses an `index.json` of a newer major serialization version; minor additions are fine,
/// and an index without the annotation (skopeo's, umoci's) is version 2's layout.
pub fn check_version(index: &Index) -> Result<(), VersionError> {
    let Some(v) = index.annotations.get(SERIALIZATION_VERSION_ANNOTATION) else { return Ok(()) };
    match v.split('.').next().and_then(|m| m.parse::<u64>().ok()) {
        Some(major) if major <= SERIALIZATION_VERSION => Ok(()),
        _ => Err(VersionError { found: quoted(v.as_bytes()) }),
    }
}

/// Where an archive is read.
pub trait Source: Read {
    /// Skips up to `n` bytes and returns how many were skipped (fewer only at the end).
    fn skip(&mut self, n: u64) -> io::Result<u64>;
}

/// A stream: skipping reads through.
pub struct Stream<R>(pub R);

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Source for Stream<R> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        io::copy(&mut (&mut self.0).take(n), &mut io::sink())
    }
}

/// A seekable file of known length: skipping seeks.
pub struct Seekable<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Seekable<R> {
    /// Reads `inner` from its current position to its current end.
    pub fn new(mut inner: R) -> io::Result<Seekable<R>> {
        let pos = inner.stream_position()?;
        let len = inner.seek(SeekFrom::End(0))?;
        inner.seek(SeekFrom::Start(pos))?;
        Ok(Seekable { inner, pos, len })
    }
}

impl<R: Read> Read for Seekable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Source for Seekable<R> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        // Seeking past the end succeeds on files; a cut file must still read as cut.
        let n = n.min(self.len.saturating_sub(self.pos));
        self.inner.seek(SeekFrom::Current(i64::try_from(n).map_err(io::Error::other)?))?;
        self.pos += n;
        Ok(n)
    }
}

/// An entry of the archive.
#[derive(Debug)]
pub enum Entry {
    /// A valid `oci-layout` whose header is at `offset`.
    Layout {
        /// Its header's byte offset.
        offset: u64,
    },
    /// A valid `index.json`.
    Index {
        /// Its content.
        index: Index,
        /// Its header's byte offset.
        offset: u64,
    },
    /// `blobs/<alg>/<hex>`; its data is read with [`Entries::data`] (or positionally).
    Blob(Blob),
    /// Any other non-directory entry (a docker-archive's files are all of this kind).
    Other {
        /// Its cleaned name (lossy UTF-8, at most [`ferry_oci::quote::QUOTE_MAX_CHARS`] characters).
        name: String,
        /// Its header's byte offset.
        offset: u64,
        /// What it is and where its data lies.
        member: Member,
    },
}

/// An entry outside the OCI layout, as a docker-archive reader needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its name, cleaned and whole (`None` when it is not UTF-8).
    pub path: Option<String>,
    /// Its name, quoted for messages.
    pub shown: String,
    /// Its header's byte offset.
    pub header_offset: u64,
    /// Its data's byte offset.
    pub data_offset: u64,
    /// Its size from the header.
    pub size: u64,
    /// What kind of entry.
    pub kind: MemberKind,
}

/// The kind of a [`Member`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file.
    File,
    /// A symbolic link to the target (lossy UTF-8).
    Symlink(String),
    /// A hard link to the target (lossy UTF-8).
    Hardlink(String),
    /// Anything else (device, FIFO, PAX global header): its tar type flag.
    Special(u8),
}

/// A blob entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// Its name, quoted for messages.
    pub name: String,
    /// The digest its path names (not yet verified).
    pub digest: Digest,
    /// Its size from the header.
    pub size: u64,
    /// Byte offset of its header.
    pub header_offset: u64,
    /// Byte offset of its data.
    pub data_offset: u64,
}

/// Why a header block is not a header.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderFault {
    /// The checksum does not match (garbage, or a damaged header).
    #[error("checksum mismatch in a block starting {start}")]
    Checksum {
        /// The block's first bytes, quoted.
        start: String,
    },
    /// The size field is not a number.
    #[error("size field {field} is not a number")]
    Size {
        /// The field, quoted.
        field: String,
    },
    /// A PAX or GNU extension is larger than [`EXTENSION_MAX_BYTES`].
    #[error("extended header of {size} bytes, over the {EXTENSION_MAX_BYTES}-byte limit")]
    ExtensionTooBig {
        /// Its size.
        size: u64,
    },
    /// A PAX record does not parse.
    #[error("malformed PAX record {record}")]
    Pax {
        /// The record, quoted.
        record: String,
    },
    /// An extension header is followed by another extension of the same kind, or by the end.
    #[error("an extended header does not describe an entry")]
    Dangling,
    /// Offsets overflow.
    #[error("entry size {size} runs past the largest offset")]
    Overflow {
        /// The size.
        size: u64,
    },
}

/// What is wrong with an entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryFault {
    /// A path under `blobs/` that is not `blobs/<alg>/<hex>`.
    #[error("an entry under blobs/ must be blobs/<algorithm>/<hex> of a sha256, sha384 or sha512 digest")]
    BlobPath,
    /// A link, device or other non-file where a file belongs.
    #[error("not a regular file (tar type {kind})")]
    NotRegular {
        /// The type flag, quoted.
        kind: String,
    },
    /// Larger than the limit for entries read whole.
    #[error("{size} bytes, over the {limit}-byte limit for this entry")]
    TooBig {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not `{"imageLayoutVersion":"1.0.0"}`.
    #[error("not an OCI layout marker with imageLayoutVersion 1.0.0")]
    Layout,
    /// Not an OCI index.
    #[error("invalid index.json: {0}")]
    Index(serde_json::Error),
    /// A newer serialization version.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// The first `index.json` lists nothing.
    #[error("the first index.json lists no manifest, so the archive has no root")]
    NoRoot,
    /// A later `index.json` names another root.
    #[error("names root {found}, but the first index.json named {root}")]
    OtherRoot {
        /// This index's first manifest.
        found: Digest,
        /// The root.
        root: Digest,
    },
    /// A blob's size disagrees with an `index.json` descriptor.
    #[error("{digest} is {archive} bytes in the archive but {descriptor} in the descriptor of an index.json")]
    Inconsistent {
        /// The digest.
        digest: Digest,
        /// The entry's size.
        archive: u64,
        /// The descriptor's size.
        descriptor: u64,
    },
    /// A manifest larger than any registry takes.
    #[error("manifest {digest} is {size} bytes, over the {} MiB limit for manifests", MANIFEST_MAX_BYTES >> 20)]
    ManifestTooBig {
        /// The manifest.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// The content does not hash to the digest its path names (its size is the entry's, so
    /// the mismatch always carries the digest it hashes to).
    #[error("content has digest {}", .0.actual.as_ref().map_or_else(|| "(not computed)".to_owned(), ToString::to_string))]
    Digest(DigestMismatch),
}

/// Where a stream ended early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Inside {
    /// At a header boundary, with no end-of-archive marker.
    #[error("without an end-of-archive marker")]
    Boundary,
    /// Inside a header block.
    #[error("inside a tar header")]
    Header,
    /// Inside an entry's data.
    #[error("inside entry {name} (header at byte {header}) after {read} of {size} bytes")]
    Data {
        /// The entry, quoted.
        name: String,
        /// Its header's offset.
        header: u64,
        /// Data bytes present.
        read: u64,
        /// Its size.
        size: u64,
    },
    /// Inside the padding after an entry's data.
    #[error("inside the padding after entry {name}")]
    Padding {
        /// The entry, quoted.
        name: String,
    },
}

/// An archive that cannot be read on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Reading or decompressing failed.
    #[error("reading the archive at byte {offset}: {error}")]
    Io {
        /// Bytes of tar stream read before.
        offset: u64,
        /// The error.
        error: io::Error,
    },
    /// The stream ends before its end-of-archive marker.
    #[error("the archive ends at byte {offset} {inside} (truncated?)")]
    Truncated {
        /// Bytes of tar stream present.
        offset: u64,
        /// Where it ends.
        inside: Inside,
    },
    /// A block where a header belongs is not one.
    #[error("no valid tar header at byte {offset}, after entry {entries}: {fault}")]
    Header {
        /// The block's offset.
        offset: u64,
        /// Entries read before it.
        entries: u64,
        /// Why.
        fault: HeaderFault,
    },
    /// An entry breaks a rule.
    #[error("entry {name} at byte {offset}: {fault}")]
    Entry {
        /// The entry, quoted.
        name: String,
        /// Its header's offset.
        offset: u64,
        /// Why.
        fault: EntryFault,
    },
}

impl ReadError {
    /// Whether the archive simply ends early: cut, or its (de)compressed stream breaks off.
    pub fn is_cut(&self) -> bool {
        matches!(self, ReadError::Truncated { .. } | ReadError::Io { .. })
    }
}

/// The entry whose data is being read.
struct Current {
    name: String,
    header: u64,
    size: u64,
    left: u64,
}

/// A parsed header block.
struct Header {
    name: Vec<u8>,
    link: Vec<u8>,
    kind: u8,
    size: u64,
}

/// Reads the entries of a (decompressed) tar stream; see the module docs for the rules.
pub struct Entries<S> {
    src: S,
    /// Bytes of the tar stream consumed.
    pos: u64,
    current: Option<Current>,
    entries: u64,
    end: Option<u64>,
    /// Blob sizes seen, to check `index.json` descriptors against.
    blobs: HashMap<Digest, u64>,
    /// Digests listed by `index.json` files: size, and whether listed as a manifest.
    listed: HashMap<Digest, (u64, bool)>,
    root: Option<Descriptor>,
}

impl<R: Read> Entries<Stream<R>> {
    /// Reads a stream through.
    pub fn stream(input: R) -> Entries<Stream<R>> {
        Entries::new(Stream(input))
    }
}

impl<S: Source> Entries<S> {
    /// Reads entries from `src`.
    pub fn new(src: S) -> Entries<S> {
        Entries { src, pos: 0, current: None, entries: 0, end: None, blobs: HashMap::new(), listed: HashMap::new(), root: None }
    }

    /// Entries read so far (directories included, extension headers not).
    pub fn entries_read(&self) -> u64 {
        self.entries
    }

    /// Bytes of the tar stream consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Where the end-of-archive marker was found, once it was.
    pub fn end(&self) -> Option<u64> {
        self.end
    }

    /// The root: the first manifest of the first `index.json`, once one was read.
    pub fn root(&self) -> Option<&Descriptor> {
        self.root.as_ref()
    }

    /// The next entry, skipping what is left of the previous one; `None` at the
    /// end-of-archive marker.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, ReadError> {
        if self.end.is_some() {
            return Ok(None);
        }
        let mut pax_path: Option<Vec<u8>> = None;
        let mut pax_size: Option<u64> = None;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            // What is left of the previous entry (or directory, or extension).
            self.finish_current()?;
            let offset = self.pos;
            let mut block = [0u8; BLOCK];
            let n = self.read_full(&mut block)?;
            if n == 0 && pax_path.is_none() && pax_size.is_none() && long_name.is_none() {
                return Err(ReadError::Truncated { offset, inside: Inside::Boundary });
            }
            if n < BLOCK {
                return Err(ReadError::Truncated { offset: self.pos, inside: Inside::Header });
            }
            let bad = |entries, fault| ReadError::Header { offset, entries, fault };
            if block.iter().all(|&b| b == 0) {
                if pax_path.is_some() || pax_size.is_some() || long_name.is_some() {
                    return Err(bad(self.entries, HeaderFault::Dangling));
                }
                self.end = Some(offset);
                return Ok(None);
            }
            let mut header = parse_header(&block).map_err(|f| bad(self.entries, f))?;
            match header.kind {
                b'x' | b'L' | b'K' => {
                    if header.size > EXTENSION_MAX_BYTES {
                        return Err(bad(self.entries, HeaderFault::ExtensionTooBig { size: header.size }));
                    }
                    self.current = Some(Current { name: quoted(&header.name), header: offset, size: header.size, left: header.size });
                    let data = self.read_current()?;
                    match header.kind {
                        b'x' if pax_path.is_none() && pax_size.is_none() => {
                            for (key, value) in pax_records(&data).map_err(|f| bad(self.entries, f))? {
                                match key {
                                    b"path" => pax_path = Some(value.to_vec()),
                                    b"linkpath" => long_link = Some(value.to_vec()),
                                    b"size" => {
                                        let size = std::str::from_utf8(value).ok().and_then(|s| s.parse::<u64>().ok());
                                        let field = || HeaderFault::Size { field: quoted(value) };
                                        pax_size = Some(size.ok_or_else(|| bad(self.entries, field()))?);
                                    }
                                    _ => {}
                                }
                            }
                        }
                        b'L' if long_name.is_none() => {
                            let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                            long_name = Some(data[..end].to_vec());
                        }
                        b'K' => {
                            let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                            long_link = Some(data[..end].to_vec());
                        }
                        _ => return Err(bad(self.entries, HeaderFault::Dangling)),
                    }
                    continue;
                }
                _ => {}
            }
            self.entries += 1;
            if let Some(size) = pax_size.take() {
                header.size = size;
            }
            if let Some(name) = pax_path.take().or(long_name.take()) {
                header.name = name;
            }
            if let Some(link) = long_link.take() {
                header.link = link;
            }
            if offset.checked_add(BLOCK as u64).and_then(|o| o.checked_add(header.size.next_multiple_of(BLOCK as u64))).is_none() {
                return Err(bad(self.entries, HeaderFault::Overflow { size: header.size }));
            }
            let shown = quoted(&header.name);
            self.current = Some(Current { name: shown.clone(), header: offset, size: header.size, left: header.size });
            let cleaned = clean(&header.name);
            let regular = matches!(header.kind, b'0' | 0 | b'7');
            let directory = header.kind == b'5' || (header.kind == 0 && header.name.ends_with(b"/"));
            if directory {
                continue;
            }
            let fault = |fault| ReadError::Entry { name: shown.clone(), offset, fault };
            let not_regular = || fault(EntryFault::NotRegular { kind: quoted(&[header.kind]) });
            return match cleaned.as_deref() {
                Some("oci-layout") => {
                    if !regular {
                        return Err(not_regular());
                    }
                    let data = self.read_limited(OCI_LAYOUT_MAX_BYTES).map_err(|e| e.unwrap_or_else(&fault))?;
                    if !is_layout(&data) {
                        return Err(fault(EntryFault::Layout));
                    }
                    Ok(Some(Entry::Layout { offset }))
                }
                Some("index.json") => {
                    if !regular {
                        return Err(not_regular());
                    }
                    let data = self.read_limited(INDEX_MAX_BYTES).map_err(|e| e.unwrap_or_else(&fault))?;
                    let index: Index = serde_json::from_slice(&data).map_err(|e| fault(EntryFault::Index(e)))?;
                    check_version(&index).map_err(|e| fault(e.into()))?;
                    self.note_index(&index).map_err(fault)?;
                    Ok(Some(Entry::Index { index, offset }))
                }
                Some(n) if n == "blobs" || n.starts_with("blobs/") => {
                    let digest = blob_digest(n).ok_or_else(|| fault(EntryFault::BlobPath))?;
                    if !regular {
                        return Err(not_regular());
                    }
                    self.note_blob(&digest, header.size).map_err(fault)?;
                    Ok(Some(Entry::Blob(Blob {
                        name: shown.clone(),
                        digest,
                        size: header.size,
                        header_offset: offset,
                        data_offset: offset + BLOCK as u64,
                    })))
                }
                _ => {
                    let link = || String::from_utf8_lossy(&header.link).into_owned();
                    let kind = match header.kind {
                        _ if regular => MemberKind::File,
                        b'2' => MemberKind::Symlink(link()),
                        b'1' => MemberKind::Hardlink(link()),
                        k => MemberKind::Special(k),
                    };
                    let member = Member {
                        path: cleaned.clone(),
                        shown: shown.clone(),
                        header_offset: offset,
                        data_offset: offset + BLOCK as u64,
                        size: header.size,
                        kind,
                    };
                    let name = cleaned.unwrap_or_else(|| String::from_utf8_lossy(&header.name).into_owned());
                    let name = name.chars().take(ferry_oci::quote::QUOTE_MAX_CHARS).collect();
                    Ok(Some(Entry::Other { name, offset, member }))
                }
            };
        }
    }

    /// The current entry's data, from where reading stopped; ends at the entry's end. A
    /// stream that ends inside the data is an [`io::ErrorKind::UnexpectedEof`] error carrying
    /// a [`ReadError::Truncated`].
    pub fn data(&mut self) -> EntryData<'_, S> {
        EntryData { entries: self }
    }

    /// Checks a blob entry's header against what `index.json` files said.
    fn note_blob(&mut self, digest: &Digest, size: u64) -> Result<(), EntryFault> {
        if let Some(&(listed, manifest)) = self.listed.get(digest) {
            if listed != size {
                return Err(EntryFault::Inconsistent { digest: digest.clone(), archive: size, descriptor: listed });
            }
            if manifest && size > MANIFEST_MAX_BYTES {
                return Err(EntryFault::ManifestTooBig { digest: digest.clone(), size });
            }
        }
        self.blobs.insert(digest.clone(), size);
        Ok(())
    }

    /// Checks an `index.json`'s root and descriptors against the blobs seen so far.
    fn note_index(&mut self, index: &Index) -> Result<(), EntryFault> {
        match (&self.root, index.manifests.first()) {
            (None, None) => return Err(EntryFault::NoRoot),
            (None, Some(first)) => self.root = Some(first.clone()),
            (Some(root), Some(first)) if root.digest != first.digest => {
                return Err(EntryFault::OtherRoot { found: first.digest.clone(), root: root.digest.clone() });
            }
            _ => {}
        }
        for d in &index.manifests {
            if let Some(&size) = self.blobs.get(&d.digest) {
                if size != d.size {
                    return Err(EntryFault::Inconsistent { digest: d.digest.clone(), archive: size, descriptor: d.size });
                }
                if d.is_manifest() && size > MANIFEST_MAX_BYTES {
                    return Err(EntryFault::ManifestTooBig { digest: d.digest.clone(), size });
                }
            }
            let manifest = d.is_manifest();
            let was = self.listed.insert(d.digest.clone(), (d.size, manifest));
            if let Some((size, other)) = was {
                if size != d.size {
                    return Err(EntryFault::Inconsistent { digest: d.digest.clone(), archive: size, descriptor: d.size });
                }
                // Once listed as a manifest, always checked as one.
                self.listed.insert(d.digest.clone(), (size, manifest || other));
            }
        }
        Ok(())
    }

    /// Reads the current entry whole, if it is at most `limit` bytes (the error is the
    /// limit's fault, for the caller to name the entry).
    fn read_limited(&mut self, limit: u64) -> Result<Vec<u8>, Result<ReadError, EntryFault>> {
        let size = self.current.as_ref().map_or(0, |c| c.size);
        if size > limit {
            return Err(Err(EntryFault::TooBig { size, limit }));
        }
        self.read_current().map_err(Ok)
    }

    /// The rest of the current entry's data (its size was checked against a limit).
    fn read_current(&mut self) -> Result<Vec<u8>, ReadError> {
        let left = self.current.as_ref().map_or(0, |c| c.left);
        let mut out = Vec::with_capacity(usize::try_from(left).unwrap_or(0));
        // `take` bounds the read by the header's size whatever the stream holds.
        self.data().take(left).read_to_end(&mut out).map_err(into_read_error)?;
        if let Some(c) = &self.current
            && c.left > 0
        {
            return Err(self.truncated_in(c));
        }
        Ok(out)
    }

    fn truncated_in(&self, c: &Current) -> ReadError {
        ReadError::Truncated {
            offset: self.pos,
            inside: Inside::Data { name: c.name.clone(), header: c.header, read: c.size - c.left, size: c.size },
        }
    }

    /// Skips what is left of the current entry and its padding.
    fn finish_current(&mut self) -> Result<(), ReadError> {
        let Some(c) = self.current.take() else { return Ok(()) };
        let padding = c.size.next_multiple_of(BLOCK as u64) - c.size;
        let skip = |s: &mut Self, n: u64| -> Result<u64, ReadError> {
            let at = s.pos;
            let done = s.src.skip(n).map_err(|error| ReadError::Io { offset: at, error })?;
            s.pos += done;
            Ok(done)
        };
        let done = skip(self, c.left)?;
        if done < c.left {
            let mut c = c;
            c.left -= done;
            return Err(self.truncated_in(&c));
        }
        if skip(self, padding)? < padding {
            return Err(ReadError::Truncated { offset: self.pos, inside: Inside::Padding { name: c.name } });
        }
        Ok(())
    }

    /// Fills `buf` unless the stream ends; returns how much was read.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        let mut n = 0;
        while n < buf.len() {
            match self.src.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => {
                    n += k;
                    self.pos += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(ReadError::Io { offset: self.pos, error }),
            }
        }
        Ok(n)
    }
}

/// The current entry's data as a [`Read`]; see [`Entries::data`].
pub struct EntryData<'a, S> {
    entries: &'a mut Entries<S>,
}

impl<S: Source> Read for EntryData<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let e = &mut *self.entries;
        let Some(c) = &e.current else { return Ok(0) };
        if c.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(c.left).unwrap_or(usize::MAX).min(buf.len());
        let n = match e.src.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Err(error),
            Err(error) => {
                let kind = error.kind();
                return Err(io::Error::new(kind, ReadError::Io { offset: e.pos, error }));
            }
        };
        e.pos += n as u64;
        if n == 0 {
            let err = e.truncated_in(c);
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, err));
        }
        if let Some(c) = &mut e.current {
            c.left -= n as u64;
        }
        Ok(n)
    }
}

/// The [`ReadError`] inside an error from [`EntryData`], or a read error.
pub fn into_read_error(e: io::Error) -> ReadError {
    if !e.get_ref().is_some_and(|inner| inner.is::<ReadError>()) {
        return ReadError::Io { offset: 0, error: e };
    }
    match e.into_inner().map(|inner| inner.downcast::<ReadError>()) {
        Some(Ok(r)) => *r,
        Some(Err(other)) => ReadError::Io { offset: 0, error: io::Error::other(other) },
        None => ReadError::Io { offset: 0, error: io::Error::other("unknown read error") },
    }
}

/// Parses a header block with a valid checksum.
fn parse_header(block: &[u8; BLOCK]) -> Result<Header, HeaderFault> {
    let stored = parse_octal(&block[148..156]);
    let unsigned: u64 = block.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    // Some old writers summed signed bytes (Go's reader accepts both).
    let signed: i64 = block.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { i64::from(b as i8) }).sum();
    let valid = stored.is_some_and(|s| s == unsigned || i64::try_from(s).is_ok_and(|s| s == signed));
    if !valid {
        return Err(HeaderFault::Checksum { start: quoted(&block[..100]) });
    }
    let field = &block[124..136];
    let size = if field[0] & 0x80 != 0 {
        // GNU base-256: a big-endian number after the marker bit; negative sizes are refused.
        if field[0] & 0x40 != 0 || field[1..4].iter().any(|&b| b != 0) {
            None
        } else {
            Some(field[4..].iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
        }
    } else {
        parse_octal(field)
    };
    let size = size.ok_or_else(|| HeaderFault::Size { field: quoted(field) })?;
    let name = until_nul(&block[..100]);
    let ustar = &block[257..263] == b"ustar\0";
    let prefix = until_nul(&block[345..500]);
    let name = if ustar && !prefix.is_empty() { [prefix, b"/", name].concat() } else { name.to_vec() };
    Ok(Header { name, link: until_nul(&block[157..257]).to_vec(), kind: block[156], size })
}

fn until_nul(field: &[u8]) -> &[u8] {
    &field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())]
}

/// An octal field: digits between optional spaces and NULs.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?.trim_matches(|c| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// PAX records: `"<len> <key>=<value>\n"`, the length counting the whole record.
/// A PAX record: its key and value, as written.
type PaxRecord<'a> = (&'a [u8], &'a [u8]);

fn pax_records(mut data: &[u8]) -> Result<Vec<PaxRecord<'_>>, HeaderFault> {
    let mut out = Vec::new();
    while !data.is_empty() && data[0] != 0 {
        let bad = |r: &[u8]| HeaderFault::Pax { record: quoted(r) };
        let space = data.iter().position(|&b| b == b' ').ok_or_else(|| bad(data))?;
        let len = std::str::from_utf8(&data[..space]).ok().and_then(|s| s.parse::<usize>().ok()).ok_or_else(|| bad(data))?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad(data));
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(|| bad(record))?;
        out.push((&record[..eq], &record[eq + 1..]));
        data = &data[len..];
    }
    Ok(out)
}

/// A name with `.` and empty components dropped; `None` if it is not UTF-8.
fn clean(name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?;
    Some(name.split('/').filter(|c| !c.is_empty() && *c != ".").collect::<Vec<_>>().join("/"))
}

/// The digest a `blobs/<alg>/<hex>` path names.
fn blob_digest(name: &str) -> Option<Digest> {
    let mut parts = name.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("blobs"), Some(alg), Some(hex), None) => format!("{alg}:{hex}").parse().ok(),
        _ => None,
    }
}

/// Whether `oci-layout` says `{"imageLayoutVersion":"1.0.0"}`.
fn is_layout(data: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Layout {
        #[serde(rename = "imageLayoutVersion")]
        version: String,
    }
    serde_json::from_slice::<Layout>(data).is_ok_and(|l| l.version == "1.0.0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArchiveWriter, Plain};

    fn index_of(ds: &[&Descriptor], version: Option<&str>) -> Vec<u8> {
        let mut i = Index::new();
        i.manifests = ds.iter().map(|d| (*d).clone()).collect();
        if let Some(v) = version {
            i.annotations.insert(SERIALIZATION_VERSION_ANNOTATION.into(), v.into());
        }
        ferry_oci::gojson::to_vec_pretty(&i)
    }

    fn small() -> (Vec<u8>, Descriptor, Vec<u8>) {
        let layer = b"layer bytes".to_vec();
        let d = Descriptor::of_bytes("application/vnd.oci.image.layer.v1.tar", &layer);
        let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
        w.write_oci_layout().unwrap();
        w.write_index(&index_of(&[&d], None)).unwrap();
        w.write_blob(&d, layer.as_slice()).unwrap();
        w.write_index(&index_of(&[&d], None)).unwrap();
        (w.finish().unwrap().into_inner(), d, layer)
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<String>, ReadError> {
        let mut e = Entries::stream(bytes);
        let mut out = Vec::new();
        while let Some(entry) = e.next_entry()? {
            out.push(match entry {
                Entry::Layout { .. } => "layout".to_owned(),
                Entry::Index { .. } => "index".to_owned(),
                Entry::Blob(b) => {
                    let mut v = Vec::new();
                    e.data().read_to_end(&mut v).map_err(into_read_error)?;
                    format!("blob {} {}", b.digest, v.len())
                }
                Entry::Other { name, .. } => name,
            });
        }
        Ok(out)
    }

    #[test]
    fn versions() {
        let mut i = Index::new();
        assert!(check_version(&i).is_ok());
        for (v, ok) in [("2", true), ("2.1", true), ("1", true), ("3", false), ("x", false)] {
            i.annotations.insert(SERIALIZATION_VERSION_ANNOTATION.into(), v.into());
            assert_eq!(check_version(&i).is_ok(), ok, "{v}");
        }
    }

    #[test]
    fn other_entries_carry_their_kind_size_and_link() {
        let long = format!("../{}/layer.tar", "d".repeat(120));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "a/layer.tar", &b"abc"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        b.append_link(&mut h, "b/layer.tar", &long).unwrap();
        let bytes = b.into_inner().unwrap();
        let mut e = Entries::stream(bytes.as_slice());
        let mut members = Vec::new();
        while let Some(entry) = e.next_entry().unwrap() {
            if let Entry::Other { member, .. } = entry {
                members.push(member);
            }
        }
        assert_eq!(members.len(), 2);
        assert_eq!((members[0].path.as_deref(), members[0].size, &members[0].kind), (Some("a/layer.tar"), 3, &MemberKind::File));
        assert_eq!(&bytes[members[0].data_offset as usize..][..3], b"abc");
        // A GNU long link name (type K) applies to the link after it.
        assert_eq!(members[1].kind, MemberKind::Symlink(long));
    }

    #[test]
    fn reads_a_good_archive_in_both_modes() {
        let (bytes, d, _) = small();
        assert_eq!(read_all(&bytes).unwrap(), ["layout", "index", &format!("blob {} 11", d.digest), "index"]);
        let mut e = Entries::new(Seekable::new(io::Cursor::new(&bytes)).unwrap());
        let mut blobs = Vec::new();
        while let Some(entry) = e.next_entry().unwrap() {
            if let Entry::Blob(b) = entry {
                blobs.push(b);
            }
        }
        assert_eq!(blobs.len(), 1);
        let b = &blobs[0];
        assert_eq!(&bytes[b.data_offset as usize..][..11], b"layer bytes");
        assert_eq!(e.end(), Some(bytes.len() as u64 - 1024));
        assert_eq!(e.entries_read(), 6);
    }

    #[test]
    fn every_cut_is_truncated() {
        let (bytes, ..) = small();
        let end = bytes.len() - 1024;
        for cut in 0..=end {
            let err = read_all(&bytes[..cut]).unwrap_err();
            assert!(matches!(err, ReadError::Truncated { .. }), "{cut}: {err}");
            assert!(err.to_string().ends_with("(truncated?)"), "{err}");
            let mut e = Entries::new(Seekable::new(io::Cursor::new(&bytes[..cut])).unwrap());
            let err = loop {
                match e.next_entry() {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("{cut}: complete"),
                    Err(e) => break e,
                }
            };
            assert!(matches!(err, ReadError::Truncated { .. }), "seek {cut}: {err}");
        }
        // One zero block is the marker; the second may be cut.
        assert!(read_all(&bytes[..end + 512]).is_ok());
    }

    fn with_entry(name: &[u8], kind: u8, data: &[u8]) -> Vec<u8> {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut out = h.to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
        out
    }

    #[test]
    fn refuses_what_breaks_the_rules() {
        let (good, d, _) = small();
        let end = good.len() - 1024;
        let hex = d.digest.hex();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (with_entry(format!("blobs/sha256/{hex}/b").as_bytes(), b'0', b""), "must be blobs/<algorithm>/<hex>"),
            (with_entry(b"blobs/sha256/a/b", b'0', b""), "must be blobs/<algorithm>/<hex>"),
            (with_entry(b"blobs/md5/abc", b'0', b""), "must be blobs/<algorithm>/<hex>"),
            (with_entry(b"blobs", b'0', b""), "must be blobs/<algorithm>/<hex>"),
            (with_entry(format!("blobs/sha256/{hex}").as_bytes(), b'2', b""), "not a regular file"),
            (with_entry(b"blobs/\x1b[31mred\x07", b'0', b""), "\"blobs/\\u{1b}[31mred\\u{7}\""),
            (with_entry(b"oci-layout", b'0', &[b' '; 5000]), "over the 4096-byte limit"),
            (with_entry(b"index.json", b'0', &index_of(&[&d], Some("3"))), "serialization version \"3\" is newer"),
            (with_entry(format!("blobs/sha256/{hex}").as_bytes(), b'0', b"x"), "is 1 bytes in the archive but 11"),
        ];
        for (entry, needle) in cases {
            let mut bytes = good[..end].to_vec();
            let at = bytes.len();
            bytes.extend_from_slice(&entry);
            bytes.extend_from_slice(&[0; 1024]);
            let err = read_all(&bytes).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(&format!("at byte {at}")), "{needle}: {err}");
        }
        let mut empty = with_entry(b"index.json", b'0', br#"{"schemaVersion":2,"manifests":[]}"#);
        empty.extend_from_slice(&[0; 1024]);
        assert!(read_all(&empty).unwrap_err().to_string().contains("no root"));
        // A directory anywhere is fine; so are other files.
        let mut bytes = good[..end].to_vec();
        bytes.extend_from_slice(&with_entry(b"blobs/sha256/a/", b'5', b""));
        bytes.extend_from_slice(&with_entry(b"./manifest.json", b'0', b"[]"));
        bytes.extend_from_slice(&[0; 1024]);
        assert_eq!(read_all(&bytes).unwrap().last().unwrap(), "manifest.json");
    }

    #[test]
    fn a_bad_header_is_quoted() {
        let (good, ..) = small();
        let mut bytes = good.clone();
        bytes[1024..1024 + 512].fill(b'x');
        bytes[1024] = 0x1b;
        bytes[1025] = 0x07;
        let err = read_all(&bytes).unwrap_err().to_string();
        assert!(err.starts_with("no valid tar header at byte 1024, after entry 1: checksum mismatch"), "{err}");
        assert!(err.contains("\"\\u{1b}\\u{7}xxx") && !err.contains('\x1b') && err.len() < 300, "{err}");
    }

    #[test]
    fn a_big_index_is_refused_from_its_header() {
        // The header claims 1 GiB; nothing after it is read.
        let mut h = with_entry(b"index.json", b'0', b"");
        h[124..136].copy_from_slice(format!("{:011o}\0", 1u64 << 30).as_bytes());
        h[148..156].fill(b' ');
        let sum: u32 = h[..512].iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let err = read_all(&h).unwrap_err().to_string();
        assert!(err.contains("1073741824 bytes, over the 16777216-byte limit"), "{err}");
    }

    #[test]
    fn pax_and_gnu_names() {
        let long = format!("blobs/sha512/{}", "0".repeat(128));
        let hdr = crate::header::entry_headers(&long, crate::header::Kind::File, 0);
        let mut bytes = hdr;
        bytes.extend_from_slice(&[0; 1024]);
        let err = read_all(&bytes).unwrap();
        assert_eq!(err, [format!("blob sha512:{} 0", "0".repeat(128))]);
        let mut gnu = with_entry(b"././@LongLink", b'L', b"manifest.json\0");
        gnu.extend_from_slice(&with_entry(b"short", b'0', b"x"));
        gnu.extend_from_slice(&[0; 1024]);
        assert_eq!(read_all(&gnu).unwrap(), ["manifest.json"]);
        let mut dangling = with_entry(b"pax", b'x', b"13 path=abcd\n");
        dangling.extend_from_slice(&[0; 1024]);
        assert!(read_all(&dangling).unwrap_err().to_string().contains("does not describe an entry"));
        let big = with_entry(b"pax", b'x', &vec![b'1'; 70_000]);
        assert!(read_all(&big).unwrap_err().to_string().contains("over the 65536-byte limit"));
    }
}
