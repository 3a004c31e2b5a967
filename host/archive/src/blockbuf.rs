//! The tape block buffer (spec §3.3), like `mbuffer`: the stream is cut into blocks of a
//! fixed size, queued up to a capacity, and written by a thread of its own in bursts that
//! start when the queue reaches the high-water mark and drain it. A tape drive then streams
//! instead of stopping and repositioning whenever the network stalls.
//!
//! Unlike ace-dt's, a failed write ends the run with that error (the producer is told, instead
//! of blocking on a full queue), a block size of 0 is refused, and on a character device the
//! last block is padded with zeros, since a drive in fixed-block mode refuses a short write.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// The default block: each write to the destination is this many bytes.
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// Size and fill policy of a block buffer, in blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per write to the destination.
    pub block_size: usize,
    /// Queue capacity in blocks (at least 1).
    pub capacity: usize,
    /// Blocks queued before a burst of writes starts (1 to `capacity`).
    pub high_water: usize,
    /// Pad the last block with zeros to `block_size` (fixed-block tape).
    pub pad_last: bool,
}

/// Bad buffer settings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GeometryError {
    /// `-b 0`.
    #[error("the block size must be at least 1 byte")]
    ZeroBlock,
    /// `--hwm` above 100.
    #[error("the high-water mark is a percentage of the buffer, 0 to 100; got {0}")]
    HighWater(u32),
}

impl Geometry {
    /// ace-dt's conversion of `-m BYTES -b BYTES --hwm PCT` (spec §3.3): capacity
    /// ⌈buffer / block⌉ and at least one block; the high-water mark likewise, capped at
    /// the capacity.
    pub fn from_flags(buffer_size: u64, block_size: u64, hwm_percent: u32) -> Result<Geometry, GeometryError> {
        if block_size == 0 {
            return Err(GeometryError::ZeroBlock);
        }
        if hwm_percent > 100 {
            return Err(GeometryError::HighWater(hwm_percent));
        }
        let blocks = |bytes: u64| if bytes == 0 { 1 } else { 1 + (bytes - 1) / block_size };
        let capacity = blocks(buffer_size);
        let high_water = blocks(buffer_size * u64::from(hwm_percent) / 100).min(capacity);
        let block_size = usize::try_from(block_size).map_err(|_| GeometryError::ZeroBlock)?;
        Ok(Geometry {
            block_size,
            capacity: usize::try_from(capacity).unwrap_or(usize::MAX),
            high_water: usize::try_from(high_water).unwrap_or(usize::MAX),
            pad_last: false,
        })
    }
}

#[derive(Default)]
struct Queue {
    blocks: VecDeque<Vec<u8>>,
    /// The producer is done: write everything that is left.
    closed: bool,
    /// The writer failed; the producer stops with this.
    failed: Option<io::Error>,
    /// Blocks handed back by the writer for reuse.
    spare: Vec<Vec<u8>>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signals the writer: blocks queued, or closed.
    filled: Condvar,
    /// Signals the producer: room in the queue, or a failure.
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A [`Write`] that block-buffers into a destination written by its own thread. Call
/// [`BlockWriter::finish`] to write the rest and learn whether every write succeeded;
/// `flush` does not cut a short block.
pub struct BlockWriter {
    shared: Arc<Shared>,
    current: Vec<u8>,
    geometry: Geometry,
    thread: Option<JoinHandle<()>>,
}

impl BlockWriter {
    /// Starts the writer thread on `dest`.
    pub fn new<W: Write + Send + 'static>(dest: W, geometry: Geometry) -> BlockWriter {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), filled: Condvar::new(), drained: Condvar::new() });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new().name("ferry-block-writer".to_owned()).spawn(move || drain(dest, &shared, geometry.high_water)).ok()
        };
        let w = BlockWriter { shared, current: Vec::with_capacity(geometry.block_size), geometry, thread };
        if w.thread.is_none() {
            w.shared.lock().failed = Some(io::Error::other("could not start the block writer thread"));
        }
        w
    }

    /// Queues the last (short, or padded) block, waits for every write and returns the first
    /// error, if any.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.current.is_empty() {
            if self.geometry.pad_last {
                self.current.resize(self.geometry.block_size, 0);
            }
            self.queue_current()?;
        }
        self.close()
    }

    fn close(&mut self) -> io::Result<()> {
        self.shared.lock().closed = true;
        self.shared.filled.notify_one();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            return Err(io::Error::other("the block writer thread panicked"));
        }
        match self.shared.lock().failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn queue_current(&mut self) -> io::Result<()> {
        let mut q = self.shared.lock();
        while q.failed.is_none() && q.blocks.len() >= self.geometry.capacity {
            q = self.shared.drained.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        if let Some(e) = &q.failed {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let next = q.spare.pop().unwrap_or_else(|| Vec::with_capacity(self.geometry.block_size));
        q.blocks.push_back(std::mem::replace(&mut self.current, next));
        if q.blocks.len() >= self.geometry.high_water {
            self.shared.filled.notify_one();
        }
        Ok(())
    }
}

impl Write for BlockWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.geometry.block_size - self.current.len();
        let n = room.min(buf.len());
        self.current.extend_from_slice(&buf[..n]);
        if self.current.len() == self.geometry.block_size {
            self.queue_current()?;
        }
        Ok(n)
    }

    /// Only reports a failure so far: a short block mid-stream would break a tape's blocking.
    fn flush(&mut self) -> io::Result<()> {
        match &self.shared.lock().failed {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.close();
        }
    }
}

