//! PostgreSQL instead of the registry's embedded SQLite. With `MESHWORK_TEST_POSTGRES` set to
//! the socket directory of a running cluster (`scripts/postgres.sh start DIR` starts one and
//! prints it), every [`RegistryProcess`](crate::RegistryProcess) gets `--database-url` naming a
//! database of its own in that cluster.
//!
//! The database belongs to the registry's data dir: its name is `mw_` and a hash of the dir's
//! path, so a registry restarted on the same dir (the durability tests) finds its state again.
//! A marker file in the data dir tells a dir that already has its database from a new dir
//! whose path happens to hash to a database left behind (a reused pid in
//! [`temp_dir`](crate::bins::temp_dir)'s names): the new dir gets the database emptied.
//! Databases are never dropped when a test ends: the cluster is thrown away whole
//! (`scripts/postgres.sh stop DIR`).
//!
//! The cluster listens only on a Unix socket, which reaches into the tests' network namespace
//! (`scripts/in-netns.sh`) where a TCP port would not.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The environment variable that holds the cluster's socket directory.
pub const ENV: &str = "MESHWORK_TEST_POSTGRES";

/// The role every test database is created by and connected as (trust authentication).
const USER: &str = "postgres";

/// In a data dir: written when its database is created, holding the database's name.
const MARKER: &str = ".meshwork-test-postgres";

/// The socket directory of the cluster the registries should use, or `None` for SQLite.
pub fn test_cluster() -> Option<PathBuf> {
    std::env::var_os(ENV)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
}

/// `"postgres"` or `"sqlite"`: the database the registries of this run use, for tests that
/// look at the storage itself.
pub fn backend_name() -> &'static str {
    if test_cluster().is_some() {
        "postgres"
    } else {
        "sqlite"
    }
}

/// The database that belongs to `data_dir`: `mw_` and 16 hex digits of the FNV-1a hash of its
/// path, the same in every process.
pub fn database_name(data_dir: &Path) -> String {
    format!(
        "mw_{:016x}",
        fnv1a64(data_dir.as_os_str().as_encoded_bytes())
    )
}

/// The `--database-url` for a registry on `data_dir`, creating its database first if it does
/// not exist yet; `None` without a cluster ([`test_cluster`]). Panics if the cluster has no
/// socket or the database cannot be created.
pub fn database_url_for(data_dir: &Path) -> Option<String> {
    Some(database_url_in(&test_cluster()?, data_dir))
}

/// [`database_url_for`] in the cluster whose socket directory is `cluster`.
pub fn database_url_in(cluster: &Path, data_dir: &Path) -> String {
    let cluster = cluster.to_path_buf();
    let host = cluster
        .to_str()
        .unwrap_or_else(|| panic!("{ENV} is not valid UTF-8: {}", cluster.to_string_lossy()));
    let port = socket_port(&cluster);
    let name = database_name(data_dir);
    let marker = data_dir.join(MARKER);
    let fresh = !marker.exists();
    create_database(&cluster, port, &name, fresh);
    if fresh {
        create_private_dir(data_dir);
        std::fs::write(&marker, &name)
            .unwrap_or_else(|e| panic!("writing {}: {e}", marker.display()));
    }
    format!(
        "host={} port={port} user={USER} dbname={name}",
        conn_value(host)
    )
}

/// A PostgreSQL cluster for a test that needs one whatever the run's backend: the run's own
/// ([`test_cluster`]), or one started now with `scripts/postgres.sh` and stopped on drop.
pub struct TestCluster {
    dir: PathBuf,
    owned: bool,
}

impl TestCluster {
    /// The run's cluster, or a new one (under a second to start).
    pub fn shared_or_start() -> Self {
        if let Some(dir) = test_cluster() {
            return Self { dir, owned: false };
        }
        let dir = crate::bins::temp_dir("pg");
        let out = Command::new(script())
            .arg("start")
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("running scripts/postgres.sh: {e}"));
        assert!(
            out.status.success(),
            "scripts/postgres.sh start failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Self { dir, owned: true }
    }

