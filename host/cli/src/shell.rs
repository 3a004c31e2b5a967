//! Commands printed for the operator to paste: each argument as one shell word.

/// `s` as one shell word, quoted only when it needs to be.
pub(crate) fn word(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:@+=%,".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A command line from its arguments.
pub(crate) fn line<S: AsRef<str>>(args: impl IntoIterator<Item = S>) -> String {
    args.into_iter().map(|a| word(a.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(word("reg:5000/a/b:1@sha256:ab"), "reg:5000/a/b:1@sha256:ab");
        assert_eq!(word("my file"), "'my file'");
        assert_eq!(word("it's"), r"'it'\''s'");
        assert_eq!(word(""), "''");
        assert_eq!(line(["ferry", "a b"]), "ferry 'a b'");
    }
}
