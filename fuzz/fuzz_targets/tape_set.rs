//! Bytes as the tapes of a media set (the first byte says how many, the rest is cut between
//! them; tape 0 is loaded first, then each request is answered with the next tape, or lost
//! when its byte says so): staging them, or reading them one at a time as a set without
//! parity, gives an error or a stream, never a panic or a hang, and memory stays bounded
//! whatever the headers claim.

#![no_main]

use std::io::Read;

use ferry_volumes::tape::{Loader, Wanted, stage};
use libfuzzer_sys::fuzz_target;

struct Tapes(Vec<Vec<u8>>, usize);

impl Loader for Tapes {
    fn load(&mut self, _: Wanted) -> Result<Option<Box<dyn Read>>, ferry_volumes::VolumeError> {
        // Every request is an operator's answer: bounded by the tapes there are.
        self.1 += 1;
        let Some(tape) = self.0.get(self.1) else { return Err(std::io::Error::other("no more tapes").into()) };
        if tape.first() == Some(&0xff) {
            return Ok(None);
        }
        Ok(Some(Box::new(std::io::Cursor::new(tape.clone()))))
    }

    fn refused(&mut self, _: Wanted, _: &str) {}
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 6) + 1;
    let chunk = rest.len().div_ceil(n).max(1);
    let tapes: Vec<Vec<u8>> = rest.chunks(chunk).map(<[u8]>::to_vec).collect();
    let Some(first) = tapes.first().cloned() else { return };
    let dir = tempfile::tempdir().unwrap();
    if data.len() % 3 == 0 {
        // A set without parity, read one tape at a time.
        if let Ok(mut one) = ferry_volumes::tape::OneAtATime::new(Box::new(std::io::Cursor::new(first)), Tapes(tapes, 0), dir.path()) {
            let mut out = Vec::new();
            let _ = one.by_ref().take(64 << 20).read_to_end(&mut out);
        }
        return;
    }
    let mut loader = Tapes(tapes, 0);
    if let Ok(volumes) = stage(Box::new(std::io::Cursor::new(first)), &mut loader, dir.path(), data.len() % 2 == 0)
        && let Ok(survey) = ferry_volumes::survey(&volumes, true)
    {
        let _ = survey.rebuildable();
        let mut out = Vec::new();
        let _ = survey.reader().take(64 << 20).read_to_end(&mut out);
    }
});
