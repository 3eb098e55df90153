//! Checks of operator input that run before any command changes anything:
//! each failure says what was wrong and what form is expected.

/// Checks a `--public-url` and returns it normalised (lower-case scheme,
/// trailing `/` removed). It must be an absolute `http://` or `https://` URL
/// with a host, optionally a port and a path, and no credentials, query or
/// fragment: Tenant URLs and activation links are built by appending to it.
///
/// # Errors
/// The reason, naming the flag and the expected form.
pub fn public_url(raw: &str) -> anyhow::Result<String> {
    let expected = "expected the address clients reach this server at, such as https://scim.example.net or https://example.net/scim-server";
    let fail = |why: &str| anyhow::anyhow!("--public-url {raw:?}: {why}; {expected}");
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(fail("spaces and control characters are not allowed"));
    }
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err(fail("no scheme (http:// or https://)"));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(fail("the scheme must be http:// or https://"));
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(fail(
            "a query string (?...) or fragment (#...) is not allowed",
        ));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(fail("credentials (user@) are not allowed"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => match p.strip_prefix(':') {
                Some(port) => (h, Some(port)),
                None => return Err(fail("only :port may follow an IPv6 address")),
            },
            None => return Err(fail("an IPv6 address must be closed with ]")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(fail("no host"));
    }
    if !authority.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(fail(
            "the host may only have letters, digits, '-', '_' and '.'",
        ));
    }
    if let Some(p) = port
        && !p.parse::<u16>().is_ok_and(|n| n > 0)
    {
        return Err(fail("the port must be a number from 1 to 65535"));
    }
    let path = path.trim_end_matches('/');
    Ok(format!(
        "{scheme}://{}{path}",
        authority.to_ascii_lowercase()
    ))
}

/// The shortest `--signing-key` accepted, in bytes (HS256 wants a key at least
/// as long as its 256-bit output).
pub const MIN_SIGNING_KEY_BYTES: usize = 32;

/// Checks an operator-supplied signing key's length.
///
/// # Errors
/// When it is shorter than [`MIN_SIGNING_KEY_BYTES`].
pub fn signing_key(key: Option<&str>) -> anyhow::Result<()> {
    match key {
        Some(k) if k.len() < MIN_SIGNING_KEY_BYTES => Err(anyhow::anyhow!(
            "--signing-key / SCIM_SIGNING_KEY is {} bytes long: it must be at least {MIN_SIGNING_KEY_BYTES} bytes (for example the output of `openssl rand -hex 32`)",
            k.len()
        )),
        _ => Ok(()),
    }
}

/// Checks the `--previous-signing-key` values: as long as a signing key, and
/// none equal to `current` (the `--signing-key`, if given).
///
/// # Errors
/// The first bad value's problem (never the value).
pub fn previous_signing_keys(keys: &[String], current: Option<&str>) -> anyhow::Result<()> {
    for (i, k) in keys.iter().enumerate() {
        if k.len() < MIN_SIGNING_KEY_BYTES {
            anyhow::bail!(
                "--previous-signing-key / SCIM_PREVIOUS_SIGNING_KEYS value {} is {} bytes long: a signing key has at least {MIN_SIGNING_KEY_BYTES} bytes",
                i + 1,
                k.len()
            );
        }
        if Some(k.as_str()) == current {
            anyhow::bail!(
                "--previous-signing-key / SCIM_PREVIOUS_SIGNING_KEYS value {} is the current --signing-key",
                i + 1
            );
        }
    }
    Ok(())
}

/// The fingerprint of a signing key kept in the database to detect a command
/// run with another key: HMAC-SHA256 keyed with the signing key over a fixed
/// label, hex. It reveals nothing usable about the key.
pub fn key_fingerprint(key: &[u8]) -> String {
    // The same HMAC names the key in tokens (`kid`: its first 16 digits).
    scim_http::auth::key_fingerprint(key)
}

