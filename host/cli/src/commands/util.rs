//! `ferry util mbuffer`: standard input to standard output through the tape block buffer,
//! for pipelines such as `ferry mirror serialize IMG - | ferry util mbuffer -m 1Gi > /dev/nst0`.

use anyhow::Context as _;
use ferry_archive::BlockWriter;

use crate::args::BlockFlags;

pub(crate) fn mbuffer(flags: &BlockFlags) -> anyhow::Result<()> {
    let geometry = super::serialize::geometry(flags)?;
    let mut out = BlockWriter::new(std::io::stdout(), geometry);
    std::io::copy(&mut std::io::stdin().lock(), &mut out).context("copying standard input to standard output")?;
    out.finish().context("writing standard output")
}
