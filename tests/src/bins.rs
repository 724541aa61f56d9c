//! Locates the workspace's binaries next to the running test executable.

use std::path::PathBuf;

/// Path of a workspace binary (`target/<profile>/<name>`); `MESHWORK_BIN_DIR` overrides.
pub fn bin_path(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("MESHWORK_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: build it first with `cargo build --workspace --bins` (or set MESHWORK_BIN_DIR)",
        path.display()
    );
    path
}

/// A fresh, empty directory under the system temp dir, owner-only (`0700`) as a data dir
/// should be.
pub fn temp_dir(prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "meshwork-{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    dir
}

/// A directory removed (with what is in it) when this is dropped.
pub struct RemovedOnDrop(pub PathBuf);

/// [`temp_dir`] for a test's own files: removed when the test ends, passed or failed.
pub fn scratch_dir(prefix: &str) -> RemovedOnDrop {
    RemovedOnDrop(temp_dir(prefix))
}

impl std::ops::Deref for RemovedOnDrop {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for RemovedOnDrop {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for RemovedOnDrop {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The files in `dir` whose names start with `prefix` and whose bytes contain `needle`.
pub fn files_containing(dir: &std::path::Path, prefix: &str, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .filter(|e| {
                    let bytes = std::fs::read(e.path()).unwrap_or_default();
                    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
                })
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default()
}
