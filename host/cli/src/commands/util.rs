//! `ferry util mbuffer`: standard input to standard output through the tape block buffer,
//! for pipelines such as `ferry mirror serialize IMG - | ferry util mbuffer -m 1Gi > /dev/nst0`,
//! with the bytes through, the rate and the time on standard error.

use std::sync::Arc;

use anyhow::Context as _;
use ferry_archive::BlockWriter;
use ferry_engine::events::{Event, Stage};

use crate::args::{BlockFlags, Global};
use crate::output::{Output, ProgressRead, Stdout, bytes};
use crate::taps::Taps;

pub(crate) fn mbuffer(global: &Global, flags: &BlockFlags) -> anyhow::Result<()> {
    let geometry = super::serialize::geometry(flags)?;
    let output = Output::new(global, Stdout::Data, Arc::new(Taps::none()));
    let events = output.events();
    events(&Event::Stage(Stage::Buffering));
    let mut input = ProgressRead { inner: std::io::stdin().lock(), events, total: 0 };
    let mut out = BlockWriter::new(std::io::stdout(), geometry);
    let copied = std::io::copy(&mut input, &mut out).context("copying standard input to standard output");
    output.finish();
    copied?;
    out.finish().context("writing standard output")?;
    output.summary(&format!("mbuffer: {} through", bytes(input.total)));
    Ok(())
}
