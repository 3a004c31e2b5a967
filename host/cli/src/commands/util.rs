//! `ferry util mbuffer`: standard input to standard output through the tape block buffer,
//! for pipelines such as `ferry mirror serialize IMG - | ferry util mbuffer -m 1Gi > /dev/nst0`,
//! with the bytes through, the rate and the time on standard error.

use std::io::Read;
use std::sync::Arc;

use anyhow::Context as _;
use ferry_archive::BlockWriter;
use ferry_engine::events::{Event, Events, Stage};

use crate::args::{BlockFlags, Global};
use crate::output::{Output, Stdout, bytes};
use crate::taps::Taps;

pub(crate) fn mbuffer(global: &Global, flags: &BlockFlags) -> anyhow::Result<()> {
    let geometry = super::serialize::geometry(flags)?;
    let output = Output::new(global, Stdout::Data, Arc::new(Taps::none()));
    let events = output.events();
    events(&Event::Stage(Stage::Buffering));
    let mut input = Counted { inner: std::io::stdin().lock(), events, total: 0 };
    let mut out = BlockWriter::new(std::io::stdout(), geometry);
    let copied = std::io::copy(&mut input, &mut out).context("copying standard input to standard output");
    output.finish();
    copied?;
    out.finish().context("writing standard output")?;
    output.summary(&format!("mbuffer: {} through", bytes(input.total)));
    Ok(())
}

/// Standard input, its bytes reported as progress.
struct Counted<R> {
    inner: R,
    events: Events,
    total: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if n > 0 {
            (self.events)(&Event::Progress { bytes: n as u64 });
        }
        Ok(n)
    }
}
