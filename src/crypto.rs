//! Secrets: random tokens and codes from the system's CSPRNG, and argon2id hashes (PINs now,
//! passwords later), computed off the async threads.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

use crate::domain::application::{ApplicationCode, Pin};

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the system's random source");
    bytes
}

pub fn random_hex<const N: usize>() -> String {
    hex::encode(random_bytes::<N>())
}

pub fn random_code() -> ApplicationCode {
    ApplicationCode::from_random(random_bytes())
}

pub fn random_pin() -> Pin {
    Pin::from_random(u32::from_le_bytes(random_bytes()))
}

/// At most one argon2 computation per core at a time: a burst of logins queues here instead of
/// taking every core and, through the allocator's per-thread arenas, keeping 19 MiB per
/// blocking thread it ran on (seen: 0.9 GB resident after 1,000 logins, 16 at a time).
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// argon2id with the crate's defaults (the OWASP parameters), as a PHC string.
pub async fn hash_secret(secret: &str) -> anyhow::Result<String> {
    let secret = secret.to_owned();
    let _turn = HASHING.acquire().await?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(secret.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a secret: {e}"))
    })
    .await?
}

pub async fn verify_secret(secret: &str, hash: &str) -> bool {
    let (secret, hash) = (secret.to_owned(), hash.to_owned());
    let Ok(_turn) = HASHING.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash to verify against when the account or code does not exist, so that the answer takes
/// as long as a real check.
pub async fn dummy_verify(secret: &str) {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    if let Ok(hash) = DUMMY
        .get_or_try_init(|| hash_secret("patrocinio-dummy"))
        .await
    {
        verify_secret(secret, hash).await;
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Recovery codes: `ABCD-EFGH-JKMN` (Crockford base32, 60 bits).
pub fn recovery_code() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bytes = random_bytes::<12>();
    let chars: String = bytes
        .iter()
        .map(|b| ALPHABET[(*b & 31) as usize] as char)
        .collect();
    format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..12])
}
