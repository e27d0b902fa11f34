//! A small map whose entries expire: verification outcomes by digest, and
//! tag → digest resolutions, filled at most once at a time per key.
//!
//! Two things keep registry work off the hot path:
//! - **single flight**: when many reviews miss the same key at once (a
//!   Deployment scaled to 50 replicas, all with one new image), one of them
//!   asks the registry and the others wait for its answer, instead of 50
//!   verifications of one digest;
//! - **refresh ahead**: a hit on an entry in the last part of its life makes
//!   that one caller refresh it, while every other caller keeps getting the
//!   still-valid entry. Under steady load an entry is then renewed before it
//!   expires, and no burst of reviews finds it gone. An entry is never
//!   returned after its TTL, so the TTL still bounds how stale it can be.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How a value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// From the cache.
    Hit,
    /// This caller computed it.
    Miss,
    /// Another caller was computing it; this one waited for its answer.
    Shared,
}

/// One computation in progress; waiters block on `done`.
struct Flight<V> {
    value: Mutex<Option<Option<V>>>,
    done: Condvar,
}

struct Inner<K, V> {
    entries: HashMap<K, (V, Instant, Duration)>,
    flights: HashMap<K, Arc<Flight<V>>>,
}

/// Entries older than their TTL are never returned. At `capacity` the
/// expired entries are dropped, and if that frees nothing, everything is.
pub struct TtlCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    capacity: usize,
}

/// Ends a flight however the computation ends (a panic included), so that
/// waiters never hang: with no value they try again themselves.
struct Landing<'a, K: Eq + Hash + Clone, V: Clone> {
    cache: &'a TtlCache<K, V>,
    key: K,
    flight: Arc<Flight<V>>,
    value: Option<V>,
}