/// Parses a grace period: a whole number followed by `d`, `h`, `m` or `s`
/// (seconds without a unit), e.g. `30d`.
///
/// # Errors
/// Anything else, with the expected form.
pub fn grace(raw: &str) -> Result<chrono::TimeDelta, String> {
    let raw = raw.trim();
    let (number, unit) = match raw.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&raw[..i], c),
        _ => (raw, 's'),
    };
    let seconds_per = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        's' => 1,
        _ => 0,
    };
    number
        .parse::<u32>()
        .ok()
        .filter(|_| seconds_per > 0 && !number.is_empty())
        .and_then(|n| chrono::TimeDelta::try_seconds(i64::from(n) * seconds_per))
        .filter(|d| *d <= chrono::TimeDelta::days(3650))
        .ok_or_else(|| {
            format!("{raw:?}: expected a whole number of days, hours, minutes or seconds such as 30d, 12h, 90m or 45s (at most 3650d)")
        })
}

/// Checks a `--bind` address and resolves it.
///
/// # Errors
/// When it is not `HOST:PORT` (a bare port is the usual mistake) or does not
/// resolve.
pub fn bind(raw: &str) -> anyhow::Result<Vec<std::net::SocketAddr>> {
    use std::net::ToSocketAddrs as _;
    let expected = "expected HOST:PORT, for example 127.0.0.1:8080 (this machine only) or 0.0.0.0:8080 (every interface)";
    if raw.trim().parse::<u16>().is_ok() {
        anyhow::bail!("--bind {raw:?}: a port alone is not an address; {expected}");
    }
    match raw.to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            if addrs.is_empty() {
                anyhow::bail!("--bind {raw:?}: the host resolves to no address; {expected}");
            }
            Ok(addrs)
        }
        Err(e) => anyhow::bail!("--bind {raw:?}: {e}; {expected}"),
    }
}

/// For an SQLite file, checks that its folder exists, naming the resolved
/// path when it does not (SQLite creates the file, never the folder, and then
/// only says "unable to open database file").
///
/// # Errors
/// When the folder is missing.
pub fn database_folder(url: &str) -> anyhow::Result<()> {
    let Some(file) = sqlite_file(url) else {
        return Ok(());
    };
    match file.parent() {
        Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => anyhow::bail!(
            "the database folder {} does not exist (database file {}, from --database-url / DATABASE_URL): create the folder or point --database-url elsewhere",
            folder.display(),
            file.display()
        ),
        _ => Ok(()),
    }
}

/// Checks that an SQLite database URL names a file that exists (opening a
/// missing file would create an empty database).
///
/// # Errors
/// When the file does not exist, naming its resolved path.
pub fn database_file_exists(url: &str, flag: &str) -> anyhow::Result<()> {
    match sqlite_file(url) {
        Some(file) if !file.is_file() => anyhow::bail!(
            "the SQLite database {} ({flag}) does not exist",
            file.display()
        ),
        _ => Ok(()),
    }
}

