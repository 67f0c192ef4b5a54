//! The local backend's state: one SQLite database (WAL), shared by every process that mounts
//! or serves the same store, each acting as its own account.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

pub use super::schema::SCHEMA_VERSION;
use super::schema::{SCHEMA_V1, UPGRADES};
use crate::error::{Code, Error, Result};
use crate::local::catalog::Catalog;
use crate::local::settings::{meta_value, CUSTOM_IMAGE_QUOTA, SHARE_LIMIT};
use crate::model::{format_api_time, AccountId, Region};

/// The account a store creates on first use, used when a mount names none.
pub const FIRST_ACCOUNT: &str = "100000000001";

/// Prepared statements each connection keeps.
const STATEMENTS_CACHED: usize = 128;

/// Idle connections kept for reuse; one per concurrent FUSE worker is plenty.
const POOL_SIZE: usize = 8;

/// Commits between two background checkpoints (a command appends about four pages to the
/// WAL, so this moves about 500 pages into the store file at a time).
const CHECKPOINT_EVERY: u32 = 128;

/// WAL pages past which the committing connection checkpoints by itself (SQLite's own
/// automatic checkpoint, left as a bound for when the background one cannot keep up).
const WAL_PAGES_MAX: u32 = 4000;

/// How soon a background checkpoint that could not take the whole WAL tries again.
const CHECKPOINT_RETRY: Duration = Duration::from_millis(50);

/// A handle on one store file. Cheap to share; connections are pooled.
pub struct Store {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
    /// The connection write transactions use, held through each: writers of this process
    /// queue here and are woken as soon as the one before commits (SQLite's own lock makes
    /// a writer that finds it taken poll, sleeping 1 ms and more between tries; other
    /// processes still do). One connection for every write also keeps its page cache
    /// current: a connection's cache is dropped whenever another one has written.
    writer: Mutex<Option<Connection>>,
    /// Write transactions committed by this handle (counts towards the next checkpoint).
    commits: AtomicU32,
    /// Wakes the background checkpoint thread, started at the first checkpoint due.
    checkpointer: Mutex<Option<SyncSender<()>>>,
    /// Set after each background checkpoint: the commits made while it ran are left for the
    /// next commit to take.
    checkpoint_behind: Arc<AtomicBool>,
    /// The catalog and its regions, read once: every LocalService opened on this handle (one
    /// per API request in `imagefs serve`) shares them, as a mount keeps the ones it opened
    /// with. A catalog another process loads shows after a restart.
    loaded_catalog: OnceLock<(Arc<Catalog>, Vec<Region>)>,
    /// When (unix ms) this handle last looked for exports due (`export::settle_due_exports`):
    /// `imagefs serve` opens a service per request, and one look a second is enough.
    pub(super) exports_looked_at: AtomicI64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

thread_local! {
    /// Whether this thread is in a write transaction (see [`WriterTurn`]).
    static WRITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Whether this thread is rehearsing a command (see [`Store::rehearse`]): its write
    /// transactions are rolled back instead of committed.
    static REHEARSING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A rehearsal's hold on its thread, given back (to what it was) when dropped, even by a panic.
struct Rehearsal {
    before: bool,
}

impl Rehearsal {
    fn begin() -> Rehearsal {
        Rehearsal {
            before: REHEARSING.with(|r| r.replace(true)),
        }
    }
}

impl Drop for Rehearsal {
    fn drop(&mut self) {
        REHEARSING.with(|r| r.set(self.before));
    }
}

/// A writer's turn at a store: its write connection, held until dropped.
struct WriterTurn<'a> {
    held: std::sync::MutexGuard<'a, Option<Connection>>,
}

impl<'a> WriterTurn<'a> {
    /// Waits for the turn. A transaction begun inside another on the same thread is refused
    /// at once: it could never get its turn (nor SQLite's lock).
    fn take(writer: &'a Mutex<Option<Connection>>) -> Result<WriterTurn<'a>> {
        if WRITING.with(|w| w.replace(true)) {
            return Err(Error::internal(
                "a store write transaction was begun inside another, or inside a read on the write connection",
            ));
        }
        Ok(WriterTurn {
            held: writer.lock().unwrap_or_else(|p| p.into_inner()),
        })
    }
}

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        WRITING.with(|w| w.set(false));
    }
}

