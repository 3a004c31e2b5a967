//! A directory only this user can change, and the files in it: what the compiled-component
//! cache is kept in, since what it holds is native code.
//!
//! The directory is created mode 0700 (with any parents it needs) and refused unless it is a
//! real directory, owned by the effective user and not writable by group or others. It is then
//! held open, and every file is opened relative to it without following a symbolic link
//! (`openat` with `O_NOFOLLOW`), so renaming or re-linking the path afterwards changes nothing.
//! A file is refused unless it is a regular file owned by the user, not writable by group or
//! others (nor readable by them, for a secret), and not larger than its caller allows. Files
//! are written to a new 0600 temporary file and then renamed (or linked) into place.

use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use rand_core::RngCore as _;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

/// Why a directory or file is not used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// A symbolic link where a directory or file should be.
    #[error("it is a symbolic link")]
    Symlink,
    /// A file where a directory should be, a directory or FIFO where a file should be.
    #[error("it is not a {0}")]
    NotA(&'static str),
    /// Another user owns it.
    #[error("it is owned by uid {owner}, not by this user (uid {user})")]
    Owner {
        /// Its owner.
        owner: u32,
        /// The effective user.
        user: u32,
    },
    /// Group or others may write it (or, for a secret, read it).
    #[error("it is {} by group or others (mode {mode:04o})", access.exposed())]
    Mode {
        /// What was wanted.
        access: Access,
        /// Its permission bits.
        mode: u32,
    },
    /// Larger than its caller allows.
    #[error("it is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Its size.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// It could not be created, opened, inspected or read.
    #[error("{op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The system's error.
        #[source]
        source: io::Error,
    },
}

/// Who besides the owner may have a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Group and others may read it, not write it.
    Shared,
    /// Only the owner may read or write it (a key).
    Secret,
}

impl Access {
    /// The permission bits a file with this access must not have.
    fn forbidden(self) -> u32 {
        match self {
            Access::Shared => 0o022,
            Access::Secret => 0o077,
        }
    }

    fn exposed(self) -> &'static str {
        match self {
            Access::Shared => "writable",
            Access::Secret => "readable or writable",
        }
    }
}

/// How a written file takes its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Publish {
    /// Over whatever has the name.
    Replace,
    /// Only if nothing has the name yet (`link`, which fails when it exists).
    IfAbsent,
}

/// A checked directory, held open.
#[derive(Debug)]
pub(crate) struct PrivateDir {
    path: PathBuf,
    fd: OwnedFd,
    user: u32,
}

impl PrivateDir {
    /// `path`, created mode 0700 with any missing parents (each 0700 and so this user's) if it
    /// does not exist; refused unless it is a directory this user owns that group and others
    /// cannot write.
    pub(crate) fn open_or_create(path: &Path) -> Result<PrivateDir, Refusal> {
        match std::fs::symlink_metadata(path) {
            // Checked before creating anything: a dangling link would otherwise be followed.
            Ok(m) if m.file_type().is_symlink() => return Err(Refusal::Symlink),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|source| Refusal::Io { op: "creating it", source })?,
            Err(source) => return Err(Refusal::Io { op: "reading its metadata", source }),
        }
        // The link check above and this open are two steps; O_NOFOLLOW closes the gap.
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()).map_err(
            |e| match e {
                Errno::LOOP => Refusal::Symlink,
                Errno::NOTDIR => Refusal::NotA("directory"),
                e => Refusal::Io { op: "opening it", source: e.into() },
            },
        )?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| Refusal::Io { op: "reading its metadata", source: e.into() })?;
        let user = rustix::process::geteuid().as_raw();
        check(stat.st_uid, stat.st_mode, user, Access::Shared)?;
        Ok(PrivateDir { path: path.to_owned(), fd, user })
    }

    /// The directory as given.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The contents of the file `name`, if there is one, refused unless it is a regular file
    /// of this user's with `access` and at most `max` bytes.
    pub(crate) fn read(&self, name: &str, access: Access, max: u64) -> Result<Option<Vec<u8>>, Refusal> {
        // O_NONBLOCK: a FIFO planted under the name must not hang the open; it is refused below.
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => return Err(Refusal::Symlink),
            Err(e) => return Err(Refusal::Io { op: "opening it", source: e.into() }),
        };
        let meta = file.metadata().map_err(|source| Refusal::Io { op: "reading its metadata", source })?;
        if !meta.file_type().is_file() {
            return Err(Refusal::NotA("regular file"));
        }
        check(meta.uid(), meta.mode(), self.user, access)?;
        if meta.len() > max {
            return Err(Refusal::TooLarge { len: meta.len(), max });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        // Bounded again while reading: the file may have grown since it was measured.
        file.take(max + 1).read_to_end(&mut bytes).map_err(|source| Refusal::Io { op: "reading it", source })?;
        if bytes.len() as u64 > max {
            return Err(Refusal::TooLarge { len: bytes.len() as u64, max });
        }
        Ok(Some(bytes))
    }

    /// Writes `parts` to the file `name` at once: a new temporary file (mode 0600, created
    /// only if it does not exist) renamed or linked into place. `false` when `Publish::IfAbsent`
    /// found the name taken.
    pub(crate) fn write(&self, name: &str, parts: &[&[u8]], publish: Publish) -> io::Result<bool> {
        let mut suffix = [0u8; 8];
        rand_core::OsRng.try_fill_bytes(&mut suffix).map_err(|e| io::Error::other(e.to_string()))?;
        let tmp = format!(".{name}.{}.tmp", hex::encode(suffix));
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file = File::from(rustix::fs::openat(&self.fd, &tmp, flags, Mode::from_raw_mode(0o600))?);
        let written = self.fill_and_publish(file, &tmp, name, parts, publish);
        if !matches!((publish, &written), (Publish::Replace, Ok(_))) {
            // Nothing was renamed away: the temporary name is still there.
            let _ = rustix::fs::unlinkat(&self.fd, &tmp, AtFlags::empty());
        }
        written
    }

    /// Writes `parts` to `file`, the new file `tmp`, and gives it the name `name`.
    fn fill_and_publish(&self, mut file: File, tmp: &str, name: &str, parts: &[&[u8]], publish: Publish) -> io::Result<bool> {
        for part in parts {
            file.write_all(part)?;
        }
        let published = match publish {
            Publish::Replace => rustix::fs::renameat(&self.fd, tmp, &self.fd, name).map(|()| true),
            Publish::IfAbsent => {
                // A new cache's key is synced: a crash must not leave an empty key behind, which
                // would be replaced and cost every entry a compile.
                file.sync_all()?;
                match rustix::fs::linkat(&self.fd, tmp, &self.fd, name, AtFlags::empty()) {
                    Ok(()) => Ok(true),
                    Err(Errno::EXIST) => Ok(false),
                    Err(e) => Err(e),
                }
            }
        };
        Ok(published?)
    }
}

/// Refuses an owner other than `user`, or permission bits `access` forbids.
fn check(owner: u32, mode: u32, user: u32, access: Access) -> Result<(), Refusal> {
    if owner != user {
        return Err(Refusal::Owner { owner, user });
    }
    let mode = mode & 0o7777;
    if mode & access.forbidden() != 0 {
        return Err(Refusal::Mode { access, mode });
    }
    Ok(())
}
