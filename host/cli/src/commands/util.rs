//! `ferry util mbuffer`: standard input to standard output through the tape block buffer,
//! for pipelines such as `ferry mirror serialize IMG - | ferry util mbuffer -m 1Gi > /dev/nst0`.

use std::io::Read as _;

use anyhow::Context as _;
use ferry_archive::BlockWriter;

use crate::args::BlockFlags;

pub(crate) fn mbuffer(flags: &BlockFlags) -> anyhow::Result<()> {
    let geometry = super::serialize::geometry(flags)?;
    let mut out = BlockWriter::new(std::io::stdout(), geometry);
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; geometry.block_size.clamp(64 << 10, 4 << 20)];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading standard input"),
        };
        std::io::Write::write_all(&mut out, &buf[..n]).context("writing standard output")?;
    }
    out.finish().context("writing standard output")
}