/// Checkpoints the WAL whenever nudged, until the store handle is dropped. A passive
/// checkpoint never blocks a writer, so writes go on while it runs; the pages they add are
/// left to the next commit to take (see `Store::committed`), after which the next write
/// starts the WAL over from its beginning.
fn checkpoint_loop(conn: &Connection, nudges: &Receiver<()>, left_behind: &AtomicBool) {
    let mut retry = false;
    loop {
        let woken = if retry {
            nudges.recv_timeout(CHECKPOINT_RETRY)
        } else {
            nudges.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        if woken == Err(RecvTimeoutError::Disconnected) {
            return;
        }
        let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
        // Busy: another process is checkpointing this store.
        retry = match outcome {
            Ok(busy) => busy != 0,
            Err(e) => {
                log::debug!("checkpoint: {e}");
                true
            }
        };
        left_behind.store(!retry, Ordering::Release);
    }
}

/// `len` random letters and digits from the kernel's random source.
pub(super) fn random_text(len: usize) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    // SAFETY: getrandom writes at most bytes.len() bytes into the buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != len as isize {
        return Err(Error::internal("no randomness for a key"));
    }
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// Where the store lives when none is named: `$XDG_DATA_HOME/imagefs/store.db`, else
/// `~/.local/share/imagefs/store.db`.
pub fn default_store_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/share")
        }
    };
    Some(base.join("imagefs").join("store.db"))
}

/// Whether the store knows `account`.
pub(crate) fn account_known(c: &Connection, account: &AccountId) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM accounts WHERE account_id = ?1")?
            .query_row([account.as_str()], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

fn store_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::internal(format!("store {}: {what}", path.display()))
}

/// A store the user named that cannot be one (a directory, another kind of file, one written
/// by a newer imagefs, one they may not open): theirs to fix, so not an `InternalError`; the
/// message says what to do.
fn unusable_store(path: &Path, what: impl std::fmt::Display, remedy: &str) -> Error {
    Error::new(
        Code::InvalidParameterValue,
        format!("store {}: {what}; {remedy}", path.display()),
    )
}

/// What to do about a store file that cannot be used.
const OTHER_STORE: &str = "name another store with --store FILE or IMAGEFS_STORE";

