//! The store's schema: the tables of version 1 and each step up to the version this build
//! writes. A store is upgraded step by step when opened (`Store::open`); steps are only ever
//! added, never changed, since stores in use went through them.

/// The schema version this build writes. A store with a higher one was written by a newer
/// imagefs and is refused rather than misread.
pub const SCHEMA_VERSION: i64 = 9;

pub(super) const SCHEMA_V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE accounts (
    account_id   TEXT PRIMARY KEY,
    created_time TEXT NOT NULL
);
CREATE TABLE regions (
    region      TEXT PRIMARY KEY,
    region_name TEXT NOT NULL,
    mainland    INTEGER NOT NULL,
    position    INTEGER NOT NULL
);
-- Public and marketplace images exist once per region (public IDs are global); custom
-- images belong to an owner. Shared images are custom images seen through `shares`.
CREATE TABLE images (
    region               TEXT NOT NULL,
    image_id             TEXT NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('PUBLIC', 'CUSTOM', 'MARKETPLACE')),
    owner                TEXT,
    image_name           TEXT NOT NULL,
    image_description    TEXT NOT NULL,
    os_name              TEXT NOT NULL,
    platform             TEXT NOT NULL,
    architecture         TEXT NOT NULL,
    image_size           INTEGER NOT NULL,
    image_state          TEXT NOT NULL,
    image_source         TEXT NOT NULL,
    image_creator        TEXT NOT NULL,
    created_time         TEXT NOT NULL,
    sync_percent         INTEGER,
    is_support_cloudinit INTEGER NOT NULL,
    license_type         TEXT NOT NULL,
    image_family         TEXT NOT NULL DEFAULT '',
    image_deprecated     INTEGER NOT NULL DEFAULT 0,
    snapshot_set         TEXT NOT NULL DEFAULT '[]',
    tags                 TEXT NOT NULL DEFAULT '[]',
    fee_unit_price       REAL,
    fee_charge_unit      TEXT,
    fee_currency         TEXT,
    fee_provider         TEXT,
    PRIMARY KEY (region, image_id)
);
CREATE INDEX images_by_kind ON images (region, kind, owner, image_id);
CREATE INDEX images_by_id ON images (image_id);
CREATE TABLE shares (
    region       TEXT NOT NULL,
    image_id     TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    created_time TEXT NOT NULL,
    PRIMARY KEY (region, image_id, account_id),
    FOREIGN KEY (region, image_id) REFERENCES images (region, image_id) ON DELETE CASCADE
);
CREATE INDEX shares_by_account ON shares (account_id, region, image_id);
"#;

/// Version 2: asynchronous work. A transitional state is stored with the state it becomes
/// and when (unix milliseconds), so it completes even if the process that started it exits;
/// readers show the final state once its time has passed. Instances arrive.
pub(super) const SCHEMA_V2: &str = r#"
ALTER TABLE images ADD COLUMN transition_final TEXT;
ALTER TABLE images ADD COLUMN transition_due INTEGER;
CREATE TABLE instances (
    region                 TEXT NOT NULL,
    instance_id            TEXT NOT NULL PRIMARY KEY,
    owner                  TEXT NOT NULL,
    instance_name          TEXT NOT NULL,
    instance_type          TEXT NOT NULL,
    cpu                    INTEGER NOT NULL,
    memory                 INTEGER NOT NULL,
    zone                   TEXT NOT NULL,
    private_ip             TEXT NOT NULL,
    image_id               TEXT NOT NULL,
    image_size             INTEGER NOT NULL,
    os_name                TEXT NOT NULL,
    platform               TEXT NOT NULL,
    architecture           TEXT NOT NULL,
    license_type           TEXT NOT NULL,
    instance_state         TEXT NOT NULL,
    transition_final       TEXT,
    transition_due         INTEGER,
    latest_operation       TEXT,
    latest_operation_state TEXT,
    created_time           TEXT NOT NULL,
    fee_unit_price         REAL,
    fee_charge_unit        TEXT,
    fee_currency           TEXT,
    fee_provider           TEXT
);
CREATE INDEX instances_by_owner ON instances (owner, region, instance_id);
CREATE INDEX images_due ON images (transition_due) WHERE transition_due IS NOT NULL;
"#;

/// Version 3: API keys, so `imagefs serve` can authenticate requests as an account.
pub(super) const SCHEMA_V3: &str = r#"
CREATE INDEX IF NOT EXISTS instances_due ON instances (transition_due) WHERE transition_due IS NOT NULL;
CREATE TABLE api_keys (
    secret_id    TEXT PRIMARY KEY,
    secret_key   TEXT NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (account_id),
    created_time TEXT NOT NULL
);
"#;

/// Version 4: a journal of changed images and instances, written by triggers whoever makes
/// the change (a mount, `imagefs serve`, the CLI), so each mount can drop exactly what the
/// kernel caches of them. Kept short: a reader that falls behind starts over. (No
/// AUTOINCREMENT: pruning never removes the newest row, so sequence numbers still only grow,
/// and each write is spared an update of `sqlite_sequence`.)
pub(super) const SCHEMA_V4: &str = r#"
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY,
    region      TEXT NOT NULL,
    image_id    TEXT,
    instance_id TEXT
);
CREATE TRIGGER images_inserted AFTER INSERT ON images BEGIN
    INSERT INTO changes (region, image_id) VALUES (NEW.region, NEW.image_id);
