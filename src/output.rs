//! Files a command writes: never over one of its inputs, never half-written.
//!
//! Every output goes to a temporary file created beside the target (same directory, so the
//! same file system), is flushed to disk, and is then renamed over the target in one step: a
//! full disk, a crash or an error leaves the old file (or none) where the new one was to be,
//! never a truncated one. The rename replaces a symbolic link at the target rather than
//! writing through it. An output that is one of the command's inputs (the same file, by
//! device and inode, whatever the path says) is refused before anything is written. A target
//! that exists and is not a regular file (`/dev/stdout`, a FIFO) is written through instead.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let out = dir.path().join("page.html");
//! bpfsmith::output::write(&out, b"<html></html>", &[])?;
//! assert_eq!(std::fs::read(&out)?, b"<html></html>");
//! // Writing over an input is refused, and the input is left alone.
//! let err = bpfsmith::output::write(&out, b"x", &[&out]).unwrap_err();
//! assert!(err.to_string().contains("is also an input"));
//! assert_eq!(std::fs::read(&out)?, b"<html></html>");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output was not written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output is one of the command's inputs.
    #[error("{output}: refusing to write over an input: it is also an input ({input}); give another output path")]
    IsInput {
        /// The output path.
        output: String,
        /// The input it is the same file as.
        input: String,
    },
    /// The output path names a directory.
    #[error("{0}: is a directory")]
    IsDirectory(String),
    /// Creating, writing or renaming failed (the target is left as it was).
    #[error("{path}: {source} (nothing was written there)")]
    Io {
        /// The output path.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The content could not be produced (the target is left as it was).
    #[error("{path}: {message} (nothing was written there)")]
    Content {
        /// The output path.
        path: String,
        /// Why.
        message: String,
    },
}

/// Refuse `output` when it is the same file as one of `inputs` (same device and inode, so
/// hard links, symbolic links and `./x` spellings count too).
pub fn check_not_input(output: &Path, inputs: &[&Path]) -> Result<(), OutputError> {
    let Ok(out) = std::fs::metadata(output) else {
        // An output that does not exist yet is no input. A dangling path is checked
        // lexically too, in case an input is read through it later.
        return lexical(output, inputs);
    };
    if out.is_dir() {
        return Err(OutputError::IsDirectory(output.display().to_string()));
    }
    for input in inputs {
        if let Ok(m) = std::fs::metadata(input) {
            if same_file(&out, &m) {
                return Err(OutputError::IsInput {
                    output: output.display().to_string(),
                    input: input.display().to_string(),
                });
            }
        }
    }
    lexical(output, inputs)
}

fn lexical(output: &Path, inputs: &[&Path]) -> Result<(), OutputError> {
    for input in inputs {
        if *input == output {
            return Err(OutputError::IsInput {
                output: output.display().to_string(),
                input: input.display().to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

/// Write `bytes` to `path` atomically (a temporary file beside it, renamed into place), after
/// checking that `path` is none of `inputs`.
pub fn write(path: &Path, bytes: &[u8], inputs: &[&Path]) -> Result<(), OutputError> {
    write_with(path, inputs, |file, _| {
        file.write_all(bytes).map_err(|e| e.to_string())
    })
}

/// Write `path` atomically with `fill`, which gets the temporary file (open for writing) and
/// its path (for writers that open the path themselves); an `Err` from it leaves the target
/// untouched.
pub fn write_with(
    path: &Path,
    inputs: &[&Path],
    fill: impl FnOnce(&mut std::fs::File, &Path) -> Result<(), String>,
) -> Result<(), OutputError> {
    check_not_input(path, inputs)?;
    let io = |source: std::io::Error| OutputError::Io {
        path: path.display().to_string(),
        source,
    };
    // A device, a pipe or a socket (`/dev/stdout`, `/dev/null`, a FIFO) is written through:
    // renaming over it would replace the node itself.
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io)?;
            fill(&mut f, path).map_err(|message| OutputError::Content {
                path: path.display().to_string(),
                message,
            })?;
            f.flush().map_err(io)?;
            return Ok(());
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // What a plain create would give (the umask applies): keep an existing file's mode.
        let mode = std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map_or(0o666, |m| m.permissions().mode() & 0o7777);
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    // tempfile's errors name the temporary path; the user gave the target and its folder.
    let in_dir = |e: std::io::Error| {
        let e = match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::from(e.kind()),
        };
        io(std::io::Error::new(
            e.kind(),
            format!("in {}: {e}", dir.display()),
        ))
    };
    std::fs::metadata(&dir).map_err(in_dir)?;
    let mut tmp = builder.tempfile_in(&dir).map_err(in_dir)?;
    let tmp_path = tmp.path().to_path_buf();
    fill(tmp.as_file_mut(), &tmp_path).map_err(|message| OutputError::Content {
        path: path.display().to_string(),
        message,
    })?;
    tmp.as_file_mut().flush().map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| in_dir(e.error))?;
    Ok(())
}

/// Write `bytes` to a new file `path`, which must not exist yet (`O_CREAT | O_EXCL`: a file or
/// a symbolic link already there, planted by anyone, is an error and is left alone).
pub fn create_new(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let io = |source: std::io::Error| OutputError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_is_never_overwritten_whatever_the_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("x.s");
        std::fs::write(&input, "r0 = 0\nexit\n").unwrap();
        let dotted = dir.path().join(".").join("x.s");
        let linked = dir.path().join("link.o");
        std::os::unix::fs::symlink(&input, &linked).unwrap();
        let hard = dir.path().join("hard.o");
        std::fs::hard_link(&input, &hard).unwrap();
        for out in [&input, &dotted, &linked, &hard] {
            let e = write(out, b"ELF", &[&input]).unwrap_err();
            assert!(matches!(e, OutputError::IsInput { .. }), "{out:?}: {e}");
        }
        assert_eq!(std::fs::read(&input).unwrap(), b"r0 = 0\nexit\n");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.o");
        std::fs::write(&out, b"old").unwrap();
        let e = write_with(&out, &[], |f, _| {
            f.write_all(b"half").unwrap();
            Err("the encoder failed".into())
        })
        .unwrap_err();
        assert!(e.to_string().contains("the encoder failed"));
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "the temporary file is removed");
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let out = dir.path().join("out.html");
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        write(&out, b"page", &[]).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read(&out).unwrap(), b"page");
        assert!(!std::fs::symlink_metadata(&out).unwrap().is_symlink());
    }

    #[test]
    fn a_device_is_written_through_not_replaced() {
        write(Path::new("/dev/null"), b"x", &[]).unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
        // A full device is an error, not a success.
        let e = write(Path::new("/dev/full"), &[0; 100_000], &[]).unwrap_err();
        assert!(e.to_string().contains("No space left"), "{e}");
        assert!(!std::fs::metadata("/dev/full").unwrap().is_file());
    }

    #[test]
    fn create_new_refuses_anything_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let planted = dir.path().join("seed.o");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        assert!(create_new(&planted, b"ELF").is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let dangling = dir.path().join("dangling.o");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(create_new(&dangling, b"ELF").is_err());
        assert!(!dir.path().join("nowhere").exists());
    }
}
