//! `imagefs store`: a local store's settings, faults to inject, information and reset.

use std::path::PathBuf;

use clap::Subcommand;

use imagefs::local::settings::SETTINGS;
use imagefs::local::store::Store;

use super::{open_store, store_path, Failure, StoreArgs};

#[derive(Subcommand)]
pub enum StoreAction {
    /// Where the store is, its schema, accounts, images and instances, pending faults.
    Info,
    /// Print the store's settings.
    Settings,
    /// Make the next COUNT operations of a kind fail, so scripts can test their error paths:
    /// create-fails (CreateImage ends CREATEFAILED), import-fails (IMPORTFAILED), copy-fails
    /// (a copy ends CREATEFAILED), throttle (commands are refused with RequestLimitExceeded).
    Inject {
        #[arg(value_parser = injection_kinds())]
        kind: String,
        #[arg(default_value_t = 1)]
        count: u64,
    },
    /// Delete the store and create it afresh (seeded from the catalog). Needs --yes.
    Reset {
        #[arg(long)]
        yes: bool,
    },
    /// Change a setting: custom-image-quota (per account and region), share-limit (accounts
    /// per image), transition-delay (seconds asynchronous work takes).
    Set {
        #[arg(value_parser = setting_names())]
        key: String,
        value: String,
    },
}

/// The setting names `store set` takes (clap refuses others with the list; shells complete
/// them).
fn setting_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(SETTINGS.map(|setting| setting.name))
}

/// The fault kinds `store inject` takes.
fn injection_kinds() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(imagefs::local::INJECTIONS.map(|(name, _)| name))
}

pub fn store_command(action: StoreAction, store_args: &StoreArgs) -> Result<(), Failure> {
    if let StoreAction::Reset { yes } = action {
        return store_reset(store_args, yes);
    }
    let store = open_store(store_args)?;
    match action {
        StoreAction::Reset { .. } => Ok(()),
        StoreAction::Info => store_info(&store),
        StoreAction::Inject { kind, count } => store_inject(&store, &kind, count),
        StoreAction::Settings => store_settings(&store),
        StoreAction::Set { key, value } => store_set(&store, &key, &value),
    }
}

/// `imagefs store reset`: deletes the store's files, then seeds a new one.
fn store_reset(store_args: &StoreArgs, yes: bool) -> Result<(), Failure> {
    let path = store_path(store_args)?;
    if !yes {
        return Err(Failure(format!(
            "this deletes {} with every account, key, image and instance in it; run again with --yes",
            path.display()
        )));
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Failure(format!("cannot remove {}: {e}", file.display()))),
        }
    }
    let store = open_store(store_args)?;
    println!("store {} reset and seeded afresh", store.path().display());
    Ok(())
}

/// `imagefs store info`: the store's schema, accounts, images, instances and pending faults.
fn store_info(store: &Store) -> Result<(), Failure> {
    let version = store.schema_version()?;
    let size = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!("store      {}", store.path().display());
    println!("schema     {version}");
    println!("size       {} KiB", size / 1024);
    let default = store.default_account()?;
    let accounts = store.accounts()?;
    println!("accounts   {}", accounts.len());
    for (id, created) in &accounts {
        let keys = store.key_count(id)?;
        let mark = if *id == default { ", default" } else { "" };
        println!("  {id}  created {created}, {keys} API key(s){mark}");
    }
    let counts = imagefs::local::image_counts(store)?;
    for (kind, label) in [
        ("PUBLIC", "public"),
        ("MARKETPLACE", "marketplace"),
        ("CUSTOM", "custom"),
    ] {
        println!(
            "images     {label}: {} (all regions)",
            counts.get(kind).copied().unwrap_or(0)
        );
    }
    let instances = imagefs::local::instance_count(store)?;
    println!("instances  {instances}");
    for (name, key) in imagefs::local::INJECTIONS {
        let pending = store.meta(key)?.unwrap_or_else(|| "0".into());
        if pending != "0" {
            println!("injected   {name}: next {pending}");
        }
    }
    Ok(())
}

/// `imagefs store inject KIND COUNT`: the next COUNT operations of a kind fail.
fn store_inject(store: &Store, kind: &str, count: u64) -> Result<(), Failure> {
    let (name, key) = imagefs::local::INJECTIONS
        .iter()
        .find(|(name, _)| *name == kind)
        .ok_or_else(|| {
            Failure(format!(
                "unknown fault `{kind}`; faults: create-fails, import-fails, copy-fails, throttle"
            ))
        })?;
    store.set_meta(key, &count.to_string())?;
    println!("{name}: the next {count} will fail");
    Ok(())
}

/// `imagefs store settings`: every setting with its value, its unit and what it means.
fn store_settings(store: &Store) -> Result<(), Failure> {
    println!("store {}", store.path().display());
    for setting in SETTINGS {
        let stored = store.setting_u64(setting.key, setting.default)?;
        println!(
            "{} = {}  ({})",
            setting.name,
            setting.show(stored),
            setting.description
        );
    }
    Ok(())
}

/// `imagefs store set KEY VALUE`.
fn store_set(store: &Store, key: &str, value: &str) -> Result<(), Failure> {
    let setting = SETTINGS
        .into_iter()
        .find(|s| s.name == key)
        .ok_or_else(|| {
            let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
            Failure(format!(
                "unknown setting `{key}`; settings: {}",
                names.join(", ")
            ))
        })?;
    let stored = setting.parse_value(value).ok_or_else(|| {
        Failure(format!(
            "{}: `{value}` is not {}",
            setting.name,
            setting.accepted()
        ))
    })?;
    store.set_meta(setting.key, &stored.to_string())?;
    println!("{} = {}", setting.name, setting.show(stored));
    Ok(())
}
