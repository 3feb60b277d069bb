//! The guest's root file system: a `newc` cpio archive (what the kernel unpacks as its
//! initramfs) holding the bpfsmith binary as `/init`, the shared libraries it needs, the
//! request, device nodes and the user's input files at their host paths.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What goes at one path of the archive.
enum Entry {
    Dir,
    /// A host file, read when the archive is written.
    HostFile(PathBuf),
    Bytes(Vec<u8>),
    CharDev(u32, u32),
}

/// Where a dynamically linked binary's libraries are looked up, as the dynamic loader does
/// without a cache (Debian's multiarch directories first).
const LIB_DIRS: [&str; 6] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// Input files larger than this in all are refused: the archive lives in the guest's memory.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// An initramfs being put together.
#[derive(Default)]
pub struct Initramfs {
    entries: BTreeMap<String, (Entry, u32)>,
    input_bytes: u64,
}

impl Initramfs {
    /// An archive with the directories and device nodes every guest needs.
    pub fn base() -> Initramfs {
        let mut r = Initramfs::default();
        for d in ["/dev", "/proc", "/sys", "/tmp", "/root"] {
            r.dir(d);
        }
        // The kernel opens /dev/console for init; the serial ports carry the command's output.
        r.insert("/dev/console", Entry::CharDev(5, 1), 0o600);
        r.insert("/dev/null", Entry::CharDev(1, 3), 0o666);
        for (i, minor) in (64..68).enumerate() {
            r.insert(&format!("/dev/ttyS{i}"), Entry::CharDev(4, minor), 0o600);
        }
        r
    }

    fn insert(&mut self, path: &str, entry: Entry, perm: u32) {
        if let Some(parent) = Path::new(path).parent() {
            if let Some(p) = parent.to_str() {
                if p != "/" && !p.is_empty() {
                    self.dir(p);
                }
            }
        }
        self.entries.insert(path.to_owned(), (entry, perm));
    }

    /// A directory and its parents.
    pub fn dir(&mut self, path: &str) {
        if path == "/" || path.is_empty() || self.entries.contains_key(path) {
            return;
        }
        self.insert(path, Entry::Dir, 0o755);
    }

    /// A file with these bytes.
    pub fn bytes(&mut self, path: &str, data: Vec<u8>, perm: u32) {
        self.insert(path, Entry::Bytes(data), perm);
    }

    /// A host file (or a directory, recursively) at its absolute path as the command line
    /// names it (made absolute from the current directory, `.` and `..` folded, symbolic
    /// links kept: the guest must find the file under the name the command uses).
    pub fn host_path(&mut self, path: &Path) -> io::Result<()> {
        let at = lexical_absolute(path)?;
        self.host_path_as(path, &at)
    }

    fn host_path_as(&mut self, host: &Path, at: &Path) -> io::Result<()> {
        let name = at
            .to_str()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a path that is not UTF-8"))?
            .to_owned();
        let with_path = |e: io::Error| io::Error::new(e.kind(), format!("{name}: {e}"));
        let meta = fs::metadata(host).map_err(with_path)?;
        if meta.is_dir() {
            self.dir(&name);
            for e in fs::read_dir(host).map_err(with_path)? {
                let e = e.map_err(with_path)?;
                match self.host_path_as(&e.path(), &at.join(e.file_name())) {
                    // A file removed (or a dangling link) while the folder is walked is not
                    // an input the command can have meant.
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    r => r?,
                }
            }
        } else if meta.is_file() {
            self.input_bytes += meta.len();
            if self.input_bytes > MAX_INPUT_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the input files exceed {} MiB, more than a guest holds in memory",
                        MAX_INPUT_BYTES >> 20
                    ),
                ));
            }
            use std::os::unix::fs::PermissionsExt;
            let perm = meta.permissions().mode() & 0o777;
            self.insert(&name, Entry::HostFile(host.to_owned()), perm);
        }
        // Sockets, FIFOs and devices are not copied: a guest cannot share them.
        Ok(())
    }

    /// A dynamically linked executable as `at`, with its program interpreter and every shared
    /// library it needs (transitively), each at the path where it was found on this machine.
    pub fn executable(&mut self, exe: &Path, at: &str) -> io::Result<()> {
        let bytes = fs::read(exe)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", exe.display())))?;
        let mut pending = needed(&bytes)?;
        self.bytes(at, bytes, 0o755);
        let mut seen = std::collections::HashSet::new();
        while let Some(lib) = pending.pop() {
            if !seen.insert(lib.clone()) {
                continue;
            }
            let path = if lib.starts_with('/') {
                PathBuf::from(&lib)
            } else {
                LIB_DIRS
                    .iter()
                    .map(|d| Path::new(d).join(&lib))
                    .find(|p| p.is_file())
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::NotFound,
                            format!(
                                "shared library {lib} (needed by {}) not found",
                                exe.display()
                            ),
                        )
                    })?
            };
            let data = fs::read(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            pending.extend(needed(&data)?);
            let name = path.to_string_lossy().into_owned();
            self.bytes(&name, data, 0o755);
        }
        Ok(())
    }

    /// Write the archive.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        use cpio::newc::{Builder, ModeFileType};
        let mut out = out;
        for (ino, (path, (entry, perm))) in self.entries.iter().enumerate() {
            let name = path.trim_start_matches('/');
            let b = Builder::new(name)
                .ino(ino as u32 + 1)
                .uid(0)
                .gid(0)
                .mode(*perm);
            match entry {
                Entry::Dir => {
                    let w = b
                        .set_mode_file_type(ModeFileType::Directory)
                        .nlink(2)
                        .write(&mut out, 0);
                    w.finish()?;
                }
                Entry::CharDev(major, minor) => {
                    let w = b
                        .set_mode_file_type(ModeFileType::Char)
                        .nlink(1)
                        .rdev_major(*major)
                        .rdev_minor(*minor)
                        .write(&mut out, 0);
                    w.finish()?;
                }
                Entry::Bytes(data) => {
                    write_file(b, &mut out, data)?;
                }
                Entry::HostFile(host) => {
                    let data = fs::read(host).map_err(|e| {
                        io::Error::new(e.kind(), format!("{}: {e}", host.display()))
                    })?;
                    write_file(b, &mut out, &data)?;
                }
            }
        }
        cpio::newc::trailer(&mut out)?;
        Ok(())
    }
}

