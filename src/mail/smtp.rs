//! The SMTP client: lettre's SMTP protocol (`AsyncSmtpConnection`: EHLO, STARTTLS, AUTH, the
//! message's envelope and dot-stuffing) over TCP connections opened here with TCP_NODELAY, kept
//! in a small pool.
//!
//! Why not lettre's own transport: lettre writes a message's body and its final `.` in two
//! writes; with Nagle's algorithm on, the second waits until the server acknowledges the first,
//! and the server, which has nothing to answer before the `.`, delays its ACK (40 ms on Linux):
//! every message took about 45 ms even to a server on the same machine. Lettre's transport
//! opens its sockets itself and offers no way to set TCP_NODELAY (its executor trait is sealed),
//! so the connections are made here and handed to lettre's connection type, which accepts an
//! existing stream. The URL is read as lettre's `from_url` reads it.

use std::{
    borrow::Cow,
    fmt,
    pin::Pin,
    sync::Mutex,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use lettre::{
    Message,
    transport::smtp::{
        authentication::{Credentials, DEFAULT_MECHANISMS},
        client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters},
        extension::ClientId,
        response::Code,
    },
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_native_tls::native_tls;

/// Connections kept open for the next messages (the worker sends at most 8 at once).
const POOL: usize = 10;
/// A connection unused for this long is closed rather than reused (lettre's default).
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A connection unused for this long is checked (NOOP) before it carries a message.
const CHECK_AFTER: Duration = Duration::from_secs(5);

enum Security {
    /// `smtp://`: plain.
    None,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the server offers it.
    Opportunistic(TlsParameters),
    /// `smtp://…?tls=required`: STARTTLS or nothing.
    Required(TlsParameters),
    /// `smtps://`: TLS from the first byte.
    Wrapper,
}

pub struct Smtp {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// For the connection and for each message.
    timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

/// Why a message did not go.
#[derive(Debug)]
pub enum SendError {
    /// The server's answer, or lettre's protocol error.
    Smtp(lettre::transport::smtp::Error),
    /// The server could not be reached, or the TLS handshake failed.
    Connect(std::io::Error),
    /// No answer in time.
    Timeout,
}

impl SendError {
    /// A refusal that will not change with time (a 5xx answer: no such mailbox, say).
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Smtp(e) if e.is_permanent())
    }

    /// The server's reply code, if there was one.
    pub fn status(&self) -> Option<Code> {
        match self {
            Self::Smtp(e) => e.status(),
            _ => None,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Smtp(e) => write!(f, "{e}"),
            Self::Connect(e) => write!(f, "server SMTP non raggiungibile ({})", e.kind()),
            Self::Timeout => f.write_str("il server SMTP non ha risposto in tempo"),
        }
    }
}

impl From<lettre::transport::smtp::Error> for SendError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        Self::Smtp(e)
    }
}

impl Smtp {
    /// `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS; or
    /// `tls=opportunistic`), `smtps://user:pass@host:465` (TLS); a path names the client in
    /// EHLO. The same rules and default ports as lettre's `from_url`.
    pub fn from_url(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let url = url::Url::parse(url).context("not a URL")?;
        let host = url.host_str().context("no host")?.to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let params = || TlsParameters::new(host.clone()).context("TLS parameters");
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::None, 25),
            ("smtp", Some("required")) => (Security::Required(params()?), 587),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic(params()?), 587),
            ("smtps", _) => (Security::Wrapper, 465),
            (scheme, tls) => bail!("unknown scheme {scheme:?} or tls parameter {tls:?}"),
        };
        let hello = if url.path().len() > 1 {
            ClientId::Domain(url.path().trim_matches('/').to_owned())
        } else {
            ClientId::default()
        };
        let credentials = match url.password() {
            Some(password) => {
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .map(Cow::into_owned)
                        .context("user or password not in UTF-8")
                };
                Some(Credentials::new(decode(url.username())?, decode(password)?))
            }
            None => None,
        };
        Ok(Self {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            hello,
            timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one message on a pooled connection (or a new one); the connection goes back to
    /// the pool only after a 250.
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        let body = message.formatted();
        let envelope = message.envelope();
        let mut conn = match self.pooled().await {
            Some(conn) => conn,
            None => tokio::time::timeout(self.timeout, self.connect())
                .await
                .map_err(|_| SendError::Timeout)??,
        };
        match tokio::time::timeout(self.timeout, conn.send(envelope, &body)).await {
            Ok(Ok(_)) => {
                self.put_back(conn);
                Ok(())
            }
            Ok(Err(e)) => {
                conn.abort().await;
                Err(SendError::Smtp(e))
            }
            Err(_) => Err(SendError::Timeout),
        }
    }

    /// An idle connection that still answers, if there is one.
    async fn pooled(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = self.lock().pop()?;
            let idle = since.elapsed();
            if idle > IDLE_LIMIT {
                conn.abort().await;
                continue;
            }
            if idle < CHECK_AFTER
                || tokio::time::timeout(self.timeout, conn.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Some(conn);
            }
        }
    }

    fn put_back(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.lock();
        if idle.len() < POOL && !conn.has_broken() {
            idle.push((conn, Instant::now()));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(AsyncSmtpConnection, Instant)>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(SendError::Connect)?;
        // The point of this module: the final "." goes at once, not after a delayed ACK.
        tcp.set_nodelay(true).map_err(SendError::Connect)?;
        let stream: Box<dyn AsyncTokioStream> = match self.security {
            Security::Wrapper => {
                let connector = native_tls::TlsConnector::builder()
                    .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
                    .build()
                    .map_err(|e| SendError::Connect(std::io::Error::other(e)))?;
                let tls = tokio_native_tls::TlsConnector::from(connector)
                    .connect(&self.host, tcp)
                    .await
                    .map_err(|e| SendError::Connect(std::io::Error::other(e)))?;
                Box::new(Tls(tls))
            }
            _ => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello).await?;
        match &self.security {
            Security::Required(p) => conn.starttls(p.clone(), &self.hello).await?,
            Security::Opportunistic(p) if conn.can_starttls() => {
                conn.starttls(p.clone(), &self.hello).await?
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(conn)
    }
}

/// A TLS stream (`smtps://`) as lettre's connection takes it.
#[derive(Debug)]
struct Tls(tokio_native_tls::TlsStream<TcpStream>);

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().get_ref().get_ref().peer_addr()
    }
}

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