END;
CREATE TRIGGER images_updated AFTER UPDATE ON images BEGIN
    INSERT INTO changes (region, image_id) VALUES (NEW.region, NEW.image_id);
END;
CREATE TRIGGER images_deleted AFTER DELETE ON images BEGIN
    INSERT INTO changes (region, image_id) VALUES (OLD.region, OLD.image_id);
END;
CREATE TRIGGER shares_inserted AFTER INSERT ON shares BEGIN
    INSERT INTO changes (region, image_id) VALUES (NEW.region, NEW.image_id);
END;
CREATE TRIGGER shares_deleted AFTER DELETE ON shares BEGIN
    INSERT INTO changes (region, image_id) VALUES (OLD.region, OLD.image_id);
END;
CREATE TRIGGER instances_inserted AFTER INSERT ON instances BEGIN
    INSERT INTO changes (region, instance_id) VALUES (NEW.region, NEW.instance_id);
END;
CREATE TRIGGER instances_updated AFTER UPDATE ON instances BEGIN
    INSERT INTO changes (region, instance_id) VALUES (NEW.region, NEW.instance_id);
END;
CREATE TRIGGER instances_deleted AFTER DELETE ON instances BEGIN
    INSERT INTO changes (region, instance_id) VALUES (OLD.region, OLD.instance_id);
END;
"#;

/// Version 5: images found by name (each `by-name/` link is named from the images that share
/// its image's name, not from a listing of the whole kind).
pub(super) const SCHEMA_V5: &str = r#"
CREATE INDEX images_by_name ON images (region, kind, image_name);
"#;

/// Version 6: temporary key pairs (`imagefs accounts token`), which requests must send with
/// their token, and which end at `expires` (Unix seconds). Both are NULL for a permanent pair.
pub(super) const SCHEMA_V6: &str = r#"
ALTER TABLE api_keys ADD COLUMN token TEXT;
ALTER TABLE api_keys ADD COLUMN expires INTEGER;
"#;

/// Version 7: whole instances. Each keeps its UUID, charge type (with a PREPAID instance's
/// expiry and renewal), public address and what it was launched with (`launch_settings`,
/// JSON: disks, bandwidth, login, host name; `{}` reads as the defaults a launch picks). An
/// instance launched before gets a UUID here. `client_tokens` keeps the instances each
/// RunInstances `ClientToken` launched, per account and region, so a retry launches nothing.
pub(super) const SCHEMA_V7: &str = r#"
ALTER TABLE instances ADD COLUMN uuid TEXT NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN charge_type TEXT NOT NULL DEFAULT 'POSTPAID_BY_HOUR';
ALTER TABLE instances ADD COLUMN expired_time TEXT;
ALTER TABLE instances ADD COLUMN renew_flag TEXT;
ALTER TABLE instances ADD COLUMN public_ip TEXT;
ALTER TABLE instances ADD COLUMN launch_settings TEXT NOT NULL DEFAULT '{}';
UPDATE instances SET uuid = lower(
    hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
    || '-' || substr('89ab', 1 + abs(random() % 4), 1) || substr(hex(randomblob(2)), 2)
    || '-' || hex(randomblob(6)))
WHERE uuid = '';
CREATE TABLE client_tokens (
    owner        TEXT NOT NULL,
    region       TEXT NOT NULL,
    token        TEXT NOT NULL,
    instance_ids TEXT NOT NULL,
    created_time TEXT NOT NULL,
    PRIMARY KEY (owner, region, token)
);
"#;

/// Version 8: instances keep their tags (JSON, as images always have: `[{"Key":..,"Value":..}]`),
/// so `TagSpecification` on RunInstances and the tag service can set them.
pub(super) const SCHEMA_V8: &str = r#"
ALTER TABLE instances ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
"#;

/// Version 9: exports under way (ExportImages). Each file an export writes is a row until it
/// is in place: the image's region, ID, owner and size (GiB), the format, the file's absolute
/// path and that of the hidden file written at once (`part_path`), renamed to `path` once
/// `due` (Unix milliseconds) has come, by whichever imagefs settles it; the image is
/// `EXPORTING` until then. `task_id` is the ExportImages task (the `meta` table's
/// `export_task_seq` counts them).
pub(super) const SCHEMA_V9: &str = r#"
CREATE TABLE exports (
    task_id    INTEGER NOT NULL,
    region     TEXT NOT NULL,
    image_id   TEXT NOT NULL,
    owner      TEXT NOT NULL,
    image_size INTEGER NOT NULL,
    format     TEXT NOT NULL,
    path       TEXT NOT NULL,
    part_path  TEXT NOT NULL,
    due        INTEGER NOT NULL,
    PRIMARY KEY (task_id, image_id)
);
CREATE INDEX exports_by_due ON exports (due);
"#;

/// The schema steps after version 1: `UPGRADES[i]` takes a store from version i + 1 to i + 2.
pub(super) const UPGRADES: &[&str] = &[
    SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6, SCHEMA_V7, SCHEMA_V8, SCHEMA_V9,
];
