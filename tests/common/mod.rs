//! Helpers shared by the command-line tests: run the `mido` binary from the
//! repository root, read its output, and make scratch directories.
//!
//! Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where the examples and fixtures are).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `mido ARGS` from the repository root.
pub fn mido(args: &[&str]) -> Output {
    mido_env(args, None)
}

/// Runs `mido ARGS` from the repository root, on `threads` rayon threads
/// when given (`RAYON_NUM_THREADS`).
pub fn mido_env(args: &[&str], threads: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mido"));
    c.args(args).current_dir(repo());
    if let Some(n) = threads {
        c.env("RAYON_NUM_THREADS", n);
    }
    c.output().expect("mido runs")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// An empty scratch directory, unique to this test binary (its name) and
/// process, so test files running side by side never share one.
pub fn temp_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().ok();
    let binary = exe
        .as_deref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .map_or("tests", |s| s.split('-').next().unwrap_or(s));
    let dir = std::env::temp_dir().join(format!("mido-{binary}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A path as the `&str` a command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
