//! A runnable authorization server with a small demo resource API.
//!
//! `cargo run --example server -- --addr 127.0.0.1:8080 [--database-url URL] [--signing-key FILE]
//! [--max-connections N]`
//!
//! Without `--database-url` everything lives in memory. `sqlite://appgrant.db` keeps it in a
//! file (feature `sqlite`); `postgres://…` shares it between instances (feature `postgres`;
//! both are on by default). Instances that share a database share `--signing-key` too, so
//! each verifies the others' tokens. On start it prints one JSON line with the issuer URL, the
//! demo users' usernames and passwords, and each demo app's client id, secret and redirect URI,
//! so scripts can drive it. The routes are listed in the README. Slow clients are cut off and
//! connections capped (see `serve.rs`).

mod demo;
mod key_file;
mod serve;

use appgrant::store::Store;
use appgrant::token::KeySet;
use std::error::Error;
use std::time::Duration;

/// How often expired codes, spent refresh families and old revocations are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

struct Options {
    addr: String,
    database_url: Option<String>,
    signing_key: Option<String>,
    limits: serve::Limits,
}

fn options() -> Result<Options, Box<dyn Error>> {
    let mut options = Options {
        addr: "127.0.0.1:8080".into(),
        database_url: None,
        signing_key: None,
        limits: serve::Limits::default(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--addr" => options.addr = value("--addr")?,
            "--database-url" => options.database_url = Some(value("--database-url")?),
            "--signing-key" => options.signing_key = Some(value("--signing-key")?),
            "--max-connections" => {
                let cap = value("--max-connections")?;
                options.limits.max_connections = match cap.parse() {
                    Ok(cap) if cap > 0 => cap,
                    _ => return Err(format!("--max-connections {cap}: not a count").into()),
                };
            }
            other => {
                let usage = "use --addr HOST:PORT, --database-url URL, --signing-key FILE, \
                             --max-connections N";
                return Err(format!("unknown argument {other}; {usage}").into());
            }
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let options = options()?;
    let listener = tokio::net::TcpListener::bind(&options.addr).await?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let keys = key_file::signing_keys(options.signing_key.as_deref().map(std::path::Path::new))?;
    match options.database_url.as_deref() {
        None => {
            let store = appgrant::MemoryStore::new();
            serve(listener, &issuer, keys, store, options.limits).await
        }
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        Some(url) => {
            let store = appgrant::store::SqlStore::connect(url).await?;
            serve(listener, &issuer, keys, store, options.limits).await
        }
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        Some(_) => {
            Err("no database support in this build: use --features sqlite or postgres".into())
        }
    }
}

async fn serve<S: Store>(
    listener: tokio::net::TcpListener,
    issuer: &str,
    keys: Option<KeySet>,
    store: S,
    limits: serve::Limits,
) -> Result<(), Box<dyn Error>> {
    let (router, seed, server) = demo::build(issuer, keys, store).await?;
    println!("{}", serde_json::to_string(&seed)?);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        loop {
            every.tick().await;
            if let Err(error) = server.purge().await {
                eprintln!("purge failed: {error}");
            }
        }
    });
    serve::serve(listener, router, limits).await?;
    Ok(())
}
