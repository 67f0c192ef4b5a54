//! `imagefs serve`: the local store over the CVM API.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::{open_store, seconds, Failure, StoreArgs};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, default_value = "127.0.0.1:9000", value_name = "ADDR:PORT")]
    listen: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Seconds asynchronous work takes [default: the store's setting, 2]
    #[arg(long, value_name = "SECONDS")]
    transition_delay: Option<f64>,
    /// ImportImage may read local disk files under this directory only (without it, imports
    /// are refused).
    #[arg(long, value_name = "DIR")]
    import_dir: Option<PathBuf>,
    /// ExportImages writes into this directory, each bucket a folder of it (without it,
    /// exports are refused).
    #[arg(long, value_name = "DIR")]
    export_dir: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate (chain), for clients that speak only HTTPS
    /// (tccli); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Write the log here (RUST_LOG sets the level; default warn).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

pub fn serve(args: ServeArgs) -> Result<(), Failure> {
    let store = Arc::new(open_store(&args.store)?);
    let settings = imagefs::serve::ServeSettings {
        transition_delay: args.transition_delay.map(seconds).transpose()?,
        import_dir: args.import_dir.clone(),
        export_dir: args.export_dir.clone(),
    };
    let path = store.path().display().to_string();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(imagefs::serve::tls_config(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    imagefs::serve::serve(store, &args.listen, settings, tls, |address| {
        println!("listening on {scheme}://{address} (store {path})");
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}