impl<K: Eq + Hash + Clone, V: Clone> Drop for Landing<'_, K, V> {
    fn drop(&mut self) {
        self.cache.lock().flights.remove(&self.key);
        *self.flight.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.value.take());
        self.flight.done.notify_all();
    }
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> TtlCache<K, V> {
        TtlCache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                flights: HashMap::new(),
            }),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value stored for `key` if it has not expired.
    pub fn get(&self, key: &K) -> Option<V> {
        let now = Instant::now();
        self.lock()
            .entries
            .get(key)
            .filter(|(_, expires, _)| now < *expires)
            .map(|(v, _, _)| v.clone())
    }

    /// Remember `value` for `ttl`; a zero TTL stores nothing.
    pub fn put(&self, key: K, value: V, ttl: Duration) {
        Self::store(&mut self.lock(), self.capacity, key, value, ttl);
    }

    fn store(inner: &mut Inner<K, V>, capacity: usize, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        if inner.entries.len() >= capacity && !inner.entries.contains_key(&key) {
            inner.entries.retain(|_, (_, expires, _)| now < *expires);
            if inner.entries.len() >= capacity {
                inner.entries.clear();
            }
        }
        inner.entries.insert(key, (value, now + ttl, ttl));
    }

    /// The value for `key`: from the cache, else from `fill`, which returns
    /// the value and how long to keep it (zero: hand it to the callers
    /// waiting now, but do not keep it, e.g. a registry outage). Concurrent
    /// callers missing the same key share one `fill`. A hit in the last
    /// `ahead` fraction (0 to 1) of the entry's TTL refreshes it, by this
    /// caller, unless another one already is; the others keep hitting.
    pub fn get_or_fill(
        &self,
        key: &K,
        ahead: f64,
        fill: impl FnOnce() -> (V, Duration),
    ) -> (V, Lookup) {
        let mut fill = Some(fill);
        loop {
            let flight = {
                let mut inner = self.lock();
                let now = Instant::now();
                let cached = inner
                    .entries
                    .get(key)
                    .filter(|(_, expires, _)| now < *expires)
                    .map(|(v, expires, ttl)| (v.clone(), *expires - now < ttl.mul_f64(ahead)));
                match (cached, inner.flights.get(key)) {
                    // Fresh, or stale-ish with a refresh already under way.
                    (Some((v, false)), _) | (Some((v, true)), Some(_)) => return (v, Lookup::Hit),
                    (None, Some(f)) => Err(f.clone()),
                    // A miss, or the first hit to need a refresh: lead.
                    (_, None) => {
                        let flight = Arc::new(Flight {
                            value: Mutex::new(None),
                            done: Condvar::new(),
                        });
                        inner.flights.insert(key.clone(), flight.clone());
                        Ok(flight)
                    }
                }
            };
            match flight {
                Ok(flight) => {
                    let mut landing = Landing {
                        cache: self,
                        key: key.clone(),
                        flight,
                        value: None,
                    };
                    let Some(fill) = fill.take() else {
                        unreachable!("a caller leads at most one flight")
                    };
                    let (value, ttl) = fill();
                    Self::store(
                        &mut self.lock(),
                        self.capacity,
                        key.clone(),
                        value.clone(),
                        ttl,
                    );
                    landing.value = Some(value.clone());
                    drop(landing);
                    return (value, Lookup::Miss);
                }
                Err(flight) => {
                    let mut slot = flight.value.lock().unwrap_or_else(|e| e.into_inner());
                    while slot.is_none() {
                        slot = flight.done.wait(slot).unwrap_or_else(|e| e.into_inner());
                    }
                    if let Some(Some(v)) = slot.as_ref() {
                        return (v.clone(), Lookup::Shared);
                    }
                    // The leader ended without a value (it panicked): try again.
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn entries_expire_and_capacity_holds() {
        let c = TtlCache::new(2);
        c.put("a", 1, Duration::from_millis(30));
        c.put("z", 0, Duration::ZERO);
        assert_eq!(c.get(&"a"), Some(1));
        assert_eq!(c.get(&"z"), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get(&"a"), None);
        c.put("b", 2, Duration::from_secs(60));
        c.put("c", 3, Duration::from_secs(60));
        assert!(c.len() <= 2);
        assert_eq!(c.get(&"c"), Some(3));
    }

    #[test]
    fn concurrent_misses_of_one_key_fill_once() {
        let c: TtlCache<&str, u32> = TtlCache::new(10);
        let fills = AtomicUsize::new(0);
        let lookups: Vec<Lookup> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        c.get_or_fill(&"k", 0.0, || {
                            fills.fetch_add(1, Ordering::SeqCst);
                            // Long enough for every thread to arrive.
                            std::thread::sleep(Duration::from_millis(300));
                            (7, Duration::from_secs(60))
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    let (v, how) = h.join().unwrap();
                    assert_eq!(v, 7);
                    how
                })
                .collect()
        });
        assert_eq!(fills.load(Ordering::SeqCst), 1, "{lookups:?}");
        assert_eq!(lookups.iter().filter(|l| **l == Lookup::Miss).count(), 1);
        // An uncached value (TTL zero) is shared with the waiters but not kept.
        let (v, how) = c.get_or_fill(&"gone", 0.0, || (1, Duration::ZERO));
        assert_eq!((v, how), (1, Lookup::Miss));
        assert_eq!(c.get(&"gone"), None);
    }

    #[test]
    fn a_hit_near_expiry_refreshes_while_others_still_hit() {
        let c: TtlCache<&str, u32> = TtlCache::new(10);
        c.put("k", 1, Duration::from_millis(400));
        // Early in its life: a plain hit, no refresh.
        let (v, how) = c.get_or_fill(&"k", 0.5, || panic!("not due"));
        assert_eq!((v, how), (1, Lookup::Hit));
        std::thread::sleep(Duration::from_millis(250));
        // In the last half: one caller refreshes; meanwhile others hit.
        std::thread::scope(|s| {
            let refresher = s.spawn(|| {
                c.get_or_fill(&"k", 0.5, || {
                    std::thread::sleep(Duration::from_millis(100));
                    (2, Duration::from_secs(60))
                })
            });
            std::thread::sleep(Duration::from_millis(30));
            let (v, how) = c.get_or_fill(&"k", 0.5, || panic!("a second refresh"));
            assert_eq!((v, how), (1, Lookup::Hit));
            assert_eq!(refresher.join().unwrap(), (2, Lookup::Miss));
        });
        assert_eq!(c.get(&"k"), Some(2));
    }

    #[test]
    fn a_leader_that_panics_does_not_strand_its_waiters() {
        let c: TtlCache<&str, u32> = TtlCache::new(10);
        std::thread::scope(|s| {
            let leader = s.spawn(|| {
                c.get_or_fill(&"k", 0.0, || {
                    std::thread::sleep(Duration::from_millis(100));
                    panic!("leader fails");
                })
            });
            std::thread::sleep(Duration::from_millis(30));
            let (v, _) = c.get_or_fill(&"k", 0.0, || (5, Duration::from_secs(1)));
            assert_eq!(v, 5);
            assert!(leader.join().is_err());
        });
    }
}
