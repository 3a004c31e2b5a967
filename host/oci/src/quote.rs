//! Quoting outside bytes in messages: a tar header's name, a line of a list, a registry's
//! answer. The result is escaped (no control character reaches a terminal) and cut short, so a
//! hostile input can neither drive the terminal nor blow up an error message.

use std::fmt::Write as _;

/// The most characters of quoted input a message carries.
pub const QUOTE_MAX_CHARS: usize = 120;

/// `bytes` as a double-quoted, escaped string of at most [`QUOTE_MAX_CHARS`] characters of
/// content, with `…` and the full length when cut. Invalid UTF-8 shows as `\xNN`.
pub fn quoted(bytes: &[u8]) -> String {
    quoted_max(bytes, QUOTE_MAX_CHARS)
}

/// As [`quoted`], keeping at most `max` characters of content.
pub fn quoted_max(bytes: &[u8], max: usize) -> String {
    let mut out = String::with_capacity(max.min(bytes.len()) + 2);
    out.push('"');
    let mut kept = 0;
    let mut cut = false;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if kept >= max {
                cut = true;
                break;
            }
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() || is_invisible(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
            kept += 1;
        }
        if cut {
            break;
        }
        for b in chunk.invalid() {
            if kept >= max {
                cut = true;
                break;
            }
            let _ = write!(out, "\\x{b:02x}");
            kept += 1;
        }
        if cut {
            break;
        }
    }
    out.push('"');
    if cut {
        let _ = write!(out, "… ({} bytes)", bytes.len());
    }
    out
}

/// Characters that change how a terminal shows text without being control characters:
/// bidirectional overrides and zero-width marks.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_cuts() {
        assert_eq!(quoted(b"blobs/sha256/ab"), "\"blobs/sha256/ab\"");
        assert_eq!(quoted(b"a\x1b[2Jb\x07"), "\"a\\u{1b}[2Jb\\u{7}\"");
        assert_eq!(quoted(b"\xff\xfeok"), "\"\\xff\\xfeok\"");
        assert_eq!(quoted("x\u{202e}y".as_bytes()), "\"x\\u{202e}y\"");
        let long = vec![b'a'; 4 << 20];
        let q = quoted(&long);
        assert!(q.len() < 200, "{}", q.len());
        assert!(q.ends_with("… (4194304 bytes)"));
        assert_eq!(quoted_max(b"abcdef", 3), "\"abc\"… (6 bytes)");
    }
}
