//! The demo's secret files (the signing key, the deployment secret): created readable by their
//! owner only, and refused when they are not (whoever reads one can sign access tokens or
//! refresh tokens).
#![allow(dead_code)]

use appgrant::token::{Algorithm, DeploymentSecret, KeySet, SigningKey};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use std::error::Error;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The Ed25519 key in `path` (PKCS#8 PEM), written there first if the file does not exist, so
/// that restarts and other instances given the same file verify the same tokens. Without a
/// file, a fresh key: access tokens then last only as long as the process.
///
/// The file is created with mode 0600, complete or not at all; an existing file that its
/// group or others may read or write is refused, with the reason and the fix.
pub fn signing_keys(path: Option<&Path>) -> Result<Option<KeySet>, Box<dyn Error>> {
    let Some(path) = path else {
        return Ok(None);
    };
    const WHAT: &str = "signing key file";
    let pem = match read_private(path, WHAT)? {
        Some(pem) => pem,
        None => {
            let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            create_private(path, key.to_pkcs8_pem(LineEnding::LF)?.as_bytes(), WHAT)?;
            // What is there now: another instance may have created it first.
            read_private(path, WHAT)?.ok_or_else(|| format!("{} vanished", path.display()))?
        }
    };
    // A key id derived from the public key, so every instance names it alike.
    let public = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)?.verifying_key();
    let kid = format!(
        "demo-{}",
        &appgrant::grant::pkce::challenge_of(&format!("{public:?}"))[..12]
    );
    let key = SigningKey::from_pkcs8_pem(Algorithm::EdDSA, kid, &pem)?;
    Ok(Some(KeySet::new(key)))
}

/// The deployment secret in `path`, written there first (random, mode 0600) if the file does
/// not exist, so that restarts and other instances given the same file are one server.
pub fn deployment_secret(path: &Path) -> Result<DeploymentSecret, Box<dyn Error>> {
    const WHAT: &str = "deployment secret file";
    let text = match read_private(path, WHAT)? {
        Some(text) => text,
        None => {
            let secret = DeploymentSecret::generate(&mut rand::rngs::OsRng);
            create_private(path, format!("{}\n", secret.encode()).as_bytes(), WHAT)?;
            read_private(path, WHAT)?.ok_or_else(|| format!("{} vanished", path.display()))?
        }
    };
    DeploymentSecret::parse(&text)
        .map_err(|error| format!("the {WHAT} {}: {error}", path.display()).into())
}

/// The contents of the secret file at `path` (a `what`), or `None` if there is none. Refuses
/// a file its group or others may read or write, one another user owns (they chose the
/// secret), and a symbolic link. The mode and owner are read from the opened file, so they
/// are those of what is read.
fn read_private(path: &Path, what: &str) -> Result<Option<String>, Box<dyn Error>> {
    use std::os::unix::fs::MetadataExt;
    let shown = path.display();
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    let mut file = match opened {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(format!("cannot open the {what} {shown}: {error}").into());
        }
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(format!("the {what} {shown} is not a regular file").into());
    }
    let me = rustix::process::geteuid().as_raw();
    if metadata.uid() != me {
        return Err(format!(
            "refusing the {what} {shown}: it belongs to user {}, not to this process's user \
             {me}, so someone else chose its contents; delete it and start again",
            metadata.uid()
        )
        .into());
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "refusing the {what} {shown}: its mode is {mode:04o}, so its group or \
             others may read or replace it, and whoever reads it can sign tokens; \
             run `chmod 600 {shown}` (and check who owns it) if the key was never exposed, \
             otherwise delete it and start again to get a new key"
        )
        .into());
    }
    let mut pem = String::new();
    file.read_to_string(&mut pem)?;
    Ok(Some(pem))
}

/// Creates the file `path` with `contents`, mode 0600, atomically: written in full to a new
/// file beside it, then linked into place. Unlike a rename, the link never replaces a file
/// that appeared meanwhile (another instance's key): that one stays, and is the one read.
fn create_private(path: &Path, contents: &[u8], what: &str) -> Result<(), Box<dyn Error>> {
    let shown = path.display();
    let name = path
        .file_name()
        .ok_or_else(|| format!("the {what} path {shown} names no file"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temporary = dir.join(format!(
        ".{}.{:016x}.tmp",
        name.to_string_lossy(),
        rand::random::<u64>()
    ));
    let created =
        write_new(&temporary, contents).and_then(|()| match std::fs::hard_link(&temporary, path) {
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            linked => linked,
        });
    let removed = std::fs::remove_file(&temporary);
    created.map_err(|error| format!("cannot create the {what} {shown}: {error}"))?;
    if let Err(error) = removed {
        tracing::warn!(file = %temporary.display(), %error, "could not remove a temporary file");
    }
    // The new directory entry survives a crash.
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Writes `contents` to a file that must not exist yet, created with mode 0600 (the umask can
/// only narrow it), and flushes it to disk.
fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
