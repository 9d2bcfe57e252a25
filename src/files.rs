//! Reading files for a run: bounded in size, and confined to the folders the
//! run may read.
//!
//! Every file wildrun reads on a script's behalf (`template::file`,
//! `yaml::file`, modules, the recipe, `--config`, a CA file) goes through
//! [`read_text`], which stops at [`MAX_FILE_SIZE`]: `/dev/zero` or a 100 GB
//! file costs at most that much memory. Scripts' reads are also checked by
//! [`ReadScope`]: only the recipe's folder tree, the configuration file's
//! folder and the folders the user allowed (`--allow-read`,
//! `sandbox.allowRead`).

use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file wildrun reads (bytes): the largest string a script may hold.
pub(crate) const MAX_FILE_SIZE: usize = 16 * 1024 * 1024;

/// A file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The operating system refused or the file does not exist.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_SIZE`].
    #[error(
        "{path} is larger than the {} MiB wildrun reads ({MAX_FILE_SIZE} bytes); it was not read",
        MAX_FILE_SIZE >> 20
    )]
    TooLarge {
        /// The file.
        path: String,
    },
    /// The file is not text.
    #[error("{path} is not UTF-8 text")]
    NotText {
        /// The file.
        path: String,
    },
    /// The file is outside the folders the run may read.
    #[error("{path} is outside the folders this run may read ({allowed}); to read it, allow its folder: --allow-read DIR, or the configuration key sandbox.allowRead")]
    Outside {
        /// The file, as the script named it.
        path: String,
        /// The folders the run may read.
        allowed: String,
    },
}

/// Reads a UTF-8 file of at most [`MAX_FILE_SIZE`] bytes; a larger one (or an
/// endless one such as `/dev/zero`) is an error after reading one byte more.
pub(crate) fn read_text(path: &Path) -> Result<String, ReadError> {
    let shown = || path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| ReadError::Io {
        path: shown(),
        source,
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(ReadError::Io {
            path: shown(),
            source: std::io::Error::other("it is a folder"),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: shown(),
            source,
        })?;
    if bytes.len() > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge { path: shown() });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotText { path: shown() })
}

/// The folders a run may read files from.
#[derive(Debug, Clone, Default)]
pub struct ReadScope {
    roots: Vec<PathBuf>,
}

impl ReadScope {
    /// A scope of `roots` (each with everything below it). Folders that do
    /// not exist are left out.
    pub(crate) fn new(roots: impl IntoIterator<Item = PathBuf>) -> ReadScope {
        let mut scope = ReadScope::default();
        for root in roots {
            scope.allow(&root);
        }
        scope
    }

    /// Adds a folder (and everything below it).
    pub(crate) fn allow(&mut self, root: &Path) {
        if let Ok(root) = root.canonicalize() {
            if !self.roots.contains(&root) {
                self.roots.push(root);
            }
        }
    }

    /// The folders, as shown in errors.
    pub(crate) fn describe(&self) -> String {
        self.roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether `path` (after following links and `..`) lies in one of the
    /// folders. A file that does not exist is left to the read to report.
    pub(crate) fn check(&self, path: &Path) -> Result<(), ReadError> {
        let Ok(real) = path.canonicalize() else {
            return Ok(());
        };
        if self.roots.iter().any(|r| real.starts_with(r)) {
            return Ok(());
        }
        Err(ReadError::Outside {
            path: path.display().to_string(),
            allowed: self.describe(),
        })
    }

    /// [`ReadScope::check`], then [`read_text`].
    pub(crate) fn read(&self, path: &Path) -> Result<String, ReadError> {
        self.check(path)?;
        read_text(path)
    }
}

/// The path shown to people: relative to the working directory when inside it.
pub(crate) fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let abs = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    match cwd.as_deref().and_then(|c| abs.strip_prefix(c).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => abs.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_stops_at_the_limit() {
        let err = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("/dev/zero") && text.contains("16 MiB"),
            "{text}"
        );
    }

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; MAX_FILE_SIZE]).unwrap();
        assert_eq!(read_text(&path).unwrap().len(), MAX_FILE_SIZE);
        std::fs::write(&path, vec![b'a'; MAX_FILE_SIZE + 1]).unwrap();
        assert!(matches!(read_text(&path), Err(ReadError::TooLarge { .. })));
    }

    #[test]
    fn scope_confines_reads_through_dot_dot_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("recipes");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("t.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("secret"), inside.join("link")).unwrap();
        let scope = ReadScope::new([inside.clone()]);
        assert_eq!(scope.read(&inside.join("t.yaml")).unwrap(), "a: 1\n");
        let err = scope.read(&inside.join("../secret")).unwrap_err();
        assert!(matches!(err, ReadError::Outside { .. }), "{err}");
        assert!(err.to_string().contains("--allow-read"), "{err}");
        #[cfg(unix)]
        assert!(matches!(
            scope.read(&inside.join("link")),
            Err(ReadError::Outside { .. })
        ));
        assert!(scope.read(Path::new("/etc/passwd")).is_err());
        let wider = ReadScope::new([inside, dir.path().to_path_buf()]);
        assert_eq!(wider.read(&dir.path().join("secret")).unwrap(), "x");
    }
}
