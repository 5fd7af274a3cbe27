//! Secrets: random tokens and codes from the system's CSPRNG, and argon2id hashes (PINs and
//! passwords), computed on a few dedicated threads that keep their memory (see [`HASHING`]).

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
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

/// The argon2 workers: a few dedicated threads, each hashing into one memory block it keeps
/// for its whole life (19 MiB with the default parameters), fed by a bounded queue.
///
/// Why not `spawn_blocking`: each blocking thread that ran argon2 kept its 19 MiB in its own
/// malloc arena after the hash (glibc does not give a freed chunk of that size back), so a
/// burst of logins left the process at 432 MiB resident (0.9 GB before the hashing was limited
/// to one per core). Here the memory is allocated once per worker and reused.
///
/// Bounds: at most [`WORKERS_MAX`] workers (one per core below that), so at most
/// `workers × 19 MiB` of hashing memory; at most [`QUEUED`] jobs waiting in the queue. A caller
/// that finds the queue full waits for a place inside its own request (which the request
/// timeout, the login rate limits and the database pool bound); the pool itself never holds
/// more than `workers + QUEUED` jobs, and skips a job whose caller has gone.
static HASHING: std::sync::LazyLock<Pool> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Pool::start(cores.min(WORKERS_MAX), QUEUED)
});

/// Workers at most, whatever the cores: hashing memory stays ≤ 4 × 19 MiB on a large host,
/// and four workers already check some 80 passwords a second.
const WORKERS_MAX: usize = 4;

/// Jobs waiting for a worker, at most.
const QUEUED: usize = 32;

/// The largest memory a stored hash may ask for (KiB): our own hashes use 19 MiB; a PHC string
/// asking for more than this is refused rather than allocated.
const MAX_M_COST_KIB: u32 = 64 * 1024;

/// A worker's memory: argon2's blocks, kept between jobs.
pub struct Memory(Vec<Block>);

impl Memory {
    /// `n` blocks, grown (once) if this worker never needed as many.
    fn blocks(&mut self, n: usize) -> &mut [Block] {
        if self.0.len() < n {
            self.0.resize(n, Block::new());
        }
        &mut self.0[..n]
    }
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A fixed set of hashing threads behind a bounded queue.
struct Pool {
    jobs: tokio::sync::mpsc::Sender<Job>,
}

impl Pool {
    fn start(workers: usize, queued: usize) -> Self {
        let (jobs, rx) = tokio::sync::mpsc::channel::<Job>(queued.max(1));
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory = Memory(Vec::new());
                    loop {
                        // One idle worker waits on the queue; the others wait for the lock.
                        let job = rx.lock().unwrap_or_else(|e| e.into_inner()).blocking_recv();
                        let Some(job) = job else { break };
                        // A job that panics loses its answer (its caller sees an error), not
                        // the worker.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            job(&mut memory)
                        }));
                    }
                })
                .expect("starting an argon2 worker thread");
        }
        Self { jobs }
    }

    /// Runs `work` on a worker with its memory, waiting for a place in the queue if needed.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // The caller gave up (timeout, client gone): nothing to compute.
            if !tx.is_closed() {
                let _ = tx.send(work(memory));
            }
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| anyhow::anyhow!("the hashing workers are gone"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("a hashing job ended without an answer"))
    }
}