/// The absolute path of an SQLite file URL (`None` for other URLs).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let Ok(store_diesel::DatabaseTarget::SqliteFile { path }) =
        store_diesel::DatabaseTarget::parse(url)
    else {
        return None;
    };
    let path = path.strip_prefix("file:").unwrap_or(&path);
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let path = path.strip_prefix("//localhost").unwrap_or(path);
    let path = if path.starts_with("///") {
        &path[2..]
    } else {
        path
    };
    let file = std::path::Path::new(path);
    Some(if file.is_absolute() {
        file.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(file))
            .unwrap_or_else(|_| file.to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_normalised() {
        for (raw, want) in [
            ("https://scim.example.net", "https://scim.example.net"),
            ("https://scim.example.net/", "https://scim.example.net"),
            (
                "HTTPS://Scim.Example.net:8443//",
                "https://scim.example.net:8443",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            (
                "https://example.net/scim-server/",
                "https://example.net/scim-server",
            ),
            ("http://[::1]:8080", "http://[::1]:8080"),
        ] {
            assert_eq!(public_url(raw).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn malformed_public_urls_say_why() {
        for (raw, why) in [
            ("scim.example.net", "no scheme"),
            ("ftp://scim.example.net", "http:// or https://"),
            ("https://", "no host"),
            ("https://:8080", "no host"),
            ("https://scim.example.net?x=1", "query"),
            ("https://scim.example.net/#top", "fragment"),
            ("https://u:p@scim.example.net", "credentials"),
            ("https://scim example.net", "spaces"),
            ("https://scim.example.net:99999", "port"),
            ("https://scim.example.net:", "port"),
            ("https://sc*m.example.net", "host"),
        ] {
            let err = public_url(raw).unwrap_err().to_string();
            assert!(err.contains(why), "{raw}: {err}");
            assert!(err.contains("--public-url"), "{raw}: {err}");
        }
    }

    #[test]
    fn short_signing_keys_are_refused() {
        assert!(signing_key(None).is_ok());
        assert!(signing_key(Some(&"k".repeat(32))).is_ok());
        let err = signing_key(Some(&"k".repeat(31))).unwrap_err().to_string();
        assert!(
            err.contains("31 bytes") && err.contains("at least 32"),
            "{err}"
        );
        assert!(signing_key(Some("")).is_err());
    }

    #[test]
    fn the_fingerprint_is_hmac_sha256_of_the_label() {
        // Checked against `printf %s 'scim-server signing key fingerprint v1' |
        // openssl dgst -sha256 -hmac <key>`.
        assert_eq!(
            key_fingerprint(b"0123456789abcdef0123456789abcdef"),
            "ad33c4d36e13eb03ee38b9d01f31b70e27da1998eebcdb5724373e80366be040"
        );
        assert_ne!(
            key_fingerprint(b"0123456789abcdef0123456789abcdef"),
            key_fingerprint(b"0123456789abcdef0123456789abcdeF")
        );
        // Keys longer than a block are hashed first, as HMAC specifies.
        assert_eq!(
            key_fingerprint(&[7u8; 100]),
            "bd0ab1484d12fee06a9c2e2f0613bcc918d8d698bc7fd5b9f7f6a5c4e690008d"
        );
        assert_eq!(
            scim_http::auth::key_id(b"0123456789abcdef0123456789abcdef"),
            "ad33c4d36e13eb03"
        );
    }

    #[test]
    fn grace_periods_read_days_hours_minutes_and_seconds() {
        assert_eq!(grace("30d").unwrap(), chrono::TimeDelta::days(30));
        assert_eq!(grace("12h").unwrap(), chrono::TimeDelta::hours(12));
        assert_eq!(grace("90m").unwrap(), chrono::TimeDelta::minutes(90));
        assert_eq!(grace("45s").unwrap(), chrono::TimeDelta::seconds(45));
        assert_eq!(grace("45").unwrap(), chrono::TimeDelta::seconds(45));
        for bad in ["", "d", "-1d", "3w", "1.5d", "99999999999d"] {
            assert!(grace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bind_addresses_say_what_form_is_expected() {
        let err = bind("8080").unwrap_err().to_string();
        assert!(
            err.contains("HOST:PORT") && err.contains("0.0.0.0:8080"),
            "{err}"
        );
        let err = bind("localhost").unwrap_err().to_string();
        assert!(err.contains("HOST:PORT"), "{err}");
        assert_eq!(bind("127.0.0.1:0").unwrap().len(), 1);
    }

    #[test]
    fn a_missing_database_folder_is_named_resolved() {
        let err = database_folder("sqlite:///no/such/folder/scim.db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such/folder "), "{err}");
        let err = database_folder("no-such-folder/scim.db")
            .unwrap_err()
            .to_string();
        let cwd = std::env::current_dir().unwrap();
        assert!(
            err.contains(&cwd.join("no-such-folder").display().to_string()),
            "{err}"
        );
        assert!(database_folder("scim-server.db").is_ok());
        assert!(database_folder("sqlite::memory:").is_ok());
        assert!(database_folder("postgres://h/db").is_ok());
    }
}
