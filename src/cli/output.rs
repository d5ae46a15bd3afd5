//! Writing results without ever losing a user's earlier results: files are
//! written to a temporary name and renamed into place, and an existing
//! result is replaced only when the user says `--force`.

use super::Failure;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output directory, created on demand.
pub struct OutDir {
    dir: PathBuf,
    force: bool,
}

impl OutDir {
    pub fn new(dir: &Path, force: bool) -> Result<Self, Failure> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::Usage(format!(
                "cannot create output directory {}: {e}",
                dir.display()
            ))
        })?;
        Ok(OutDir {
            dir: dir.to_path_buf(),
            force,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Fails if any of `names` exists and `--force` was not given, before
    /// anything is computed or written.
    pub fn ensure_free(&self, names: &[&str]) -> Result<(), Failure> {
        if self.force {
            return Ok(());
        }
        for name in names {
            let path = self.dir.join(name);
            if path.exists() {
                return Err(Failure::Usage(format!(
                    "{} already exists; choose another --out directory or pass --force to replace it",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// Writes a file atomically: a temporary file in the same directory,
    /// flushed and renamed over the target.
    pub fn write(
        &self,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<PathBuf, Failure> {
        let target = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let io_err =
            |e: std::io::Error| Failure::Usage(format!("cannot write {}: {e}", target.display()));
        let result = (|| {
            let file = std::fs::File::create(&tmp)?;
            let mut buf = std::io::BufWriter::new(file);
            write(&mut buf)?;
            let file = buf.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &target)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(e));
        }
        Ok(target)
    }
}

/// The default output directory of a command run on `input`:
/// `<stem>-<suffix>` beside it (`theo.mido` → `theo-fit`).
pub fn default_out(input: &Path, suffix: &str) -> PathBuf {
    let stem = input
        .file_stem()
        .map_or_else(|| "model".to_string(), |s| s.to_string_lossy().into_owned());
    input
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{stem}-{suffix}"))
}
