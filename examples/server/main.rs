//! A runnable authorization server with a small demo resource API.
//!
//! `cargo run --example server -- --addr 127.0.0.1:8080`
//!
//! On start it prints one JSON line with the issuer URL, the demo users' usernames and
//! passwords, and each demo app's client id, secret and redirect URI, so scripts can drive it.
//! The routes are listed in the README.

mod demo;

use std::error::Error;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut addr = String::from("127.0.0.1:8080");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = args
                    .next()
                    .ok_or("--addr needs a value, e.g. 127.0.0.1:8080")?
            }
            other => return Err(format!("unknown argument {other}; use --addr HOST:PORT").into()),
        }
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let (router, seed, _server) = demo::build(&issuer).await?;
    println!("{}", serde_json::to_string(&seed)?);
    axum::serve(listener, router).await?;
    Ok(())
}
