//! Tar headers exactly as Go's `archive/tar` writes ace-dt's archives (spec §2.3): ustar,
//! mode 0666 (files) or 0777 (directories), uid/gid 0, empty user and group names, mtime 0,
//! checksum as six octal digits, NUL, space; PAX `x` records only for sizes of 8 GiB and more
//! (`size=`) and for paths ustar cannot hold (`path=`).

/// A tar block.
pub const BLOCK: usize = 512;

/// Largest size a ustar size field holds (11 octal digits).
const MAX_USTAR_SIZE: u64 = 0o777_7777_7777;

/// The kind of entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (`'0'`, mode 0666).
    File,
    /// A directory (`'5'`, mode 0777, size 0, no trailing slash).
    Directory,
}

/// The header block(s) for an entry: a PAX extended header first when needed, then the
/// ustar header. The caller writes `size` bytes of data and pads to a block after it.
pub fn entry_headers(path: &str, kind: Kind, size: u64) -> Vec<u8> {
    let mut records: Vec<(&str, String)> = Vec::new();
    let split = split_ustar_path(path);
    if split.is_none() && path.len() > 100 {
        records.push(("path", path.to_owned()));
    }
    if size > MAX_USTAR_SIZE {
        records.push(("size", size.to_string()));
    }
    let mut out = Vec::with_capacity(3 * BLOCK);
    if !records.is_empty() {
        records.sort_by(|a, b| a.0.cmp(b.0));
        let data: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v).into_bytes()).collect();
        let pax = ustar_block(&pax_name(path), b'x', 0, data.len() as u64, None, true);
        out.extend_from_slice(&pax);
        out.extend_from_slice(&data);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }
    let (prefix, name) = match split {
        Some((p, n)) => (Some(p), n),
        None => (None, &path[..path.len().min(100)]),
    };
    let (flag, mode) = match kind {
        Kind::File => (b'0', 0o666),
        Kind::Directory => (b'5', 0o777),
    };
    let field_size = if size > MAX_USTAR_SIZE { 0 } else { size };
    out.extend_from_slice(&ustar_block(name, flag, mode, field_size, prefix, false));
    out
}

/// `"%d %s=%s\n"` where the leading number counts the whole record, itself included.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    loop {
        let total = len.to_string().len() + body.len();
        if total == len {
            return format!("{len}{body}");
        }
        len = total;
    }
}

/// `<dir>/PaxHeaders.0/<base>`, truncated to 100 bytes, as Go names PAX headers.
fn pax_name(path: &str) -> String {
    let (dir, base) = match path.rsplit_once('/') {
        Some((d, b)) => (d, b),
        None => (".", path),
    };
    let name = format!("{dir}/PaxHeaders.0/{base}");
    name[..name.len().min(100)].to_owned()
}

/// Go's `splitUSTARPath`: a prefix (≤ 155) and a name (≤ 100) split at a `/`.
fn split_ustar_path(path: &str) -> Option<(&str, &str)> {
    let len = path.len();
    if len <= 100 || !path.is_ascii() {
        return None;
    }
    let mut cut = len;
    if cut > 156 {
        cut = 156;
    } else if path.as_bytes()[cut - 1] == b'/' {
        cut -= 1;
    }
    let i = path[..cut].rfind('/')?;
    let (plen, nlen) = (i, len - i - 1);
    if i == 0 || nlen > 100 || nlen == 0 || plen > 155 {
        return None;
    }
    Some((&path[..i], &path[i + 1..]))
}

/// One 512-byte ustar header block. `pax` marks a PAX extended header, whose device fields
/// Go leaves empty.
fn ustar_block(name: &str, flag: u8, mode: u32, size: u64, prefix: Option<&str>, pax: bool) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    put_str(&mut b[0..100], name);
    put_octal(&mut b[100..108], u64::from(mode));
    put_octal(&mut b[108..116], 0);
    put_octal(&mut b[116..124], 0);
    put_octal(&mut b[124..136], size);
    put_octal(&mut b[136..148], 0);
    b[156] = flag;
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    if !pax {
        put_octal(&mut b[329..337], 0);
        put_octal(&mut b[337..345], 0);
    }
    if let Some(p) = prefix {
        put_str(&mut b[345..500], p);
    }
    // The checksum counts its own field as spaces.
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    let digits = format!("{sum:06o}");
    b[148..154].copy_from_slice(digits.as_bytes());
    b[154] = 0;
    b[155] = b' ';
    b
}

fn put_str(field: &mut [u8], s: &str) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// Zero-padded octal filling all but the last byte, which is NUL.
fn put_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let digits = format!("{value:0width$o}");
    field[..width].copy_from_slice(&digits.as_bytes()[digits.len() - width..]);
    field[width] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(b: &[u8], r: std::ops::Range<usize>) -> &[u8] {
        &b[r]
    }

    #[test]
    fn file_header_is_gos() {
        let h = entry_headers("oci-layout", Kind::File, 30);
        assert_eq!(h.len(), BLOCK);
        assert_eq!(&h[..10], b"oci-layout");
        assert_eq!(field(&h, 100..108), b"0000666\0");
        assert_eq!(field(&h, 108..116), b"0000000\0");
        assert_eq!(field(&h, 124..136), b"00000000036\0");
        assert_eq!(field(&h, 136..148), b"00000000000\0");
        assert_eq!(h[156], b'0');
        assert_eq!(field(&h, 257..265), b"ustar\x0000");
        assert_eq!(field(&h, 329..345), b"0000000\x000000000\0");
        assert_eq!((h[154], h[155]), (0, b' '));
        let sum: u32 = h.iter().enumerate().map(|(i, &x)| if (148..156).contains(&i) { 32 } else { u32::from(x) }).sum();
        assert_eq!(std::str::from_utf8(&h[148..154]).unwrap(), format!("{sum:06o}"));
    }

    #[test]
    fn directory_header() {
        let h = entry_headers("blobs/sha256", Kind::Directory, 0);
        assert_eq!(&h[..13], b"blobs/sha256\0");
        assert_eq!(field(&h, 100..108), b"0000777\0");
        assert_eq!(h[156], b'5');
    }

    #[test]
    fn pax_for_long_paths_and_huge_sizes() {
        let long = format!("blobs/sha512/{}", "a".repeat(128));
        let h = entry_headers(&long, Kind::File, 10);
        assert_eq!(h.len(), 3 * BLOCK);
        assert_eq!(h[156], b'x');
        assert!(h[..100].starts_with(b"blobs/sha512/PaxHeaders.0/aaaa"));
        assert_eq!(field(&h, 329..345), &[0u8; 16]);
        let data = std::str::from_utf8(&h[BLOCK..BLOCK + 151]).unwrap();
        assert_eq!(data, format!("151 path={long}\n"));
        assert_eq!(&h[2 * BLOCK..2 * BLOCK + 100], &long.as_bytes()[..100]);

        let big = entry_headers("blobs/sha256/x", Kind::File, 8 << 30);
        assert_eq!(big[156], b'x');
        assert!(std::str::from_utf8(&big[BLOCK..BLOCK + 20]).unwrap().starts_with("19 size=8589934592\n"));
        assert_eq!(field(&big, 2 * BLOCK + 124..2 * BLOCK + 136), b"00000000000\0");
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        assert_eq!(pax_record("size", "8589934592"), "19 size=8589934592\n");
        let r = pax_record("path", &"p".repeat(93));
        assert_eq!(r.len(), r.split(' ').next().unwrap().parse::<usize>().unwrap());
    }
}
