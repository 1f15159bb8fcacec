//! Slows down password guessing: after repeated failed logins from one
//! address, each further attempt from it waits its turn, one attempt per
//! growing interval, until a login from that address succeeds or the
//! address stays quiet for a while.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures an address may have before its attempts are spaced out.
const FREE_FAILURES: u32 = 3;
/// Spacing after the first failure beyond the free ones; doubles with
/// each further failure.
const BASE_DELAY: Duration = Duration::from_millis(100);
/// Longest spacing between two attempts from one address.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// An address with no failure for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Addresses tracked at most; beyond it, quiet ones are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    /// The earliest time the next attempt may start.
    next_slot: Instant,
}

/// Failed-login bookkeeping per client address.
#[derive(Debug, Default)]
pub struct LoginBackoff {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl LoginBackoff {
    /// How long an attempt from `addr` starting now must wait. Reserves
    /// the slot, so concurrent attempts from one address queue up rather
    /// than all going at once.
    pub fn reserve(&self, addr: IpAddr) -> Duration {
        self.reserve_at(addr, Instant::now())
    }

    fn reserve_at(&self, addr: IpAddr, now: Instant) -> Duration {
        let mut entries = self.entries.lock();
        let Some(entry) = entries.get_mut(&addr) else {
            return Duration::ZERO;
        };
        if now.duration_since(entry.last_failure) > FORGET_AFTER {
            entries.remove(&addr);
            return Duration::ZERO;
        }
        let delay = delay_after(entry.failures);
        let slot = entry.next_slot.max(now);
        entry.next_slot = slot + delay;
        slot - now
    }

    /// Records a failed login from `addr`.
    pub fn failed(&self, addr: IpAddr) {
        self.failed_at(addr, Instant::now());
    }

    fn failed_at(&self, addr: IpAddr, now: Instant) {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&addr) {
            entries.retain(|_, e| now.duration_since(e.last_failure) <= FORGET_AFTER);
            if entries.len() >= MAX_TRACKED {
                return;
            }
        }
        let entry = entries.entry(addr).or_insert(Entry {
            failures: 0,
            last_failure: now,
            next_slot: now,
        });
        if now.duration_since(entry.last_failure) > FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        entry.next_slot = entry.next_slot.max(now + delay_after(entry.failures));
    }

    /// Records a successful login from `addr`: its failures are forgiven.
    pub fn succeeded(&self, addr: IpAddr) {
        self.entries.lock().remove(&addr);
    }
}

/// The spacing between attempts after `failures` consecutive failures.
fn delay_after(failures: u32) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES - 1).min(16);
    (BASE_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 8));

    #[test]
    fn delays_grow_after_the_free_failures_and_are_capped() {
        assert_eq!(delay_after(1), Duration::ZERO);
        assert_eq!(delay_after(3), Duration::ZERO);
        assert_eq!(delay_after(4), Duration::from_millis(100));
        assert_eq!(delay_after(5), Duration::from_millis(200));
        assert_eq!(delay_after(40), MAX_DELAY);
    }

    #[test]
    fn attempts_after_failures_wait_and_queue_up() {
        let b = LoginBackoff::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            b.failed_at(ADDR, t0);
        }
        assert_eq!(b.reserve_at(ADDR, t0), Duration::ZERO);
        for _ in 0..3 {
            b.failed_at(ADDR, t0);
        }
        // Six failures: 400 ms between attempts; two concurrent attempts
        // get successive slots.
        let first = b.reserve_at(ADDR, t0);
        let second = b.reserve_at(ADDR, t0);
        assert_eq!(first, Duration::from_millis(400));
        assert_eq!(second, Duration::from_millis(800));
        assert_eq!(b.reserve_at(OTHER, t0), Duration::ZERO);
        b.succeeded(ADDR);
        assert_eq!(b.reserve_at(ADDR, t0), Duration::ZERO);
    }

    #[test]
    fn quiet_addresses_are_forgotten() {
        let b = LoginBackoff::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            b.failed_at(ADDR, t0);
        }
        let later = t0 + FORGET_AFTER + Duration::from_secs(1);
        assert_eq!(b.reserve_at(ADDR, later), Duration::ZERO);
    }
}
