//! The registry's secrets at rest (issue 17 item 2, docs/adr/0012): the data dir is `0700`
//! and `registry.db` with its `-wal` and `-shm` files `0600`, whoever created them.

use meshwork_tests::{
    bins::scratch_dir,
    http::{call, Cred},
    RegistryOptions, RegistryProcess,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::{os::unix::fs::PermissionsExt, path::Path};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Starts a registry on `dir` and writes something, so the WAL files exist.
async fn start_and_write(dir: &Path, capture_log: bool) -> RegistryProcess {
    let reg = RegistryProcess::start(RegistryOptions {
        data_dir: Some(dir.to_path_buf()),
        capture_log,
        // These tests are about the SQLite file's permissions, whatever the run's backend.
        sqlite: true,
        ..Default::default()
    });
    let task = json!({"skill": "echo"});
    let (status, body) = call(
        &reg,
        Method::POST,
        "/api/hub/tasks",
        Cred::Admin,
        Some(task),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    reg
}

fn assert_owner_only(dir: &Path) {
    assert_eq!(mode(dir), 0o700, "data dir");
    for name in ["registry.db", "registry.db-wal", "registry.db-shm"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
}

#[tokio::test]
async fn a_new_data_dir_and_its_database_files_are_owner_only() {
    let parent = scratch_dir("at-rest");
    let dir = parent.join("data");
    let reg = start_and_write(&dir, false).await;
    assert_owner_only(&dir);
    drop(reg);
    let _ = std::fs::remove_dir_all(&parent);
}

#[tokio::test]
async fn a_data_dir_others_can_read_is_made_owner_only_with_a_warning() {
    let parent = scratch_dir("at-rest");
    let dir = parent.join("data");
    let kept = start_and_write(&dir, false).await.kill9();
    // As an older registry (umask 022) left it.
    set_mode(&kept, 0o755);
    for name in ["registry.db", "registry.db-wal", "registry.db-shm"] {
        let path = kept.join(name);
        if path.exists() {
            set_mode(&path, 0o644);
        }
    }
    let reg = start_and_write(&kept, true).await;
    assert_owner_only(&kept);
    let log = reg.log();
    assert!(
        log.iter()
            .any(|l| l.contains("readable by other users") && l.contains("Rotate")),
        "the registry warns: {log:?}"
    );
    drop(reg);
    let _ = std::fs::remove_dir_all(&parent);
}
