//! PostgreSQL read replicas (`--read-database-url`): where anonymous reads
//! go, each replica checked every second; a request finds a reachable one
//! in turn, or falls back to the primary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use super::DbOptions;
use crate::error::Result;

/// How often each replica is checked, and how long a check may take.
const CHECK_EVERY: Duration = Duration::from_secs(1);

struct Replica {
    /// The url without its password, for logs and `/readyz`.
    shown: String,
    pool: DatabaseConnection,
    reachable: AtomicBool,
}

/// The read replicas; none by default.
#[derive(Clone, Default)]
pub struct Replicas {
    replicas: Arc<[Replica]>,
    next: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.replicas.iter().map(|r| &r.shown))
            .finish()
    }
}

impl Replicas {
    /// Pools on `urls`, with `options`' settings (the read budget). They
    /// connect lazily: a replica down at startup is only unreachable, and
    /// counts as such until its first check succeeds.
    pub async fn connect(urls: &[String], options: &DbOptions) -> Result<Self> {
        let mut replicas = Vec::with_capacity(urls.len());
        for url in urls {
            let mut opts = ConnectOptions::new(url.clone());
            opts.max_connections(options.max_connections)
                .min_connections(0)
                .acquire_timeout(CHECK_EVERY)
                .connect_lazy(true)
                .sqlx_logging(false);
            if let Some(budget) = options.statement_timeout {
                opts.statement_timeout(budget);
            }
            replicas.push(Replica {
                shown: without_password(url),
                pool: Database::connect(opts).await?,
                reachable: AtomicBool::new(false),
            });
        }
        Ok(Self {
            replicas: replicas.into(),
            next: Arc::default(),
        })
    }

    /// Whether any replica is configured.
    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }

    /// The next reachable replica in turn; `None` when none is.
    pub fn pick(&self) -> Option<&DatabaseConnection> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &self.replicas[(start + i) % n])
            .find(|r| r.reachable.load(Ordering::Relaxed))
            .map(|r| &r.pool)
    }

    /// Each replica (password hidden) and whether its last check reached it.
    pub fn status(&self) -> Vec<(String, bool)> {
        self.replicas
            .iter()
            .map(|r| (r.shown.clone(), r.reachable.load(Ordering::Relaxed)))
            .collect()
    }

    /// Checks every replica now and then every [`CHECK_EVERY`], logging
    /// each change of state, for as long as the process runs.
    pub fn spawn_checks(&self) {
        for index in 0..self.replicas.len() {
            let replicas = self.replicas.clone();
            tokio::spawn(async move {
                let Some(replica) = replicas.get(index) else {
                    return;
                };
                loop {
                    let up = matches!(
                        tokio::time::timeout(CHECK_EVERY, replica.pool.ping()).await,
                        Ok(Ok(()))
                    );
                    if replica.reachable.swap(up, Ordering::Relaxed) != up {
                        if up {
                            tracing::info!(replica = %replica.shown, "read replica reachable");
                        } else {
                            tracing::warn!(replica = %replica.shown, "read replica unreachable: anonymous reads go to the primary");
                        }
                    }
                    tokio::time::sleep(CHECK_EVERY).await;
                }
            });
        }
    }
}

/// `url` with any password replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_what_is_shown() {
        assert_eq!(
            without_password("postgres://app:s3cret@db:5432/q"),
            "postgres://app:***@db:5432/q"
        );
        assert_eq!(
            without_password("postgres://app@db/q"),
            "postgres://app@db/q"
        );
    }
}
