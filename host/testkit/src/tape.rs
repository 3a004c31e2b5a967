//! A tape drive stand-in: a character device path (a symlink to a pseudo-terminal in raw
//! mode) that behaves like a drive for ferry: opened once per volume, written or read from its
//! start, and a new "tape" loaded by an autoloader command between volumes. The command
//! ([`TapeDrive::next_volume`]) asks this kit over two FIFOs; the kit loads what the test says
//! for that volume (a blank tape when writing, recorded bytes or nothing when reading).

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the kit loads when a volume is asked for: `Some(bytes)` to read (empty for a blank
/// tape to write), `None` when that volume is lost.
pub type Library = Box<dyn FnMut(&str) -> Option<Vec<u8>> + Send>;

/// Each tape written, in load order, with the volume asked for when it was loaded.
type Written = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// One loaded tape: its pseudo-terminal and the thread moving its bytes.
struct Loaded {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<u8>>,
}

/// The drive and its autoloader.
pub struct TapeDrive {
    dir: PathBuf,
    device: PathBuf,
    loaded: Arc<Mutex<Option<Loaded>>>,
    written: Written,
    /// The volumes asked for, in order.
    asked: Arc<Mutex<Vec<String>>>,
    autoloader: Option<JoinHandle<()>>,
}

impl TapeDrive {
    /// A drive at `dir/nst0` with the first tape loaded (`first`: bytes to read, or empty to
    /// write), and an autoloader answering from `library`.
    pub fn new(dir: &Path, first: Vec<u8>, library: Library) -> TapeDrive {
        let device = dir.join("nst0");
        for fifo in ["ask", "answer"] {
            let path = dir.join(fifo);
            let status = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo");
            assert!(status.success(), "mkfifo {}", path.display());
        }
        let loaded = Arc::new(Mutex::new(None));
        let written = Arc::new(Mutex::new(Vec::new()));
        let asked = Arc::new(Mutex::new(Vec::new()));
        load(&device, &loaded, &written, "first", first);
        let autoloader = {
            let (dir, device, loaded, written, asked) = (dir.to_owned(), device.clone(), loaded.clone(), written.clone(), asked.clone());
            let mut library = library;
            std::thread::spawn(move || {
                loop {
                    // Blocks until the command (or `Drop`) writes its line.
                    let Ok(ask) = File::open(dir.join("ask")) else { return };
                    let mut line = String::new();
                    let _ = BufReader::new(ask).read_line(&mut line);
                    let volume = line.trim().to_owned();
                    if volume == "quit" || volume.is_empty() {
                        return;
                    }
                    asked.lock().unwrap().push(volume.clone());
                    let answer = match library(&volume) {
                        Some(bytes) => {
                            load(&device, &loaded, &written, &volume, bytes);
                            "loaded"
                        }
                        None => "lost",
                    };
                    let Ok(mut out) = std::fs::OpenOptions::new().write(true).open(dir.join("answer")) else { return };
                    let _ = writeln!(out, "{answer}");
                }
            })
        };
        TapeDrive { dir: dir.to_owned(), device, loaded, written, asked, autoloader: Some(autoloader) }
    }

    /// The device path to give ferry.
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// The `--next-volume` command: asks the autoloader for `$FERRY_VOLUME` and fails when
    /// it answers that the volume is lost.
    pub fn next_volume(&self) -> String {
        let (ask, answer) = (self.dir.join("ask"), self.dir.join("answer"));
        format!(
            "printf '%s\\n' \"$FERRY_VOLUME\" > '{}' && read -r answer < '{}' && [ \"$answer\" = loaded ]",
            ask.display(),
            answer.display()
        )
    }

    /// Loads a tape by hand (an operator at the prompt): `bytes` to read, or empty to write.
    pub fn load(&self, volume: &str, bytes: Vec<u8>) {
        load(&self.device, &self.loaded, &self.written, volume, bytes);
    }

    /// The volumes the command asked for, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }

    /// Unloads the last tape and returns every tape written, in load order, each with the
    /// volume asked for when it was loaded (`first` for the first).
    pub fn tapes(&self) -> Vec<(String, Vec<u8>)> {
        unload(&self.loaded, &self.written);
        self.written.lock().unwrap().clone()
    }
}

impl Drop for TapeDrive {
    fn drop(&mut self) {
        unload(&self.loaded, &self.written);
        if let Ok(mut ask) = std::fs::OpenOptions::new().write(true).open(self.dir.join("ask")) {
            let _ = writeln!(ask, "quit");
        }
        if let Some(t) = self.autoloader.take() {
            let _ = t.join();
        }
    }
}

/// Ends the loaded tape's thread; what it recorded (a tape being written) is kept.
fn unload(loaded: &Mutex<Option<Loaded>>, written: &Mutex<Vec<(String, Vec<u8>)>>) {
    if let Some(l) = loaded.lock().unwrap().take() {
        l.stop.store(true, Ordering::SeqCst);
        let bytes = l.thread.join().unwrap_or_default();
        if let Some(last) = written.lock().unwrap().last_mut() {
            last.1 = bytes;
        }
    }
}

/// Unloads the tape in the drive and loads a new one: a fresh pseudo-terminal in raw mode
/// behind the device path, fed `bytes` (reading) or recorded (writing, when empty).
fn load(device: &Path, loaded: &Mutex<Option<Loaded>>, written: &Mutex<Vec<(String, Vec<u8>)>>, volume: &str, bytes: Vec<u8>) {
    unload(loaded, written);
    let master = rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY).expect("openpt");
    rustix::pty::grantpt(&master).expect("grantpt");
    rustix::pty::unlockpt(&master).expect("unlockpt");
    let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
    let name = PathBuf::from(name.to_str().expect("pty name"));
    {
        // Raw: bytes pass as they are, both ways.
        let slave = std::fs::OpenOptions::new().read(true).write(true).open(&name).expect("open pty");
        let mut termios = rustix::termios::tcgetattr(&slave).expect("tcgetattr");
        termios.make_raw();
        rustix::termios::tcsetattr(&slave, rustix::termios::OptionalActions::Now, &termios).expect("tcsetattr");
    }
    let flags = rustix::fs::fcntl_getfl(&master).expect("getfl");
    rustix::fs::fcntl_setfl(&master, flags | rustix::fs::OFlags::NONBLOCK).expect("setfl");
    let link = device.with_extension("loading");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&name, &link).expect("symlink");
    std::fs::rename(&link, device).expect("rename");
    let stop = Arc::new(AtomicBool::new(false));
    let mut master = File::from(master);
    let recording = bytes.is_empty();
    written.lock().unwrap().push((volume.to_owned(), Vec::new()));
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut at = 0;
            let mut buf = vec![0u8; 64 << 10];
            let mut idle = 0;
            loop {
                let stopping = stop.load(Ordering::SeqCst);
                let moved = if recording {
                    match master.read(&mut buf) {
                        Ok(n) if n > 0 => {
                            got.extend_from_slice(&buf[..n]);
                            true
                        }
                        // Nothing now: no writer yet, or the writer closed (EIO), or empty.
                        _ => false,
                    }
                } else if at < bytes.len() {
                    match master.write(&bytes[at..]) {
                        Ok(n) => {
                            at += n;
                            n > 0
                        }
                        Err(_) => false,
                    }
                } else {
                    false
                };
                idle = if moved { 0 } else { idle + 1 };
                // Stopping: what a recording tape still holds is drained first (bytes
                // written before the device was closed may still be on their way).
                if stopping && idle > 40 {
                    return got;
                }
                if !moved {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    *loaded.lock().unwrap() = Some(Loaded { stop, thread });
}
