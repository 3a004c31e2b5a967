//! An error with its causes as one line of text, for places that print an error with `{}`
//! (a report that lists several failures, a test's message) rather than walking its chain.

use std::error::Error;

/// `e` and each of its sources, `: `-separated, a piece left out when the text so far already
/// says it (some errors repeat their source's text in their own).
pub fn with_causes(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Plain(&'static str);

    #[derive(Debug, thiserror::Error)]
    #[error("{what}")]
    struct Wrapped {
        what: &'static str,
        #[source]
        source: Plain,
    }

    #[test]
    fn each_piece_once() {
        assert_eq!(with_causes(&Wrapped { what: "reading x", source: Plain("cut at 3") }), "reading x: cut at 3");
        assert_eq!(with_causes(&Wrapped { what: "reading x: cut at 3", source: Plain("cut at 3") }), "reading x: cut at 3");
    }
}
