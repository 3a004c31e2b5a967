//! A sources parser that never returns, for ferry's sandbox tests: however large its input,
//! the time and fuel limits must still stop it.

wit_bindgen::generate!({ world: "sources-parser", path: "../../../wit" });

struct Endless;

impl Guest for Endless {
    fn parse(text: String) -> Result<Vec<SourceEntry>, LineError> {
        let mut n = text.len() as u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

export!(Endless);