/// argon2id with the crate's defaults (the OWASP parameters: m = 19 MiB, t = 2, p = 1, a
/// 16-byte random salt, a 32-byte output), as a PHC string.
fn hash_into(memory: &mut Memory, secret: &[u8]) -> anyhow::Result<String> {
    let params = Params::default();
    let (algorithm, version) = (Algorithm::default(), Version::default());
    let salt = random_bytes::<{ argon2::RECOMMENDED_SALT_LEN }>();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(
            secret,
            &salt,
            &mut out,
            memory.blocks(params.block_count()),
        )
        .map_err(|e| anyhow::anyhow!("hashing a secret: {e}"))?;
    let phc = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| anyhow::anyhow!("hashing a secret: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("hashing a secret: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("hashing a secret: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `secret` matches the PHC string `hash`: what the crate's `verify_password` does
/// (algorithm, version and parameters from the string, the output compared in constant time),
/// in the worker's memory.
fn verify_in(memory: &mut Memory, secret: &[u8], hash: &str) -> bool {
    let Ok(phc) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = phc
        .version
        .map(Version::try_from)
        .transpose()
        .map(Option::unwrap_or_default)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&phc) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB {
        tracing::warn!(
            m_cost = params.m_cost(),
            "a password hash asks for more memory than allowed: refused"
        );
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    let blocks = memory.blocks(params.block_count());
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(secret, salt, &mut out, blocks)
        .is_err()
    {
        return false;
    }
    Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// argon2id with the crate's defaults (the OWASP parameters), as a PHC string; computed on a
/// hashing worker.
pub async fn hash_secret(secret: &str) -> anyhow::Result<String> {
    let secret = secret.to_owned();
    HASHING
        .run(move |memory| hash_into(memory, secret.as_bytes()))
        .await?
}

pub async fn verify_secret(secret: &str, hash: &str) -> bool {
    let (secret, hash) = (secret.to_owned(), hash.to_owned());
    HASHING
        .run(move |memory| verify_in(memory, secret.as_bytes(), &hash))
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

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[tokio::test]
    async fn the_workers_hashes_are_the_crates_and_the_crates_are_theirs() {
        let ours = hash_secret("segreto-di-prova").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.version, Some(0x13));
        assert_eq!(parsed.params.to_string(), "m=19456,t=2,p=1");
        assert_eq!(parsed.salt.as_ref().unwrap().len(), 16);
        assert_eq!(parsed.hash.as_ref().unwrap().len(), 32);
        Argon2::default()
            .verify_password(b"segreto-di-prova", &parsed)
            .unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"segreto-di-provA", &parsed)
                .is_err()
        );
        // Salted: the same secret never gives the same string twice.
        assert_ne!(ours, hash_secret("segreto-di-prova").await.unwrap());

        let theirs = Argon2::default()
            .hash_password(b"segreto-di-prova")
            .unwrap()
            .to_string();
        assert!(verify_secret("segreto-di-prova", &theirs).await);
        assert!(!verify_secret("segreto-di-provA", &theirs).await);
        assert!(!verify_secret("", &theirs).await);

        // Other parameters within the bound are read from the string, as the crate does.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, Some(24)).unwrap(),
        )
        .hash_password(b"leggero")
        .unwrap()
        .to_string();
        assert!(verify_secret("leggero", &light).await);
        assert!(!verify_secret("pesante", &light).await);

        // Malformed strings never match.
        for bad in [
            "",
            "argon2id",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
            "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=18$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        ] {
            assert!(!verify_secret("segreto-di-prova", bad).await, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_hash_asking_for_more_memory_than_allowed_is_refused_not_allocated() {
        let theirs = Argon2::default().hash_password(b"x").unwrap().to_string();
        let greedy = theirs.replace("m=19456", &format!("m={}", MAX_M_COST_KIB * 2));
        assert_ne!(greedy, theirs);
        assert!(!verify_secret("x", &greedy).await);
        // The worker still answers afterwards.
        assert!(verify_secret("x", &theirs).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_verifications_get_the_right_answers() {
        let right = hash_secret("giusta").await.unwrap();
        let other = hash_secret("un'altra").await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (right, other) = (right.clone(), other.clone());
            tasks.push(tokio::spawn(async move {
                let (guess, hash, expected) = match i % 4 {
                    0 => ("giusta".to_owned(), right, true),
                    1 => ("un'altra".to_owned(), other, true),
                    2 => ("giusta".to_owned(), other, false),
                    _ => (format!("sbagliata-{i}"), right, false),
                };
                (expected, verify_secret(&guess, &hash).await)
            }));
        }
        for t in tasks {
            let (expected, got) = t.await.unwrap();
            assert_eq!(expected, got);
        }
    }

    #[tokio::test]
    async fn a_worker_reuses_its_memory_block_between_jobs() {
        let pool = Pool::start(1, 4);
        let first = pool
            .run(|m| {
                hash_into(m, b"uno").unwrap();
                (m.0.as_ptr() as usize, m.0.len())
            })
            .await
            .unwrap();
        let hash = pool.run(|m| hash_into(m, b"due").unwrap()).await.unwrap();
        let second = pool
            .run(move |m| {
                assert!(verify_in(m, b"due", &hash));
                (m.0.as_ptr() as usize, m.0.len())
            })
            .await
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(first.1, Params::default().block_count());
    }

    #[tokio::test]
    async fn the_queue_holds_at_most_its_bound_and_further_callers_wait_outside_it() {
        let pool = Arc::new(Pool::start(1, 2));
        // The only worker takes a job that holds it until released.
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let held = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move |_| {
                    let _ = started_tx.send(());
                    release_rx.recv().unwrap();
                    "tenuto"
                })
                .await
            }
        });
        started_rx.await.unwrap();
        // Two jobs fill the queue; the caller of the second will give up.
        let first = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|_| 1).await }
        });
        let ran = Arc::new(AtomicBool::new(false));
        let gives_up = tokio::spawn({
            let (pool, ran) = (pool.clone(), ran.clone());
            async move { pool.run(move |_| ran.store(true, Ordering::SeqCst)).await }
        });
        while pool.jobs.capacity() > 0 {
            tokio::task::yield_now().await;
        }
        // Full: nothing more gets in; a further caller waits for a place outside the pool.
        assert!(matches!(
            pool.jobs.try_send(Box::new(|_| {})),
            Err(tokio::sync::mpsc::error::TrySendError::Full(_))
        ));
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|_| 7).await }
        });
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished());
        gives_up.abort();
        assert!(gives_up.await.unwrap_err().is_cancelled());

        release_tx.send(()).unwrap();
        assert_eq!(held.await.unwrap().unwrap(), "tenuto");
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(waiting.await.unwrap().unwrap(), 7);
        // One worker, first in first out: the abandoned job was taken before this one, and
        // skipped.
        assert_eq!(pool.run(|_| 8).await.unwrap(), 8);
        assert!(!ran.load(Ordering::SeqCst));
    }
}