    /// The `--database-url` of the database that belongs to `data_dir` (created if needed).
    pub fn database_url(&self, data_dir: &Path) -> String {
        database_url_in(&self.dir, data_dir)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if self.owned {
            let _ = Command::new(script()).arg("stop").arg(&self.dir).output();
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh")
}

/// Runs `sql` in `data_dir`'s database with `psql` and returns its unaligned output (one
/// line per row, `|` between columns); `None` without a cluster. Panics if psql fails.
pub fn query(data_dir: &Path, sql: &str) -> Option<String> {
    let cluster = test_cluster()?;
    let port = socket_port(&cluster);
    let out = Command::new("psql")
        .arg("-h")
        .arg(&cluster)
        .arg("-p")
        .arg(port.to_string())
        .arg("-U")
        .arg(USER)
        .arg("-d")
        .arg(database_name(data_dir))
        .arg("-Atc")
        .arg(sql)
        .output()
        .unwrap_or_else(|e| panic!("running psql (PostgreSQL client tools on PATH?): {e}"));
    assert!(
        out.status.success(),
        "psql {sql:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// 64-bit FNV-1a.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The port in the name of the cluster's socket, `<dir>/.s.PGSQL.<port>`: the one
/// `scripts/postgres.sh` was started with (`PGPORT`, 5432 by default).
fn socket_port(dir: &Path) -> u16 {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "{ENV}={}: cannot read the socket directory: {e} (start a cluster with \
             `scripts/postgres.sh start DIR`)",
            dir.display()
        )
    });
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix(".s.PGSQL.")?
                .parse::<u16>()
                .ok()
        })
        .min()
        .unwrap_or_else(|| {
            panic!(
                "{ENV}={}: no PostgreSQL socket (.s.PGSQL.<port>) in it; is the cluster \
                 running? (`scripts/postgres.sh start DIR`)",
                dir.display()
            )
        })
}

/// Creates database `name`. One that exists already is kept, unless `fresh` (its data dir has
/// never had a database): then it was left by an earlier dir of the same path, and is dropped
/// and created again empty.
fn create_database(cluster: &Path, port: u16, name: &str, fresh: bool) {
    let out = pg_tool("createdb", cluster, port, name);
    if out.status.success() {
        return;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.contains("already exists") {
        panic!(
            "createdb {name} in {} failed ({}): {}",
            cluster.display(),
            out.status,
            stderr.trim()
        );
    }
    if !fresh {
        return;
    }
    for tool in ["dropdb", "createdb"] {
        let out = pg_tool(tool, cluster, port, name);
        assert!(
            out.status.success(),
            "{tool} {name} in {} (recreating a left-over database) failed ({}): {}",
            cluster.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// Runs `createdb` or `dropdb` (dropping with `--force`, which ends leftover connections) on
/// database `name` over the cluster's socket.
fn pg_tool(tool: &str, cluster: &Path, port: u16, name: &str) -> Output {
    let mut cmd = Command::new(tool);
    cmd.arg("-h")
        .arg(cluster)
        .arg("-p")
        .arg(port.to_string())
        .arg("-U")
        .arg(USER);
    if tool == "dropdb" {
        cmd.arg("--force");
    }
    cmd.arg(name)
        .output()
        .unwrap_or_else(|e| panic!("running {tool} (PostgreSQL client tools on PATH?): {e}"))
}

/// Creates `dir` (and missing parents) owner-only, as the registry creates its data dir.
fn create_private_dir(dir: &Path) {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
}

/// A value for a `key=value` connection string: as it is, or single-quoted with `\` and `'`
/// escaped when it is empty or holds whitespace, quotes or backslashes.
fn conn_value(value: &str) -> String {
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_a_stable_hash_of_the_path() {
        // FNV-1a test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let name = database_name(Path::new("/tmp/meshwork-registry-1-0"));
        assert_eq!(name.len(), 3 + 16);
        assert!(name.starts_with("mw_"));
        assert_eq!(name, database_name(Path::new("/tmp/meshwork-registry-1-0")));
        assert_ne!(name, database_name(Path::new("/tmp/meshwork-registry-1-1")));
    }

    #[test]
    fn connection_string_values_are_quoted_only_when_needed() {
        assert_eq!(conn_value("/tmp/pg"), "/tmp/pg");
        assert_eq!(conn_value("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(conn_value(r"it's\"), r"'it\'s\\'");
        assert_eq!(conn_value(""), "''");
    }
}