impl Store {
    /// Opens the store at `path`, creating (mode 0600) and seeding it on first use.
    ///
    /// `catalog` replaces the built-in catalog; a store seeded from another catalog is
    /// re-seeded (public and marketplace images, regions), keeping accounts and custom images.
    pub fn open(path: &Path, catalog: Option<&str>) -> Result<Store> {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(Error::new(
                Code::ResourceNotFound,
                format!(
                    "store {}: directory {} does not exist: create it (`mkdir -p {}`), or \
                     {OTHER_STORE}",
                    path.display(),
                    parent.display(),
                    parent.display()
                ),
            ));
        }
        if path.is_dir() {
            return Err(unusable_store(
                path,
                "is a directory",
                &format!(
                    "name a file in it (`--store {}`), or {OTHER_STORE}",
                    path.join("store.db").display()
                ),
            ));
        }
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => log::info!("creating store {}", path.display()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                return Err(unusable_store(
                    path,
                    format!("cannot create: {e}"),
                    &format!("check the directory's permissions, or {OTHER_STORE}"),
                ))
            }
            Err(e) => return Err(store_error(path, format!("cannot create: {e}"))),
        }
        let store = Store {
            path: path.to_path_buf(),
            pool: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            commits: AtomicU32::new(0),
            checkpointer: Mutex::new(None),
            checkpoint_behind: Arc::default(),
            loaded_catalog: OnceLock::new(),
            exports_looked_at: AtomicI64::new(i64::MIN),
        };
        let conn = store.connect()?;
        store.migrate(&conn)?;
        store.seed(&conn, catalog)?;
        store.give_back(conn);
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version the store file is at.
    pub fn schema_version(&self) -> Result<i64> {
        self.with_conn(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
    }

    fn connect(&self) -> Result<Connection> {
        let conn = Connection::open(&self.path).map_err(|e| {
            unusable_store(
                &self.path,
                format!("cannot open: {e}"),
                &format!("check that it is a file you may read and write, or {OTHER_STORE}"),
            )
        })?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // Room for every statement the service prepares (rusqlite keeps 16 by default, and
        // a statement pushed out is parsed again on its next use).
        conn.set_prepared_statement_cache_capacity(STATEMENTS_CACHED);
        // Plans that do not depend on the values bound: otherwise SQLite prepares a statement
        // anew whenever a value it looked at changes (for ranges of ImageIds, every time).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        // WAL lets readers of other mounts proceed while one writes; NORMAL sync keeps every
        // committed transaction across a process crash (kill -9).
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| {
                unusable_store(
                    &self.path,
                    format!("not an imagefs store (unreadable or not SQLite): {e}"),
                    &format!("check its permissions, or {OTHER_STORE}"),
                )
            })?;
        if !mode.eq_ignore_ascii_case("wal") {
            log::warn!(
                "store {}: journal mode is {mode}, not WAL",
                self.path.display()
            );
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        // Checkpoints run in the background (see `committed`): one in a committing request
        // would make that request wait for the WAL to reach the disk.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES_MAX)?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < POOL_SIZE {
                pool.push(conn);
            }
        }
    }

    /// Runs `f` on the write connection when no writer holds it, else on a pooled one.
    /// The write connection's page cache stays current through its own commits, while a
    /// pooled connection drops its whole cache at its first read after any commit and reads
    /// the pages again (a `cat share` after each unshare did).
    pub fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if !WRITING.with(|w| w.get()) {
            if let Ok(held) = self.writer.try_lock() {
                // Held like a writer's turn: a write begun inside this read is refused at
                // once rather than waiting for itself.
                WRITING.with(|w| w.set(true));
                let mut turn = WriterTurn { held };
                if turn.held.is_none() {
                    // No write yet: this read's connection becomes the write connection.
                    *turn.held = Some(self.connect()?);
                }
                if let Some(conn) = turn.held.as_ref() {
                    return f(conn);
                }
            }
        }
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        let out = f(&conn);
        self.give_back(conn);
        out
    }

    /// Runs `f` with every write transaction it begins on this thread rolled back where it
    /// would commit: a dry run. Each transaction still takes the write lock and runs every
    /// statement, so each check sees what the real command would, and nothing is kept: no
    /// row, no journal entry, no injected fault used up.
    pub fn rehearse<T>(&self, f: impl FnOnce() -> T) -> T {
        let _rehearsal = Rehearsal::begin();
        f()
    }

    /// Runs `f` in a write transaction (taken at once, so racing writers queue instead of
    /// failing), committed when `f` succeeds (rolled back in a rehearsal, see
    /// [`Store::rehearse`]).
    pub fn with_tx<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut turn = WriterTurn::take(&self.writer)?;
        let conn = match turn.held.take() {
            Some(c) => c,
            None => self.connect()?,
        };
        // Cached statements: a command in a loop parses BEGIN and COMMIT once.
        let run = |sql: &str| -> rusqlite::Result<usize> { conn.prepare_cached(sql)?.execute([]) };
        let out = (|| {
            run("BEGIN IMMEDIATE")?;
            let committed = f(&conn).and_then(|value| {
                if REHEARSING.with(|r| r.get()) {
                    run("ROLLBACK")?;
                } else {
                    run("COMMIT")?;
                    self.committed(&conn);
                }
                Ok(value)
            });
            if committed.is_err() && !conn.is_autocommit() {
                let _ = run("ROLLBACK");
            }
            committed
        })();
        *turn.held = Some(conn);
        out
    }

    /// Counts a commit and, every [`CHECKPOINT_EVERY`], asks the checkpoint thread to move
    /// the WAL into the store file.
    fn committed(&self, conn: &Connection) {
        if self.checkpoint_behind.swap(false, Ordering::AcqRel) {
            // The pages written while the background checkpoint ran are few: taking them
            // here, between two writes, lets the next write start the WAL over.
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                log::debug!("checkpoint: {e}");
            }
        }
        let n = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
        if n % CHECKPOINT_EVERY != 0 {
            return;
        }
        let mut checkpointer = self.checkpointer.lock().unwrap_or_else(|p| p.into_inner());
        if checkpointer.is_none() {
            let (nudge, nudges) = std::sync::mpsc::sync_channel(1);
            let behind = Arc::clone(&self.checkpoint_behind);
            match self.connect().and_then(|conn| {
                std::thread::Builder::new()
                    .name("imagefs-checkpoint".into())
                    .spawn(move || checkpoint_loop(&conn, &nudges, &behind))
                    .map_err(|e| Error::internal(format!("no checkpoint thread: {e}")))
            }) {
                Ok(_) => *checkpointer = Some(nudge),
                // SQLite's own checkpoint (WAL_PAGES_MAX) still bounds the WAL.
                Err(e) => log::warn!("store {}: {e}", self.path.display()),
            }
        }
        if let Some(nudge) = checkpointer.as_ref() {
            // Full means a checkpoint is already due.
            let _ = nudge.try_send(());
        }
    }

    fn migrate(&self, conn: &Connection) -> Result<()> {
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| {
                unusable_store(
                    &self.path,
                    format!("not an imagefs store: {e}"),
                    OTHER_STORE,
                )
            })?;
        if version > SCHEMA_VERSION {
            return Err(unusable_store(
                &self.path,
                format!(
                    "schema version {version} was written by a newer imagefs (this one reads up to {SCHEMA_VERSION})"
                ),
                &format!("use that imagefs, or {OTHER_STORE}"),
            ));
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        // Another process may have migrated between our read and our lock.
        let mut version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            let tables: i64 = tx.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )?;
            if tables > 0 {
                return Err(unusable_store(
                    &self.path,
                    "is an SQLite database but not an imagefs store",
                    OTHER_STORE,
                ));
            }
            tx.execute_batch(SCHEMA_V1)?;
            let now = format_api_time(SystemTime::now());
            tx.execute(
                "INSERT INTO accounts (account_id, created_time) VALUES (?1, ?2)",
                params![FIRST_ACCOUNT, now],
            )?;
            for (key, value) in [
                ("default_account", FIRST_ACCOUNT.to_string()),
                (
                    CUSTOM_IMAGE_QUOTA.key,
                    CUSTOM_IMAGE_QUOTA.default.to_string(),
                ),
                (SHARE_LIMIT.key, SHARE_LIMIT.default.to_string()),
            ] {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    params![key, value],
                )?;
            }
            version = 1;
        }
        while version < SCHEMA_VERSION {
            let step = UPGRADES
                .get(usize::try_from(version - 1).unwrap_or(usize::MAX))
                .ok_or_else(|| {
                    store_error(&self.path, format!("no upgrade from schema {version}"))
                })?;
            tx.execute_batch(step)?;
            version += 1;
            log::info!(
                "store {}: upgraded to schema {version}",
                self.path.display()
            );
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(())
    }

    fn seed(&self, conn: &Connection, catalog: Option<&str>) -> Result<()> {
        let stored = meta_value(conn, "catalog")?;
        let wanted = match (catalog, &stored) {
            (Some(text), Some(old)) if text == old => return Ok(()),
            (Some(text), _) => text,
            (None, Some(_)) => return Ok(()),
            (None, None) => super::catalog::BUILTIN_CATALOG,
        };
        let parsed = Catalog::parse(wanted)?;
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let stored_now = meta_value(&tx, "catalog")?;
        if stored_now.as_deref() == Some(wanted) {
            return Ok(());
        }
        if stored_now.is_some() {
            log::info!("store {}: loading a new catalog", self.path.display());
        }
        tx.execute(
            "DELETE FROM images WHERE kind IN ('PUBLIC', 'MARKETPLACE')",
            [],
        )?;
        tx.execute("DELETE FROM regions", [])?;
        {
            let mut region_stmt = tx.prepare(
                "INSERT INTO regions (region, region_name, mainland, position) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut image_stmt = tx.prepare(
                "INSERT INTO images (region, image_id, kind, owner, image_name, image_description,
                    os_name, platform, architecture, image_size, image_state, image_source,
                    image_creator, created_time, sync_percent, is_support_cloudinit, license_type,
                    fee_unit_price, fee_charge_unit, fee_currency, fee_provider)
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7, ?8, ?9, 'NORMAL', 'OFFICIAL', ?10, ?11,
                    100, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?;
            for (position, region) in parsed.regions.iter().enumerate() {
                region_stmt.execute(params![
                    region.region,
                    region.region_name,
                    region.mainland,
                    position as i64
                ])?;
                let marketplace: &[_] = if region.mainland {
                    &parsed.marketplace_images
                } else {
                    // The marketplace serves mainland regions only.
                    &[]
                };
                for (kind, image) in parsed
                    .public_images
                    .iter()
                    .map(|i| ("PUBLIC", i))
                    .chain(marketplace.iter().map(|i| ("MARKETPLACE", i)))
                {
                    let creator = image.image_creator.as_deref().unwrap_or("tencent");
                    let fee = image.price.as_ref();
                    image_stmt.execute(params![
                        region.region,
                        image.image_id.as_str(),
                        kind,
                        image.image_name,
                        image.image_description,
                        image.os_name,
                        image.platform,
                        image.architecture,
                        image.image_size,
                        creator,
                        image.created_time,
                        image.is_support_cloudinit,
                        image.license_type,
                        fee.map(|f| f.unit_price),
                        fee.map(|f| f.charge_unit.as_str()),
                        fee.map(|f| f.currency.as_str()),
                        image.provider.as_deref(),
                    ])?;
                }
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('catalog', ?1)",
            params![wanted],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A setting or other value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.with_conn(|c| meta_value(c, key))
    }

    /// A numeric setting, or `default` when unset.
    pub fn setting_u64(&self, key: &str, default: u64) -> Result<u64> {
        match self.meta(key)? {
            Some(v) => v.parse().map_err(|_| {
                unusable_store(
                    &self.path,
                    format!("setting {key} = `{v}` is not a number"),
                    "set it again with `imagefs store set` (`imagefs store settings` lists them)",
                )
            }),
            None => Ok(default),
        }
    }

    /// Changes a setting of the store.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.with_tx(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
            Ok(())
        })
    }

    /// The catalog the store was seeded from.
    /// The catalog and its regions, in their order (read from the store once per handle).
    pub fn catalog(&self) -> Result<(Arc<Catalog>, Vec<Region>)> {
        if let Some(loaded) = self.loaded_catalog.get() {
            return Ok(loaded.clone());
        }
        let text = self
            .meta("catalog")?
            .ok_or_else(|| store_error(&self.path, "has no catalog"))?;
        let catalog = Arc::new(Catalog::parse(&text)?);
        let regions = self.stored_regions()?;
        Ok(self
            .loaded_catalog
            .get_or_init(|| (catalog, regions))
            .clone())
    }

    /// The regions of the catalog, in its order.
    pub fn regions(&self) -> Result<Vec<Region>> {
        Ok(self.catalog()?.1)
    }

    fn stored_regions(&self) -> Result<Vec<Region>> {
        self.with_conn(|c| {
            let mut stmt =
                c.prepare("SELECT region, region_name, mainland FROM regions ORDER BY position")?;
            let rows = stmt.query_map([], |r| {
                Ok(Region {
                    region: r.get(0)?,
                    region_name: r.get(1)?,
                    region_state: "AVAILABLE".into(),
                    mainland: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn default_account(&self) -> Result<AccountId> {
        let id = self
            .meta("default_account")?
            .ok_or_else(|| store_error(&self.path, "has no default account"))?;
        AccountId::parse(&id)
    }

    /// Adds an account; `Ok(false)` if it already existed (found without a write transaction,
    /// as it nearly always is: `imagefs serve` opens the emulator as an account per request).
    pub fn add_account(&self, account: &AccountId) -> Result<bool> {
        if self.account_exists(account)? {
            return Ok(false);
        }
        self.with_tx(|tx| {
            let added = tx.execute(
                "INSERT OR IGNORE INTO accounts (account_id, created_time) VALUES (?1, ?2)",
                params![account.as_str(), format_api_time(SystemTime::now())],
            )?;
            Ok(added == 1)
        })
    }

    pub fn account_exists(&self, account: &AccountId) -> Result<bool> {
        self.with_conn(|c| account_known(c, account))
    }

    /// Every account with its creation time, oldest first.
    pub fn accounts(&self) -> Result<Vec<(AccountId, String)>> {
        self.with_conn(|c| {
            let mut stmt = c.prepare(
                "SELECT account_id, created_time FROM accounts ORDER BY created_time, account_id",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, created) = row?;
                out.push((AccountId::parse(&id)?, created));
            }
            Ok(out)
        })
    }
}

/// What an account still holds: `imagefs accounts remove` removes only an account that holds
/// nothing, so no image, instance or share is left without its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountHoldings {
    /// Its custom images, in every region.
    pub images: u64,
    /// Its instances, in every region.
    pub instances: u64,
    /// Images of other accounts shared with it.
    pub shared_with_it: u64,
}

impl AccountHoldings {
    pub fn is_empty(&self) -> bool {
        *self == AccountHoldings::default()
    }
}

/// Why an account was not removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRemoval {
    Removed,
    Unknown,
    IsDefault,
    Holds(AccountHoldings),
}

fn account_holdings_in(c: &Connection, account: &AccountId) -> Result<AccountHoldings> {
    let count = |sql: &str| -> Result<u64> {
        Ok(c.prepare_cached(sql)?
            .query_row([account.as_str()], |r| r.get::<_, i64>(0))?
            .max(0) as u64)
    };
    Ok(AccountHoldings {
        images: count("SELECT COUNT(*) FROM images WHERE owner = ?1")?,
        instances: count("SELECT COUNT(*) FROM instances WHERE owner = ?1")?,
        shared_with_it: count("SELECT COUNT(*) FROM shares WHERE account_id = ?1")?,
    })
}

/// Accounts: what one holds, and removing one (`imagefs accounts remove`).
impl Store {
    /// The images, instances and shares an account holds.
    pub fn account_holdings(&self, account: &AccountId) -> Result<AccountHoldings> {
        self.with_conn(|c| account_holdings_in(c, account))
    }

    /// Removes an account and its API keys, in one transaction that checks again that it is
    /// known, not the default, and holds nothing.
    pub fn remove_account(&self, account: &AccountId) -> Result<AccountRemoval> {
        let default = self.default_account()?;
        self.with_tx(|tx| {
            if !account_known(tx, account)? {
                return Ok(AccountRemoval::Unknown);
            }
            if *account == default {
                return Ok(AccountRemoval::IsDefault);
            }
            let holdings = account_holdings_in(tx, account)?;
            if !holdings.is_empty() {
                return Ok(AccountRemoval::Holds(holdings));
            }
            tx.execute(
                "DELETE FROM api_keys WHERE account_id = ?1",
                [account.as_str()],
            )?;
            tx.execute(
                "DELETE FROM accounts WHERE account_id = ?1",
                [account.as_str()],
            )?;
            Ok(AccountRemoval::Removed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use std::os::unix::fs::PermissionsExt;

    /// A store the user named that cannot be one is theirs to fix: never `InternalError`, and
    /// the message says what to do.
    #[test]
    fn unusable_stores_say_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Err(missing) = Store::open(&dir.path().join("no/such/dir/store.db"), None) else {
            panic!("a store in a missing directory");
        };
        assert_eq!(missing.code(), Code::ResourceNotFound.as_str());
        assert!(missing.message().contains("mkdir -p"), "{missing}");
        let Err(directory) = Store::open(dir.path(), None) else {
            panic!("a directory as the store");
        };
        assert_eq!(directory.code(), Code::InvalidParameterValue.as_str());
        assert!(
            directory
                .message()
                .contains("is a directory; name a file in it"),
            "{directory}"
        );
    }

    #[test]
    fn a_new_store_is_private_seeded_and_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = Store::open(&path, None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let version: i64 = store
            .with_conn(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let regions: i64 = store
            .with_conn(|c| Ok(c.query_row("SELECT count(*) FROM regions", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(regions, 18);
        assert_eq!(store.default_account().unwrap().as_str(), FIRST_ACCOUNT);
        // Opening again neither fails nor seeds twice.
        let again = Store::open(&path, None).unwrap();
        let images: i64 = again
            .with_conn(|c| Ok(c.query_row("SELECT count(*) FROM images WHERE region='ap-guangzhou' AND image_id='img-9qabwvbn'", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(images, 1);
    }

    /// In a rehearsal every write transaction runs and answers as it would, and none is kept;
    /// the thread commits again once the rehearsal ends, however it ends.
    #[test]
    fn a_rehearsal_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db"), None).unwrap();
        let write = |key: &str| {
            store.with_tx(|c| {
                c.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, 'x')",
                    params![key],
                )?;
                // The transaction sees its own write.
                meta_value(c, key)
            })
        };
        let seen = store.rehearse(|| {
            let first = write("first");
            // Nested, and after the inner one ends: still a rehearsal.
            let second = store.rehearse(|| write("second"));
            let third = write("third");
            (first, second, third)
        });
        for written in [seen.0, seen.1, seen.2] {
            assert_eq!(written.unwrap().as_deref(), Some("x"));
        }
        for key in ["first", "second", "third"] {
            assert_eq!(store.meta(key).unwrap(), None, "{key}");
        }
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.rehearse(|| panic!("a command panics"))
        }));
        assert!(panicked.is_err());
        write("kept").unwrap();
        assert_eq!(store.meta("kept").unwrap().as_deref(), Some("x"));
    }

    /// A write transaction commits what succeeded and rolls back what failed, whether the
    /// failure was the caller's or SQLite's, and the connection serves the next one.
    #[test]
    fn write_transactions_commit_or_roll_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db"), None).unwrap();
        let set = |key: &'static str, fail: bool| {
            store.with_tx(|c| {
                c.execute("INSERT INTO meta (key, value) VALUES (?1, 'x')", [key])?;
                if fail {
                    return Err(crate::error::Error::new(
                        Code::InternalError,
                        "failed on purpose",
                    ));
                }
                Ok(())
            })
        };
        set("kept", false).unwrap();
        assert!(set("dropped", true).is_err());
        // A constraint failure inside: the first insert goes too.
        let duplicate = store.with_tx(|c| {
            c.execute("INSERT INTO meta (key, value) VALUES ('twice', 'x')", [])?;
            c.execute("INSERT INTO meta (key, value) VALUES ('kept', 'y')", [])?;
            Ok(())
        });
        assert!(duplicate.is_err());
        set("after", false).unwrap();
        assert_eq!(store.meta("kept").unwrap().as_deref(), Some("x"));
        assert_eq!(store.meta("dropped").unwrap(), None);
        assert_eq!(store.meta("twice").unwrap(), None);
        assert_eq!(store.meta("after").unwrap().as_deref(), Some("x"));
    }

    /// Frames in the WAL now (the wal-index header's mxFrame, at byte 16 of the -shm file).
    fn wal_frames(store: &Store) -> u32 {
        let mut shm = store.path().as_os_str().to_owned();
        shm.push("-shm");
        let header = std::fs::read(&shm).unwrap();
        u32::from_ne_bytes(header[16..20].try_into().unwrap())
    }

    /// The WAL is checkpointed in the background and started over every few hundred
    /// commits, though no commit checkpoints by itself below WAL_PAGES_MAX pages.
    #[test]
    fn commits_are_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db"), None).unwrap();
        let auto: u32 = store
            .with_conn(|c| Ok(c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(auto, WAL_PAGES_MAX);
        let mut most = 0;
        for n in 0..3000 {
            store
                .with_tx(|c| {
                    c.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('counter', ?1)",
                        [n.to_string()],
                    )?;
                    Ok(())
                })
                .unwrap();
            most = most.max(wal_frames(&store));
        }
        // One page a commit: without the background checkpoint the WAL would reach
        // WAL_PAGES_MAX frames, where SQLite's own checkpoint starts it over; with it, a few
        // hundred on an idle machine. A checkpoint thread starved by a busy one lets it grow
        // further (2,186 and 3,384 frames were seen with builds running beside the test), so
        // the bound is SQLite's own: the background checkpoint started the WAL over first.
        assert!(most < WAL_PAGES_MAX, "the WAL reached {most} frames");
        drop(store);
        let again = Store::open(&dir.path().join("store.db"), None).unwrap();
        assert_eq!(again.meta("counter").unwrap().as_deref(), Some("2999"));
    }

    /// Writers of one store in one process take turns: all their commits land, and a
    /// transaction begun inside another is refused at once instead of waiting for ever.
    #[test]
    fn writers_take_turns_and_a_nested_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db"), None).unwrap();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        store
                            .with_tx(|c| {
                                c.execute(
                                    "INSERT INTO meta (key, value) VALUES ('n', '1')
                                     ON CONFLICT (key) DO UPDATE SET value = value + 1",
                                    [],
                                )?;
                                Ok(())
                            })
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(store.meta("n").unwrap().as_deref(), Some("200"));
        let outer = store.with_tx(|c| {
            c.execute("INSERT INTO meta (key, value) VALUES ('outer', 'x')", [])?;
            let inner = store.with_tx(|_| Ok(()));
            assert!(
                inner
                    .as_ref()
                    .is_err_and(|e| e.message().contains("inside another")),
                "{inner:?}"
            );
            Ok(())
        });
        outer.unwrap();
        assert_eq!(store.meta("outer").unwrap().as_deref(), Some("x"));
        // The thread can write again.
        store.with_tx(|_| Ok(())).unwrap();
    }

    #[test]
    fn reads_use_the_write_connection_unless_a_writer_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db"), None).unwrap();
        // Which connection ran a closure: the write connection gets a cache size of its own.
        let address =
            |c: &Connection| -> i64 { c.query_row("PRAGMA cache_size", [], |r| r.get(0)).unwrap() };
        let writer = store
            .with_tx(|c| {
                c.execute_batch("PRAGMA cache_size = -1234")?;
                Ok(address(c))
            })
            .unwrap();
        assert_eq!(writer, -1234);
        // Free: a read takes it (its page cache is current after the commits it made).
        assert_eq!(store.with_conn(|c| Ok(address(c))).unwrap(), writer);
        // Inside a write, or inside a read on it: a pooled connection; and a write begun
        // inside a read on it is refused rather than waiting for itself.
        store
            .with_tx(|_| {
                assert_ne!(store.with_conn(|c| Ok(address(c))).unwrap(), writer);
                Ok(())
            })
            .unwrap();
        store
            .with_conn(|c| {
                assert_eq!(address(c), writer);
                assert_ne!(store.with_conn(|c| Ok(address(c))).unwrap(), writer);
                let nested = store.with_tx(|_| Ok(()));
                assert!(
                    nested
                        .as_ref()
                        .is_err_and(|e| e.message().contains("inside a read")),
                    "{nested:?}"
                );
                Ok(())
            })
            .unwrap();
        // A writer holding it on another thread: reads go on, on a pooled connection.
        let (started, wait_started) = std::sync::mpsc::channel();
        let (finish, wait_finish) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let store = &store;
            scope.spawn(move || {
                store
                    .with_tx(|c| {
                        c.execute("INSERT INTO meta (key, value) VALUES ('held', 'x')", [])?;
                        started.send(()).unwrap();
                        wait_finish.recv().unwrap();
                        Ok(())
                    })
                    .unwrap();
            });
            wait_started.recv().unwrap();
            let read = store.with_conn(|c| Ok(address(c))).unwrap();
            assert_ne!(read, writer);
            assert_eq!(store.meta("held").unwrap(), None, "not committed yet");
            finish.send(()).unwrap();
        });
        assert_eq!(store.meta("held").unwrap().as_deref(), Some("x"));
        store.with_tx(|_| Ok(())).unwrap();
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = Store::open(&dir.path().join("nope/store.db"), None).unwrap_err();
        assert!(e.message().contains("does not exist"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let e = Store::open(&path, None).unwrap_err();
        assert!(e.message().contains("not an imagefs store"), "{e}");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        drop(Store::open(&path, None).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let e = Store::open(&path, None).unwrap_err();
        assert!(e.message().contains("newer imagefs"), "{e}");
    }

    #[test]
    fn a_version_1_store_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute_batch(
                "INSERT INTO meta VALUES ('default_account', '100000000001');
                 INSERT INTO accounts VALUES ('100000000001', '2026-01-01T00:00:00Z');",
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let store = Store::open(&path, None).unwrap();
        let version: i64 = store
            .with_conn(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let instances: i64 = store
            .with_conn(|c| Ok(c.query_row("SELECT count(*) FROM instances", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(instances, 0);
        assert_eq!(store.default_account().unwrap().as_str(), "100000000001");
    }

    /// An instance launched before version 7 reads whole after the upgrade: a UUID of its
    /// own, the defaults a launch picks for what was not kept.
    #[test]
    fn a_version_6_instance_reads_whole_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            for step in &UPGRADES[..5] {
                conn.execute_batch(step).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO meta VALUES ('default_account', '100000000001');
                 INSERT INTO accounts VALUES ('100000000001', '2026-01-01T00:00:00Z');
                 INSERT INTO instances (region, instance_id, owner, instance_name, instance_type,
                    cpu, memory, zone, private_ip, image_id, image_size, os_name, platform,
                    architecture, license_type, instance_state, created_time)
                 VALUES ('ap-guangzhou', 'ins-a1b2c3d4', '100000000001', 'old', 'S5.MEDIUM2',
                    2, 2, 'ap-guangzhou-1', '10.1.2.3', 'img-9qabwvbn', 50,
                    'CentOS 7.6 64位', 'CentOS', 'x86_64', 'TencentCloud', 'RUNNING',
                    '2026-01-01T00:00:00Z');",
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 6).unwrap();
        }
        let store = std::sync::Arc::new(Store::open(&path, None).unwrap());
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let service = crate::local::LocalService::open(store, None).unwrap();
        let id = crate::model::InstanceId::parse("ins-a1b2c3d4").unwrap();
        let instance =
            crate::service::ImageService::instance(&service, "ap-guangzhou", &id).unwrap();
        assert_eq!(instance.uuid.len(), 36, "{}", instance.uuid);
        assert_eq!(&instance.uuid[14..15], "4");
        assert_eq!(instance.instance_charge_type, "POSTPAID_BY_HOUR");
        assert_eq!(instance.expired_time, None);
        assert_eq!(instance.system_disk.disk_type, "CLOUD_PREMIUM");
        assert_eq!(instance.system_disk.disk_size, 50);
        assert!(instance.virtual_private_cloud.vpc_id.starts_with("vpc-"));
        assert_eq!(instance.private_ip_addresses, ["10.1.2.3"]);
        assert_eq!(
            instance.internet_accessible.internet_charge_type,
            "TRAFFIC_POSTPAID_BY_HOUR"
        );
        assert_eq!(instance.host_name, "VM-2-3-centos");
        assert!(
            instance.tags.is_empty(),
            "an instance from before version 8 has no tags"
        );
    }

    #[test]
    fn accounts_are_added_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), None).unwrap();
        let id = AccountId::parse("100000000002").unwrap();
        assert!(store.add_account(&id).unwrap());
        assert!(!store.add_account(&id).unwrap());
        let ids: Vec<_> = store
            .accounts()
            .unwrap()
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        assert!(ids.contains(&id));
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn another_catalog_reseeds_but_keeps_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path, None).unwrap();
        store
            .add_account(&AccountId::parse("100000000002").unwrap())
            .unwrap();
        let mut v: serde_json::Value =
            serde_json::from_str(crate::local::catalog::BUILTIN_CATALOG).unwrap();
        v["Regions"].as_array_mut().unwrap().truncate(2);
        let small = v.to_string();
        let store = Store::open(&path, Some(&small)).unwrap();
        let regions: i64 = store
            .with_conn(|c| Ok(c.query_row("SELECT count(*) FROM regions", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(regions, 2);
        assert_eq!(store.accounts().unwrap().len(), 2);
    }
}
