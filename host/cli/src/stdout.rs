//! Standard output that a reader may close early (`ferry mirror scatter --check | head`):
//! then ferry stops quietly with exit 0, as Unix tools do, instead of panicking.

use std::io::Write as _;

/// Writes to standard output; a closed pipe ends the process with exit 0.
pub(crate) fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        closed_or_exit(&e);
    }
}

/// Ends the process quietly (exit 0) when `e` says the reader closed standard output; any
/// other write error is reported and exits 1.
pub(crate) fn closed_or_exit(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(crate::exit::SUCCESS));
    }
    eprintln!("error: writing to standard output: {e}");
    std::process::exit(i32::from(crate::exit::FAILURE));
}

/// `println!` for standard output that may be closed early.
macro_rules! outln {
    () => { $crate::stdout::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` for standard output that may be closed early.
macro_rules! out {
    ($($arg:tt)*) => { $crate::stdout::write(format_args!($($arg)*)) };
}

pub(crate) use {out, outln};