fn write_file(b: cpio::newc::Builder, out: &mut dyn Write, data: &[u8]) -> io::Result<()> {
    let size = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a file over 4 GiB"))?;
    let mut w = b
        .set_mode_file_type(cpio::newc::ModeFileType::Regular)
        .nlink(1)
        .write(out, size);
    w.write_all(data)?;
    w.finish()?;
    Ok(())
}

/// `path` made absolute against the current directory, with `.` and `..` folded by name
/// (not by following links).
fn lexical_absolute(path: &Path) -> io::Result<PathBuf> {
    use std::path::Component;
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// The program interpreter and the `DT_NEEDED` libraries of an ELF file (none for a static
/// one).
fn needed(bytes: &[u8]) -> io::Result<Vec<String>> {
    let elf = goblin::elf::Elf::parse(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let mut v: Vec<String> = elf.libraries.iter().map(|s| (*s).to_owned()).collect();
    if let Some(interp) = elf.interpreter {
        v.push(interp.to_owned());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_created_and_the_archive_ends_with_a_trailer() {
        let mut r = Initramfs::base();
        r.bytes("/a/b/c.txt", b"hi".to_vec(), 0o644);
        assert!(r.entries.contains_key("/a"));
        assert!(r.entries.contains_key("/a/b"));
        let mut out = Vec::new();
        r.write(&mut out).unwrap();
        assert!(out.starts_with(b"070701"));
        let trailer = b"TRAILER!!!";
        assert!(out.windows(trailer.len()).any(|w| w == trailer));
        // newc pads every header and file to 4 bytes.
        assert_eq!(out.len() % 4, 0);
    }

    #[test]
    fn paths_keep_the_name_the_command_uses() {
        assert_eq!(
            lexical_absolute(Path::new("/a/./b/../c")).unwrap(),
            PathBuf::from("/a/c")
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(lexical_absolute(Path::new("x.s")).unwrap(), cwd.join("x.s"));
        // A file reached through a symbolic link lands under the link's name.
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::write(real.join("p.s"), "exit\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut r = Initramfs::default();
        r.host_path(&link.join("p.s")).unwrap();
        let name = lexical_absolute(&link.join("p.s")).unwrap();
        assert!(r.entries.contains_key(name.to_str().unwrap()));
    }

    #[test]
    fn the_running_test_binary_brings_its_libraries() {
        let exe = std::env::current_exe().unwrap();
        let mut r = Initramfs::default();
        r.executable(&exe, "/init").unwrap();
        // A dynamically linked test binary needs libc; a static one needs nothing.
        let bytes = fs::read(&exe).unwrap();
        let libs = needed(&bytes).unwrap();
        for lib in libs {
            let base = Path::new(&lib)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(
                r.entries.keys().any(|k| k.ends_with(&base)),
                "{lib} missing from {:?}",
                r.entries.keys().collect::<Vec<_>>()
            );
        }
    }
}
