//! JSON encoded as Go's `encoding/json` writes it.
//!
//! Byte-identical output matters because a gather index's digest is the digest of its JSON.
//! Field order and `omitempty` come from the serde derives on ferry's types; map keys are
//! sorted because ferry uses `BTreeMap`; this module adds Go's escaping of `<`, `>`, `&`,
//! U+2028 and U+2029, and Go's `MarshalIndent` layout.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Compact JSON, as `json.Marshal`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoEscape(CompactFormatter));
    // Serializing ferry's own types into memory cannot fail.
    value.serialize(&mut ser).unwrap_or_else(|e| unreachable!("in-memory JSON encoding failed: {e}"));
    out
}

/// Two-space indented JSON, as `json.MarshalIndent(v, "", "  ")`.
pub fn to_vec_pretty<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoEscape(PrettyFormatter::with_indent(b"  ")));
    value.serialize(&mut ser).unwrap_or_else(|e| unreachable!("in-memory JSON encoding failed: {e}"));
    out
}

/// Wraps a formatter and escapes what Go's HTML-safe encoder escapes.
struct GoEscape<F>(F);

impl<F: Formatter> Formatter for GoEscape<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Descriptor, Digest, Platform};

    #[test]
    fn escapes_like_go() {
        let m: BTreeMap<&str, &str> = [("b", "<a&b>\u{2028}é\n"), ("a", "x")].into_iter().collect();
        assert_eq!(String::from_utf8(to_vec(&m)).unwrap(), r#"{"a":"x","b":"\u003ca\u0026b\u003e\u2028é\n"}"#);
    }

    #[test]
    fn descriptor_field_order_is_gos() {
        let mut d = Descriptor::new("application/vnd.oci.image.manifest.v1+json", Digest::sha256(b"x"), 1);
        d.annotations.insert("z".into(), "1".into());
        d.annotations.insert("a".into(), "2".into());
        d.platform = Some(Platform { architecture: "arm64".into(), os: "linux".into(), variant: "v8".into(), ..Default::default() });
        let json = String::from_utf8(to_vec(&d)).unwrap();
        let expected = format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"annotations":{{"a":"2","z":"1"}},"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}"#,
            Digest::sha256(b"x")
        );
        assert_eq!(json, expected);
    }

    #[test]
    fn pretty_matches_marshal_indent() {
        let v = serde_json::json!({"a": [], "b": [1, 2], "c": {}});
        assert_eq!(String::from_utf8(to_vec_pretty(&v)).unwrap(), "{\n  \"a\": [],\n  \"b\": [\n    1,\n    2\n  ],\n  \"c\": {}\n}");
    }
}