/// The writer thread: waits for `high_water` blocks (or the end), then writes until the queue
/// is empty, one `write_all` per block.
fn drain<W: Write>(mut dest: W, shared: &Shared, high_water: usize) {
    let mut q = shared.lock();
    loop {
        while !q.closed && q.blocks.len() < high_water {
            q = shared.filled.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        if q.blocks.is_empty() {
            break;
        }
        while let Some(mut block) = q.blocks.pop_front() {
            shared.drained.notify_one();
            drop(q);
            let result = dest.write_all(&block);
            q = shared.lock();
            if let Err(e) = result {
                q.failed = Some(e);
                q.blocks.clear();
                shared.drained.notify_all();
                return;
            }
            block.clear();
            q.spare.push(block);
        }
    }
    drop(q);
    if let Err(e) = dest.flush() {
        shared.lock().failed = Some(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write call's length.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<(Vec<usize>, Vec<u8>)>>);

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut r = self.0.lock().unwrap();
            r.0.push(buf.len());
            r.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn geometry_follows_acedt() {
        let g = Geometry::from_flags(0, 1 << 20, 90).unwrap();
        assert_eq!((g.capacity, g.high_water), (1, 1));
        let g = Geometry::from_flags(10 << 20, 1 << 20, 90).unwrap();
        assert_eq!((g.capacity, g.high_water), (10, 9));
        let g = Geometry::from_flags(10 << 20 | 1, 1 << 20, 100).unwrap();
        assert_eq!((g.capacity, g.high_water), (11, 11));
        assert_eq!(Geometry::from_flags(1 << 20, 0, 90), Err(GeometryError::ZeroBlock));
        assert_eq!(Geometry::from_flags(1 << 20, 512, 101), Err(GeometryError::HighWater(101)));
    }

    #[test]
    fn every_write_is_one_block_but_the_last() {
        for (len, pad) in [(10_000usize, false), (10_000, true), (4096, false), (0, true)] {
            let rec = Recorder::default();
            let mut g = Geometry::from_flags(4096, 1024, 50).unwrap();
            g.pad_last = pad;
            let mut w = BlockWriter::new(rec.clone(), g);
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            // Odd-sized writes, as a compressor makes them.
            for chunk in data.chunks(333) {
                w.write_all(chunk).unwrap();
                w.flush().unwrap();
            }
            w.finish().unwrap();
            let r = rec.0.lock().unwrap();
            let full = len / 1024;
            assert!(r.0[..full].iter().all(|&n| n == 1024), "{len}: {:?}", r.0);
            match (len % 1024, pad) {
                (0, _) => assert_eq!(r.0.len(), full),
                (rest, false) => assert_eq!(r.0[full..], [rest]),
                (_, true) => assert_eq!(r.0[full..], [1024]),
            }
            assert_eq!(&r.1[..len], &data[..]);
            assert!(r.1[len..].iter().all(|&b| b == 0));
        }
    }

    /// A destination that fails ends the producer with its error instead of a hang.
    #[test]
    fn a_failed_write_stops_the_producer() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "no space left on device"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = BlockWriter::new(Full, Geometry::from_flags(8192, 1024, 90).unwrap());
        let err = (0..1000).find_map(|_| w.write_all(&[7u8; 4000]).err()).expect("the failure reaches the producer");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(w.finish().is_err());
    }
}
