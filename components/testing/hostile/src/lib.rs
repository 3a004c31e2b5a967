//! A mapping rule for ferry's sandbox tests. Its parameter `do` picks the abuse: `loop`
//! (never returns), `hog` (allocates without end), `open` (tries to read a host file),
//! `env` (reads the environment), `panic`; anything else maps to `ok/<source>`.

wit_bindgen::generate!({ world: "mapper", path: "../../../wit" });

use ferry::plugin::host;

struct Hostile;

impl Guest for Hostile {
    fn map_image(image: Image) -> Result<Vec<String>, String> {
        let what = host::params().into_iter().find_map(|(k, v)| (k == "do").then_some(v)).unwrap_or_default();
        match what.as_str() {
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "open" => match std::fs::read_to_string("/etc/passwd") {
                Ok(text) => Ok(vec![format!("leaked/{}", text.len())]),
                Err(e) => Err(format!("open refused: {e}")),
            },
            "env" => Ok(vec![format!("env/{}", std::env::vars().count())]),
            "panic" => panic!("hostile rule panics on purpose"),
            _ => {
                host::log(host::Level::Info, &format!("mapping {}", image.source));
                Ok(vec![format!("ok/{}", image.source)])
            }
        }
    }
}

export!(Hostile);
