//! Per-address rate limits on the public form's costly actions (governor, in memory, per
//! instance): too many requests get a 429 with an Italian page and a Retry-After.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderMap, request::Parts},
    middleware::Next,
    response::Response,
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use super::{AppState, error::AppError};
use crate::config::RateLimits;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    Create,
    Upload,
    Submit,
    Status,
    /// Password and second-factor attempts, per address (accounts have their own limit).
    Login,
    /// PDFs rendered on request.
    Pdf,
}

pub struct Limiters {
    create: DefaultKeyedRateLimiter<IpAddr>,
    upload: DefaultKeyedRateLimiter<IpAddr>,
    submit: DefaultKeyedRateLimiter<IpAddr>,
    status: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
    pdf: DefaultKeyedRateLimiter<IpAddr>,
    /// Per account (Ordine and e-mail, or Ordine and user) and client address: 10 attempts,
    /// then one every 90 s. Keyed with the address, so that nobody can lock a person out of
    /// their account by failing on purpose from elsewhere.
    account: DefaultKeyedRateLimiter<(String, IpAddr)>,
    trust_forwarded_for: bool,
}

fn per_hour(n: u32) -> DefaultKeyedRateLimiter<IpAddr> {
    RateLimiter::keyed(Quota::per_hour(
        NonZeroU32::new(n.max(1)).expect("positive"),
    ))
}

impl Limiters {
    pub fn new(limits: RateLimits, trust_forwarded_for: bool) -> Self {
        Self {
            create: per_hour(limits.create),
            upload: per_hour(limits.upload),
            submit: per_hour(limits.submit),
            status: per_hour(limits.status),
            login: per_hour(limits.login),
            pdf: per_hour(limits.pdf),
            account: RateLimiter::keyed(
                Quota::with_period(Duration::from_secs(90))
                    .expect("non-zero period")
                    .allow_burst(NonZeroU32::new(10).expect("positive")),
            ),
            trust_forwarded_for,
        }
    }

    fn limiter(&self, bucket: Bucket) -> &DefaultKeyedRateLimiter<IpAddr> {
        match bucket {
            Bucket::Create => &self.create,
            Bucket::Upload => &self.upload,
            Bucket::Submit => &self.submit,
            Bucket::Status => &self.status,
            Bucket::Login => &self.login,
            Bucket::Pdf => &self.pdf,
        }
    }

    /// One attempt on an account from `client`; `Err` with the wait when over the limit.
    pub fn check_account(&self, key: &str, client: ClientAddr) -> Result<(), Duration> {
        self.account
            .check_key(&(key.to_owned(), client.0))
            .map_err(|not_until| {
                not_until
                    .wait_time_from(governor::clock::DefaultClock::default().now())
                    .max(Duration::from_secs(1))
            })
    }

    /// Forgets addresses whose buckets are full again (bounded memory).
    pub fn prune(&self) {
        for bucket in [
            Bucket::Create,
            Bucket::Upload,
            Bucket::Submit,
            Bucket::Status,
            Bucket::Login,
            Bucket::Pdf,
        ] {
            self.limiter(bucket).retain_recent();
        }
        self.account.retain_recent();
    }

    /// The client's address: the peer, or behind a trusted proxy the last hop it appended.
    fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        if self.trust_forwarded_for
            && let Some(ip) = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return ip;
        }
        peer.ip()
    }
}

pub async fn limit(
    State((limiters, bucket)): State<(Arc<Limiters>, Bucket)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let client = limiters.client(peer, req.headers());
    if let Err(not_until) = limiters.limiter(bucket).check_key(&client) {
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        return Err(AppError::TooManyRequests(wait.max(Duration::from_secs(1))));
    }
    Ok(next.run(req).await)
}

/// The client's address as the rate limits see it (the peer, or behind a trusted proxy the last
/// hop it appended).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| anyhow::anyhow!("no peer address"))?;
        Ok(Self(state.limiters.client(peer, &parts.headers)))
    }
}
