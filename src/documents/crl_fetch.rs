//! CRLs downloaded from the signer certificates' distribution points, for signatures that
//! carry no revocation data of their own.
//!
//! Bounded: `http`/`https` URLs only (no LDAP), at most [`MAX_URLS`] per file, a
//! [`TIMEOUT`] per download, at most [`MAX_CRL_BYTES`] read. Kept in memory, per URL, until the
//! CRL's nextUpdate (at most [`MAX_CACHE_AGE`]); failures are remembered for
//! [`FAILURE_BACKOFF`] so that an unreachable certificator does not slow every upload. The
//! machine may be offline: then nothing is fetched, and the result says "revoca non
//! verificata" ([`super::signature::qualified::REVOCATION_NOT_CHECKED`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openssl::x509::{X509, X509Crl};

use super::signature::SignatureReport;

pub const TIMEOUT: Duration = Duration::from_secs(4);
pub const MAX_CRL_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_URLS: usize = 4;
pub const MAX_CACHE_AGE: Duration = Duration::from_secs(24 * 3600);
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(600);
/// Most URLs remembered.
const MAX_CACHE_ENTRIES: usize = 256;

enum Cached {
    Crl { der: Vec<u8>, until: Instant },
    Failed { until: Instant },
}

static CACHE: Mutex<Option<HashMap<String, Cached>>> = Mutex::new(None);

/// The http(s) CRL distribution points of the certificates of the signers for which
/// `chained` (one per signer, in order) is true. Only certificates that chain to a trust service
/// of the lists are asked: the address of anyone else's is chosen by whoever made the file, and
/// fetching it would let them make the server call any address (server-side request forgery).
pub fn urls(report: &SignatureReport, chained: &[bool]) -> Vec<String> {
    let mut urls = Vec::new();
    for (signer, _) in report
        .signers
        .iter()
        .zip(chained)
        .filter(|(_, chained)| **chained)
    {
        let Ok(cert) = X509::from_der(&signer.certificate.0) else {
            continue;
        };
        let Some(points) = cert.crl_distribution_points() else {
            continue;
        };
        for point in &points {
            let Some(names) = point.distpoint().and_then(|d| d.fullname()) else {
                continue;
            };
            for name in names {
                if let Some(uri) = name.uri()
                    && (uri.starts_with("http://") || uri.starts_with("https://"))
                    && !urls.iter().any(|u| u == uri)
                    && urls.len() < MAX_URLS
                {
                    urls.push(uri.to_owned());
                }
            }
        }
    }
    urls
}

/// The CRLs of `urls`, from the cache or downloaded; what cannot be had is left out.
#[tracing::instrument(name = "scarica le liste di revoca", skip_all, fields(urls = urls.len()))]
pub async fn fetch(urls: &[String]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    {
        let now = Instant::now();
        let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let cache = guard.get_or_insert_with(HashMap::new);
        for url in urls {
            match cache.get(url) {
                Some(Cached::Crl { der, until }) if *until > now => found.push(der.clone()),
                Some(Cached::Failed { until }) if *until > now => {}
                _ => missing.push(url.clone()),
            }
        }
    }
    if missing.is_empty() {
        return found;
    }
    let Ok(client) = reqwest::Client::builder()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(2))
        .build()
    else {
        return found;
    };
    for url in missing {
        let result = download(&client, &url).await;
        let now = Instant::now();
        let entry = match result {
            Some((der, until)) => {
                found.push(der.clone());
                Cached::Crl {
                    der,
                    until: now + until,
                }
            }
            None => {
                tracing::info!("lista di revoca non raggiungibile");
                Cached::Failed {
                    until: now + FAILURE_BACKOFF,
                }
            }
        };
        let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let cache = guard.get_or_insert_with(HashMap::new);
        if cache.len() >= MAX_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(url, entry);
    }
    found
}

/// One CRL (DER, or PEM converted to DER) and how long to keep it.
async fn download(client: &reqwest::Client, url: &str) -> Option<(Vec<u8>, Duration)> {
    let mut res = client.get(url).send().await.ok()?.error_for_status().ok()?;
    if res
        .content_length()
        .is_some_and(|n| n > MAX_CRL_BYTES as u64)
    {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_CRL_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    let crl = X509Crl::from_der(&body)
        .or_else(|_| X509Crl::from_pem(&body))
        .ok()?;
    let der = crl.to_der().ok()?;
    let keep = crl
        .next_update()
        .and_then(|next| {
            let now = openssl::asn1::Asn1Time::days_from_now(0).ok()?;
            let diff = now.diff(next).ok()?;
            let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
            u64::try_from(secs).ok().map(Duration::from_secs)
        })
        .unwrap_or(Duration::ZERO)
        .min(MAX_CACHE_AGE);
    Some((der, keep))
}
